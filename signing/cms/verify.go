package cms

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Verification errors. Each names one failed check, so a validation report can map it to an ETSI
// sub-indication (HASH_FAILURE, SIG_CRYPTO_FAILURE, NO_SIGNING_CERTIFICATE_FOUND, FORMAT_FAILURE).
var (
	ErrDigestMismatch      = errors.New("cms: the message digest does not match the signed content")
	ErrSignerNotFound      = errors.New("cms: the signer's certificate is not in the SignedData")
	ErrSigningCertMismatch = errors.New("cms: the signing-certificate attribute does not match the signer's certificate")
	ErrSignerCount         = errors.New("cms: exactly one SignerInfo is required")
)

// Verified is the outcome of a successful VerifyDetached.
type Verified struct {
	Signer *SignerInfo
	Cert   *x509.Certificate
	// ESS is 2 or 1 when a signing-certificate(-v2) attribute binds Cert, 0 when the attribute is
	// absent (allowed for adbe.pkcs7.detached, required by PAdES).
	ESS int
}

// VerifyDetached checks a detached SignedData with exactly one SignerInfo against digest, the hash of
// the content computed with the signer's digest algorithm (SignerInfo.Hash): the content-type and
// message-digest attributes, the signature over the signed attributes with the signer's certificate
// found in the SignedData, and the signing-certificate attribute when present. It says nothing about
// whether the certificate is trusted; that is the caller's chain check.
func (sd *SignedData) VerifyDetached(digest []byte) (*Verified, error) {
	if len(sd.Signers) != 1 {
		return nil, fmt.Errorf("%w (found %d)", ErrSignerCount, len(sd.Signers))
	}
	if sd.Content != nil {
		return nil, formatErr("the content is encapsulated; a detached signature was expected")
	}
	return sd.verifySigner(sd.Signers[0], digest)
}

// VerifyEncapsulated checks a SignedData that carries its content (a timestamp token): as
// VerifyDetached, with the digest computed over the encapsulated content.
func (sd *SignedData) VerifyEncapsulated() (*Verified, error) {
	if len(sd.Signers) != 1 {
		return nil, fmt.Errorf("%w (found %d)", ErrSignerCount, len(sd.Signers))
	}
	if sd.Content == nil {
		return nil, formatErr("no encapsulated content")
	}
	si := sd.Signers[0]
	if si.Hash == 0 || !si.Hash.Available() {
		return nil, fmt.Errorf("%w: digest algorithm %v", ErrUnsupported, si.DigestAlgorithm)
	}
	h := si.Hash.New()
	h.Write(sd.Content)
	return sd.verifySigner(si, h.Sum(nil))
}

func (sd *SignedData) verifySigner(si *SignerInfo, digest []byte) (*Verified, error) {
	if si.Hash == 0 || !si.Hash.Available() {
		return nil, fmt.Errorf("%w: digest algorithm %v", ErrUnsupported, si.DigestAlgorithm)
	}
	cert, err := sd.SignerCertificate(si)
	if err != nil {
		return nil, err
	}
	if si.SignedAttrs != nil {
		ct, err := si.ContentTypeAttr()
		if err != nil {
			return nil, err
		}
		if ct == nil || !ct.Equal(sd.ContentType) {
			return nil, formatErr("the content-type attribute is missing or differs from the content")
		}
		if err := si.CheckMessageDigest(digest); err != nil {
			return nil, err
		}
	}
	if err := si.VerifySignature(cert, digest); err != nil {
		return nil, err
	}
	v := &Verified{Signer: si, Cert: cert}
	if v.ESS, err = si.CheckSigningCertificate(cert); err != nil {
		return nil, err
	}
	return v, nil
}

// SignerCertificate finds the certificate that si names among the embedded certificates.
func (sd *SignedData) SignerCertificate(si *SignerInfo) (*x509.Certificate, error) {
	for _, c := range sd.Certificates {
		if si.SerialNumber != nil && c.SerialNumber != nil && si.SerialNumber.Cmp(c.SerialNumber) == 0 &&
			bytes.Equal(si.IssuerRaw, c.RawIssuer) {
			return c, nil
		}
		if si.SubjectKeyID != nil && bytes.Equal(si.SubjectKeyID, c.SubjectKeyId) {
			return c, nil
		}
	}
	return nil, ErrSignerNotFound
}

