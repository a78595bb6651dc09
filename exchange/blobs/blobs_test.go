package blobs

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestPutGet(t *testing.T) {
	for _, sync := range []bool{false, true} {
		s, err := Open(filepath.Join(t.TempDir(), "packets"), sync)
		if err != nil {
			t.Fatal(err)
		}
		data := []byte("<edXML:edXMLEnvelope>Công văn số 12/UBND</edXML:edXMLEnvelope>")
		sum, err := s.Put(data)
		if err != nil {
			t.Fatal(err)
		}
		want := sha256.Sum256(data)
		if !bytes.Equal(sum, want[:]) {
			t.Fatalf("digest %x, want %x", sum, want)
		}
		got, err := s.Get(sum)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Get = %q, %v", got, err)
		}
		f, size, err := s.Open(sum)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(f)
		f.Close()
		if size != int64(len(data)) || !bytes.Equal(b, data) {
			t.Fatalf("Open read %q (size %d)", b, size)
		}
		// Putting it again changes nothing and leaves no temporary file.
		if _, err := s.Put(data); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(s.Dir()) // one fan-out folder
		var files []string
		_ = filepath.WalkDir(s.Dir(), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				files = append(files, d.Name())
			}
			return nil
		})
		if len(files) != 1 || strings.HasPrefix(files[0], ".tmp") || len(entries) != 1 {
			t.Fatalf("store holds %v (top level %d entries), want one file named by its digest", files, len(entries))
		}
	}
}

func TestGetRefusesMissingAndCorrupt(t *testing.T) {
	s, err := Open(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	absent := sha256.Sum256([]byte("never stored"))
	if _, err := s.Get(absent[:]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing: %v, want ErrNotFound", err)
	}
	if _, _, err := s.Open(absent[:]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing (Open): %v, want ErrNotFound", err)
	}
	if _, err := s.Get([]byte{1, 2, 3}); err == nil {
		t.Fatal("a 3-byte digest was accepted")
	}
	sum, err := s.Put([]byte("original bytes"))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := s.path(sum)
	if err := os.WriteFile(p, []byte("tampered bytes"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(sum); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("tampered: %v, want ErrCorrupt", err)
	}
}

func TestConcurrentPutsOfTheSameBytes(t *testing.T) {
	s, err := Open(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("packet "), 20000)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sum, err := s.Put(data)
			if err == nil {
				var got []byte
				got, err = s.Get(sum)
				if err == nil && !bytes.Equal(got, data) {
					err = errors.New("read back different bytes")
				}
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenNeedsAFolder(t *testing.T) {
	if _, err := Open("", false); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
	file := filepath.Join(t.TempDir(), "file")
	_ = os.WriteFile(file, nil, 0o600)
	if _, err := Open(filepath.Join(file, "sub"), false); err == nil {
		t.Fatal("Open under a regular file succeeded")
	}
}
