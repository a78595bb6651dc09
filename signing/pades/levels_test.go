package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/signing/cms"
	"github.com/lienthong/lienthong/signing/cms/cmstest"
	"github.com/lienthong/lienthong/signing/cms/tsp"
	"github.com/lienthong/lienthong/signing/cms/tsp/tsptest"
	"github.com/lienthong/lienthong/signing/pdf"
	"github.com/lienthong/lienthong/signing/verify"
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
	srv := startTSA(t, p.root)
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
	tsa := startTSA(t, p.root)
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
	tsa := startTSA(t, p.root)
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

// TestLevelBLTA signs B-LTA: signature, DSS, then a document timestamp over both. pdfsig finds two
// valid signatures (the timestamp last, covering the whole file), openssl ts checks the document
// timestamp's token against the bytes it covers, and a TSA that fails at the document timestamp
// leaves nothing written.
func TestLevelBLTA(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	tsa := startTSA(t, p.root)
	o := opts(p.leader)
	o.Level = LevelBLTA
	o.TSA = (&tsp.Client{URL: tsa.URL}).Timestamp
	for _, f := range []string{"classic.pdf", "objstm.pdf"} {
		signed, res := signBytes(t, readCorpus(t, f), o)
		if !res.DSSIncrement || res.DocTimestamp != "DocTimeStamp1" {
			t.Fatalf("%s: DSS %v, document timestamp %q", f, res.DSSIncrement, res.DocTimestamp)
		}
		rd, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)))
		if err != nil {
			t.Fatal(err)
		}
		if n := len(rd.Revisions()); n != 4 {
			t.Errorf("%s: revisions = %d, want 4 (original, signature, DSS, document timestamp)", f, n)
		}
		sigs, err := rd.Signatures(len(rd.Revisions()) - 1)
		if err != nil || len(sigs) != 2 {
			t.Fatalf("%s: signatures %d, %v", f, len(sigs), err)
		}
		dts := sigs[1]
		if dts.Dict.Name("Type") != "DocTimeStamp" || dts.SubFilter != "ETSI.RFC3161" {
			t.Fatalf("%s: last signature is /Type %s /SubFilter %s", f, dts.Dict.Name("Type"), dts.SubFilter)
		}
		if br := dts.ByteRange; br[2]+br[3] != int64(len(signed)) {
			t.Errorf("%s: the document timestamp does not reach the end of the file: %v of %d", f, br, len(signed))
		}
		tok, err := tsp.ParseToken(trimDER(dts.Contents))
		if err != nil {
			t.Fatal(err)
		}
		br := dts.ByteRange
		covered := append(append([]byte{}, signed[br[0]:br[0]+br[1]]...), signed[br[2]:br[2]+br[3]]...)
		if err := tok.VerifyData(bytes.NewReader(covered)); err != nil {
			t.Errorf("%s: the token's imprint is not over the covered bytes: %v", f, err)
		}
		opensslTSVerify(t, trimDER(dts.Contents), covered, p.root)
		// poppler 22 lists a document timestamp but does not validate one ("Unable to validate this
		// type of signature"): it must still see the signature valid and the timestamp covering all.
		file := writeTemp(t, signed)
		rep := runPdfsig(t, file, p.root)
		if len(rep.Valid) != 2 || !rep.Valid[0] || !rep.Trusted[0] || rep.Total[0] || !rep.Total[1] ||
			!strings.Contains(rep.Text, "Signature Field Name: DocTimeStamp1") {
			t.Errorf("%s: pdfsig:\n%s", f, rep.Text)
		}
		if out, err := exec.Command("qpdf", "--check", file).CombinedOutput(); err != nil || !bytes.Contains(out, []byte("No syntax or stream encoding errors")) {
			t.Errorf("%s: qpdf --check: %v\n%s", f, err, out)
		}
	}

	// With OCSP and CRL material in the DSS, our verifier calls it B-LTA (without, as above, the DSS
	// holds certificates only and a verifier sees B-T plus a document timestamp).
	var sub *cmstest.Cert
	var hits atomic.Int64
	ocspSrv := ocspResponder(t, &sub, &hits)
	defer ocspSrv.Close()
	sub, err := p.root.Issue(cmstest.Options{CommonName: "LTA Sub CA", CA: true, Key: cmstest.P256, CRLURLs: []string{ocspSrv.URL + "/sub.crl"}})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := sub.Issue(cmstest.Options{CommonName: "LTA Signer", OCSPServer: []string{ocspSrv.URL + "/ocsp"}})
	if err != nil {
		t.Fatal(err)
	}
	lo := opts(signer)
	lo.Level, lo.TSA, lo.Revocation, lo.Now = LevelBLTA, o.TSA, FetchRevocation(nil), time.Now
	lta, _ := signBytes(t, readCorpus(t, "classic.pdf"), lo)
	roots := x509.NewCertPool()
	roots.AddCert(p.root.Cert)
	rep, err := verify.PDF(context.Background(), bytes.NewReader(lta), int64(len(lta)), verify.Options{Roots: roots})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Signatures) != 2 || rep.Signatures[0].Level != "B-LTA" || rep.Signatures[0].Indication != verify.TotalPassed ||
		rep.Signatures[1].Indication != verify.TotalPassed {
		t.Errorf("verify: %s", rep.Summary(verify.LangEnglish))
		for _, sig := range rep.Signatures {
			t.Errorf("  %s: level %q, %s", sig.Field, sig.Level, sig.Indication)
		}
	}

	// The signature's timestamp succeeds and the document timestamp fails: an error, no output.
	var calls atomic.Int64
	o.TSA = func(ctx context.Context, h crypto.Hash, d []byte) ([]byte, error) {
		if calls.Add(1) == 2 {
			return nil, errors.New("TSA down")
		}
		return (&tsp.Client{URL: tsa.URL}).Timestamp(ctx, h, d)
	}
	dir := t.TempDir()
	inPath, outPath := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(inPath, readCorpus(t, "classic.pdf"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = SignFile(context.Background(), inPath, outPath, o)
	if err == nil || !strings.Contains(err.Error(), "document timestamp") {
		t.Fatalf("failing TSA at the document timestamp: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 1 {
		t.Errorf("files after the failure: %v, want only the input", left)
	}
}

// opensslTSVerify checks an RFC 3161 token over data with openssl ts -verify.
func opensslTSVerify(t *testing.T, token, data []byte, root *cmstest.Cert) {
	t.Helper()
	needTool(t, "openssl")
	dir := t.TempDir()
	files := map[string][]byte{"token.der": token, "data.bin": data, "root.pem": cmstest.PEM(root.Cert)}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out, err := exec.Command("openssl", "ts", "-verify", "-token_in", "-in", filepath.Join(dir, "token.der"),
		"-data", filepath.Join(dir, "data.bin"), "-CAfile", filepath.Join(dir, "root.pem")).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("Verification: OK")) {
		t.Errorf("openssl ts -verify: %v\n%s", err, out)
	}
}

func writeTemp(t *testing.T, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "signed.pdf")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDocTimestampRenewal adds a second document timestamp to a B-LTA file, after a DSS for the
// first timestamp's certificates: the renewal an archive makes before the first TSA certificate
// expires. Both timestamps' tokens check out over the bytes they cover, the
// signature stays valid, and failures leave no output.
func TestDocTimestampRenewal(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	tsa := startTSA(t, p.root)
	o := opts(p.leader)
	o.Level = LevelBLTA
	o.TSA = (&tsp.Client{URL: tsa.URL}).Timestamp
	blta, _ := signBytes(t, readCorpus(t, "classic.pdf"), o)

	var asked []*x509.Certificate
	to := TimestampOptions{TSA: o.TSA, Revocation: func(_ context.Context, certs []*x509.Certificate) (Revocation, error) {
		asked = certs
		return Revocation{}, nil
	}}
	var out bytes.Buffer
	res, err := AddDocTimestamp(context.Background(), bytes.NewReader(blta), int64(len(blta)), &out, to)
	if err != nil {
		t.Fatal(err)
	}
	renewed := out.Bytes()
	if !bytes.HasPrefix(renewed, blta) || res.Size != int64(len(renewed)) || res.Field != "DocTimeStamp2" || !res.DSSIncrement {
		t.Fatalf("result %+v for %d bytes (input %d)", res, len(renewed), len(blta))
	}
	if br := res.ByteRange; br[2]+br[3] != res.Size {
		t.Errorf("byte range %v does not reach the end (%d)", br, res.Size)
	}
	names := map[string]bool{}
	for _, c := range asked {
		names[c.Subject.CommonName] = true
	}
	// The renewal protects the newest timestamp: its TSA's chain, each certificate once; the signer's
	// material went into the DSS at B-LT.
	if !names["Lienthong Test TSA"] || names[p.leader.Cert.Subject.CommonName] || len(names) != len(asked) {
		t.Errorf("revocation asked for %d certificates %v, want the TSA's chain once", len(asked), names)
	}
	rd, err := pdf.Open(bytes.NewReader(renewed), int64(len(renewed)))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rd.Revisions()); n != 6 {
		t.Errorf("revisions = %d, want 6 (original, signature, DSS, timestamp, DSS, timestamp)", n)
	}
	sigs, err := rd.Signatures(len(rd.Revisions()) - 1)
	if err != nil || len(sigs) != 3 {
		t.Fatalf("signatures %d, %v", len(sigs), err)
	}
	for _, s := range sigs[1:] {
		br := s.ByteRange
		covered := append(append([]byte{}, renewed[br[0]:br[0]+br[1]]...), renewed[br[2]:br[2]+br[3]]...)
		opensslTSVerify(t, trimDER(s.Contents), covered, p.root)
	}
	file := writeTemp(t, renewed)
	rep := runPdfsig(t, file, p.root)
	if len(rep.Valid) != 3 || !rep.Valid[0] || !rep.Trusted[0] || !rep.Total[2] {
		t.Errorf("pdfsig:\n%s", rep.Text)
	}
	if out, err := exec.Command("qpdf", "--check", file).CombinedOutput(); err != nil || !bytes.Contains(out, []byte("No syntax or stream encoding errors")) {
		t.Errorf("qpdf --check: %v\n%s", err, out)
	}

	// Without a TSA: a usage error. A TSA that fails: an error and no output file.
	if _, err := AddDocTimestamp(context.Background(), bytes.NewReader(blta), int64(len(blta)), io.Discard, TimestampOptions{}); err == nil || apperr.KindOf(err) != apperr.Invalid {
		t.Errorf("no TSA: %v", err)
	}
	dir := t.TempDir()
	inPath, outPath := filepath.Join(dir, "in.pdf"), filepath.Join(dir, "out.pdf")
	if err := os.WriteFile(inPath, blta, 0o600); err != nil {
		t.Fatal(err)
	}
	tsa.Fail.Store(true)
	if _, err := TimestampFile(context.Background(), inPath, outPath, TimestampOptions{TSA: o.TSA}); err == nil {
		t.Fatal("a failing TSA gave a document timestamp")
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*")); len(left) != 1 {
		t.Errorf("files after the failure: %v, want only the input", left)
	}
}

