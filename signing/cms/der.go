package cms

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
)

// A minimal DER writer for the fixed shapes SignDetached produces. Every content length is known
// before its header is written, so a SignedData is written into one buffer of its exact size instead
// of a tree of cryptobyte builders (dozens of allocations per signature). The tests compare its
// output with cryptobyte's byte for byte.

const (
	tagInteger   = 0x02
	tagOctet     = 0x04
	tagSequence  = 0x30
	tagSet       = 0x31
	tagContext0  = 0xA0 // [0] constructed
	tagContext1  = 0xA1 // [1] constructed
	tagContext4  = 0xA4 // [4] constructed (directoryName)
	maxDERLength = 1<<32 - 1
)

// hdrSize is the size of the tag and length octets for n content bytes.
func hdrSize(n int) int {
	switch {
	case n < 0x80:
		return 2
	case n < 0x100:
		return 3
	case n < 0x10000:
		return 4
	case n < 0x1000000:
		return 5
	}
	return 6
}

// tlvSize is the size of a whole element with n content bytes.
func tlvSize(n int) int { return hdrSize(n) + n }

// appendHdr appends the tag and the definite length of n content bytes.
func appendHdr(b []byte, tag byte, n int) []byte {
	b = append(b, tag)
	switch {
	case n < 0x80:
		return append(b, byte(n))
	case n < 0x100:
		return append(b, 0x81, byte(n))
	case n < 0x10000:
		return append(b, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		return append(b, 0x83, byte(n>>16), byte(n>>8), byte(n))
	}
	return append(b, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// mustDER encodes an element once at start-up with cryptobyte (for constants).
func mustDER(f func(*cryptobyte.Builder)) []byte {
	var b cryptobyte.Builder
	f(&b)
	return b.BytesOrPanic()
}

func oidDER(oid asn1.ObjectIdentifier) []byte {
	return mustDER(func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oid) })
}

// Encoded constants (whole TLVs).
var (
	derOIDSignedData   = oidDER(OIDSignedData)
	derOIDData         = oidDER(OIDData)
	derOIDContentType  = oidDER(OIDAttrContentType)
	derOIDMessageDig   = oidDER(OIDAttrMessageDigest)
	derOIDSigningCert2 = oidDER(OIDAttrSigningCertV2)
	derOIDTimeStamp    = oidDER(OIDAttrTimeStampToken)
)

// integerDER returns the DER INTEGER for n (what cryptobyte's AddASN1BigInt writes).
func integerDER(n *big.Int) []byte {
	if n.Sign() < 0 {
		return mustDER(func(b *cryptobyte.Builder) { b.AddASN1BigInt(n) })
	}
	v := n.Bytes()
	pad := len(v) == 0 || v[0]&0x80 != 0
	l := len(v)
	if pad {
		l++
	}
	out := make([]byte, 0, tlvSize(l))
	out = appendHdr(out, tagInteger, l)
	if pad {
		out = append(out, 0)
	}
	return append(out, v...)
}

// encodeSignedData writes the ContentInfo holding p's SignedData.
func encodeSignedData(p signedDataParts) ([]byte, error) {
	dAlg, err := digestAlgID(p.hash)
	if err != nil {
		return nil, err
	}
	signer := p.chain[0]
	attrs := cryptobyte.String(p.signedAttrs)
	var attrsBody cryptobyte.String
	if !attrs.ReadASN1(&attrsBody, 0x31) {
		return nil, errors.New("cms: signed attributes are not a DER SET")
	}
	contentType := p.contentType
	ctDER := derOIDData
	version := byte(1)
	if contentType != nil && !contentType.Equal(OIDData) {
		version = 3 // RFC 5652 5.1
		ctDER = oidDER(contentType)
	}
	serial := integerDER(signer.SerialNumber)

	encapBody := len(ctDER)
	if p.content != nil {
		encapBody += tlvSize(tlvSize(len(p.content)))
	}
	certsBody := 0
	for _, c := range p.chain {
		if c != nil {
			certsBody += len(c.Raw)
		}
	}
	sidBody := len(signer.RawIssuer) + len(serial)
	tsSeqBody := 0
	if len(p.timestamp) > 0 {
		tsSeqBody = len(derOIDTimeStamp) + tlvSize(len(p.timestamp))
	}
	siBody := 3 + tlvSize(sidBody) + len(dAlg) + tlvSize(len(attrsBody)) + len(p.sigAlg) + tlvSize(len(p.signature))
	if len(p.timestamp) > 0 {
		siBody += tlvSize(tlvSize(tsSeqBody))
	}
	sdBody := 3 + tlvSize(len(dAlg)) + tlvSize(encapBody) + tlvSize(certsBody) + tlvSize(tlvSize(siBody))
	ciBody := len(derOIDSignedData) + tlvSize(tlvSize(sdBody))
	if ciBody > maxDERLength-8 {
		return nil, errors.New("cms: SignedData too large")
	}

	b := make([]byte, 0, tlvSize(ciBody))
	b = appendHdr(b, tagSequence, ciBody) // ContentInfo
	b = append(b, derOIDSignedData...)
	b = appendHdr(b, tagContext0, tlvSize(sdBody))
	b = appendHdr(b, tagSequence, sdBody) // SignedData
	b = append(b, tagInteger, 1, version)
	b = appendHdr(b, tagSet, len(dAlg))
	b = append(b, dAlg...)
	b = appendHdr(b, tagSequence, encapBody) // EncapsulatedContentInfo
	b = append(b, ctDER...)
	if p.content != nil {
		b = appendHdr(b, tagContext0, tlvSize(len(p.content)))
		b = appendHdr(b, tagOctet, len(p.content))
		b = append(b, p.content...)
	}
	b = appendHdr(b, tagContext0, certsBody)
	for _, c := range p.chain {
		if c != nil {
			b = append(b, c.Raw...)
		}
	}
	b = appendHdr(b, tagSet, tlvSize(siBody)) // SignerInfos
	b = appendHdr(b, tagSequence, siBody)
	b = append(b, tagInteger, 1, 1)
	b = appendHdr(b, tagSequence, sidBody) // IssuerAndSerialNumber
	b = append(b, signer.RawIssuer...)
	b = append(b, serial...)
	b = append(b, dAlg...)
	b = appendHdr(b, tagContext0, len(attrsBody))
	b = append(b, attrsBody...)
	b = append(b, p.sigAlg...)
	b = appendHdr(b, tagOctet, len(p.signature))
	b = append(b, p.signature...)
	if len(p.timestamp) > 0 {
		b = appendHdr(b, tagContext1, tlvSize(tsSeqBody))
		b = appendHdr(b, tagSequence, tsSeqBody)
		b = append(b, derOIDTimeStamp...)
		b = appendHdr(b, tagSet, len(p.timestamp))
		b = append(b, p.timestamp...)
	}
	if len(b) != cap(b) {
		return nil, errors.New("cms: internal error: SignedData length mismatch")
	}
	return b, nil
}

// buildAttributes returns the DER SET OF the three signed attributes, sorted as DER requires.
func buildAttributes(contentType asn1.ObjectIdentifier, digest []byte, hash crypto.Hash, cert *x509.Certificate) ([]byte, error) {
	if cert.SerialNumber == nil || len(cert.Raw) == 0 {
		return nil, errors.New("cms: signer certificate is incomplete")
	}
	ctDER := derOIDData
	if !contentType.Equal(OIDData) {
		ctDER = oidDER(contentType)
	}
	certHash := sha256.Sum256(cert.Raw)
	serial := integerDER(cert.SerialNumber)

	ctBody := len(derOIDContentType) + tlvSize(len(ctDER))
	mdBody := len(derOIDMessageDig) + tlvSize(tlvSize(len(digest)))
	// ESSCertIDv2 with the default hash (SHA-256, so hashAlgorithm is omitted) and issuerSerial,
	// which binds issuer and serial too, not only the certificate bytes.
	gnBody := tlvSize(len(cert.RawIssuer))             // GeneralNames: [4] directoryName
	isBody := tlvSize(gnBody) + len(serial)            // IssuerSerial
	idBody := tlvSize(len(certHash)) + tlvSize(isBody) // ESSCertIDv2
	scvBody := tlvSize(tlvSize(idBody))                // SigningCertificateV2 { certs }
	scBody := len(derOIDSigningCert2) + tlvSize(tlvSize(scvBody))
	n := tlvSize(ctBody) + tlvSize(mdBody) + tlvSize(scBody)

	// One buffer: the three attributes are written after the room of the set, then copied into it in
	// DER order.
	setSize := tlvSize(n)
	out := make([]byte, setSize+n)
	tmp := out[setSize:setSize]
	tmp = appendHdr(tmp, tagSequence, ctBody)
	tmp = append(tmp, derOIDContentType...)
	tmp = appendHdr(tmp, tagSet, len(ctDER))
	tmp = append(tmp, ctDER...)
	ct := len(tmp)
	tmp = appendHdr(tmp, tagSequence, mdBody)
	tmp = append(tmp, derOIDMessageDig...)
	tmp = appendHdr(tmp, tagSet, tlvSize(len(digest)))
	tmp = appendHdr(tmp, tagOctet, len(digest))
	tmp = append(tmp, digest...)
	md := len(tmp)
	tmp = appendHdr(tmp, tagSequence, scBody)
	tmp = append(tmp, derOIDSigningCert2...)
	tmp = appendHdr(tmp, tagSet, tlvSize(scvBody))
	tmp = appendHdr(tmp, tagSequence, scvBody)
	tmp = appendHdr(tmp, tagSequence, tlvSize(idBody))
	tmp = appendHdr(tmp, tagSequence, idBody)
	tmp = appendHdr(tmp, tagOctet, len(certHash))
	tmp = append(tmp, certHash[:]...)
	tmp = appendHdr(tmp, tagSequence, isBody)
	tmp = appendHdr(tmp, tagSequence, gnBody)
	tmp = appendHdr(tmp, tagContext4, len(cert.RawIssuer))
	tmp = append(tmp, cert.RawIssuer...)
	tmp = append(tmp, serial...)
	if len(tmp) != n {
		return nil, errors.New("cms: internal error: attribute length mismatch")
	}
	elems := [3][]byte{tmp[:ct], tmp[ct:md], tmp[md:]}
	// Sort by encoding (X.690 11.6); three elements, so a fixed sorting network.
	for i := 1; i < 3; i++ {
		for j := i; j > 0 && bytes.Compare(elems[j-1], elems[j]) > 0; j-- {
			elems[j-1], elems[j] = elems[j], elems[j-1]
		}
	}
	set := appendHdr(out[:0], tagSet, n)
	for _, e := range elems {
		set = append(set, e...)
	}
	return set[:setSize:setSize], nil
}

// digestOf hashes data with hash, without a hash.Hash allocation for the digests we write.
func digestOf(hash crypto.Hash, data []byte) []byte {
	switch hash {
	case crypto.SHA256:
		s := sha256.Sum256(data)
		return s[:]
	case crypto.SHA384:
		s := sha512.Sum384(data)
		return s[:]
	case crypto.SHA512:
		s := sha512.Sum512(data)
		return s[:]
	}
	h := hash.New()
	h.Write(data)
	return h.Sum(nil)
}

// The algorithm identifiers for the digests we write, encoded once. They are shared: callers only
// copy them into an encoding.
var digestAlgIDs, rsaPKCS1AlgIDs, ecdsaAlgIDs = map[crypto.Hash][]byte{}, map[crypto.Hash][]byte{}, map[crypto.Hash][]byte{}

func init() {
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		for _, c := range []struct {
			m     map[crypto.Hash][]byte
			build func(crypto.Hash) ([]byte, error)
		}{{digestAlgIDs, buildDigestAlgID}, {rsaPKCS1AlgIDs, buildRSAPKCS1AlgID}, {ecdsaAlgIDs, buildECDSAAlgID}} {
			if b, err := c.build(h); err == nil {
				c.m[h] = b
			}
		}
	}
}

func digestAlgID(hash crypto.Hash) ([]byte, error) {
	if b, ok := digestAlgIDs[hash]; ok {
		return b, nil
	}
	return buildDigestAlgID(hash)
}

func rsaPKCS1AlgID(hash crypto.Hash) ([]byte, error) {
	if b, ok := rsaPKCS1AlgIDs[hash]; ok {
		return b, nil
	}
	return buildRSAPKCS1AlgID(hash)
}

func ecdsaAlgID(hash crypto.Hash) ([]byte, error) {
	if b, ok := ecdsaAlgIDs[hash]; ok {
		return b, nil
	}
	return buildECDSAAlgID(hash)
}
