package hsm_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/hsmtest"
	"github.com/lienthong/lienthong/internal/apperr"
)

func TestMain(m *testing.M) { hsmtest.Main(m) }

var subject = pkix.Name{Country: []string{"VN"}, Organization: []string{"Sở Nội vụ tỉnh Hà Giang"}, CommonName: "Con dấu"}

func checkSigner(t *testing.T, k *hsm.Key, roots *x509.Certificate) {
	t.Helper()
	cert := k.Certificate()
	if cert == nil {
		t.Fatal("no certificate")
	}
	pool := x509.NewCertPool()
	pool.AddCert(roots)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("chain: %v", err)
	}
	for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
		d := h.New()
		d.Write([]byte("Về việc triển khai chữ ký số"))
		digest := d.Sum(nil)
		sig, err := k.Sign(nil, digest, h)
		if err != nil {
			t.Fatalf("%v: %v", h, err)
		}
		switch pub := cert.PublicKey.(type) {
		case *rsa.PublicKey:
			if err := rsa.VerifyPKCS1v15(pub, h, digest, sig); err != nil {
				t.Fatalf("PKCS#1 v1.5 %v: %v", h, err)
			}
			opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}
			pss, err := k.Sign(nil, digest, opts)
			if err != nil {
				t.Fatalf("PSS %v: %v", h, err)
			}
			if err := rsa.VerifyPSS(pub, h, digest, pss, opts); err != nil {
				t.Fatalf("PSS %v: %v", h, err)
			}
		case *ecdsa.PublicKey:
			if !ecdsa.VerifyASN1(pub, digest, sig) {
				t.Fatalf("ECDSA %v does not verify", h)
			}
		}
	}
}

func TestSoftHSMSign(t *testing.T) {
	t.Parallel()
	for _, kt := range []hsm.KeyType{hsm.RSA2048, hsm.RSA3072, hsm.ECP256, hsm.ECP384} {
		t.Run("ok/"+string(kt), func(t *testing.T) {
			t.Parallel()
			iss := hsmtest.Issue(t, kt, subject)
			k := hsmtest.Open(t, iss.URI)
			if !k.Certificate().Equal(iss.Cert) {
				t.Fatal("Open found another certificate")
			}
			checkSigner(t, k, iss.CA.Cert)
		})
	}
}

