package cms

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ErrFormat marks input that is not a well-formed CMS SignedData. Every parse error wraps it.
var ErrFormat = errors.New("cms: not a well-formed SignedData")

// SignedData is a parsed CMS SignedData.
type SignedData struct {
	Raw              []byte // the whole ContentInfo as DER (shares memory with Parse's input when that was DER)
	Version          int
	DigestAlgorithms []asn1.ObjectIdentifier
	ContentType      asn1.ObjectIdentifier // eContentType
	Content          []byte                // encapsulated content; nil when detached
	Certificates     []*x509.Certificate
	CRLs             [][]byte // DER CertificateLists from the crls field
	Signers          []*SignerInfo
}

// SignerInfo is one parsed SignerInfo.
type SignerInfo struct {
	Version            int
	IssuerRaw          []byte   // sid: issuer Name (DER), with SerialNumber
	SerialNumber       *big.Int //
	SubjectKeyID       []byte   // sid: subjectKeyIdentifier (version 3)
	DigestAlgorithm    asn1.ObjectIdentifier
	Hash               crypto.Hash // 0 when the digest algorithm is unknown
	SignedAttrs        []byte      // DER SET OF (tag 0x31) exactly as hashed and signed; nil if absent
	Signed             []Attribute
	SignatureAlgorithm asn1.ObjectIdentifier
	SignatureParams    []byte // DER of the parameters, nil if absent
	Signature          []byte
	Unsigned           []Attribute
}

// Attribute is one attribute with its values as DER.
type Attribute struct {
	Type   asn1.ObjectIdentifier
	Values [][]byte
}

func formatErr(what string) error { return fmt.Errorf("%w: %s", ErrFormat, what) }

// Parse reads a DER or BER ContentInfo holding a SignedData. Trailing zero bytes are ignored (PDF
// /Contents pads the hole with zeros); any other trailing byte is an error.
func Parse(data []byte) (*SignedData, error) {
	der, rest, err := NormalizeBER(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	for _, b := range rest {
		if b != 0 {
			return nil, formatErr("data after the SignedData")
		}
	}
	s := cryptobyte.String(der)
	var ci, content cryptobyte.String
	var ct asn1.ObjectIdentifier
	if !s.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1ObjectIdentifier(&ct) {
		return nil, formatErr("no ContentInfo")
	}
	if !ct.Equal(OIDSignedData) {
		return nil, formatErr("content type is not signedData")
	}
	if !ci.ReadASN1(&content, cbasn1.Tag(0).Constructed().ContextSpecific()) || !ci.Empty() {
		return nil, formatErr("ContentInfo content")
	}
	var sdSeq cryptobyte.String
	if !content.ReadASN1(&sdSeq, cbasn1.SEQUENCE) || !content.Empty() {
		return nil, formatErr("SignedData")
	}
	sd := &SignedData{Raw: der}
	var version int
	if !sdSeq.ReadASN1Integer(&version) {
		return nil, formatErr("SignedData version")
	}
	sd.Version = version
	var algs cryptobyte.String
	if !sdSeq.ReadASN1(&algs, cbasn1.SET) {
		return nil, formatErr("digestAlgorithms")
	}
	for !algs.Empty() {
		oid, _, err := readAlgorithm(&algs)
		if err != nil {
			return nil, err
		}
		sd.DigestAlgorithms = append(sd.DigestAlgorithms, oid)
	}
	var eci cryptobyte.String
	if !sdSeq.ReadASN1(&eci, cbasn1.SEQUENCE) || !eci.ReadASN1ObjectIdentifier(&sd.ContentType) {
		return nil, formatErr("encapContentInfo")
	}
	if !eci.Empty() {
		var explicit, octets cryptobyte.String
		if !eci.ReadASN1(&explicit, cbasn1.Tag(0).Constructed().ContextSpecific()) || !eci.Empty() ||
			!explicit.ReadASN1(&octets, cbasn1.OCTET_STRING) || !explicit.Empty() {
			return nil, formatErr("encapsulated content")
		}
		sd.Content = append([]byte{}, octets...)
	}
	if sdSeq.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var certs cryptobyte.String
		sdSeq.ReadASN1(&certs, cbasn1.Tag(0).Constructed().ContextSpecific())
		for !certs.Empty() {
			var raw cryptobyte.String
			var tag cbasn1.Tag
			if !certs.ReadAnyASN1Element(&raw, &tag) {
				return nil, formatErr("certificates")
			}
			if tag != cbasn1.SEQUENCE {
				continue // other certificate formats (attribute certificates) are not used for PDF
			}
			c, err := x509.ParseCertificate(raw)
			if err != nil {
				return nil, fmt.Errorf("%w: embedded certificate: %v", ErrFormat, err)
			}
			sd.Certificates = append(sd.Certificates, c)
		}
	}
	if sdSeq.PeekASN1Tag(cbasn1.Tag(1).Constructed().ContextSpecific()) {
		var crls cryptobyte.String
		sdSeq.ReadASN1(&crls, cbasn1.Tag(1).Constructed().ContextSpecific())
		for !crls.Empty() {
			var raw cryptobyte.String
			var tag cbasn1.Tag
			if !crls.ReadAnyASN1Element(&raw, &tag) {
				return nil, formatErr("crls")
			}
			if tag == cbasn1.SEQUENCE {
				sd.CRLs = append(sd.CRLs, append([]byte{}, raw...))
			}
		}
	}
	var infos cryptobyte.String
	if !sdSeq.ReadASN1(&infos, cbasn1.SET) || !sdSeq.Empty() {
		return nil, formatErr("signerInfos")
	}
	for !infos.Empty() {
		var one cryptobyte.String
		if !infos.ReadASN1(&one, cbasn1.SEQUENCE) {
			return nil, formatErr("SignerInfo")
		}
		si, err := parseSignerInfo(one)
		if err != nil {
			return nil, err
		}
		sd.Signers = append(sd.Signers, si)
	}
	return sd, nil
}

