package cms

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"crypto/x509"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// TimestampFunc obtains an RFC 3161 timestamp token (a DER ContentInfo holding a SignedData over a
// TSTInfo) whose message imprint is digest, computed with hash. tsp.Client.Timestamp has this shape.
type TimestampFunc func(ctx context.Context, hash crypto.Hash, digest []byte) ([]byte, error)

// Request is what SignDetached needs. The content itself never passes through this package: the
// caller hashes it (for a PDF, the two ByteRange ranges, by streaming) and passes the digest.
type Request struct {
	Digest []byte              // hash of the detached content
	Hash   crypto.Hash         // SHA-256, SHA-384 or SHA-512; used for the content and the attributes
	Signer crypto.Signer       // any signer: hsm's, a remote agent's, an in-memory key in tests
	Chain  []*x509.Certificate // signer's certificate first, then intermediates (the root may be left out)
	TSA    TimestampFunc       // optional: adds a signature-time-stamp unsigned attribute (PAdES B-T)
	// PSS makes an RSA signer sign with RSASSA-PSS (salt length = hash length) instead of
	// PKCS#1 v1.5. Ignored for other keys.
	PSS bool
}

// TimestampReserve is the room MaxSize keeps for a timestamp token. A local OpenSSL TSA's token is
// about 2 KB; commercial TSAs with long chains reach several KB.
const TimestampReserve = 16 * 1024

// Errors a caller may want to tell apart.
var (
	ErrUnsupported  = errors.New("cms: unsupported algorithm or key")
	ErrKeyMismatch  = errors.New("cms: the signer's key does not match the first certificate of the chain")
	ErrBadSignature = errors.New("cms: the signature does not verify with the signer's certificate")
)

// SignDetached returns a DER ContentInfo holding a detached SignedData over r.Digest, with the signed
// attributes content-type, message-digest and signing-certificate-v2, the chain embedded, and, when
// r.TSA is set, a signature-time-stamp token over the signature value.
func SignDetached(ctx context.Context, r Request) ([]byte, error) {
	if r.Signer == nil {
		return nil, errors.New("cms: no signer")
	}
	if len(r.Chain) == 0 || r.Chain[0] == nil {
		return nil, errors.New("cms: no signer certificate")
	}
	if err := checkDigest(r.Digest, r.Hash); err != nil {
		return nil, err
	}
	if !publicKeysEqual(r.Signer.Public(), r.Chain[0].PublicKey) {
		return nil, ErrKeyMismatch
	}
	attrs, err := BuildSignedAttributes(r.Digest, r.Hash, r.Chain[0])
	if err != nil {
		return nil, err
	}
	sig, alg, err := signAttributes(r.Signer, r.Hash, attrs, r.PSS)
	if err != nil {
		return nil, err
	}
	var token []byte
	if r.TSA != nil {
		if token, err = timestampSignature(ctx, r.TSA, r.Hash, sig); err != nil {
			return nil, err
		}
	}
	return encodeSignedData(signedDataParts{
		hash: r.Hash, chain: r.Chain, signedAttrs: attrs, sigAlg: alg, signature: sig, timestamp: token,
	})
}

// SignEncapsulated returns a DER ContentInfo holding a SignedData that carries content inside it,
// typed contentType, with the same three signed attributes. The test TSA uses it for TSTInfo.
func SignEncapsulated(ctx context.Context, contentType asn1.ObjectIdentifier, content []byte, hash crypto.Hash, signer crypto.Signer, chain []*x509.Certificate) ([]byte, error) {
	if signer == nil || len(chain) == 0 || chain[0] == nil {
		return nil, errors.New("cms: no signer or certificate")
	}
	if !hash.Available() {
		return nil, ErrUnsupported
	}
	if !publicKeysEqual(signer.Public(), chain[0].PublicKey) {
		return nil, ErrKeyMismatch
	}
	h := hash.New()
	h.Write(content)
	attrs, err := buildAttributes(contentType, h.Sum(nil), hash, chain[0])
	if err != nil {
		return nil, err
	}
	sig, alg, err := signAttributes(signer, hash, attrs, false)
	if err != nil {
		return nil, err
	}
	return encodeSignedData(signedDataParts{
		hash: hash, chain: chain, signedAttrs: attrs, sigAlg: alg, signature: sig,
		contentType: contentType, content: content,
	})
}

// BuildSignedAttributes returns the DER SET OF signed attributes (tag 0x31, as it is hashed and
// signed) for a detached signature over content whose digest is digest. A remote signer signs
// hash(der); Assemble then builds the SignedData around it. The result is deterministic, so a
// prepare step may store it and a finalize step reuse it byte for byte.
func BuildSignedAttributes(digest []byte, hash crypto.Hash, signerCert *x509.Certificate) ([]byte, error) {
	if signerCert == nil {
		return nil, errors.New("cms: no signer certificate")
	}
	if err := checkDigest(digest, hash); err != nil {
		return nil, err
	}
	return buildAttributes(OIDData, digest, hash, signerCert)
}

