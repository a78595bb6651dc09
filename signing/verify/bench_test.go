package verify_test

import (
	"context"
	"crypto/sha256"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/lienthong/lienthong/signing/verify"
)

// BenchmarkPDFSmall verifies a small B-T file (the exchange's common case: a few hundred KB at most).
func BenchmarkPDFSmall(b *testing.B) {
	env, cases := loadCorpus(b)
	var data []byte
	for _, c := range cases {
		if c.Name == "genuine/bt" {
			data = c.Data
		}
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		rep := verifyBytes(b, env, data, verify.Options{})
		if !rep.Valid {
			b.Fatal("not valid")
		}
	}
}

// BenchmarkPDFLarge verifies a 40 MiB signed PDF read from a file (so memory does not include it),
// next to hashing the same file with SHA-256, the floor any verifier has to pay.
func BenchmarkPDFLarge(b *testing.B) {
	env, _ := loadCorpus(b)
	data, err := env.Large(context.Background(), 40)
	if err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "big.pdf")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		b.Fatal(err)
	}
	data = nil
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	roots := env.Roots()
	b.Run("verify", func(b *testing.B) {
		b.SetBytes(st.Size())
		for b.Loop() {
			rep, err := verify.PDF(context.Background(), f, st.Size(), verify.Options{Roots: roots})
			if err != nil || !rep.Valid {
				b.Fatal("not valid", err)
			}
		}
	})
	b.Run("sha256", func(b *testing.B) {
		b.SetBytes(st.Size())
		for b.Loop() {
			h := sha256.New()
			if _, err := io.Copy(h, io.NewSectionReader(f, 0, st.Size())); err != nil {
				b.Fatal(err)
			}
		}
	})
}
