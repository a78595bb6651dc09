package cms

// The cryptobyte encoders that der.go replaced, kept as the reference its output is compared with.

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"math/big"
	"sort"
	"testing"

	"github.com/lienthong/lienthong/signing/cms/cmstest"
	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// buildAttributes returns the DER SET OF the three signed attributes, sorted as DER requires.
func buildAttributesRef(contentType asn1.ObjectIdentifier, digest []byte, hash crypto.Hash, cert *x509.Certificate) ([]byte, error) {
	if cert.SerialNumber == nil || len(cert.Raw) == 0 {
		return nil, errors.New("cms: signer certificate is incomplete")
	}
	certHash := crypto.SHA256.New()
	certHash.Write(cert.Raw)
	attr := func(oid asn1.ObjectIdentifier, value func(*cryptobyte.Builder)) ([]byte, error) {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			b.AddASN1(cbasn1.SET, value)
		})
		return b.Bytes()
	}
	ct, err := attr(OIDAttrContentType, func(b *cryptobyte.Builder) { b.AddASN1ObjectIdentifier(contentType) })
	if err != nil {
		return nil, err
	}
	md, err := attr(OIDAttrMessageDigest, func(b *cryptobyte.Builder) { b.AddASN1OctetString(digest) })
	if err != nil {
		return nil, err
	}
	// ESSCertIDv2 with the default hash (SHA-256, so hashAlgorithm is omitted) and issuerSerial,
	// which binds issuer and serial too, not only the certificate bytes.
	sc, err := attr(OIDAttrSigningCertV2, func(b *cryptobyte.Builder) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SigningCertificateV2
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // certs
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ESSCertIDv2
					b.AddASN1OctetString(certHash.Sum(nil))
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerSerial
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // GeneralNames
							b.AddASN1(cbasn1.Tag(4).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
								b.AddBytes(cert.RawIssuer)
							})
						})
						b.AddASN1BigInt(cert.SerialNumber)
					})
				})
			})
		})
	})
	if err != nil {
		return nil, err
	}
	return derSetRef([][]byte{ct, md, sc}), nil
}

// derSet wraps elements in a DER SET OF, sorted by their encodings (X.690 11.6).
func derSetRef(elems [][]byte) []byte {
	sorted := append([][]byte(nil), elems...)
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i], sorted[j]) < 0 })
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
		for _, e := range sorted {
			b.AddBytes(e)
		}
	})
	return b.BytesOrPanic() // cannot fail: only byte appends
}

func encodeSignedDataRef(p signedDataParts) ([]byte, error) {
	dAlg, err := digestAlgID(p.hash)
	if err != nil {
		return nil, err
	}
	signer := p.chain[0]
	attrs := cryptobyte.String(p.signedAttrs)
	var attrsBody cryptobyte.String
	if !attrs.ReadASN1(&attrsBody, cbasn1.SET) {
		return nil, errors.New("cms: signed attributes are not a DER SET")
	}
	contentType := p.contentType
	if contentType == nil {
		contentType = OIDData
	}
	version := int64(1)
	if !contentType.Equal(OIDData) {
		version = 3 // RFC 5652 5.1
	}
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // ContentInfo
		b.AddASN1ObjectIdentifier(OIDSignedData)
		b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // SignedData
				b.AddASN1Int64(version)
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(dAlg) })
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // EncapsulatedContentInfo
					b.AddASN1ObjectIdentifier(contentType)
					if p.content != nil {
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddASN1OctetString(p.content)
						})
					}
				})
				b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
					for _, c := range p.chain {
						if c != nil {
							b.AddBytes(c.Raw)
						}
					}
				})
				b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { // SignerInfos
					b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
						b.AddASN1Int64(1)
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { // IssuerAndSerialNumber
							b.AddBytes(signer.RawIssuer)
							b.AddASN1BigInt(signer.SerialNumber)
						})
						b.AddBytes(dAlg)
						b.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
							b.AddBytes(attrsBody)
						})
						b.AddBytes(p.sigAlg)
						b.AddASN1OctetString(p.signature)
						if len(p.timestamp) > 0 {
							b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
								b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
									b.AddASN1ObjectIdentifier(OIDAttrTimeStampToken)
									b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(p.timestamp) })
								})
							})
						}
					})
				})
			})
		})
	})
	return b.Bytes()
}

// TestDEREncoderMatchesCryptobyte checks the hand-written encoder against the cryptobyte one for
// the shapes it writes: detached and encapsulated content, with and without a timestamp, short and
// long chains, serials with and without a leading zero octet, and negative serials.
func TestDEREncoderMatchesCryptobyte(t *testing.T) {
	root, err := cmstest.NewRoot(cmstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := root.Issue(cmstest.Options{CommonName: "DER Signer", Key: cmstest.P256})
	if err != nil {
		t.Fatal(err)
	}
	serials := []*big.Int{leaf.Cert.SerialNumber, big.NewInt(0), big.NewInt(127), big.NewInt(128),
		big.NewInt(-1), big.NewInt(-129), new(big.Int).Lsh(big.NewInt(1), 159), new(big.Int).Lsh(big.NewInt(1), 600)}
	big4k := bytes.Repeat([]byte{0xAB}, 70000)
	for _, serial := range serials {
		cert := *leaf.Cert
		cert.SerialNumber = serial
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			d := make([]byte, h.Size())
			for _, ct := range []asn1.ObjectIdentifier{OIDData, OIDTSTInfo} {
				got, err := buildAttributes(ct, d, h, &cert)
				if err != nil {
					t.Fatal(err)
				}
				want, err := buildAttributesRef(ct, d, h, &cert)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("attributes differ (serial %v, %v, %v)\n got %x\nwant %x", serial, h, ct, got, want)
				}
				for _, chain := range [][]*x509.Certificate{{&cert}, {&cert, root.Cert}, {&cert, nil, root.Cert}} {
					for _, p := range []signedDataParts{
						{hash: h, chain: chain, signedAttrs: got, sigAlg: []byte{0x30, 0x03, 0x06, 0x01, 0x01}, signature: []byte{1, 2, 3}},
						{hash: h, chain: chain, signedAttrs: got, sigAlg: []byte{0x30, 0x00}, signature: big4k[:300], timestamp: big4k[:5000]},
						{hash: h, chain: chain, signedAttrs: got, sigAlg: []byte{0x30, 0x00}, signature: big4k[:64], contentType: ct, content: big4k},
						{hash: h, chain: chain, signedAttrs: got, sigAlg: []byte{0x30, 0x00}, signature: nil, contentType: ct, content: []byte{}, timestamp: big4k[:100]},
					} {
						a, err1 := encodeSignedData(p)
						b, err2 := encodeSignedDataRef(p)
						if err1 != nil || err2 != nil {
							t.Fatal(err1, err2)
						}
						if !bytes.Equal(a, b) {
							t.Fatalf("SignedData differs (serial %v, %v, %v, chain %d)", serial, h, ct, len(chain))
						}
					}
				}
			}
		}
	}
}
