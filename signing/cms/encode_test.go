package cms_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lienthong/lienthong/signing/cms"
	"github.com/lienthong/lienthong/signing/cms/cmstest"
)

type testPKI struct {
	root, rsa, ec *cmstest.Cert
}

func newPKI(t testing.TB) *testPKI {
	t.Helper()
	root, err := cmstest.NewRoot(cmstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rsaLeaf, err := root.Issue(cmstest.Options{CommonName: "RSA Signer", Key: cmstest.RSA2048})
	if err != nil {
		t.Fatal(err)
	}
	ecLeaf, err := root.Issue(cmstest.Options{CommonName: "EC Signer", Key: cmstest.P256})
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{root: root, rsa: rsaLeaf, ec: ecLeaf}
}

// opensslVerify checks a detached signature with OpenSSL, a verifier we did not write.
func opensslVerify(t *testing.T, root *cmstest.Cert, content, sig []byte) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cmd := exec.Command("openssl", "cms", "-verify", "-binary", "-inform", "DER",
		"-in", write("sig.p7s", sig), "-content", write("content.bin", content),
		"-CAfile", write("ca.pem", cmstest.PEM(root.Cert)), "-purpose", "any", "-out", os.DevNull)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Verification successful") {
		t.Fatalf("openssl cms -verify: %v\n%s", err, out)
	}
}

func TestSignDetachedOpenSSL(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	content := []byte("công văn số 123/BTTTT-VP\n")
	sum := sha256.Sum256(content)
	for _, tc := range []struct {
		name string
		leaf *cmstest.Cert
		pss  bool
	}{
		{"ok/rsa-pkcs1", p.rsa, false},
		{"ok/rsa-pss", p.rsa, true},
		{"ok/ecdsa-p256", p.ec, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			der, err := cms.SignDetached(context.Background(), cms.Request{
				Digest: sum[:], Hash: crypto.SHA256, Signer: tc.leaf.Key, Chain: tc.leaf.Full(), PSS: tc.pss,
			})
			if err != nil {
				t.Fatal(err)
			}
			if max := cms.MaxSize(tc.leaf.Full(), tc.leaf.Key.Public(), false); len(der) > max {
				t.Fatalf("signature %d bytes > MaxSize %d", len(der), max)
			}
			opensslVerify(t, p.root, content, der)
		})
	}
}

func TestSignDetachedRefusesWrongKey(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	sum := sha256.Sum256([]byte("x"))
	_, err := cms.SignDetached(context.Background(), cms.Request{
		Digest: sum[:], Hash: crypto.SHA256, Signer: p.ec.Key, Chain: p.rsa.Full(),
	})
	if err == nil {
		t.Fatal("signing with a key that does not match the certificate succeeded")
	}
	if _, err := cms.SignDetached(context.Background(), cms.Request{
		Digest: sum[:20], Hash: crypto.SHA256, Signer: p.rsa.Key, Chain: p.rsa.Full(),
	}); err == nil {
		t.Fatal("short digest accepted")
	}
}

func TestTwoPhase(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	content := []byte("two-phase content")
	sum := sha256.Sum256(content)
	for _, leaf := range []*cmstest.Cert{p.rsa, p.ec} {
		attrs, err := cms.BuildSignedAttributes(sum[:], crypto.SHA256, leaf.Cert)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := cms.BuildSignedAttributes(sum[:], crypto.SHA256, leaf.Cert)
		if string(again) != string(attrs) {
			t.Fatal("signed attributes are not deterministic")
		}
		h := sha256.Sum256(attrs)
		sig, err := leaf.Key.Sign(rand.Reader, h[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		der, err := cms.Assemble(attrs, sig, crypto.SHA256, leaf.Full(), nil)
		if err != nil {
			t.Fatal(err)
		}
		opensslVerify(t, p.root, content, der)
		// A signature by another key is refused.
		other := p.ec
		if leaf == p.ec {
			other = p.rsa
		}
		bad, _ := other.Key.Sign(rand.Reader, h[:], crypto.SHA256)
		if _, err := cms.Assemble(attrs, bad, crypto.SHA256, leaf.Full(), nil); err == nil {
			t.Fatal("Assemble accepted a signature by another key")
		}
	}
}