// TestCachedRevocation: one fetch per distinct set of certificates while fresh, shared by concurrent
// callers; a failure or an expired answer is fetched again.
func TestCachedRevocation(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	var calls atomic.Int64
	fail := atomic.Bool{}
	release := make(chan struct{})
	fetch := func(_ context.Context, chain []*x509.Certificate) (Revocation, error) {
		calls.Add(1)
		<-release
		if fail.Load() {
			return Revocation{}, errors.New("responder down")
		}
		return Revocation{OCSPs: [][]byte{[]byte(chain[0].Subject.CommonName)}}, nil
	}
	clock := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	cached := CachedRevocation(fetch, 10*time.Minute, now)
	leader, org := p.leader.Full(), p.org.Full()

	// Eight documents of one signer at once: one fetch, eight identical answers.
	var wg sync.WaitGroup
	got := make([]Revocation, 8)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i], _ = cached(context.Background(), leader)
		}()
	}
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the others find the fetch in progress
	close(release)
	wg.Wait()
	if n := calls.Load(); n != 1 {
		t.Fatalf("%d fetches for one chain, want 1", n)
	}
	for _, r := range got {
		if len(r.OCSPs) != 1 || string(r.OCSPs[0]) != p.leader.Cert.Subject.CommonName {
			t.Fatalf("answer %v", r.OCSPs)
		}
	}
	// Another chain is fetched on its own; the first is still served from the cache.
	if r, _ := cached(context.Background(), org); string(r.OCSPs[0]) != p.org.Cert.Subject.CommonName || calls.Load() != 2 {
		t.Fatalf("second chain: %v, %d fetches", r.OCSPs, calls.Load())
	}
	cached(context.Background(), leader)
	if calls.Load() != 2 {
		t.Fatalf("fresh answer fetched again: %d fetches", calls.Load())
	}
	// Eleven minutes later the answer is stale; a failed fetch is not kept.
	mu.Lock()
	clock = clock.Add(11 * time.Minute)
	mu.Unlock()
	fail.Store(true)
	if _, err := cached(context.Background(), leader); err == nil || calls.Load() != 3 {
		t.Fatalf("stale answer: err %v, %d fetches", err, calls.Load())
	}
	fail.Store(false)
	if r, err := cached(context.Background(), leader); err != nil || len(r.OCSPs) != 1 || calls.Load() != 4 {
		t.Fatalf("after a failure: %v %v, %d fetches", r.OCSPs, err, calls.Load())
	}
}

