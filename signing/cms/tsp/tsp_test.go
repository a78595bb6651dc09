package tsp_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lienthong/lienthong/signing/cms"
	"github.com/lienthong/lienthong/signing/cms/cmstest"
	"github.com/lienthong/lienthong/signing/cms/tsp"
	"github.com/lienthong/lienthong/signing/cms/tsp/tsptest"
)

func newServer(t *testing.T, o tsptest.Options) *tsptest.Server {
	t.Helper()
	s, err := tsptest.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func TestClientAgainstTestTSA(t *testing.T) {
	t.Parallel()
	s := newServer(t, tsptest.Options{})
	sum := sha256.Sum256([]byte("stamp me"))
	token, err := s.Client().Timestamp(context.Background(), crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tsp.ParseToken(token)
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Verify(crypto.SHA256, sum[:]); err != nil {
		t.Fatal(err)
	}
	other := sha256.Sum256([]byte("other"))
	if err := tok.Verify(crypto.SHA256, other[:]); !errors.Is(err, tsp.ErrImprint) {
		t.Fatalf("wrong imprint: %v", err)
	}
	if s.Requests() != 1 {
		t.Fatalf("requests = %d", s.Requests())
	}
	// OpenSSL, a verifier we did not write, accepts the token.
	if _, err := exec.LookPath("openssl"); err == nil {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "tok.der"), token, 0o600)
		os.WriteFile(filepath.Join(dir, "root.pem"), cmstest.PEM(s.Root.Cert), 0o600)
		os.WriteFile(filepath.Join(dir, "tsa.pem"), cmstest.PEM(s.TSA.Cert), 0o600)
		out, err := exec.Command("openssl", "ts", "-verify", "-digest", hex.EncodeToString(sum[:]), "-token_in",
			"-in", filepath.Join(dir, "tok.der"), "-CAfile", filepath.Join(dir, "root.pem"),
			"-untrusted", filepath.Join(dir, "tsa.pem")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Verification: OK") {
			t.Fatalf("openssl ts -verify: %v\n%s", err, out)
		}
	}
}

func TestRejectionAndBadTSA(t *testing.T) {
	t.Parallel()
	s := newServer(t, tsptest.Options{})
	s.Fail.Store(true)
	sum := sha256.Sum256([]byte("x"))
	if _, err := s.Client().Timestamp(context.Background(), crypto.SHA256, sum[:]); !errors.Is(err, tsp.ErrRejected) {
		t.Fatalf("rejection: %v", err)
	}
	noEKU := newServer(t, tsptest.Options{TSACert: &cmstest.Options{CommonName: "Not a TSA", Key: cmstest.P256}})
	if _, err := noEKU.Client().Timestamp(context.Background(), crypto.SHA256, sum[:]); !errors.Is(err, tsp.ErrNotTSA) {
		t.Fatalf("TSA without EKU: %v", err)
	}
	bad := &tsp.Client{URL: s.URL + "/nowhere"}
	s.Fail.Store(false)
	if _, err := bad.Timestamp(context.Background(), crypto.SHA256, sum[:5]); err == nil {
		t.Fatal("short digest accepted")
	}
}

func TestSignDetachedWithTimestamp(t *testing.T) {
	t.Parallel()
	s := newServer(t, tsptest.Options{})
	leaf, err := s.Root.Issue(cmstest.Options{CommonName: "Signer", Key: cmstest.P256})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("content"))
	der, err := cms.SignDetached(context.Background(), cms.Request{
		Digest: sum[:], Hash: crypto.SHA256, Signer: leaf.Key, Chain: leaf.Full(), TSA: s.Client().Timestamp,
	})
	if err != nil {
		t.Fatal(err)
	}
	if max := cms.MaxSize(leaf.Full(), leaf.Key.Public(), true); len(der) > max {
		t.Fatalf("%d > MaxSize %d", len(der), max)
	}
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	v, err := sd.VerifyDetached(sum[:])
	if err != nil {
		t.Fatal(err)
	}
	toks := v.Signer.TimestampTokens()
	if len(toks) != 1 {
		t.Fatalf("%d timestamp tokens", len(toks))
	}
	tok, err := tsp.ParseToken(toks[0])
	if err != nil {
		t.Fatal(err)
	}
	sigHash := sha256.Sum256(v.Signer.Signature)
	if err := tok.Verify(crypto.SHA256, sigHash[:]); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseToken(f *testing.F) {
	s, err := tsptest.New(tsptest.Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	sum := sha256.Sum256([]byte("seed"))
	tok, err := s.Stamp(context.Background(), crypto.SHA256, sum[:], nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok)
	resp, _ := tsp.MarshalResponse(tok)
	f.Add(resp)
	f.Fuzz(func(t *testing.T, b []byte) {
		if tk, err := tsp.ParseToken(b); err == nil {
			_ = tk.Verify(0, tk.Imprint)
		}
		_, _ = tsp.ParseResponse(b)
		_, _ = tsp.ParseRequest(b)
	})
}
