package remote

import (
	"bytes"
	"os"
	"testing"
)

// FuzzOnlySignatureAdded feeds uploads made of the served file plus arbitrary bytes: the check must
// answer (accept or refuse) without panicking, and never accept a file that does not start with the
// served bytes.
func FuzzOnlySignatureAdded(f *testing.F) {
	orig, err := os.ReadFile("../../testdata/pdf/classic.pdf")
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("\n1 0 obj\n<<>>\nendobj\n"), false)
	f.Add([]byte("%%EOF\n"), false)
	f.Add([]byte("garbage"), true)
	f.Fuzz(func(t *testing.T, tail []byte, replace bool) {
		up := append(bytes.Clone(orig), tail...)
		if replace && len(tail) > 0 {
			up = append(tail, orig...)
		}
		sig, err := onlySignatureAdded(orig, up)
		if err == nil && (sig == nil || !bytes.HasPrefix(up, orig)) {
			t.Fatal("accepted an upload that does not keep the served bytes, or returned no signature")
		}
	})
}

func TestOnlySignatureAddedRefusesTruncation(t *testing.T) {
	orig, err := os.ReadFile("../../testdata/pdf/classic.pdf")
	if err != nil {
		t.Fatal(err)
	}
	for _, up := range [][]byte{nil, orig, orig[:len(orig)-10], append([]byte("x"), orig...)} {
		if _, err := onlySignatureAdded(orig, up); err == nil {
			t.Fatalf("accepted an upload of %d bytes", len(up))
		}
	}
}