// TestDSSKeepsWhatOtherSignersWrote: a DSS whose arrays are indirect objects (as iText writes them)
// keeps its entries when we add to it, and an entry already there is not added twice.
func TestDSSKeepsWhatOtherSignersWrote(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	signed, _ := signBytes(t, readCorpus(t, "classic.pdf"), opts(p.leader))
	rd, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)))
	if err != nil {
		t.Fatal(err)
	}
	u := rd.NewUpdate()
	oldOCSP := []byte("an OCSP response fetched years ago")
	dss := pdf.Dict{"Type": pdf.Name("DSS"),
		"Certs": u.Add(pdf.Array{u.Add(pdf.NewStream(nil, p.leader.Cert.Raw))}),
		"OCSPs": u.Add(pdf.Array{u.Add(pdf.NewStream(nil, oldOCSP))}),
	}
	cat, root, err := rd.Catalog(len(rd.Revisions()) - 1)
	if err != nil {
		t.Fatal(err)
	}
	cat = cat.Clone()
	cat["DSS"] = u.Add(dss)
	u.Set(root, cat)
	inc, err := u.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	withDSS := append(append([]byte{}, signed...), inc.Data...)
	newOCSP := []byte("a fresh OCSP response")
	more, err := dssIncrementFor(context.Background(), bytes.NewReader(withDSS), int64(len(withDSS)), p.leader.Full(),
		func(context.Context, []*x509.Certificate) (Revocation, error) {
			return Revocation{OCSPs: [][]byte{newOCSP, oldOCSP}}, nil
		})
	if err != nil {
		t.Fatal(err)
	}
	out := append(withDSS, more...)
	rd, err = pdf.Open(bytes.NewReader(out), int64(len(out)))
	if err != nil {
		t.Fatal(err)
	}
	cat, _, err = rd.Catalog(len(rd.Revisions()) - 1)
	if err != nil {
		t.Fatal(err)
	}
	do, _ := rd.Resolve(cat["DSS"])
	got := map[string][]string{}
	for _, k := range []pdf.Name{"Certs", "OCSPs"} {
		ao, _ := rd.Resolve(do.(pdf.Dict)[k])
		for _, e := range ao.(pdf.Array) {
			so, _ := rd.Resolve(e)
			b, err := rd.Decode(so.(*pdf.Stream), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			got[string(k)] = append(got[string(k)], string(b))
		}
	}
	if o := got["OCSPs"]; len(o) != 2 || o[0] != string(oldOCSP) || o[1] != string(newOCSP) {
		t.Errorf("OCSPs = %q, want the old one kept and the new one once", o)
	}
	if c := got["Certs"]; len(c) != len(p.leader.Full()) || c[0] != string(p.leader.Cert.Raw) {
		t.Errorf("%d certificates, want the chain's %d with the signer once", len(c), len(p.leader.Full()))
	}
}

