package main

import (
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/hsmtest"
	"github.com/lienthong/lienthong/signing/cms/cmstest"
	"github.com/lienthong/lienthong/signing/verify"
	"github.com/lienthong/lienthong/signing/verify/corpus"
)

func TestCMSSignVerifyCLI(t *testing.T) {
	env, _ := verifyFixtures(t)
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	os.WriteFile(p("roots.pem"), env.RootsPEM(), 0o600)
	for _, leaf := range []*cmstest.Cert{env.RSA, env.EC} {
		if err := leaf.WriteFiles(p("signer")); err != nil {
			t.Fatal(err)
		}
		content := []byte(strings.Repeat("Phụ lục kèm theo công văn số 123.\n", 500))
		os.WriteFile(p("attachment.docx"), content, 0o600)

		args := []string{"cms", "sign", "--key", "file:" + p("signer.key"), "--cert", p("signer.pem"), "--in", p("attachment.docx"), "--out", p("attachment.p7s")}
		if env.TSA != nil {
			args = append(args, "--tsa", env.TSA.URL)
		}
		if code, out, errs := runVerifyCLI(t, args...); code != 0 {
			t.Fatalf("cms sign: exit %d\n%s%s", code, out, errs)
		}
		code, out, errs := runVerifyCLI(t, "cms", "verify", "--trust", p("roots.pem"), "--json", p("attachment.docx"), p("attachment.p7s"))
		var rep verify.Report
		if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || !rep.Valid || rep.Signatures[0].Level != "B-T" {
			t.Fatalf("cms verify: exit %d\n%s%s", code, out, errs)
		}
		// OpenSSL, a verifier we did not write, agrees.
		if _, err := exec.LookPath("openssl"); err == nil {
			out, err := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", p("attachment.p7s"),
				"-content", p("attachment.docx"), "-CAfile", p("roots.pem"), "-purpose", "any", "-out", os.DevNull).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Verification successful") {
				t.Fatalf("openssl cms -verify: %v\n%s", err, out)
			}
		}
		// A changed attachment fails with HASH_FAILURE.
		os.WriteFile(p("changed.docx"), append(content, '!'), 0o600)
		code, out, _ = runVerifyCLI(t, "cms", "verify", "--trust", p("roots.pem"), "--lang", "en", p("changed.docx"), p("attachment.p7s"))
		if code != 1 || !strings.Contains(out, "HASH_FAILURE") {
			t.Fatalf("changed content: exit %d\n%s", code, out)
		}
	}
	// A signature file that is not CMS: a clear negative answer.
	os.WriteFile(p("junk.p7s"), []byte("junk"), 0o600)
	if code, out, _ := runVerifyCLI(t, "cms", "verify", "--trust", p("roots.pem"), p("attachment.docx"), p("junk.p7s")); code != 1 || !strings.Contains(out, "FORMAT_FAILURE") {
		t.Fatalf("junk signature: exit %d\n%s", code, out)
	}
	// Usage errors.
	for _, args := range [][]string{
		{"cms", "sign", "--key", "file:" + p("signer.key"), "--in", p("attachment.docx"), "--out", p("x.p7s")}, // no --cert
		{"cms", "sign", "--key", "bogus", "--cert", p("signer.pem"), "--in", p("attachment.docx"), "--out", p("x.p7s")},
		{"cms", "sign", "--key", "file:" + p("signer.key"), "--cert", p("signer.pem"), "--in", p("missing"), "--out", p("x.p7s")},
		{"cms", "verify", p("attachment.docx")},
		{"cms", "verify", p("missing"), p("attachment.p7s")},
	} {
		if code, _, errs := runVerifyCLI(t, args...); code != 2 || errs == "" {
			t.Errorf("%v: exit %d stderr %q", args, code, errs)
		}
	}
	if _, err := os.Stat(p("x.p7s")); err == nil {
		t.Error("a failed cms sign left an output file")
	}
}

// TestCMSSignSoftHSM signs an attachment and a PDF with SoftHSM token keys (RSA and ECDSA, through
// hsm.Open) and verifies both with our verifier and OpenSSL.
func TestCMSSignSoftHSM(t *testing.T) {
	// Not parallel: SoftHSM aborts the process if a C_Initialize scans a token being deleted.
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	os.WriteFile(p("file.xml"), []byte("<edXML>phụ lục</edXML>"), 0o600)
	for i, kt := range []hsm.KeyType{hsm.RSA2048, hsm.ECP256} {
		iss := hsmtest.Issue(t, kt, pkix.Name{CommonName: "Văn thư", Organization: []string{"UBND tỉnh Test"}})
		roots := p(fmt.Sprintf("ca%d.pem", i))
		os.WriteFile(roots, cmstest.PEM(iss.CA.Cert), 0o600)
		sig := p(fmt.Sprintf("file%d.p7s", i))
		if code, out, errs := runVerifyCLI(t, "cms", "sign", "--key", iss.URI, "--in", p("file.xml"), "--out", sig); code != 0 {
			t.Fatalf("cms sign on SoftHSM: exit %d\n%s%s", code, out, errs)
		}
		if code, out, errs := runVerifyCLI(t, "cms", "verify", "--trust", roots, p("file.xml"), sig); code != 0 {
			t.Fatalf("cms verify: exit %d\n%s%s", code, out, errs)
		}
		out, err := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", sig,
			"-content", p("file.xml"), "-CAfile", roots, "-purpose", "any", "-out", os.DevNull).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Verification successful") {
			t.Fatalf("openssl cms -verify: %v\n%s", err, out)
		}
		// The same key signs a PDF through `pdf sign`; `pdf verify` accepts it.
		pdfIn, pdfOut := p(fmt.Sprintf("in%d.pdf", i)), p(fmt.Sprintf("out%d.pdf", i))
		os.WriteFile(pdfIn, corpus.BasePDF("SOFTHSM"), 0o600)
		if code, out, errs := runVerifyCLI(t, "pdf", "sign", "--key", iss.URI, "--in", pdfIn, "--out", pdfOut); code != 0 {
			t.Fatalf("pdf sign: exit %d\n%s%s", code, out, errs)
		}
		if code, out, errs := runVerifyCLI(t, "pdf", "verify", "--trust", roots, "--lang", "en", pdfOut); code != 0 {
			t.Fatalf("pdf verify: exit %d\n%s%s", code, out, errs)
		}
	}
}
