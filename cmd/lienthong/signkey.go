package main

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
	"strings"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/internal/apperr"
)

// loadSigningKey opens the key named by --key for `pdf sign` and `cms sign`: a PKCS#11 URI through
// hsm.Open (the certificate comes from the token unless certPath is given), or file:KEY.pem for tests
// (which needs certPath). chainPath adds issuer certificates. The returned func closes the key.
func loadSigningKey(ctx context.Context, key, certPath, chainPath string, keyOpts ...hsm.Option) (crypto.Signer, []*x509.Certificate, func(), error) {
	var certs, extra []*x509.Certificate
	var err error
	if certPath != "" {
		if certs, err = readCertsPEM(certPath); err != nil {
			return nil, nil, nil, err
		}
	}
	if chainPath != "" {
		if extra, err = readCertsPEM(chainPath); err != nil {
			return nil, nil, nil, err
		}
	}
	switch {
	case strings.HasPrefix(key, "pkcs11:"):
		k, err := hsm.Open(ctx, key, keyOpts...)
		if err != nil {
			return nil, nil, nil, err
		}
		if len(certs) == 0 {
			if k.Certificate() == nil {
				k.Close()
				return nil, nil, nil, apperr.New(apperr.Invalid, "no_certificate", "the token has no certificate for this key; import one or pass --cert")
			}
			certs = []*x509.Certificate{k.Certificate()}
		}
		return k, append(certs, extra...), func() { k.Close() }, nil
	case strings.HasPrefix(key, "file:"):
		if len(certs) == 0 {
			return nil, nil, nil, apperr.New(apperr.Invalid, "no_certificate", "a file: key needs --cert")
		}
		s, err := readKeyPEM(strings.TrimPrefix(key, "file:"))
		if err != nil {
			return nil, nil, nil, err
		}
		return s, append(certs, extra...), func() {}, nil
	}
	return nil, nil, nil, apperr.New(apperr.Invalid, "key_uri", "--key must be a pkcs11: URI or file:KEY.pem")
}

// readCertsPEM reads every CERTIFICATE block of a PEM file.
func readCertsPEM(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, "cert_file", "cannot read the certificate file "+path, err)
	}
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, apperr.Wrap(apperr.Invalid, "cert_file", "a certificate in "+path+" does not parse", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, apperr.New(apperr.Invalid, "cert_file", "no PEM certificate in "+path)
	}
	return out, nil
}

// readKeyPEM reads an unencrypted PKCS#8, PKCS#1 or SEC 1 private key (tests and development only:
// production keys live in tokens).
func readKeyPEM(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, "key_file", "cannot read the key file", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, apperr.New(apperr.Invalid, "key_file", "the key file is not PEM")
	}
	var k any
	switch blk.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(blk.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(blk.Bytes)
	default:
		return nil, apperr.New(apperr.Invalid, "key_file", "unsupported PEM block "+blk.Type+" (encrypted keys are not supported)")
	}
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, "key_file", "the key file does not parse", err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, apperr.New(apperr.Invalid, "key_file", "the key cannot sign")
	}
	return s, nil
}
