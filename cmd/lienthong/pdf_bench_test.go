package main

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crypto/x509/pkix"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/hsmtest"
	"github.com/lienthong/lienthong/signing/cms/cmstest"
)

func TestPDFBenchSoftHSM(t *testing.T) {
	// Not parallel: SoftHSM tests of this binary take turns.
	leader := hsmtest.Issue(t, hsm.RSA2048, pkix.Name{CommonName: "Nguyễn Văn Lãnh Đạo"})

	code, stdout, stderr := runPDF(t, "pdf", "bench", "--key", leader.URI, "--sessions", "1", "--seconds", "0.3", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r pdfBenchResult
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("stdout is not one JSON document: %q", stdout)
	}
	if r.TokenSignatures < 1 || r.PDFSignatures < 1 || r.Rounds < 1 || r.TokenSignaturesPerSecond <= 0 || r.PDFSignaturesPerSecond <= 0 {
		t.Fatalf("nothing measured: %+v", r)
	}
	if math.Abs(r.Ratio-r.PDFSignaturesPerSecond/r.TokenSignaturesPerSecond) > 1e-9 {
		t.Errorf("ratio %v is not pdf/token (%v / %v)", r.Ratio, r.PDFSignaturesPerSecond, r.TokenSignaturesPerSecond)
	}
	// One session: two documents in progress; the token's rate is the better of one raw caller and two.
	if r.Sessions != 1 || r.Workers != 2 || len(r.TokenRates) != 2 || r.TokenRates[0].Callers != 1 || r.TokenRates[1].Callers != 2 {
		t.Fatalf("sessions %d, workers %d, raw rounds %+v; want 1, 2, callers 1 and 2", r.Sessions, r.Workers, r.TokenRates)
	}
	best := r.TokenRates[0]
	if r.TokenRates[1].SignaturesPerSecond > best.SignaturesPerSecond {
		best = r.TokenRates[1]
	}
	if r.TokenCallers != best.Callers || r.TokenSignaturesPerSecond != best.SignaturesPerSecond {
		t.Errorf("token rate %v with %d callers, want the best raw round %+v", r.TokenSignaturesPerSecond, r.TokenCallers, best)
	}
	if r.Level != "B-B" || r.Key != "rsa2048" || r.Token == "" || r.PDFBytes < 500 || r.RoundSeconds < 0.1 {
		t.Errorf("result %+v", r)
	}
	if r.TokenCPUMicros <= 0 || r.PDFCPUMicros <= 0 {
		t.Errorf("CPU per signature not measured: %+v", r)
	}

	// A corpus file, set workers, the human summary.
	code, stdout, stderr = runPDF(t, "pdf", "bench", "--key", leader.URI, "--sessions", "2", "--workers", "3", "--token-callers", "1",
		"--in", filepath.Join(pdfCorpus, "objstm.pdf"), "--seconds", "0.2")
	if code != exitOK || !strings.Contains(stdout, "pdf/token ") || !strings.Contains(stdout, "with 3 worker(s)") ||
		!strings.Contains(stdout, "2 session(s)") || !strings.Contains(stdout, "with 1 caller(s)") {
		t.Fatalf("exit %d\n%s%s", code, stdout, stderr)
	}

	// An input the signer refuses is reported before anything is measured.
	bad := filepath.Join(t.TempDir(), "hỏng.pdf")
	if err := os.WriteFile(bad, []byte("%PDF-1.7\nnot really a PDF\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = runPDF(t, "pdf", "bench", "--key", leader.URI, "--in", bad, "--seconds", "0.2")
	if code != exitUsage || stdout != "" || stderr == "" {
		t.Errorf("not a PDF: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

func TestPDFBenchErrors(t *testing.T) {
	dir := t.TempDir()
	root, err := cmstest.NewRoot(cmstest.Options{CommonName: "CA thử nghiệm"})
	if err != nil {
		t.Fatal(err)
	}
	signer, err := root.Issue(cmstest.Options{CommonName: "Người ký"})
	if err != nil {
		t.Fatal(err)
	}
	other, err := root.Issue(cmstest.Options{CommonName: "Người khác"})
	if err != nil {
		t.Fatal(err)
	}
	if err := signer.WriteFiles(filepath.Join(dir, "signer")); err != nil {
		t.Fatal(err)
	}
	if err := other.WriteFiles(filepath.Join(dir, "other")); err != nil {
		t.Fatal(err)
	}
	key := "file:" + filepath.Join(dir, "signer.key")

	// A key in a file works too (a peer for the token's figures).
	code, stdout, stderr := runPDF(t, "pdf", "bench", "--key", key, "--cert", filepath.Join(dir, "signer.pem"), "--seconds", "0.1", "--json")
	var r pdfBenchResult
	if code != exitOK || json.Unmarshal([]byte(stdout), &r) != nil || r.PDFSignatures < 1 || r.Sessions != 0 || r.Token != "" {
		t.Fatalf("file key: exit %d\n%s%s", code, stdout, stderr)
	}

	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"no key", []string{"--seconds", "0.1"}, exitUsage, "--key is required"},
		{"no time", []string{"--key", key, "--seconds", "0"}, exitUsage, "--seconds must be positive"},
		{"negative workers", []string{"--key", key, "--workers", "-1"}, exitUsage, "must not be negative"},
		{"stray argument", []string{"--key", key, "file.pdf"}, exitUsage, "unexpected argument"},
		{"missing input", []string{"--key", key, "--cert", filepath.Join(dir, "signer.pem"), "--in", filepath.Join(dir, "nope.pdf")}, exitUsage, "cannot read the input PDF"},
		// The certificate is not the key's: refused before anything is measured, as pdf sign does.
		{"key and certificate differ", []string{"--key", key, "--cert", filepath.Join(dir, "other.pem"), "--seconds", "0.1"}, exitUsage, "does not match the certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runPDF(t, append([]string{"pdf", "bench"}, c.args...)...)
			if code != c.code || stdout != "" || !strings.Contains(stderr, c.msg) {
				t.Errorf("exit %d (want %d), stdout %q, stderr %q (want %q)", code, c.code, stdout, stderr, c.msg)
			}
		})
	}
}
