package verify_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lienthong/lienthong/signing/cms/cmstest"
	"github.com/lienthong/lienthong/signing/verify"
	"github.com/lienthong/lienthong/signing/verify/corpus"
)

// TestPdfsigSignedFilesPass signs with poppler's pdfsig (NSS, which writes BER with indefinite
// lengths, adbe.pkcs7.detached), a signer we did not write, and checks our verifier accepts the
// result, once and twice signed, and catches a later change to it.
func TestPdfsigSignedFilesPass(t *testing.T) {
	for _, tool := range []string{"pdfsig", "certutil", "pk12util", "openssl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (make test installs poppler-utils and libnss3-tools)", tool)
		}
	}
	env, _ := loadCorpus(t)
	dir := t.TempDir()
	run := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	// pdfsig signs with RSA keys only.
	leaf, err := env.Inter.Issue(cmstest.Options{CommonName: "NSS Signer", Organization: "UBND Tinh", Key: cmstest.RSA2048})
	if err != nil {
		t.Fatal(err)
	}
	if err := leaf.WriteFiles(filepath.Join(dir, "signer")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "ca.pem"), cmstest.PEM(env.Root.Cert), 0o600)
	run("openssl", "pkcs12", "-export", "-inkey", "signer.key", "-in", "signer.pem", "-name", "signer", "-out", "signer.p12", "-passout", "pass:p")
	os.Mkdir(filepath.Join(dir, "nssdb"), 0o700)
	run("certutil", "-N", "-d", "sql:nssdb", "--empty-password")
	run("pk12util", "-i", "signer.p12", "-d", "sql:nssdb", "-W", "p")
	os.WriteFile(filepath.Join(dir, "plain.pdf"), corpus.BasePDF("PDFSIG GENUINE"), 0o600)
	run("pdfsig", "-nssdir", "sql:nssdb", "-add-signature", "-nick", "signer", "-reason", "test", "plain.pdf", "one.pdf")
	run("pdfsig", "-nssdir", "sql:nssdb", "-add-signature", "-nick", "signer", "-new-signature-field-name", "Second", "one.pdf", "two.pdf")

	for _, name := range []string{"one.pdf", "two.pdf"} {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		rep := verifyBytes(t, env, data, verify.Options{})
		if !rep.Valid {
			t.Fatalf("%s: pdfsig-signed file rejected\n%s", name, dump(rep))
		}
		for _, s := range rep.Signatures {
			if s.SubFilter != "adbe.pkcs7.detached" || s.Signer == nil || s.Signer.CommonName != "NSS Signer" {
				t.Fatalf("%s: unexpected signature %+v", name, s)
			}
		}
		// pdfsig itself agrees (its exit code is 0 whatever it finds, so read its text).
		out := run("pdfsig", "-nocert", name)
		if !strings.Contains(out, "Signature is Valid") {
			t.Fatalf("pdfsig disagrees on %s:\n%s", name, out)
		}
	}
	// Every shape of the signer's PDF corpus, signed once and twice by pdfsig. pdfsig 22.12 leaves
	// its new field out of an inline AcroForm's /Fields; the verifier finds it through the page.
	shapes, _ := filepath.Glob("../../testdata/pdf/*.pdf")
	for _, in := range shapes {
		name := strings.TrimSuffix(filepath.Base(in), ".pdf")
		one, two := name+"-1.pdf", name+"-2.pdf"
		abs, _ := filepath.Abs(in)
		if out, err := exec.Command("pdfsig", "-nssdir", "sql:"+filepath.Join(dir, "nssdb"), "-add-signature", "-nick", "signer", abs, filepath.Join(dir, one)).CombinedOutput(); err != nil {
			t.Logf("pdfsig cannot sign %s: %v %s", name, err, out)
			continue
		}
		run("pdfsig", "-nssdir", "sql:nssdb", "-add-signature", "-nick", "signer", "-new-signature-field-name", "Second", one, two)
		for _, f := range []string{one, two} {
			data, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if rep := verifyBytes(t, env, data, verify.Options{}); !rep.Valid {
				t.Errorf("%s: pdfsig-signed file rejected\n%s", f, dump(rep))
			}
		}
	}

	// A later content change to the pdfsig-signed file fails.
	data, _ := os.ReadFile(filepath.Join(dir, "one.pdf"))
	forged, err := corpus.Update(data, func(rd *pdfReader, u *pdfUpdate) error {
		return replaceFirstContent(rd, u)
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep := verifyBytes(t, env, forged, verify.Options{}); rep.Valid {
		t.Fatalf("content change after a pdfsig signature accepted\n%s", dump(rep))
	}
}