// Assemble builds the DER ContentInfo from signed attributes made by BuildSignedAttributes, the
// signature over them (PKCS#1 v1.5, PSS, or ECDSA as DER or raw r‖s, as tokens return it), the chain
// (signer first) and an optional timestamp token over the signature value. The signature is checked
// against chain[0] first, and the algorithm identifier follows from the scheme that verifies.
func Assemble(signedAttrs, signature []byte, hash crypto.Hash, chain []*x509.Certificate, ts []byte) ([]byte, error) {
	if len(chain) == 0 || chain[0] == nil {
		return nil, errors.New("cms: no signer certificate")
	}
	if _, ok := hashOID(hash); !ok {
		return nil, fmt.Errorf("%w: digest %v", ErrUnsupported, hash)
	}
	s := cryptobyte.String(signedAttrs)
	var set cryptobyte.String
	if !s.ReadASN1(&set, cbasn1.SET) || !s.Empty() {
		return nil, errors.New("cms: signed attributes are not one DER SET")
	}
	sum := digestOf(hash, signedAttrs)
	pub := chain[0].PublicKey
	signature = ecdsaToDER(pub, signature)
	alg, err := algorithmFor(pub, hash, signature, sum)
	if err != nil {
		return nil, err
	}
	return encodeSignedData(signedDataParts{
		hash: hash, chain: chain, signedAttrs: signedAttrs, sigAlg: alg, signature: signature, timestamp: ts,
	})
}

// MaxSize returns an upper bound, in bytes, of the DER that SignDetached produces for this chain and
// key (a PDF placeholder needs twice as many hex digits). It is computed, never measured with a trial
// signature. withTimestamp adds TimestampReserve.
func MaxSize(chain []*x509.Certificate, pub crypto.PublicKey, withTimestamp bool) int {
	n := 0
	issuer, serial := 0, 0
	for i, c := range chain {
		if c == nil {
			continue
		}
		n += len(c.Raw)
		if i == 0 {
			issuer = len(c.RawIssuer)
			if c.SerialNumber != nil {
				serial = len(c.SerialNumber.Bytes()) + 1
			}
		}
	}
	n += sigSize(pub)
	// Signed attributes: content-type (~26), message-digest (~17 + 64), signing-certificate-v2
	// (~40 framing + 64 hash + issuer + serial); signer identifier (issuer + serial); algorithm
	// identifiers (PSS parameters are the longest, ~70 each); ContentInfo, SignedData, SignerInfo and
	// set framing with up to 4-byte lengths each.
	n += 26 + 17 + 64 + 40 + 64 + issuer + serial + 8
	n += issuer + serial + 8
	n += 3 * 80
	n += 40 * 6
	n += 256 // slack for future attribute growth; cheap compared with a truncated signature
	if withTimestamp {
		n += TimestampReserve
	}
	return n
}

func sigSize(pub crypto.PublicKey) int {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return k.Size() + 8
	case *ecdsa.PublicKey:
		return 2*((k.Curve.Params().BitSize+7)/8) + 9 + 4
	case ed25519.PublicKey:
		return ed25519.SignatureSize + 4
	}
	return 1024
}

func checkDigest(digest []byte, hash crypto.Hash) error {
	if _, ok := hashOID(hash); !ok || !hash.Available() {
		return fmt.Errorf("%w: digest %v (use SHA-256, SHA-384 or SHA-512)", ErrUnsupported, hash)
	}
	if len(digest) != hash.Size() {
		return fmt.Errorf("cms: digest is %d bytes, %v needs %d", len(digest), hash, hash.Size())
	}
	return nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ae, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ae.Equal(b)
}

func timestampSignature(ctx context.Context, tsa TimestampFunc, hash crypto.Hash, sig []byte) ([]byte, error) {
	token, err := tsa(ctx, hash, digestOf(hash, sig))
	if err != nil {
		return nil, fmt.Errorf("cms: timestamp: %w", err)
	}
	if len(token) == 0 {
		return nil, errors.New("cms: timestamp authority returned an empty token")
	}
	return token, nil
}

// signAttributes signs hash(attrs) and returns the signature with its algorithm identifier (DER).
func signAttributes(signer crypto.Signer, hash crypto.Hash, attrs []byte, pss bool) ([]byte, []byte, error) {
	sum := digestOf(hash, attrs)
	pub := signer.Public()
	var opts crypto.SignerOpts = hash
	_, isRSA := pub.(*rsa.PublicKey)
	if isRSA && pss {
		opts = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: hash}
	}
	switch pub.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
	default:
		return nil, nil, fmt.Errorf("%w: signer key %T", ErrUnsupported, pub)
	}
	sig, err := signer.Sign(rand.Reader, sum, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("cms: signing: %w", err)
	}
	sig = ecdsaToDER(pub, sig)
	alg, err := algorithmFor(pub, hash, sig, sum)
	if err != nil {
		return nil, nil, err
	}
	return sig, alg, nil
}

