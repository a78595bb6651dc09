package pades

import (
	"bytes"
	"context"
	"crypto"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkRemoteTwoPhase measures Prepare + (token signs the digest) + Complete on a small PDF with a
// SoftHSM RSA-2048 key; BenchmarkRemoteOnePhase is the one-phase Sign with the same key in the same
// run, the peer to compare with (go test -run ^$ -bench Remote ./signing/pades/).
func BenchmarkRemoteTwoPhase(b *testing.B) {
	k, o := benchKey(b)
	in, err := os.ReadFile(filepath.Join(corpus, "classic.pdf"))
	if err != nil {
		b.Fatal(err)
	}
	o.Signer = nil
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		prep, err := Prepare(ctx, bytes.NewReader(in), int64(len(in)), o)
		if err != nil {
			b.Fatal(err)
		}
		sig, err := k.Sign(nil, prep.ToBeSigned(), crypto.SHA256)
		if err != nil {
			b.Fatal(err)
		}
		var out bytes.Buffer
		if _, err := Complete(ctx, prep, bytes.NewReader(in), sig, &out); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRemoteOnePhase(b *testing.B) {
	_, o := benchKey(b)
	in, err := os.ReadFile(filepath.Join(corpus, "classic.pdf"))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ResetTimer()
	for b.Loop() {
		var out bytes.Buffer
		if _, err := Sign(ctx, bytes.NewReader(in), int64(len(in)), &out, o); err != nil {
			b.Fatal(err)
		}
	}
}
