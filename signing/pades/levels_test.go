package pades

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lienthong/lienthong/signing/cms"
	"github.com/lienthong/lienthong/signing/cms/cmstest"
	"github.com/lienthong/lienthong/signing/cms/tsp"
	"github.com/lienthong/lienthong/signing/cms/tsp/tsptest"
	"github.com/lienthong/lienthong/signing/pdf"
	"golang.org/x/crypto/ocsp"
)

func hasTimestamp(t *testing.T, rd *pdf.Reader) {
	t.Helper()
	sigs, err := rd.Signatures(len(rd.Revisions()) - 1)
	if err != nil || len(sigs) == 0 {
		t.Fatalf("signatures: %v", err)
	}
	sd, err := cms.Parse(trimDER(sigs[len(sigs)-1].Contents))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range sd.Signers[0].Unsigned {
		if a.Type.Equal(cms.OIDAttrTimeStampToken) {
			return
		}
	}
	t.Error("no signature timestamp in the CMS")
}

func TestLevelBT(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	srv, err := tsptest.New(tsptest.Options{Root: p.root})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	o := opts(p.leader)
	o.Level = LevelBT
	o.TSA = (&tsp.Client{URL: srv.URL}).Timestamp
	signed, res := signBytes(t, readCorpus(t, "objstm.pdf"), o)
	if srv.Requests() != 1 {
		t.Errorf("TSA requests = %d", srv.Requests())
	}
	if res.CMSSize > res.Reserved {
		t.Errorf("CMS %d > reserved %d", res.CMSSize, res.Reserved)
	}
	rd, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)))
	if err != nil {
		t.Fatal(err)
	}
	hasTimestamp(t, rd)
	crossCheck(t, signed, 1, p.root)

	// B-T without a TSA is a usage error; a failing TSA writes nothing.
	o2 := opts(p.leader)
	o2.Level = LevelBT
	if _, err := Sign(context.Background(), bytes.NewReader(signed), int64(len(signed)), io.Discard, o2); err == nil {
		t.Error("B-T without TSA accepted")
	}
	srv.Fail.Store(true)
	var out bytes.Buffer
	in := readCorpus(t, "classic.pdf")
	if _, err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, o); err == nil {
		t.Error("failing TSA accepted")
	}
}

// ocspResponder answers OCSP requests for certificates issued by ca, and serves ca's CRL.
func ocspResponder(t *testing.T, ca **cmstest.Cert, hits *atomic.Int64) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, ".crt") {
			_, _ = w.Write((*ca).Cert.Raw)
			return
		}
		if r.Method == http.MethodGet {
			crl, err := (*ca).CRL(nil, time.Time{}, time.Now())
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			_, _ = w.Write(crl)
			return
		}
		body, _ := io.ReadAll(r.Body)
		req, err := ocsp.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		cert := &x509.Certificate{SerialNumber: req.SerialNumber}
		resp, err := (*ca).OCSP(cert, ocsp.Good, time.Time{}, time.Now())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/ocsp-response")
		_, _ = w.Write(resp)
	}))
}

