package pades

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/lienthong/lienthong/signing/cms"
	"github.com/lienthong/lienthong/signing/cms/cmstest"
	"github.com/lienthong/lienthong/signing/pdf"
)

// The cross-checks run tools we did not write: poppler's pdfsig, qpdf and openssl.

var (
	nssOnce sync.Once
	nssDir  string
	nssErr  error
)

// trustDB makes one NSS database trusting root, shared by the package's tests.
func trustDB(t *testing.T, root *cmstest.Cert) string {
	t.Helper()
	nssOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lienthong-nss-")
		if err != nil {
			nssErr = err
			return
		}
		pemFile := filepath.Join(dir, "root.pem")
		if err := os.WriteFile(pemFile, cmstest.PEM(root.Cert), 0o600); err != nil {
			nssErr = err
			return
		}
		if out, err := exec.Command("certutil", "-N", "-d", "sql:"+dir, "--empty-password").CombinedOutput(); err != nil {
			nssErr = &toolError{"certutil -N", err, out}
			return
		}
		if out, err := exec.Command("certutil", "-A", "-n", "Lienthong Test Root", "-t", "CT,C,C", "-i", pemFile, "-d", "sql:"+dir).CombinedOutput(); err != nil {
			nssErr = &toolError{"certutil -A", err, out}
			return
		}
		nssDir = dir
	})
	if nssErr != nil {
		t.Fatal(nssErr)
	}
	return nssDir
}

type toolError struct {
	cmd string
	err error
	out []byte
}

func (e *toolError) Error() string { return e.cmd + ": " + e.err.Error() + "\n" + string(e.out) }

func needTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s not installed (make test installs it)", n)
		}
	}
}

// pdfsigReport is pdfsig's verdict per signature, parsed from its text (its exit code is 0 even for
// broken signatures).
type pdfsigReport struct {
	Valid, Total, Trusted []bool
	Text                  string
}

var sigHeader = regexp.MustCompile(`(?m)^Signature #\d+:`)

func runPdfsig(t *testing.T, file string, root *cmstest.Cert) pdfsigReport {
	t.Helper()
	needTool(t, "pdfsig", "certutil")
	db := trustDB(t, root)
	out, _ := exec.Command("pdfsig", "-nssdir", "sql:"+db, file).CombinedOutput()
	text := string(out)
	rep := pdfsigReport{Text: text}
	parts := sigHeader.Split(text, -1)
	for _, p := range parts[1:] {
		if strings.Contains(p, "The signature form field is not signed.") {
			continue
		}
		rep.Valid = append(rep.Valid, strings.Contains(p, "Signature Validation: Signature is Valid."))
		rep.Total = append(rep.Total, strings.Contains(p, "Total document signed") && !strings.Contains(p, "Not total document signed"))
		rep.Trusted = append(rep.Trusted, strings.Contains(p, "Certificate Validation: Certificate is Trusted."))
	}
	return rep
}

// crossCheck runs pdfsig, qpdf --check and openssl cms -verify on a signed file with n signatures,
// expecting all valid and the last one covering the whole document.
func crossCheck(t *testing.T, signed []byte, n int, root *cmstest.Cert) {
	t.Helper()
	crossCheckTotal(t, signed, n, root, true)
}

// crossCheckTotal is crossCheck where a later non-signature increment (the B-LT /DSS) may follow the
// last signature: then pdfsig rightly says it does not cover the whole file.
func crossCheckTotal(t *testing.T, signed []byte, n int, root *cmstest.Cert, lastTotal bool) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "signed.pdf")
	if err := os.WriteFile(file, signed, 0o600); err != nil {
		t.Fatal(err)
	}
	rep := runPdfsig(t, file, root)
	if len(rep.Valid) != n {
		t.Fatalf("pdfsig found %d signatures, want %d:\n%s", len(rep.Valid), n, rep.Text)
	}
	for i := range rep.Valid {
		if !rep.Valid[i] || !rep.Trusted[i] {
			t.Errorf("pdfsig: signature %d not valid/trusted:\n%s", i+1, rep.Text)
		}
	}
	// pdfsig lists signatures in field order; exactly the newest one covers the whole file.
	total := 0
	for _, v := range rep.Total {
		if v {
			total++
		}
	}
	if want := map[bool]int{true: 1, false: 0}[lastTotal]; total != want {
		t.Errorf("pdfsig: %d signatures cover the whole document, want %d\n%s", total, want, rep.Text)
	}
	needTool(t, "qpdf", "openssl")
	out, err := exec.Command("qpdf", "--check", file).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("No syntax or stream encoding errors")) {
		t.Errorf("qpdf --check: %v\n%s", err, out)
	}
	// openssl on each signature's /Contents over its ByteRange bytes.
	rd, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)))
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := rd.Signatures(len(rd.Revisions()) - 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) != n {
		t.Fatalf("our reader found %d signatures, want %d", len(sigs), n)
	}
	rootFile := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(rootFile, cmstest.PEM(root.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, s := range sigs {
		br := s.ByteRange
		if len(br) != 4 || br[1] != s.ContentsPos || br[2] != s.ContentsEnd {
			t.Errorf("signature %d: ByteRange %v does not frame /Contents [%d,%d)", i, br, s.ContentsPos, s.ContentsEnd)
			continue
		}
		content := append(append([]byte{}, signed[br[0]:br[0]+br[1]]...), signed[br[2]:br[2]+br[3]]...)
		cf := filepath.Join(dir, "content.bin")
		sf := filepath.Join(dir, "sig.der")
		der, _, err := cms.NormalizeBER(s.Contents) // NSS writes BER with indefinite lengths
		if err != nil {
			t.Errorf("signature %d: /Contents is not BER: %v", i, err)
			continue
		}
		if err := os.WriteFile(cf, content, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(sf, der, 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", sf,
			"-content", cf, "-CAfile", rootFile, "-purpose", "any", "-out", os.DevNull).CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("Verification successful")) {
			t.Errorf("openssl cms -verify signature %d: %v\n%s", i, err, out)
		}
	}
}

// trimDER drops the zero padding after the DER SEQUENCE in a /Contents value.
func trimDER(b []byte) []byte {
	if len(b) < 2 || b[0] != 0x30 {
		return b
	}
	l := int(b[1])
	hdr := 2
	if l&0x80 != 0 {
		k := l & 0x7f
		l = 0
		for i := 0; i < k && 2+i < len(b); i++ {
			l = l<<8 | int(b[2+i])
		}
		hdr += k
	}
	if hdr+l > len(b) {
		return b
	}
	return b[:hdr+l]
}
