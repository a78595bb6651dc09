package blobs

import (
	"bytes"
	"crypto/sha256"
	"strings"
	"testing"
)

// FuzzRef: a reference read back from a database row is untrusted input: parsing it never panics,
// never names a file outside the store, and reading through it returns the stored bytes only for the
// reference Put returned.
func FuzzRef(f *testing.F) {
	s, err := Open(f.TempDir(), false)
	if err != nil {
		f.Fatal(err)
	}
	data := []byte("<edXML:edXMLEnvelope>gói tin</edXML:edXMLEnvelope>")
	ref, sum, err := s.Put(data)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(ref))
	f.Add("seg-1-2-3:0:10")
	f.Add("seg-../../etc/passwd:0:10")
	f.Add("seg-1:99999999999999999999:1")
	f.Add("seg-1:0:-5")
	f.Add("::")
	f.Fuzz(func(t *testing.T, in string) {
		name, off, n, err := Ref(in).parse()
		if err == nil {
			if !strings.HasPrefix(name, "seg-") || strings.ContainsAny(name, `/\`) || off < 0 || n <= 0 {
				t.Fatalf("parse(%q) accepted name %q off %d n %d", in, name, off, n)
			}
		}
		got, err := s.Get(Ref(in), sum)
		if err == nil && (!bytes.Equal(got, data) || sha256.Sum256(got) != [32]byte(sum)) {
			t.Fatalf("Get(%q) returned %q", in, got)
		}
	})
}
