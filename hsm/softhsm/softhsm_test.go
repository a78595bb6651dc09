package softhsm_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"testing"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/hsmtest"
	"github.com/lienthong/lienthong/hsm/softhsm"
)

func TestMain(m *testing.M) { hsmtest.Main(m) }

func TestIssueKeyAndReopen(t *testing.T) {
	ctx := context.Background()
	store := hsmtest.Store(t)
	// Setup again with the same directory is the same store; with another, once loaded, is refused.
	if s2, err := softhsm.Setup(store.Dir); err != nil || s2 != store {
		t.Fatalf("same dir: %v", err)
	}
	if _, err := softhsm.Setup(t.TempDir()); err == nil {
		t.Fatal("a second SOFTHSM2_CONF after the module was loaded must be refused")
	}
	tok, err := store.NewToken(ctx, "Sở Nội vụ")
	if err != nil {
		t.Fatal(err)
	}
	defer tok.Delete()
	if st, err := os.Stat(tok.PINFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("PIN file: %v %v", st, err)
	}
	if _, err := store.NewToken(ctx, "Sở Nội vụ"); err == nil {
		t.Fatal("a second token with the same label")
	}
	ca, err := softhsm.NewCA("Test CA")
	if err != nil {
		t.Fatal(err)
	}
	iss, err := tok.IssueKey(ctx, "Con dấu", []byte{1}, hsm.ECP256, ca, pkix.Name{CommonName: "Sở Nội vụ"})
	if err != nil {
		t.Fatal(err)
	}
	again, err := store.OpenToken(ctx, "Sở Nội vụ")
	if err != nil || again.Serial != tok.Serial || again.KeyURI("Con dấu", []byte{1}) != iss.URI {
		t.Fatalf("OpenToken: %+v %v", again, err)
	}
	k, err := hsm.Open(ctx, iss.URI)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	if _, err := k.Certificate().Verify(x509.VerifyOptions{Roots: roots}); err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("x"))
	if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
}
