package verify_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lienthong/lienthong/signing/verify"
)

// FuzzPDF feeds arbitrary bytes to the verifier's entry point: it may refuse them, never panic.
// Seeds are corpus files (testdata/seed), so mutations start from real signed PDFs and forgeries.
func FuzzPDF(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/seed/*.pdf")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
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
