package pades

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/lienthong/lienthong/signing/pdf"
)

// FuzzSign signs whatever the reader accepts and checks the writer's promises: the original bytes
// are a prefix of the output, the output reads back with one more revision, and the new signature's
// /ByteRange frames its /Contents and ends at the end of the file.
func FuzzSign(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(corpus, "*.pdf"))
	for _, fn := range files {
		if b, err := os.ReadFile(fn); err == nil {
			f.Add(b)
		}
	}
	p := setupPKI(&testing.T{})
	o := opts(p.ecdsa)
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		res, err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, o)
		if err != nil {
			return
		}
		b := out.Bytes()
		if !bytes.HasPrefix(b, in) || int64(len(b)) != res.Size {
			t.Fatal("original bytes not kept")
		}
		orig, err := pdf.Open(bytes.NewReader(in), int64(len(in)))
		if err != nil {
			t.Fatal(err)
		}
		rd, err := pdf.Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("signed output does not read back: %v", err)
		}
		if len(rd.Revisions()) != len(orig.Revisions())+1 {
			t.Fatalf("revisions %d -> %d", len(orig.Revisions()), len(rd.Revisions()))
		}
		sigs, err := rd.Signatures(len(rd.Revisions()) - 1)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, s := range sigs {
			if s.Field == res.Field && len(s.ByteRange) == 4 && s.ByteRange[1] == s.ContentsPos &&
				s.ByteRange[2] == s.ContentsEnd && s.ByteRange[2]+s.ByteRange[3] == int64(len(b)) {
				found = true
			}
		}
		if !found {
			t.Fatalf("new signature %q not found with a whole-file ByteRange", res.Field)
		}
	})
}