// CheckMessageDigest compares the message-digest attribute with digest in constant time.
func (si *SignerInfo) CheckMessageDigest(digest []byte) error {
	md, err := si.MessageDigest()
	if err != nil {
		return err
	}
	if md == nil {
		return formatErr("no message-digest attribute")
	}
	if subtle.ConstantTimeCompare(md, digest) != 1 {
		return ErrDigestMismatch
	}
	return nil
}

// VerifySignature checks si's signature with cert's key: over the signed attributes when present,
// otherwise over contentDigest.
func (si *SignerInfo) VerifySignature(cert *x509.Certificate, contentDigest []byte) error {
	hash := si.Hash
	if h, ok := sigAlgHash(si.SignatureAlgorithm); ok {
		hash = h
	}
	if hash == 0 || !hash.Available() {
		return fmt.Errorf("%w: signature digest", ErrUnsupported)
	}
	var sum []byte
	if si.SignedAttrs != nil {
		h := hash.New()
		h.Write(si.SignedAttrs)
		sum = h.Sum(nil)
	} else {
		if hash != si.Hash {
			return fmt.Errorf("%w: signature and digest algorithms differ", ErrUnsupported)
		}
		sum = contentDigest
	}
	alg := si.SignatureAlgorithm
	switch pub := cert.PublicKey.(type) {
	case *rsa.PublicKey:
		switch {
		case alg.Equal(OIDRSAEncryption), alg.Equal(OIDSHA1WithRSA), alg.Equal(OIDSHA256WithRSA),
			alg.Equal(OIDSHA384WithRSA), alg.Equal(OIDSHA512WithRSA):
			if rsa.VerifyPKCS1v15(pub, hash, sum, si.Signature) != nil {
				return ErrBadSignature
			}
			return nil
		case alg.Equal(OIDRSAPSS):
			ph, salt, err := parsePSSParams(si.SignatureParams)
			if err != nil {
				return err
			}
			if si.SignedAttrs != nil && ph != hash {
				h := ph.New()
				h.Write(si.SignedAttrs)
				sum = h.Sum(nil)
			} else if si.SignedAttrs == nil && ph != hash {
				return fmt.Errorf("%w: PSS hash differs from the digest algorithm", ErrUnsupported)
			}
			if rsa.VerifyPSS(pub, ph, sum, si.Signature, &rsa.PSSOptions{SaltLength: salt, Hash: ph}) != nil {
				return ErrBadSignature
			}
			return nil
		}
	case *ecdsa.PublicKey:
		switch {
		case alg.Equal(OIDECPublicKey), alg.Equal(OIDECDSAWithSHA1), alg.Equal(OIDECDSAWithSHA256),
			alg.Equal(OIDECDSAWithSHA384), alg.Equal(OIDECDSAWithSHA512):
			if !ecdsa.VerifyASN1(pub, sum, si.Signature) {
				return ErrBadSignature
			}
			return nil
		}
	default:
		return fmt.Errorf("%w: signer key %T", ErrUnsupported, cert.PublicKey)
	}
	return fmt.Errorf("%w: signature algorithm %v for a %T key", ErrUnsupported, alg, cert.PublicKey)
}

func sigAlgHash(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	switch {
	case oid.Equal(OIDSHA1WithRSA), oid.Equal(OIDECDSAWithSHA1):
		return crypto.SHA1, true
	case oid.Equal(OIDSHA256WithRSA), oid.Equal(OIDECDSAWithSHA256):
		return crypto.SHA256, true
	case oid.Equal(OIDSHA384WithRSA), oid.Equal(OIDECDSAWithSHA384):
		return crypto.SHA384, true
	case oid.Equal(OIDSHA512WithRSA), oid.Equal(OIDECDSAWithSHA512):
		return crypto.SHA512, true
	}
	return 0, false
}