func readAlgorithm(s *cryptobyte.String) (asn1.ObjectIdentifier, []byte, error) {
	var seq cryptobyte.String
	var oid asn1.ObjectIdentifier
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1ObjectIdentifier(&oid) {
		return nil, nil, formatErr("algorithm identifier")
	}
	var params []byte
	if !seq.Empty() {
		var el cryptobyte.String
		if !seq.ReadAnyASN1Element(&el, nil) || !seq.Empty() {
			return nil, nil, formatErr("algorithm parameters")
		}
		if !bytes.Equal(el, []byte{5, 0}) { // NULL is the same as absent
			params = append([]byte{}, el...)
		}
	}
	return oid, params, nil
}

func parseSignerInfo(s cryptobyte.String) (*SignerInfo, error) {
	si := &SignerInfo{}
	if !s.ReadASN1Integer(&si.Version) {
		return nil, formatErr("SignerInfo version")
	}
	switch {
	case s.PeekASN1Tag(cbasn1.SEQUENCE):
		var ias, name cryptobyte.String
		si.SerialNumber = new(big.Int)
		if !s.ReadASN1(&ias, cbasn1.SEQUENCE) || !ias.ReadASN1Element(&name, cbasn1.SEQUENCE) ||
			!ias.ReadASN1Integer(si.SerialNumber) || !ias.Empty() {
			return nil, formatErr("issuerAndSerialNumber")
		}
		si.IssuerRaw = append([]byte{}, name...)
	case s.PeekASN1Tag(cbasn1.Tag(0).ContextSpecific()):
		var ski cryptobyte.String
		s.ReadASN1(&ski, cbasn1.Tag(0).ContextSpecific())
		si.SubjectKeyID = append([]byte{}, ski...)
	default:
		return nil, formatErr("signer identifier")
	}
	var err error
	if si.DigestAlgorithm, _, err = readAlgorithm(&s); err != nil {
		return nil, err
	}
	si.Hash, _ = HashFromOID(si.DigestAlgorithm)
	if s.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var body cryptobyte.String
		s.ReadASN1(&body, cbasn1.Tag(0).Constructed().ContextSpecific())
		// The signature covers the attributes under the universal SET tag (RFC 5652 5.4).
		si.SignedAttrs = appendTLV(nil, []byte{0x31}, body)
		if si.Signed, err = parseAttributes(body); err != nil {
			return nil, err
		}
		if len(si.Signed) == 0 {
			return nil, formatErr("empty signed attributes")
		}
	}
	if si.SignatureAlgorithm, si.SignatureParams, err = readAlgorithm(&s); err != nil {
		return nil, err
	}
	var sig cryptobyte.String
	if !s.ReadASN1(&sig, cbasn1.OCTET_STRING) {
		return nil, formatErr("signature value")
	}
	si.Signature = append([]byte{}, sig...)
	if s.PeekASN1Tag(cbasn1.Tag(1).Constructed().ContextSpecific()) {
		var body cryptobyte.String
		s.ReadASN1(&body, cbasn1.Tag(1).Constructed().ContextSpecific())
		if si.Unsigned, err = parseAttributes(body); err != nil {
			return nil, err
		}
	}
	if !s.Empty() {
		return nil, formatErr("data after SignerInfo")
	}
	return si, nil
}

