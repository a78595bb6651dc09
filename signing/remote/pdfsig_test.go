package remote_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// checkPdfsig verifies signed with poppler's pdfsig against an NSS database that trusts root. pdfsig
// exits 0 even for broken signatures, so its text is read: every signature must say "Signature is
// Valid." and "Certificate is Trusted.", and the last one must cover the whole document.
func checkPdfsig(t *testing.T, signed []byte, root *x509.Certificate) {
	t.Helper()
	for _, tool := range []string{"pdfsig", "certutil"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is not installed (make test installs poppler-utils and libnss3-tools)", tool)
		}
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "signed.pdf")
	rootFile := filepath.Join(dir, "root.pem")
	nss := filepath.Join(dir, "nss")
	if err := os.WriteFile(file, signed, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(nss, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"-N", "-d", "sql:" + nss, "--empty-password"},
		{"-A", "-n", "Lienthong Test CA", "-t", "CT,C,C", "-i", rootFile, "-d", "sql:" + nss},
	} {
		if out, err := exec.Command("certutil", args...).CombinedOutput(); err != nil {
			t.Fatalf("certutil %v: %v\n%s", args, err, out)
		}
	}
	out, _ := exec.Command("pdfsig", "-nssdir", "sql:"+nss, file).CombinedOutput()
	text := string(out)
	blocks := strings.Split(text, "Signature #")[1:]
	if len(blocks) == 0 {
		t.Fatalf("pdfsig found no signature:\n%s", text)
	}
	for i, blk := range blocks {
		if !strings.Contains(blk, "Signature Validation: Signature is Valid.") {
			t.Errorf("pdfsig: signature %d is not valid:\n%s", i+1, text)
		}
		if !strings.Contains(blk, "Certificate Validation: Certificate is Trusted.") {
			t.Errorf("pdfsig: signature %d's certificate is not trusted:\n%s", i+1, text)
		}
	}
	last := blocks[len(blocks)-1]
	if !strings.Contains(last, "Total document signed") || strings.Contains(last, "Not total document signed") {
		t.Errorf("pdfsig: the last signature does not cover the whole document:\n%s", text)
	}
}
