package pades

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// maxRevocationResponse bounds one OCSP response or CRL fetched for B-LT.
const maxRevocationResponse = 16 << 20

// FetchRevocation returns a RevocationFunc that asks each certificate's OCSP responder (AIA) and, when
// that fails or there is none, downloads its CRL distribution points. Certificates without an issuer in
// the chain (the root) are skipped. A certificate with neither source contributes nothing; a source that
// fails is an error, because B-LT without the evidence is not B-LT.
func FetchRevocation(client *http.Client) RevocationFunc {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	return func(ctx context.Context, chain []*x509.Certificate) (Revocation, error) {
		var rev Revocation
		all := append([]*x509.Certificate(nil), chain...)
		for i := 0; i < len(all); i++ {
			c := all[i]
			if bytes.Equal(c.RawSubject, c.RawIssuer) {
				continue
			}
			issuer := findIssuer(c, all)
			if issuer == nil {
				// Fetch the missing issuer from the AIA caIssuers URL, and keep it for the DSS.
				if issuer = fetchIssuer(ctx, client, c); issuer == nil {
					continue
				}
				all = append(all, issuer)
				rev.Certs = append(rev.Certs, issuer)
			}
			var ocspErr error
			if len(c.OCSPServer) > 0 {
				resp, err := fetchOCSP(ctx, client, c, issuer)
				if err == nil {
					rev.OCSPs = append(rev.OCSPs, resp)
					continue
				}
				ocspErr = err
			}
			got := false
			for _, u := range c.CRLDistributionPoints {
				crl, err := fetch(ctx, client, http.MethodGet, u, "", nil)
				if err != nil {
					continue
				}
				if _, err := x509.ParseRevocationList(crl); err != nil {
					continue
				}
				rev.CRLs = append(rev.CRLs, crl)
				got = true
				break
			}
			if !got && (ocspErr != nil || len(c.CRLDistributionPoints) > 0) {
				return rev, fmt.Errorf("no revocation data for %q (OCSP: %v)", c.Subject.CommonName, ocspErr)
			}
		}
		return rev, nil
	}
}

// fetchIssuer downloads c's issuer certificate (DER, or PEM) from its AIA caIssuers URLs.
func fetchIssuer(ctx context.Context, client *http.Client, c *x509.Certificate) *x509.Certificate {
	for _, u := range c.IssuingCertificateURL {
		b, err := fetch(ctx, client, http.MethodGet, u, "", nil)
		if err != nil {
			continue
		}
		if blk, _ := pem.Decode(b); blk != nil {
			b = blk.Bytes
		}
		ic, err := x509.ParseCertificate(b)
		if err == nil && c.CheckSignatureFrom(ic) == nil {
			return ic
		}
	}
	return nil
}

func findIssuer(c *x509.Certificate, chain []*x509.Certificate) *x509.Certificate {
	for _, i := range chain {
		if i != c && bytes.Equal(i.RawSubject, c.RawIssuer) && c.CheckSignatureFrom(i) == nil {
			return i
		}
	}
	return nil
}

func fetchOCSP(ctx context.Context, client *http.Client, c, issuer *x509.Certificate) ([]byte, error) {
	req, err := ocsp.CreateRequest(c, issuer, nil)
	if err != nil {
		return nil, err
	}
	body, err := fetch(ctx, client, http.MethodPost, c.OCSPServer[0], "application/ocsp-request", req)
	if err != nil {
		return nil, err
	}
	resp, err := ocsp.ParseResponseForCert(body, c, issuer)
	if err != nil {
		return nil, err
	}
	if resp.Status != ocsp.Good {
		return nil, fmt.Errorf("OCSP status of %q is not good (%d)", c.Subject.CommonName, resp.Status)
	}
	return body, nil
}

func fetch(ctx context.Context, client *http.Client, method, url, ctype string, body []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxRevocationResponse+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxRevocationResponse {
		return nil, fmt.Errorf("%s: response too large", url)
	}
	return b, nil
}

// CachedRevocation returns a RevocationFunc that asks fetch once per distinct set of certificates and
// reuses the answer for maxAge: a batch of documents signed with one certificate (and timestamped by
// one TSA) fetches its OCSP responses and CRLs once, not once per document, which spares the CA's
// responders as much as the batch's time. Concurrent callers for the same certificates wait for one
// fetch; a failed fetch is forgotten, and a caller whose wait ends because the fetching caller's own
// context ended fetches again. It is meant for one batch: answers are kept until they are replaced.
// now is the clock (time.Now when nil).
func CachedRevocation(fetch RevocationFunc, maxAge time.Duration, now func() time.Time) RevocationFunc {
	if now == nil {
		now = time.Now
	}
	type entry struct {
		done   chan struct{}
		rev    Revocation
		err    error
		at     time.Time
		gaveUp bool // the fetching caller's context ended: others should try with theirs
	}
	var mu sync.Mutex
	cache := map[string]*entry{}
	return func(ctx context.Context, chain []*x509.Certificate) (Revocation, error) {
		h := sha256.New()
		for _, c := range chain {
			if c != nil {
				sum := sha256.Sum256(c.Raw)
				h.Write(sum[:])
			}
		}
		key := string(h.Sum(nil))
		for {
			mu.Lock()
			e, ok := cache[key]
			if ok {
				select {
				case <-e.done:
					ok = e.err == nil && now().Sub(e.at) <= maxAge
				default: // another caller is fetching: wait for it below
				}
			}
			if !ok {
				e = &entry{done: make(chan struct{})}
				cache[key] = e
				mu.Unlock()
				func() {
					defer close(e.done) // also when fetch panics: waiters must not hang
					e.err = errors.New("pades: the revocation fetch did not finish")
					e.rev, e.err = fetch(ctx, chain)
					e.at = now()
					e.gaveUp = e.err != nil && ctx.Err() != nil
					if e.err != nil {
						mu.Lock()
						if cache[key] == e {
							delete(cache, key)
						}
						mu.Unlock()
					}
				}()
				return e.rev, e.err
			}
			mu.Unlock()
			select {
			case <-e.done:
			case <-ctx.Done():
				return Revocation{}, ctx.Err()
			}
			if e.err != nil && e.gaveUp && ctx.Err() == nil {
				continue // the fetching caller gave up, not the responder: try with our own context
			}
			return e.rev, e.err
		}
	}
}
