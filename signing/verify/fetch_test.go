package verify_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/lienthong/lienthong/signing/cms/cmstest"
	"github.com/lienthong/lienthong/signing/verify"
	"github.com/lienthong/lienthong/signing/verify/corpus"
)

// TestFetchRevocation checks OCSP and CRL fetching with the caching fetcher: a good certificate
// passes with "fetched OCSP" (one request for two verifications), a revoked one fails, and a CRL
// distribution point is used when there is no OCSP responder.
func TestFetchRevocation(t *testing.T) {
	env, _ := loadCorpus(t)
	var ocspHits, crlHits atomic.Int64
	var revokedSerial atomic.Value
	revokedSerial.Store("")
	ocspSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ocspHits.Add(1)
		body, _ := io.ReadAll(r.Body)
		req, err := ocsp.ParseRequest(body)
		if err != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		status := ocsp.Good
		if req.SerialNumber.String() == revokedSerial.Load().(string) {
			status = ocsp.Revoked
		}
		resp, err := ocsp.CreateResponse(env.Inter.Cert, env.Inter.Cert, ocsp.Response{Status: status, SerialNumber: req.SerialNumber,
			ThisUpdate: env.Now.Add(-time.Minute), NextUpdate: env.Now.Add(time.Hour), RevokedAt: env.Now.Add(-2 * time.Hour)}, env.Inter.Key)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		w.Write(resp)
	}))
	defer ocspSrv.Close()
	crlSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		crlHits.Add(1)
		der, err := env.Inter.CRL(nil, env.Now, env.Now)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(der)
	}))
	defer crlSrv.Close()

	sign := func(o cmstest.Options) []byte {
		t.Helper()
		leaf, err := env.Inter.Issue(o)
		if err != nil {
			t.Fatal(err)
		}
		data, err := corpus.Sign(context.Background(), corpus.BasePDF("OCSP"), env.Options(leaf))
		if err != nil {
			t.Fatal(err)
		}
		if o.CommonName == "Revoked" {
			revokedSerial.Store(leaf.Cert.SerialNumber.String())
		}
		return data
	}
	good := sign(cmstest.Options{CommonName: "Good", Key: cmstest.P256, OCSPServer: []string{ocspSrv.URL}})
	revoked := sign(cmstest.Options{CommonName: "Revoked", Key: cmstest.P256, OCSPServer: []string{ocspSrv.URL}})
	crlOnly := sign(cmstest.Options{CommonName: "CRL", Key: cmstest.P256, CRLURLs: []string{crlSrv.URL}})

	fetcher := verify.NewHTTPFetcher(nil)
	opts := verify.Options{Revocation: fetcher, RequireRevocation: true}
	for i := 0; i < 2; i++ {
		rep := verifyBytes(t, env, good, opts)
		if !rep.Valid {
			t.Fatalf("good: %s", dump(rep))
		}
	}
	if n := ocspHits.Load(); n != 1 {
		t.Fatalf("OCSP responder asked %d times for two verifications; the cache should answer the second", n)
	}
	if rep := verifyBytes(t, env, revoked, opts); rep.Valid || rep.Signatures[0].SubIndication != verify.Revoked {
		t.Fatalf("revoked: %s", dump(rep))
	}
	if rep := verifyBytes(t, env, crlOnly, opts); !rep.Valid || crlHits.Load() != 1 {
		t.Fatalf("CRL: hits %d\n%s", crlHits.Load(), dump(rep))
	}
	// Without fetching and with revocation required, the same file is INDETERMINATE / TRY_LATER.
	if rep := verifyBytes(t, env, good, verify.Options{RequireRevocation: true}); rep.Valid || rep.Signatures[0].SubIndication != verify.TryLater {
		t.Fatalf("no revocation data: %s", dump(rep))
	}
}
