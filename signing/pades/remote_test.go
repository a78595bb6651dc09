package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/signing/cms/tsp"
	"github.com/lienthong/lienthong/signing/cms/tsp/tsptest"
	"github.com/lienthong/lienthong/signing/pdf"
)

// TestRemoteTwoPhase prepares, signs ToBeSigned with the key as an agent would (only the digest leaves
// the server), completes, and checks the result with pdfsig, qpdf and openssl.
func TestRemoteTwoPhase(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	for _, tc := range []struct{ name, file string }{{"ok/rsa-classic", "classic.pdf"}, {"ok/ecdsa-objstm", "objstm.pdf"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			signer := p.leader
			if tc.name == "ok/ecdsa-objstm" {
				signer = p.ecdsa
			}
			in := readCorpus(t, tc.file)
			o := opts(signer)
			o.Signer = nil // the key is elsewhere
			o.Rect = [4]float64{50, 50, 200, 100}
			prep, err := Prepare(context.Background(), bytes.NewReader(in), int64(len(in)), o)
			if err != nil {
				t.Fatal(err)
			}
			if !prep.SignedAt.Equal(fixedNow()) {
				t.Errorf("signed at %v, want %v", prep.SignedAt, fixedNow())
			}
			tbs := prep.ToBeSigned()
			sig, err := signer.Key.Sign(rand.Reader, tbs, crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			res, err := Complete(context.Background(), prep, bytes.NewReader(in), sig, &out)
			if err != nil {
				t.Fatal(err)
			}
			signed := out.Bytes()
			if !bytes.HasPrefix(signed, in) || int64(len(signed)) != res.Size {
				t.Fatal("the signed file is not the original plus one increment")
			}
			d, err := DigestRanges(bytes.NewReader(signed), res.ByteRange[:], sha256.New())
			if err != nil || !bytes.Equal(d, prep.Digest) {
				t.Fatal("the ByteRange digest differs from the prepared one")
			}
			crossCheck(t, signed, 1, p.root)
		})
	}
}

func TestRemoteRefusals(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	in := readCorpus(t, "classic.pdf")
	o := opts(p.leader)
	prep, err := Prepare(context.Background(), bytes.NewReader(in), int64(len(in)), o)
	if err != nil {
		t.Fatal(err)
	}
	tbs := prep.ToBeSigned()
	good, err := p.leader.Key.Sign(rand.Reader, tbs, crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("fail/other-key", func(t *testing.T) {
		sig, err := p.org.Key.Sign(rand.Reader, tbs, crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		_, err = Complete(context.Background(), prep, bytes.NewReader(in), sig, &out)
		if !errors.Is(err, ErrSignatureMismatch) || out.Len() != 0 {
			t.Fatalf("another key's signature: %v (wrote %d bytes), want ErrSignatureMismatch and nothing written", err, out.Len())
		}
	})
	t.Run("fail/other-data", func(t *testing.T) {
		other := sha256.Sum256([]byte("something else"))
		sig, _ := p.leader.Key.Sign(rand.Reader, other[:], crypto.SHA256)
		var out bytes.Buffer
		if _, err := Complete(context.Background(), prep, bytes.NewReader(in), sig, &out); !errors.Is(err, ErrSignatureMismatch) {
			t.Fatalf("signature over other data: %v", err)
		}
	})
	t.Run("fail/document-changed", func(t *testing.T) {
		changed := bytes.Clone(in)
		changed[len(changed)/2] ^= 1
		var out bytes.Buffer
		if _, err := Complete(context.Background(), prep, bytes.NewReader(changed), good, &out); !errors.Is(err, ErrDocumentChanged) || out.Len() != 0 {
			t.Fatalf("changed document: %v", err)
		}
	})
	t.Run("fail/no-certificate", func(t *testing.T) {
		o := opts(p.leader)
		o.Chain = nil
		if _, err := Prepare(context.Background(), bytes.NewReader(in), int64(len(in)), o); !apperr.IsKind(err, apperr.Invalid) {
			t.Fatalf("no certificate: %v", err)
		}
	})
	t.Run("ok/deterministic-result", func(t *testing.T) {
		// Completing twice with the same signature gives the same bytes: nothing is rebuilt.
		var a, b bytes.Buffer
		if _, err := Complete(context.Background(), prep, bytes.NewReader(in), good, &a); err != nil {
			t.Fatal(err)
		}
		if _, err := Complete(context.Background(), prep, bytes.NewReader(in), good, &b); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a.Bytes(), b.Bytes()) {
			t.Fatal("two completions differ")
		}
	})
}

// TestRemoteTimestamped: a B-T preparation gets its signature timestamp at completion; pdfsig and
// openssl accept the result and the CMS carries the token.
func TestRemoteTimestamped(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	srv, err := tsptest.New(tsptest.Options{Root: p.root})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	tsa := (&tsp.Client{URL: srv.URL}).Timestamp
	in := readCorpus(t, "classic.pdf")
	o := opts(p.ecdsa)
	o.Signer, o.Level, o.TSA = nil, LevelBT, tsa
	prep, err := Prepare(context.Background(), bytes.NewReader(in), int64(len(in)), o)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := p.ecdsa.Key.Sign(rand.Reader, prep.ToBeSigned(), crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := CompleteTimestamped(context.Background(), prep, bytes.NewReader(in), sig, nil, &out); !apperr.IsKind(err, apperr.Invalid) {
		t.Fatalf("B-T without a TSA: %v", err)
	}
	res, err := CompleteTimestamped(context.Background(), prep, bytes.NewReader(in), sig, tsa, &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Level != LevelBT || srv.Requests() != 1 {
		t.Fatalf("level %s, TSA requests %d", res.Level, srv.Requests())
	}
	crossCheck(t, out.Bytes(), 1, p.root)
	if timestampCerts(extractCMS(t, out.Bytes())) == nil {
		t.Fatal("no signature timestamp token in the CMS")
	}
}

func extractCMS(t *testing.T, signed []byte) []byte {
	t.Helper()
	rd, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)))
	if err != nil {
		t.Fatal(err)
	}
	sigs, err := rd.Signatures(len(rd.Revisions()) - 1)
	if err != nil || len(sigs) != 1 {
		t.Fatalf("%v %d", err, len(sigs))
	}
	return sigs[0].Contents
}
