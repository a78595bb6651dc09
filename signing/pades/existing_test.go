package pades

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lienthong/lienthong/signing/cms/cmstest"
)

// TestSignAfterPoppler signs a file that poppler's pdfsig (NSS, adbe.pkcs7.detached) signed first:
// both signatures must stay valid.
func TestSignAfterPoppler(t *testing.T) {
	t.Parallel()
	needTool(t, "pdfsig", "certutil", "pk12util", "openssl")
	p := setupPKI(t)
	dir := t.TempDir()
	keyPEM, err := cmstest.KeyPEM(p.org.Key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	key := write("key.pem", keyPEM)
	cert := write("cert.pem", cmstest.PEM(p.org.Cert))
	chain := write("chain.pem", cmstest.PEM(p.org.Chain...))
	p12 := filepath.Join(dir, "org.p12")
	db := filepath.Join(dir, "nss")
	if err := os.Mkdir(db, 0o700); err != nil {
		t.Fatal(err)
	}
	steps := [][]string{
		{"openssl", "pkcs12", "-export", "-inkey", key, "-in", cert, "-certfile", chain, "-name", "orgsigner", "-passout", "pass:p12pass", "-out", p12},
		{"certutil", "-N", "-d", "sql:" + db, "--empty-password"},
		{"pk12util", "-i", p12, "-d", "sql:" + db, "-W", "p12pass"},
		{"pdfsig", "-nssdir", "sql:" + db, "-add-signature", "-nick", "orgsigner", "-reason", "poppler first",
			filepath.Join(corpus, "classic.pdf"), filepath.Join(dir, "poppler.pdf")},
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", s, err, out)
		}
	}
	in, err := os.ReadFile(filepath.Join(dir, "poppler.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	signed, res := signBytes(t, in, opts(p.leader))
	if res.Field == "" {
		t.Error("no field")
	}
	crossCheck(t, signed, 2, p.root)
}
