package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
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

// FuzzDocTimestamp adds a document timestamp, after a DSS built from whatever signatures the file
// holds, to whatever the reader accepts: the original bytes stay a prefix, the output reads back with
// two more revisions, and the new timestamp frames its /Contents and ends at the end of the file.
func FuzzDocTimestamp(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(corpus, "*.pdf"))
	for _, fn := range files {
		if b, err := os.ReadFile(fn); err == nil {
			f.Add(b)
		}
	}
	token := bytes.Repeat([]byte{0x30}, 64) // the writer does not look inside the TSA's answer
	o := TimestampOptions{
		TSA:        func(context.Context, crypto.Hash, []byte) ([]byte, error) { return token, nil },
		Revocation: func(context.Context, []*x509.Certificate) (Revocation, error) { return Revocation{}, nil },
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		res, err := AddDocTimestamp(context.Background(), bytes.NewReader(in), int64(len(in)), &out, o)
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
			t.Fatalf("output does not read back: %v", err)
		}
		if len(rd.Revisions()) != len(orig.Revisions())+2 {
			t.Fatalf("revisions %d -> %d", len(orig.Revisions()), len(rd.Revisions()))
		}
		sigs, err := rd.Signatures(len(rd.Revisions()) - 1)
		if err != nil || len(sigs) == 0 {
			t.Fatalf("signatures: %d, %v", len(sigs), err)
		}
		s := sigs[len(sigs)-1]
		if s.Field != res.Field || len(s.ByteRange) != 4 || s.ByteRange[1] != s.ContentsPos || s.ByteRange[2] != s.ContentsEnd ||
			s.ByteRange[2]+s.ByteRange[3] != int64(len(b)) || !bytes.HasPrefix(s.Contents, token) {
			t.Fatalf("document timestamp %q: %+v", res.Field, s.ByteRange)
		}
	})
}
