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

// FuzzSign signs whatever the reader accepts and checks the writer's promises (checkAppended).
func FuzzSign(f *testing.F) {
	corpusSeeds(f)
	p := setupPKI(&testing.T{})
	o := opts(p.ecdsa)
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		res, err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, o)
		if err != nil {
			return
		}
		checkAppended(t, in, out.Bytes(), res.Size, 1, res.Field)
	})
}

// FuzzDocTimestamp adds a document timestamp, after a DSS built from whatever signatures the file
// holds, to whatever the reader accepts: the writer's promises hold for two more revisions, and the
// timestamp's /Contents holds the TSA's answer.
func FuzzDocTimestamp(f *testing.F) {
	corpusSeeds(f)
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
		if s := checkAppended(t, in, out.Bytes(), res.Size, 2, res.Field); !bytes.HasPrefix(s.Contents, token) {
			t.Fatalf("document timestamp %q does not hold the TSA's token", res.Field)
		}
	})
}

func corpusSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(corpus, "*.pdf"))
	for _, fn := range files {
		if b, err := os.ReadFile(fn); err == nil {
			f.Add(b)
		}
	}
}

// checkAppended checks what every writer here promises for output b of input in: in is a prefix of
// b, whose size the result reports; b reads back with more revisions than in; the signature of the
// named field has a /ByteRange that frames its /Contents and ends at the end of the file.
func checkAppended(t *testing.T, in, b []byte, size int64, more int, field string) pdf.Signature {
	t.Helper()
	if !bytes.HasPrefix(b, in) || int64(len(b)) != size {
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
	if len(rd.Revisions()) != len(orig.Revisions())+more {
		t.Fatalf("revisions %d -> %d, want %d more", len(orig.Revisions()), len(rd.Revisions()), more)
	}
	sigs, err := rd.Signatures(len(rd.Revisions()) - 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sigs {
		if s.Field == field && len(s.ByteRange) == 4 && s.ByteRange[1] == s.ContentsPos &&
			s.ByteRange[2] == s.ContentsEnd && s.ByteRange[2]+s.ByteRange[3] == int64(len(b)) {
			return s
		}
	}
	t.Fatalf("new signature %q not found with a whole-file ByteRange", field)
	return pdf.Signature{}
}