// parsePSSParams reads RSASSA-PSS-params; Go verifies only MGF1 over the message hash.
func parsePSSParams(params []byte) (crypto.Hash, int, error) {
	hash, mgfHash, salt := crypto.SHA1, crypto.SHA1, 20
	s := cryptobyte.String(params)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, cbasn1.SEQUENCE) {
		return 0, 0, formatErr("RSASSA-PSS parameters")
	}
	if seq.PeekASN1Tag(cbasn1.Tag(0).Constructed().ContextSpecific()) {
		var f cryptobyte.String
		seq.ReadASN1(&f, cbasn1.Tag(0).Constructed().ContextSpecific())
		oid, _, err := readAlgorithm(&f)
		if err != nil {
			return 0, 0, err
		}
		var ok bool
		if hash, ok = HashFromOID(oid); !ok {
			return 0, 0, fmt.Errorf("%w: PSS hash %v", ErrUnsupported, oid)
		}
	}
	if seq.PeekASN1Tag(cbasn1.Tag(1).Constructed().ContextSpecific()) {
		var f, mgf cryptobyte.String
		var oid asn1.ObjectIdentifier
		seq.ReadASN1(&f, cbasn1.Tag(1).Constructed().ContextSpecific())
		if !f.ReadASN1(&mgf, cbasn1.SEQUENCE) || !mgf.ReadASN1ObjectIdentifier(&oid) || !oid.Equal(OIDMGF1) {
			return 0, 0, fmt.Errorf("%w: PSS mask generation function", ErrUnsupported)
		}
		hoid, _, err := readAlgorithm(&mgf)
		if err != nil {
			return 0, 0, err
		}
		var ok bool
		if mgfHash, ok = HashFromOID(hoid); !ok {
			return 0, 0, fmt.Errorf("%w: MGF1 hash %v", ErrUnsupported, hoid)
		}
	}
	if seq.PeekASN1Tag(cbasn1.Tag(2).Constructed().ContextSpecific()) {
		var f cryptobyte.String
		seq.ReadASN1(&f, cbasn1.Tag(2).Constructed().ContextSpecific())
		if !f.ReadASN1Integer(&salt) || salt < 0 {
			return 0, 0, formatErr("PSS salt length")
		}
	}
	if mgfHash != hash {
		return 0, 0, fmt.Errorf("%w: MGF1 hash differs from the PSS hash", ErrUnsupported)
	}
	return hash, salt, nil
}

// CheckSigningCertificate checks the ESS signing-certificate-v2 (or v1) attribute against cert. It
// returns the version found (0: none) and ErrSigningCertMismatch when the first certificate
// identifier does not name cert. Both attributes present, or one present twice, is a format error.
func (si *SignerInfo) CheckSigningCertificate(cert *x509.Certificate) (int, error) {
	v2, n2 := findAttr(si.Signed, OIDAttrSigningCertV2)
	v1, n1 := findAttr(si.Signed, OIDAttrSigningCertificate)
	switch {
	case n1+n2 == 0:
		return 0, nil
	case n1+n2 > 1 || len(v2)+len(v1) != 1:
		return 0, formatErr("more than one signing-certificate attribute")
	}
	version, val := 2, v2
	if n1 == 1 {
		version, val = 1, v1
	}
	s := cryptobyte.String(val[0])
	var sc, ids, id cryptobyte.String
	if !s.ReadASN1(&sc, cbasn1.SEQUENCE) || !sc.ReadASN1(&ids, cbasn1.SEQUENCE) || !ids.ReadASN1(&id, cbasn1.SEQUENCE) {
		return 0, formatErr("signing-certificate attribute")
	}
	hash := crypto.SHA1
	if version == 2 {
		hash = crypto.SHA256
		if id.PeekASN1Tag(cbasn1.SEQUENCE) {
			oid, _, err := readAlgorithm(&id)
			if err != nil {
				return 0, err
			}
			var ok bool
			if hash, ok = HashFromOID(oid); !ok {
				return 0, fmt.Errorf("%w: signing-certificate hash %v", ErrUnsupported, oid)
			}
		}
	}
	var certHash cryptobyte.String
	if !id.ReadASN1(&certHash, cbasn1.OCTET_STRING) {
		return 0, formatErr("signing-certificate hash")
	}
	h := hash.New()
	h.Write(cert.Raw)
	if !bytes.Equal(h.Sum(nil), certHash) {
		return version, ErrSigningCertMismatch
	}
	if !id.Empty() {
		var is, names, name cryptobyte.String
		serial := new(big.Int)
		if !id.ReadASN1(&is, cbasn1.SEQUENCE) || !is.ReadASN1(&names, cbasn1.SEQUENCE) ||
			!is.ReadASN1Integer(serial) {
			return version, formatErr("signing-certificate issuerSerial")
		}
		matched := false
		for !names.Empty() {
			var tag cbasn1.Tag
			if !names.ReadAnyASN1(&name, &tag) {
				return version, formatErr("signing-certificate issuer name")
			}
			if tag == cbasn1.Tag(4).Constructed().ContextSpecific() && bytes.Equal(name, cert.RawIssuer) {
				matched = true
			}
		}
		if !matched || serial.Cmp(cert.SerialNumber) != 0 {
			return version, ErrSigningCertMismatch
		}
	}
	return version, nil
}