func TestLevelBLT(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	var sub *cmstest.Cert
	var hits atomic.Int64
	ocspSrv := ocspResponder(t, &sub, &hits)
	defer ocspSrv.Close()
	var err error
	sub, err = p.root.Issue(cmstest.Options{CommonName: "LT Sub CA", CA: true, Key: cmstest.P256, CRLURLs: []string{ocspSrv.URL + "/sub.crl"}})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := sub.Issue(cmstest.Options{CommonName: "LT Signer", OCSPServer: []string{ocspSrv.URL + "/ocsp"}})
	if err != nil {
		t.Fatal(err)
	}
	tsa, err := tsptest.New(tsptest.Options{Root: p.root})
	if err != nil {
		t.Fatal(err)
	}
	defer tsa.Close()
	o := opts(signer)
	o.Level = LevelBLT
	o.TSA = (&tsp.Client{URL: tsa.URL}).Timestamp
	o.Revocation = FetchRevocation(nil)
	for _, f := range []string{"classic.pdf", "objstm.pdf"} {
		signed, res := signBytes(t, readCorpus(t, f), o)
		if !res.DSSIncrement {
			t.Fatal("no DSS increment")
		}
		rd, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(rd.Revisions()); n != 3 {
			t.Errorf("revisions = %d, want 3 (original, signature, DSS)", n)
		}
		cat, _, err := rd.Catalog(len(rd.Revisions()) - 1)
		if err != nil {
			t.Fatal(err)
		}
		do, err := rd.Resolve(cat["DSS"])
		if err != nil {
			t.Fatal(err)
		}
		dss, _ := do.(pdf.Dict)
		certs, _ := dss["Certs"].(pdf.Array)
		ocsps, _ := dss["OCSPs"].(pdf.Array)
		crls, _ := dss["CRLs"].(pdf.Array)
		// signer, sub CA, root, TSA certificate(s); one OCSP (signer); one CRL (sub CA).
		if len(certs) < 4 || len(ocsps) != 1 || len(crls) != 1 {
			t.Errorf("DSS certs=%d ocsps=%d crls=%d", len(certs), len(ocsps), len(crls))
		}
		for _, c := range certs {
			so, _ := rd.Resolve(c)
			st, _ := so.(*pdf.Stream)
			if st == nil {
				t.Fatal("DSS cert is not a stream")
			}
			der, err := rd.Decode(st, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := x509.ParseCertificate(der); err != nil {
				t.Errorf("DSS cert does not parse: %v", err)
			}
		}
		hasTimestamp(t, rd)
		crossCheckTotal(t, signed, 1, p.root, false)
	}
	if hits.Load() < 2 {
		t.Errorf("responder hits = %d", hits.Load())
	}
}

// TestLevelBLTFetchesIssuer signs with only the leaf certificate; the DSS gets the intermediate from
// the leaf's AIA caIssuers URL, and the leaf's OCSP response checked against it.
func TestLevelBLTFetchesIssuer(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	var sub *cmstest.Cert
	var hits atomic.Int64
	srv := ocspResponder(t, &sub, &hits)
	defer srv.Close()
	var err error
	sub, err = p.root.Issue(cmstest.Options{CommonName: "AIA Sub CA", CA: true, Key: cmstest.P256})
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "AIA Signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		OCSPServer:            []string{srv.URL + "/ocsp"},
		IssuingCertificateURL: []string{srv.URL + "/sub.crt"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, sub.Cert, key.Public(), sub.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	tsa, err := tsptest.New(tsptest.Options{Root: p.root})
	if err != nil {
		t.Fatal(err)
	}
	defer tsa.Close()
	o := Options{Signer: key, Chain: []*x509.Certificate{leaf}, Now: fixedNow, Level: LevelBLT,
		TSA: (&tsp.Client{URL: tsa.URL}).Timestamp, Revocation: FetchRevocation(nil)}
	signed, _ := signBytes(t, readCorpus(t, "classic.pdf"), o)
	rd, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)))
	if err != nil {
		t.Fatal(err)
	}
	cat, _, _ := rd.Catalog(len(rd.Revisions()) - 1)
	do, _ := rd.Resolve(cat["DSS"])
	dss, _ := do.(pdf.Dict)
	certs, _ := dss["Certs"].(pdf.Array)
	ocsps, _ := dss["OCSPs"].(pdf.Array)
	haveSub := false
	for _, c := range certs {
		so, _ := rd.Resolve(c)
		st, _ := so.(*pdf.Stream)
		b, err := rd.Decode(st, 1<<20)
		if err == nil && bytes.Equal(b, sub.Cert.Raw) {
			haveSub = true
		}
	}
	if !haveSub || len(ocsps) != 1 {
		t.Errorf("DSS: intermediate fetched %v, OCSP responses %d", haveSub, len(ocsps))
	}
}
