// Package cmstest builds throw-away PKIs for tests and fixture generators: a root, intermediates,
// signer and TSA certificates with chosen validity and key usage, CRLs and OCSP responses. Keys live
// in memory only. It is not for production use.
package cmstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ocsp"
)

// KeyType names a key algorithm.
type KeyType string

const (
	RSA2048 KeyType = "rsa2048"
	RSA3072 KeyType = "rsa3072"
	P256    KeyType = "ecp256"
	P384    KeyType = "ecp384"
)

// NewKey makes an in-memory key.
func NewKey(t KeyType) (crypto.Signer, error) {
	switch t {
	case RSA2048, "":
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	case P256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case P384:
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	}
	return nil, fmt.Errorf("cmstest: unknown key type %q", t)
}

// Cert is a certificate with its key and the chain above it (issuer first, root last).
type Cert struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate // issuers above Cert, nearest first
}

// Full returns the certificate followed by its issuers: the order CMS requests want.
func (c *Cert) Full() []*x509.Certificate {
	return append([]*x509.Certificate{c.Cert}, c.Chain...)
}

// Options shape an issued certificate. Zero values give a one-year end-entity signing
// certificate (digitalSignature + nonRepudiation) valid from an hour ago.
type Options struct {
	CommonName   string
	Organization string
	Key          KeyType
	NotBefore    time.Time
	NotAfter     time.Time
	KeyUsage     x509.KeyUsage // zero: digitalSignature|contentCommitment (CA: certSign|crlSign)
	ExtKeyUsage  []x509.ExtKeyUsage
	CA           bool
	CriticalEKU  bool // mark the extended key usage critical (RFC 3161 requires it for a TSA)
	OCSPServer   []string
	CRLURLs      []string
	Now          time.Time // reference time for defaults; zero: time.Now()
}

var serial atomic.Int64

func init() { serial.Store(time.Now().UnixNano() & 0xffffffffff) }

// NewRoot makes a self-signed root CA.
func NewRoot(o Options) (*Cert, error) {
	o.CA = true
	if o.CommonName == "" {
		o.CommonName = "Lienthong Test Root CA"
	}
	return issue(nil, o)
}

// Issue makes a certificate signed by c.
func (c *Cert) Issue(o Options) (*Cert, error) {
	if c == nil || !c.Cert.IsCA {
		return nil, errors.New("cmstest: issuer is not a CA")
	}
	return issue(c, o)
}

func issue(parent *Cert, o Options) (*Cert, error) {
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = now.Add(-time.Hour)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = now.AddDate(1, 0, 0)
	}
	if o.Key == "" {
		o.Key = P256
		if !o.CA {
			o.Key = RSA2048
		}
	}
	if o.Organization == "" {
		o.Organization = "Lienthong Test"
	}
	if o.CommonName == "" {
		o.CommonName = "Test Signer"
	}
	if o.KeyUsage == 0 {
		if o.CA {
			o.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		} else {
			o.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
		}
	}
	key, err := NewKey(o.Key)
	if err != nil {
		return nil, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	ski := sha1.Sum(pubDER)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: o.CommonName, Organization: []string{o.Organization}, Country: []string{"VN"}},
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		KeyUsage:              o.KeyUsage,
		ExtKeyUsage:           o.ExtKeyUsage,
		BasicConstraintsValid: true,
		IsCA:                  o.CA,
		SubjectKeyId:          ski[:],
		OCSPServer:            o.OCSPServer,
		CRLDistributionPoints: o.CRLURLs,
	}
	if o.CriticalEKU && len(o.ExtKeyUsage) > 0 {
		var oids []asn1.ObjectIdentifier
		for _, u := range o.ExtKeyUsage {
			oid, ok := ekuOIDs[u]
			if !ok {
				return nil, fmt.Errorf("cmstest: no OID for extended key usage %d", u)
			}
			oids = append(oids, oid)
		}
		val, err := asn1.Marshal(oids)
		if err != nil {
			return nil, err
		}
		tmpl.ExtKeyUsage = nil
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 37}, Critical: true, Value: val})
	}
	parentCert, parentKey := tmpl, key
	var chain []*x509.Certificate
	if parent != nil {
		parentCert, parentKey = parent.Cert, parent.Key
		chain = parent.Full()
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parentCert, key.Public(), parentKey)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Cert{Cert: cert, Key: key, Chain: chain}, nil
}

var ekuOIDs = map[x509.ExtKeyUsage]asn1.ObjectIdentifier{
	x509.ExtKeyUsageServerAuth:      {1, 3, 6, 1, 5, 5, 7, 3, 1},
	x509.ExtKeyUsageClientAuth:      {1, 3, 6, 1, 5, 5, 7, 3, 2},
	x509.ExtKeyUsageCodeSigning:     {1, 3, 6, 1, 5, 5, 7, 3, 3},
	x509.ExtKeyUsageEmailProtection: {1, 3, 6, 1, 5, 5, 7, 3, 4},
	x509.ExtKeyUsageTimeStamping:    {1, 3, 6, 1, 5, 5, 7, 3, 8},
	x509.ExtKeyUsageOCSPSigning:     {1, 3, 6, 1, 5, 5, 7, 3, 9},
}

// CRL returns a DER CRL issued by c listing revoked as revoked at revokedAt.
func (c *Cert) CRL(revoked []*x509.Certificate, revokedAt, now time.Time) ([]byte, error) {
	var entries []x509.RevocationListEntry
	for _, r := range revoked {
		entries = append(entries, x509.RevocationListEntry{SerialNumber: r.SerialNumber, RevocationTime: revokedAt})
	}
	return x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(serial.Add(1)),
		ThisUpdate:                now.Add(-time.Minute),
		NextUpdate:                now.Add(7 * 24 * time.Hour),
		RevokedCertificateEntries: entries,
	}, c.Cert, c.Key)
}

// OCSP returns a DER OCSP response signed by c (the issuer of cert) with the given status
// (ocsp.Good, ocsp.Revoked, ocsp.Unknown).
func (c *Cert) OCSP(cert *x509.Certificate, status int, revokedAt, now time.Time) ([]byte, error) {
	return ocsp.CreateResponse(c.Cert, c.Cert, ocsp.Response{
		Status:       status,
		SerialNumber: cert.SerialNumber,
		ThisUpdate:   now.Add(-time.Minute),
		NextUpdate:   now.Add(24 * time.Hour),
		RevokedAt:    revokedAt,
		RevocationReason: func() int {
			if status == ocsp.Revoked {
				return ocsp.KeyCompromise
			}
			return 0
		}(),
	}, c.Key)
}

// PEM encodes certificates as PEM blocks.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// KeyPEM encodes a key as PKCS#8 PEM.
func KeyPEM(k crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// WriteFiles writes cert.pem (certificate then chain) and key.pem (PKCS#8) with the given prefix.
func (c *Cert) WriteFiles(prefix string) error {
	kp, err := KeyPEM(c.Key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(prefix+".pem", PEM(c.Full()...), 0o644); err != nil {
		return err
	}
	return os.WriteFile(prefix+".key", kp, 0o600)
}