// changingFile is a file that another program rewrites (or truncates) once the TSA has been asked.
type changingFile struct {
	data     []byte
	changed  *atomic.Bool
	truncate bool
	at       int // the byte that changes; 0: the middle
}

func (f changingFile) ReadAt(p []byte, off int64) (int, error) {
	data := f.data
	if f.changed.Load() {
		if f.truncate {
			data = data[:len(data)/2]
		} else {
			data = append([]byte{}, data...)
			at := f.at
			if at == 0 {
				at = len(data) / 2
			}
			data[at] ^= 0xff
		}
	}
	if off >= int64(len(data)) {
		return 0, io.EOF
	}
	n := copy(p, data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// TestDocTimestampInputChanged: the file is read twice (hashed for the token, then copied); if it
// changes in between, the timestamp would cover other bytes than the output holds: an error instead.
func TestDocTimestampInputChanged(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	tsa := startTSA(t, p.root)
	signed, _ := signBytes(t, readCorpus(t, "classic.pdf"), opts(p.leader))
	for _, truncate := range []bool{false, true} {
		var changed atomic.Bool
		o := TimestampOptions{TSA: func(ctx context.Context, h crypto.Hash, d []byte) ([]byte, error) {
			defer changed.Store(true)
			return (&tsp.Client{URL: tsa.URL}).Timestamp(ctx, h, d)
		}}
		f := changingFile{data: signed, changed: &changed, truncate: truncate}
		_, err := AddDocTimestamp(context.Background(), f, int64(len(signed)), io.Discard, o)
		if apperr.KindOf(err) != apperr.Conflict || !strings.Contains(err.Error(), "changed") {
			t.Errorf("truncate=%v: %v, want the input-changed conflict", truncate, err)
		}
	}
}

// TestCachedRevocationFetcherGivesUp: the caller that fetches gives up (its context ends); another
// caller waiting for the same chain fetches again with its own context instead of failing.
func TestCachedRevocationFetcherGivesUp(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	var calls atomic.Int64
	fetch := func(ctx context.Context, _ []*x509.Certificate) (Revocation, error) {
		if calls.Add(1) == 1 {
			<-ctx.Done()
			return Revocation{}, fmt.Errorf("ocsp: %v", ctx.Err()) // not wrapped, as FetchRevocation reports it
		}
		return Revocation{OCSPs: [][]byte{[]byte("ok")}}, nil
	}
	cached := CachedRevocation(fetch, time.Minute, nil)
	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := cached(ctx, p.leader.Full()); first <- err }()
	for calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	second := make(chan Revocation, 1)
	go func() { r, _ := cached(context.Background(), p.leader.Full()); second <- r }()
	time.Sleep(20 * time.Millisecond) // the second caller is waiting for the first fetch
	cancel()
	if err := <-first; err == nil {
		t.Fatalf("first caller: %v", err)
	}
	if r := <-second; len(r.OCSPs) != 1 || calls.Load() != 2 {
		t.Fatalf("second caller got %q after %d fetches", r.OCSPs, calls.Load())
	}
}

// startTSA starts the in-process RFC 3161 TSA for one test.
func startTSA(t *testing.T, root *cmstest.Cert) *tsptest.Server {
	t.Helper()
	srv, err := tsptest.New(tsptest.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// TestCachedRevocationFetchPanics: callers waiting for a fetch that panics get an error, not an empty
// answer that would make a DSS without revocation material.
func TestCachedRevocationFetchPanics(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	release := make(chan struct{})
	cached := CachedRevocation(func(context.Context, []*x509.Certificate) (Revocation, error) {
		<-release
		panic("responder parser bug")
	}, time.Minute, nil)
	go func() {
		defer func() { _ = recover() }()
		cached(context.Background(), p.leader.Full())
	}()
	time.Sleep(20 * time.Millisecond)
	waiter := make(chan error, 1)
	go func() { _, err := cached(context.Background(), p.leader.Full()); waiter <- err }()
	time.Sleep(20 * time.Millisecond)
	close(release)
	if err := <-waiter; err == nil {
		t.Fatal("a waiter got no error from a fetch that panicked")
	}
}

// TestSignBLTAInputChanged: a large file (read in two passes) that changes after the signature's
// timestamp is an error at B-LTA; a small one is signed from the bytes read once, and stays right.
func TestSignBLTAInputChanged(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	tsa := startTSA(t, p.root)
	large := filepath.Join(t.TempDir(), "large.pdf")
	writeLargePDF(t, large, 1)
	big, err := os.ReadFile(large)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"large": big, "small": readCorpus(t, "classic.pdf")} {
		var changed atomic.Bool
		o := opts(p.leader)
		o.Level = LevelBLTA
		o.TSA = func(ctx context.Context, h crypto.Hash, d []byte) ([]byte, error) {
			defer changed.Store(true)
			return (&tsp.Client{URL: tsa.URL}).Timestamp(ctx, h, d)
		}
		var out bytes.Buffer
		// A byte inside a content stream: the file still parses, only the digest can tell.
		at := bytes.Index(data[len(data)/2:], []byte("stream\n")) + len(data)/2 + 100
		_, err := Sign(context.Background(), changingFile{data: data, changed: &changed, at: at}, int64(len(data)), &out, o)
		if name == "large" && apperr.KindOf(err) != apperr.Conflict {
			t.Errorf("large file changed during B-LTA signing: %v, want the input-changed conflict", err)
		}
		if name == "small" {
			if err != nil {
				t.Fatalf("small file: %v", err)
			}
			rd, err := pdf.Open(bytes.NewReader(out.Bytes()), int64(out.Len()))
			if err != nil {
				t.Fatal(err)
			}
			sigs, _ := rd.Signatures(len(rd.Revisions()) - 1)
			dts := sigs[len(sigs)-1]
			br := dts.ByteRange
			b := out.Bytes()
			covered := append(append([]byte{}, b[br[0]:br[0]+br[1]]...), b[br[2]:br[2]+br[3]]...)
			tok, err := tsp.ParseToken(trimDER(dts.Contents))
			if err != nil || tok.VerifyData(bytes.NewReader(covered)) != nil {
				t.Errorf("small file: the document timestamp does not cover the output: %v", err)
			}
		}
	}
}
