package verify

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"golang.org/x/crypto/ocsp"
)

// HTTPFetcher fetches OCSP responses (POST, RFC 6960) and CRLs (GET) and caches them in memory until
// their nextUpdate (at most MaxAge), so verifying every packet of an exchange does not ask the CA
// each time. It is safe for concurrent use.
type HTTPFetcher struct {
	Client *http.Client
	MaxAge time.Duration
	Now    func() time.Time

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	der     []byte
	expires time.Time
}

// maxFetched bounds a fetched OCSP response or CRL.
const maxFetched = 16 << 20

// NewHTTPFetcher returns a fetcher using client (nil: a client with a 15 s timeout).
func NewHTTPFetcher(client *http.Client) *HTTPFetcher {
	if client == nil {
		client = &http.Client{Timeout: 15 * time.Second}
	}
	return &HTTPFetcher{Client: client, MaxAge: 24 * time.Hour, Now: time.Now, cache: map[string]cached{}}
}

func (f *HTTPFetcher) get(key string) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.cache[key]
	if !ok || f.Now().After(c.expires) {
		return nil, false
	}
	return c.der, true
}

func (f *HTTPFetcher) put(key string, der []byte, next time.Time) {
	now := f.Now()
	exp := now.Add(f.MaxAge)
	if !next.IsZero() && next.Before(exp) {
		exp = next
	}
	if !exp.After(now) {
		return
	}
	f.mu.Lock()
	f.cache[key] = cached{der: der, expires: exp}
	f.mu.Unlock()
}

// OCSP asks the certificate's OCSP responder for its status.
func (f *HTTPFetcher) OCSP(ctx context.Context, cert, issuer *x509.Certificate) ([]byte, error) {
	if len(cert.OCSPServer) == 0 {
		return nil, errors.New("the certificate names no OCSP responder")
	}
	key := "ocsp " + string(issuer.RawSubject) + cert.SerialNumber.String()
	if der, ok := f.get(key); ok {
		return der, nil
	}
	req, err := ocsp.CreateRequest(cert, issuer, nil)
	if err != nil {
		return nil, err
	}
	der, err := f.do(ctx, http.MethodPost, cert.OCSPServer[0], "application/ocsp-request", req)
	if err != nil {
		return nil, err
	}
	r, err := ocsp.ParseResponseForCert(der, cert, issuer)
	if err != nil {
		return nil, fmt.Errorf("OCSP response from %s: %w", cert.OCSPServer[0], err)
	}
	f.put(key, der, r.NextUpdate)
	return der, nil
}

// CRL downloads a CRL.
func (f *HTTPFetcher) CRL(ctx context.Context, u string) ([]byte, error) {
	key := "crl " + u
	if der, ok := f.get(key); ok {
		return der, nil
	}
	der, err := f.do(ctx, http.MethodGet, u, "", nil)
	if err != nil {
		return nil, err
	}
	crl, err := x509.ParseRevocationList(der)
	if err != nil {
		return nil, fmt.Errorf("CRL from %s: %w", u, err)
	}
	f.put(key, der, crl.NextUpdate)
	return der, nil
}

func (f *HTTPFetcher) do(ctx context.Context, method, u, ctype string, body []byte) ([]byte, error) {
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") {
		return nil, fmt.Errorf("unsupported revocation URL %q", u)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := f.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", u, resp.Status)
	}
	der, err := io.ReadAll(io.LimitReader(resp.Body, maxFetched+1))
	if err != nil {
		return nil, err
	}
	if len(der) > maxFetched {
		return nil, fmt.Errorf("%s sent more than %d bytes", u, maxFetched)
	}
	return der, nil
}