// algorithmFor verifies sig over sum with pub and returns the matching signature algorithm
// identifier. Verifying here catches a token that signs with the wrong key or mechanism before a
// broken signature is embedded in an official document.
func algorithmFor(pub crypto.PublicKey, hash crypto.Hash, sig, sum []byte) ([]byte, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if rsa.VerifyPKCS1v15(k, hash, sum, sig) == nil {
			return rsaPKCS1AlgID(hash)
		}
		if rsa.VerifyPSS(k, hash, sum, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthAuto, Hash: hash}) == nil {
			return pssAlgID(hash, saltLengthOf(k, hash, sum, sig))
		}
		return nil, ErrBadSignature
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, sum, sig) {
			return nil, ErrBadSignature
		}
		return ecdsaAlgID(hash)
	}
	return nil, fmt.Errorf("%w: key %T", ErrUnsupported, pub)
}

// saltLengthOf finds the PSS salt length actually used (tokens differ); the identifier must state it.
func saltLengthOf(k *rsa.PublicKey, hash crypto.Hash, sum, sig []byte) int {
	for _, n := range []int{hash.Size(), 0, 20, 32, 48, 64} {
		if rsa.VerifyPSS(k, hash, sum, sig, &rsa.PSSOptions{SaltLength: n, Hash: hash}) == nil {
			return n
		}
	}
	return hash.Size()
}

// ecdsaToDER converts a raw r‖s signature (what PKCS#11 CKM_ECDSA returns) to the DER form CMS
// carries; a DER signature is returned unchanged.
func ecdsaToDER(pub crypto.PublicKey, sig []byte) []byte {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return sig
	}
	n := (k.Curve.Params().BitSize + 7) / 8
	var v struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(sig, &v); err == nil && len(rest) == 0 {
		return sig
	}
	if len(sig) != 2*n {
		return sig
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(new(big.Int).SetBytes(sig[:n]))
		b.AddASN1BigInt(new(big.Int).SetBytes(sig[n:]))
	})
	out, err := b.Bytes()
	if err != nil {
		return sig
	}
	return out
}

func buildDigestAlgID(hash crypto.Hash) ([]byte, error) {
	oid, ok := hashOID(hash)
	if !ok {
		return nil, fmt.Errorf("%w: digest %v", ErrUnsupported, hash)
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oid) })
	return b.Bytes()
}

func buildRSAPKCS1AlgID(hash crypto.Hash) ([]byte, error) {
	var oid asn1.ObjectIdentifier
	switch hash {
	case crypto.SHA256:
		oid = OIDSHA256WithRSA
	case crypto.SHA384:
		oid = OIDSHA384WithRSA
	case crypto.SHA512:
		oid = OIDSHA512WithRSA
	default:
		return nil, ErrUnsupported
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(oid)
		b.AddASN1NULL()
	})
	return b.Bytes()
}

func buildECDSAAlgID(hash crypto.Hash) ([]byte, error) {
	var oid asn1.ObjectIdentifier
	switch hash {
	case crypto.SHA256:
		oid = OIDECDSAWithSHA256
	case crypto.SHA384:
		oid = OIDECDSAWithSHA384
	case crypto.SHA512:
		oid = OIDECDSAWithSHA512
	default:
		return nil, ErrUnsupported
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(oid) })
	return b.Bytes()
}

// pssAlgID writes RSASSA-PSS-params (RFC 4055) with the hash, MGF1 over the same hash and the salt.
func pssAlgID(hash crypto.Hash, salt int) ([]byte, error) {
	oid, ok := hashOID(hash)
	if !ok {
		return nil, ErrUnsupported
	}
	hashAlg := func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			b.AddASN1NULL()
		})
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1ObjectIdentifier(OIDRSAPSS)
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), hashAlg)
			b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1ObjectIdentifier(OIDMGF1)
					hashAlg(b)
				})
			})
			b.AddASN1(cbasn1.Tag(2).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
				b.AddASN1Int64(int64(salt))
			})
		})
	})
	return b.Bytes()
}

type signedDataParts struct {
	hash        crypto.Hash
	chain       []*x509.Certificate
	signedAttrs []byte // DER SET (0x31) as signed
	sigAlg      []byte // DER AlgorithmIdentifier
	signature   []byte
	timestamp   []byte // optional DER ContentInfo
	contentType asn1.ObjectIdentifier
	content     []byte // nil: detached
}
