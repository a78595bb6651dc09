// Package tsptest runs an in-process RFC 3161 time-stamp authority on httptest, backed by an
// in-memory key and a certificate with the critical timeStamping EKU, for tests of the signer and
// the verifier. Not for production.
package tsptest

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lienthong/lienthong/signing/cms"
	"github.com/lienthong/lienthong/signing/cms/cmstest"
	"github.com/lienthong/lienthong/signing/cms/tsp"
)

// Policy is the TSA policy the test server stamps with.
var Policy = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1, 1}

// Server is a running test TSA.
type Server struct {
	*httptest.Server
	Root *cmstest.Cert // the CA the TSA certificate chains to
	TSA  *cmstest.Cert

	mu       sync.Mutex
	now      func() time.Time
	requests atomic.Int64
	serial   atomic.Int64
	// Fail, when set, makes the server answer with a rejection status.
	Fail atomic.Bool
}

// Options for New. A nil Root gets a fresh root CA.
type Options struct {
	Root *cmstest.Cert
	// TSACert overrides the TSA certificate options (for example to drop the EKU in a negative test).
	TSACert *cmstest.Options
	Now     func() time.Time
}

// New starts a test TSA. Close it when done.
func New(o Options) (*Server, error) {
	root := o.Root
	var err error
	if root == nil {
		if root, err = cmstest.NewRoot(cmstest.Options{CommonName: "Lienthong Test TSA Root"}); err != nil {
			return nil, err
		}
	}
	co := cmstest.Options{CommonName: "Lienthong Test TSA", Key: cmstest.P256,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}, CriticalEKU: true}
	if o.TSACert != nil {
		co = *o.TSACert
	}
	tsaCert, err := root.Issue(co)
	if err != nil {
		return nil, err
	}
	s := &Server{Root: root, TSA: tsaCert, now: o.Now}
	if s.now == nil {
		s.now = time.Now
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s, nil
}

// Requests returns how many requests were answered.
func (s *Server) Requests() int64 { return s.requests.Load() }

// SetNow changes the server's clock.
func (s *Server) SetNow(now func() time.Time) {
	s.mu.Lock()
	s.now = now
	s.mu.Unlock()
}

// Client returns a tsp.Client for this server.
func (s *Server) Client() *tsp.Client { return &tsp.Client{URL: s.URL, HTTP: s.Server.Client()} }

// Stamp makes a token directly, without HTTP (for fixture generators).
func (s *Server) Stamp(ctx context.Context, hash crypto.Hash, digest []byte, nonce *big.Int) ([]byte, error) {
	s.mu.Lock()
	now := s.now()
	s.mu.Unlock()
	info, err := tsp.MarshalTSTInfo(Policy, hash, digest, big.NewInt(s.serial.Add(1)), now, nonce)
	if err != nil {
		return nil, err
	}
	h := crypto.SHA256
	return cms.SignEncapsulated(ctx, cms.OIDTSTInfo, info, h, s.TSA.Key, s.TSA.Full())
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/timestamp-query" {
		http.Error(w, "POST application/timestamp-query", http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		http.Error(w, "read", http.StatusBadRequest)
		return
	}
	q, err := tsp.ParseRequest(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.requests.Add(1)
	var token []byte
	if !s.Fail.Load() {
		if token, err = s.Stamp(r.Context(), q.Hash, q.Digest, q.Nonce); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
	}
	resp, err := tsp.MarshalResponse(token)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/timestamp-reply")
	w.Write(resp)
}