func parseAttributes(s cryptobyte.String) ([]Attribute, error) {
	var out []Attribute
	for !s.Empty() {
		var seq, set cryptobyte.String
		var a Attribute
		if !s.ReadASN1(&seq, cbasn1.SEQUENCE) || !seq.ReadASN1ObjectIdentifier(&a.Type) ||
			!seq.ReadASN1(&set, cbasn1.SET) || !seq.Empty() {
			return nil, formatErr("attribute")
		}
		for !set.Empty() {
			var v cryptobyte.String
			if !set.ReadAnyASN1Element(&v, nil) {
				return nil, formatErr("attribute value")
			}
			a.Values = append(a.Values, append([]byte{}, v...))
		}
		if len(a.Values) == 0 {
			return nil, formatErr("attribute without a value")
		}
		out = append(out, a)
	}
	return out, nil
}

// attr returns the values of the attribute with type oid and how many attributes of that type exist.
func findAttr(attrs []Attribute, oid asn1.ObjectIdentifier) ([][]byte, int) {
	var vals [][]byte
	n := 0
	for _, a := range attrs {
		if a.Type.Equal(oid) {
			if n == 0 {
				vals = a.Values
			}
			n++
		}
	}
	return vals, n
}

// singleAttr returns the one value of a signed attribute that must appear once with one value.
func (si *SignerInfo) singleAttr(oid asn1.ObjectIdentifier, name string) ([]byte, error) {
	vals, n := findAttr(si.Signed, oid)
	switch {
	case n == 0:
		return nil, nil
	case n > 1 || len(vals) != 1:
		return nil, formatErr(name + " attribute appears more than once")
	}
	return vals[0], nil
}

// MessageDigest returns the message-digest signed attribute (nil, nil if absent).
func (si *SignerInfo) MessageDigest() ([]byte, error) {
	v, err := si.singleAttr(OIDAttrMessageDigest, "message-digest")
	if v == nil || err != nil {
		return nil, err
	}
	var d []byte
	if rest, err := asn1.Unmarshal(v, &d); err != nil || len(rest) > 0 {
		return nil, formatErr("message-digest value")
	}
	return d, nil
}

// ContentTypeAttr returns the content-type signed attribute (nil, nil if absent).
func (si *SignerInfo) ContentTypeAttr() (asn1.ObjectIdentifier, error) {
	v, err := si.singleAttr(OIDAttrContentType, "content-type")
	if v == nil || err != nil {
		return nil, err
	}
	var oid asn1.ObjectIdentifier
	if rest, err := asn1.Unmarshal(v, &oid); err != nil || len(rest) > 0 {
		return nil, formatErr("content-type value")
	}
	return oid, nil
}

// SigningTime returns the signing-time signed attribute, if present. PAdES baseline forbids it;
// adbe.pkcs7.detached signers often add it.
func (si *SignerInfo) SigningTime() (time.Time, bool) {
	v, err := si.singleAttr(OIDAttrSigningTime, "signing-time")
	if v == nil || err != nil {
		return time.Time{}, false
	}
	var t time.Time
	if _, err := asn1.Unmarshal(v, &t); err != nil {
		return time.Time{}, false
	}
	return t, true
}

// TimestampTokens returns the signature-time-stamp unsigned attribute values (DER ContentInfo each).
func (si *SignerInfo) TimestampTokens() [][]byte {
	var out [][]byte
	for _, a := range si.Unsigned {
		if a.Type.Equal(OIDAttrTimeStampToken) {
			out = append(out, a.Values...)
		}
	}
	return out
}
