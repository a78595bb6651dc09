package verify

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// Options configure a validation. The zero value trusts nothing (every chain is then
// INDETERMINATE / NO_CERTIFICATE_CHAIN_FOUND), judges at time.Now, reads only embedded revocation
// data, treats missing revocation data as a warning, and fails any annotation added after a signature.
type Options struct {
	// Roots are the trust anchors (for example the Vietnamese government CA roots).
	Roots *x509.CertPool
	// Now is the validation clock; nil means time.Now.
	Now func() time.Time
	// AllowAnnotations turns annotations added after a signature (other than signature widgets) from
	// a failure into a warning.
	AllowAnnotations bool
	// RequireRevocation makes a signature whose certificate's revocation status cannot be determined
	// INDETERMINATE / TRY_LATER instead of passing with a warning.
	RequireRevocation bool
	// Revocation, when set, fetches OCSP responses and CRLs the file does not embed.
	Revocation RevocationFetcher
	// File names the input in the report (optional).
	File string
}

// RevocationFetcher obtains revocation data over the network. NewHTTPFetcher gives a caching one.
type RevocationFetcher interface {
	OCSP(ctx context.Context, cert, issuer *x509.Certificate) ([]byte, error)
	CRL(ctx context.Context, url string) ([]byte, error)
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// LoadRoots reads PEM certificates (one or more files) into a pool of trust anchors.
func LoadRoots(paths ...string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("reading trust anchors: %w", err)
		}
		for {
			var b *pem.Block
			b, data = pem.Decode(data)
			if b == nil {
				break
			}
			if b.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("trust anchor in %s: %w", p, err)
			}
			pool.AddCert(c)
			n++
		}
	}
	if n == 0 {
		return nil, errors.New("no PEM certificate found in the trust anchor file")
	}
	return pool, nil
}