func TestSoftHSMConcurrent(t *testing.T) {
	t.Parallel()
	iss := hsmtest.Issue(t, hsm.ECP256, subject)
	k := hsmtest.Open(t, iss.URI, hsm.WithPoolSize(3))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				d := sha256.Sum256([]byte("x"))
				sig, err := k.Sign(nil, d[:], crypto.SHA256)
				if err != nil {
					errs <- err
					return
				}
				if !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d[:], sig) {
					errs <- errors.New("bad signature")
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func TestSoftHSMErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("fail/wrong-pin", func(t *testing.T) {
		t.Parallel()
		tok := hsmtest.Token(t)
		if _, err := tok.GenerateKey(ctx, "k", []byte{1}, hsm.ECP256); err != nil {
			t.Fatal(err)
		}
		bad := t.TempDir() + "/pin"
		if err := os.WriteFile(bad, []byte("wrong-pin\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := hsm.Open(ctx, hsm.BuildURI(tok.Label, "k", nil, tok.Store.Module, "file:"+bad), hsm.WithoutCertificate())
		if !errors.Is(err, hsm.ErrWrongPIN) || apperr.KindOf(err) != apperr.Unauthorized {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("fail/certificate-missing-then-csr-mode", func(t *testing.T) {
		t.Parallel()
		tok := hsmtest.Token(t)
		if _, err := tok.GenerateKey(ctx, "k", []byte{2}, hsm.RSA2048); err != nil {
			t.Fatal(err)
		}
		if _, err := hsm.Open(ctx, tok.KeyURI("k", nil)); !errors.Is(err, hsm.ErrCertificateMissing) {
			t.Fatalf("got %v", err)
		}
		k := hsmtest.Open(t, tok.KeyURI("k", nil), hsm.WithoutCertificate())
		if k.Certificate() != nil || string(k.ID()) != "\x02" {
			t.Fatalf("cert %v id %x", k.Certificate(), k.ID())
		}
	})
	t.Run("fail/duplicate-key", func(t *testing.T) {
		t.Parallel()
		tok := hsmtest.Token(t)
		if _, err := tok.GenerateKey(ctx, "k", []byte{1}, hsm.ECP256); err != nil {
			t.Fatal(err)
		}
		if _, err := tok.GenerateKey(ctx, "k", []byte{9}, hsm.ECP256); !errors.Is(err, hsm.ErrKeyExists) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("fail/foreign-certificate", func(t *testing.T) {
		t.Parallel()
		tok := hsmtest.Token(t)
		if _, err := tok.GenerateKey(ctx, "k", []byte{1}, hsm.ECP256); err != nil {
			t.Fatal(err)
		}
		other := hsmtest.Issue(t, hsm.ECP256, subject)
		if err := tok.ImportCertificate(ctx, "k", []byte{1}, other.Cert); !errors.Is(err, hsm.ErrKeyMismatch) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("fail/key-and-token-not-found", func(t *testing.T) {
		t.Parallel()
		tok := hsmtest.Token(t)
		if _, err := hsm.Open(ctx, tok.KeyURI("nope", nil)); !errors.Is(err, hsm.ErrKeyNotFound) {
			t.Fatalf("key: got %v", err)
		}
		if _, err := hsm.Open(ctx, hsm.BuildURI("no-such-token", "k", nil, tok.Store.Module, "file:"+tok.PINFile)); !errors.Is(err, hsm.ErrTokenNotFound) {
			t.Fatalf("token: got %v", err)
		}
		if _, err := hsm.Open(ctx, hsm.BuildURI(tok.Label, "k", nil, "/nonexistent/libnothing.so", "file:"+tok.PINFile)); !errors.Is(err, hsm.ErrModuleNotFound) {
			t.Fatalf("module: got %v", err)
		}
	})
	t.Run("fail/token-deleted-under-live-key", func(t *testing.T) {
		t.Parallel()
		tok := hsmtest.Token(t)
		iss, err := tok.IssueKey(ctx, "k", []byte{1}, hsm.ECP256, hsmtest.CA(t), subject)
		if err != nil {
			t.Fatal(err)
		}
		k := hsmtest.Open(t, iss.URI)
		d := sha256.Sum256(nil)
		if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
			t.Fatal(err)
		}
		if err := tok.Delete(); err != nil {
			t.Fatal(err)
		}
		_, err = k.Sign(nil, d[:], crypto.SHA256)
		if !errors.Is(err, hsm.ErrTokenRemoved) || apperr.KindOf(err) != apperr.Unavailable {
			t.Fatalf("after deletion: %v", err)
		}
	})
}

// TestSoftHSMAlwaysAuthenticate: a key that needs a PIN per signature (CKA_ALWAYS_AUTHENTICATE) gets a
// context-specific login after every C_SignInit; SoftHSM refuses the signature without it.
func TestSoftHSMAlwaysAuthenticate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tok := hsmtest.Token(t)
	pub, err := hsm.GenerateAlwaysAuthenticateKey(ctx, tok.KeyURI("aa", []byte{7}), hsm.ECP256)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := hsmtest.CA(t).Issue(pub, subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.ImportCertificate(ctx, "aa", []byte{7}, cert); err != nil {
		t.Fatal(err)
	}
	k := hsmtest.Open(t, tok.KeyURI("aa", []byte{7}), hsm.WithPoolSize(2))
	if !k.AlwaysAuthenticate() {
		t.Fatal("CKA_ALWAYS_AUTHENTICATE not seen")
	}
	for range 3 {
		d := sha256.Sum256([]byte("x"))
		sig, err := k.Sign(nil, d[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		if !ecdsa.VerifyASN1(pub.(*ecdsa.PublicKey), d[:], sig) {
			t.Fatal("bad signature")
		}
	}
}

// TestSoftHSMBySerial: a token named by serial= alone is found; a serial that disagrees with token=
// is not (both must match).
func TestSoftHSMBySerial(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tok := hsmtest.Token(t)
	iss, err := tok.IssueKey(ctx, "k", []byte{3}, hsm.ECP256, hsmtest.CA(t), subject)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := hsm.ParseURI(iss.URI)
	u.Token, u.Serial = "", tok.Serial
	k, err := hsm.OpenURI(ctx, u)
	if err != nil {
		t.Fatalf("by serial: %v", err)
	}
	if k.TokenSerial() != tok.Serial || k.TokenLabel() != tok.Label {
		t.Fatalf("opened %s/%s", k.TokenLabel(), k.TokenSerial())
	}
	_ = k.Close()
	u.Token, u.Serial = tok.Label, "0000000000000000"
	if _, err := hsm.OpenURI(ctx, u); !errors.Is(err, hsm.ErrTokenNotFound) {
		t.Fatalf("mismatched serial: %v", err)
	}
}

func TestSoftHSMList(t *testing.T) {
	t.Parallel()
	iss := hsmtest.Issue(t, hsm.ECP256, subject)
	u, _ := hsm.ParseURI(iss.URI)
	toks, err := hsm.ListTokens(context.Background(), u.ModulePath, hsm.ListOptions{Objects: true, Login: u})
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range toks {
		if tk.Label != u.Token {
			continue
		}
		var classes []string
		for _, o := range tk.Objects {
			if o.Label == "signer" {
				classes = append(classes, o.Class)
			}
		}
		if len(classes) != 3 || !tk.LoggedIn {
			t.Fatalf("objects %v, logged in %v", classes, tk.LoggedIn)
		}
		return
	}
	t.Fatalf("token %q not listed", u.Token)
}

// TestModuleSpellingsShareOneModule opens one key through the module's path and through a symlink to
// it: dlopen gives one library for both, so closing one Key must not finalise the library under the
// other (it did when the registry was keyed by the path as written: the other Key then had to
// reconnect).
func TestModuleSpellingsShareOneModule(t *testing.T) {
	iss := hsmtest.Issue(t, hsm.RSA2048, subject)
	u, err := hsm.ParseURI(iss.URI)
	if err != nil {
		t.Fatal(err)
	}
	alias := filepath.Join(t.TempDir(), "alias.so")
	if err := os.Symlink(u.ModulePath, alias); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	a := hsmtest.Open(t, iss.URI, hsm.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	u.ModulePath = alias
	b := hsmtest.Open(t, u.String())
	d := sha256.Sum256([]byte("Quyết định số 5/QĐ-UBND"))
	if _, err := b.Sign(nil, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Sign(nil, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "reconnecting") || strings.Contains(logs.String(), "replacing") {
		t.Fatalf("closing the other spelling's Key disturbed this one:\n%s", logs.String())
	}
}
