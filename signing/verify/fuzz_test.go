package verify_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lienthong/lienthong/signing/verify"
	"github.com/lienthong/lienthong/signing/verify/corpus"
)

// TestSeedFiles runs the verifier over the realistic seed files (corpus outputs kept in
// testdata/seed) with no trust anchors: it must refuse each without panicking.
func TestSeedFiles(t *testing.T) {
	seeds, _ := filepath.Glob("testdata/seed/*.pdf")
	if len(seeds) == 0 {
		t.Fatal("no seed files")
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := verify.PDF(context.Background(), bytes.NewReader(b), int64(len(b)), verify.Options{})
		if err != nil || rep.Valid {
			t.Fatalf("%s: err %v valid %v", s, err, rep != nil && rep.Valid)
		}
	}
}

// FuzzPDF feeds arbitrary bytes to the verifier's entry point: it may refuse them, never panic.
// Seeds are small (an unsigned page and a 4 KB signed one): the fuzzer minimises every new input by
// re-running it, and full-size signed files (18 KB and more) stall it.
func FuzzPDF(f *testing.F) {
	env, err := corpus.NewEnv()
	if err != nil {
		f.Fatal(err)
	}
	defer env.Close()
	small, err := env.SmallSigned(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small)
	f.Add(corpus.BasePDF("x"))
	f.Add([]byte("%PDF-1.7\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\nstartxref\n0\n%%EOF"))
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, b []byte) {
		rep, err := verify.PDF(context.Background(), bytes.NewReader(b), int64(len(b)), verify.Options{Now: func() time.Time { return now }})
		if err != nil {
			return
		}
		if rep.Valid {
			t.Fatal("a file verified as valid without trust anchors")
		}
		var out bytes.Buffer
		_ = rep.WriteText(&out, verify.LangVietnamese)
	})
}

// FuzzDetached feeds arbitrary signatures to the detached verifier.
func FuzzDetached(f *testing.F) {
	seeds, _ := filepath.Glob("../cms/testdata/*.p7s")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, sig []byte) {
		rep, err := verify.Detached(context.Background(), bytes.NewReader([]byte("content")), sig, verify.Options{})
		if err == nil && rep.Valid {
			t.Fatal("valid without trust anchors")
		}
	})
}
