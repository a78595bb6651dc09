package blobs

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestPutGet(t *testing.T) {
	for _, sync := range []bool{false, true} {
		s, err := Open(filepath.Join(t.TempDir(), "packets"), sync)
		if err != nil {
			t.Fatal(err)
		}
		data := []byte("<edXML:edXMLEnvelope>Công văn số 12/UBND</edXML:edXMLEnvelope>")
		ref, sum, err := s.Put(data)
		if err != nil {
			t.Fatal(err)
		}
		want := sha256.Sum256(data)
		if !bytes.Equal(sum, want[:]) {
			t.Fatalf("digest %x, want %x", sum, want)
		}
		ref2, _, err := s.Put([]byte("second"))
		if err != nil || ref2 == ref {
			t.Fatalf("second put: %q %v", ref2, err)
		}
		got, err := s.Get(ref, sum)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Get = %q, %v", got, err)
		}
		sec, n, err := s.Section(ref)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(sec)
		if n != int64(len(data)) || !bytes.Equal(b, data) {
			t.Fatalf("Section read %q (length %d)", b, n)
		}
		// A second store on the same folder (another process) reads it and appends elsewhere.
		other, _ := Open(s.Dir(), sync)
		if got, err := other.Get(ref, sum); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("other store: %q, %v", got, err)
		}
		if r3, _, err := other.Put([]byte("third")); err != nil || r3[:20] == ref[:20] {
			t.Fatalf("other store appended to %q (first store's segment %q), %v", r3, ref, err)
		}
		other.Close()
		s.Close()
	}
}

func TestGetRefusesMissingCorruptAndMalformed(t *testing.T) {
	s, err := Open(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ref, sum, err := s.Put([]byte("original bytes"))
	if err != nil {
		t.Fatal(err)
	}
	name, off, n, _ := ref.parse()
	for _, bad := range []Ref{"", "seg-1:0", "seg-1:x:1", "seg-1:-1:4", "seg-1:0:0", "../etc/passwd:0:4", "seg-../x:0:4", "nonseg:0:4"} {
		if _, err := s.Get(bad, sum); err == nil || errors.Is(err, ErrCorrupt) {
			t.Errorf("Get(%q) = %v, want a malformed-reference error", bad, err)
		}
	}
	if _, err := s.Get(Ref("seg-0-0:0:4"), sum); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown segment: %v, want ErrNotFound", err)
	}
	if _, err := s.Get(Ref(fmt.Sprintf("%s:%d:%d", name, off, n+100)), sum); !errors.Is(err, ErrNotFound) {
		t.Errorf("range past the end: %v, want ErrNotFound", err)
	}
	f, err := os.OpenFile(filepath.Join(s.Dir(), name), os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteAt([]byte("tampered"), off)
	f.Close()
	if _, err := s.Get(ref, sum); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("tampered: %v, want ErrCorrupt", err)
	}
	if _, _, err := s.Put(nil); err == nil {
		t.Fatal("Put(nil) succeeded")
	}
}

func TestConcurrentPutsAndSegmentRollover(t *testing.T) {
	s, err := Open(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.segSize = 64 << 10 // several segments
	type put struct {
		ref  Ref
		sum  []byte
		data []byte
	}
	var mu sync.Mutex
	var puts []put
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				data := bytes.Repeat([]byte{byte('a' + g)}, 3000+g*1000+i)
				ref, sum, err := s.Put(data)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				puts = append(puts, put{ref, sum, data})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	segs := map[string]bool{}
	for _, p := range puts {
		got, err := s.Get(p.ref, p.sum)
		if err != nil || !bytes.Equal(got, p.data) {
			t.Fatalf("%s: %v", p.ref, err)
		}
		name, _, _, _ := p.ref.parse()
		segs[name] = true
	}
	if len(puts) != 160 || len(segs) < 2 {
		t.Fatalf("%d puts in %d segments; want 160 in several", len(puts), len(segs))
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

func openFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(es)
}

// Segments left for a new one are closed, and read handles stay bounded however many segments are
// read: a long-running hub must not run out of file descriptors.
func TestFileHandlesStayBounded(t *testing.T) {
	s, err := Open(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	before := openFDs(t)
	s.segSize = 1024 // every put of 1 KiB starts a new segment
	type put struct {
		ref Ref
		sum []byte
	}
	var puts []put
	for i := 0; i < 3*maxReaders; i++ {
		ref, sum, err := s.Put(bytes.Repeat([]byte{byte(i)}, 1024))
		if err != nil {
			t.Fatal(err)
		}
		puts = append(puts, put{ref, sum})
	}
	if n := openFDs(t) - before; n > 2 {
		t.Fatalf("%d handles open after writing %d segments; retired segments must be closed", n, len(puts))
	}
	for _, p := range puts {
		if _, err := s.Get(p.ref, p.sum); err != nil {
			t.Fatal(err)
		}
	}
	if n := openFDs(t) - before; n > maxReaders+2 {
		t.Fatalf("%d handles open after reading %d segments, want at most %d", n, len(puts), maxReaders+2)
	}
	// A reader still in use is not closed under it.
	sec, _, err := s.Section(puts[0].ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range puts[1:] {
		if _, err := s.Get(p.ref, p.sum); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := io.ReadAll(sec); err != nil || len(b) != 1024 {
		t.Fatalf("reading a held section after evictions: %d bytes, %v", len(b), err)
	}
	sec.Close()
}

func TestReferenceLengthIsBounded(t *testing.T) {
	s, err := Open(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ref, sum, err := s.Put([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	name, _, _, _ := ref.parse()
	huge := Ref(fmt.Sprintf("%s:0:%d", name, int64(900)<<30))
	if _, err := s.Get(huge, sum); err == nil || errors.Is(err, ErrCorrupt) {
		t.Fatalf("a 900 GiB reference: %v, want a malformed-reference error", err)
	}
}

// A process starts a new segment after SegmentAge; Prune removes old segments nobody refers to and
// keeps the referenced ones, young ones (another process may still append) and the current one.
func TestSegmentAgeAndPrune(t *testing.T) {
	clock := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	s, err := Open(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.now = func() time.Time { return clock }
	put := func(data string) (Ref, []byte) {
		t.Helper()
		ref, sum, err := s.Put([]byte(data))
		if err != nil {
			t.Fatal(err)
		}
		return ref, sum
	}
	oldRef, oldSum := put("tháng 11, gói 1")
	keptRef, keptSum := put("tháng 11, gói 2") // same segment, still referenced below
	if oldRef.Segment() != keptRef.Segment() || oldRef.Segment() == "" {
		t.Fatalf("two puts within the age went to %q and %q", oldRef.Segment(), keptRef.Segment())
	}
	clock = clock.Add(SegmentAge)
	lateRef, _ := put("một ngày sau")
	if lateRef.Segment() == oldRef.Segment() {
		t.Fatal("no new segment after SegmentAge")
	}
	clock = clock.Add(SegmentAge)
	orphanRef, orphanSum := put("hai ngày sau") // a third segment; the second is now old and unreferenced
	// A segment of another process, started a minute ago and not referenced (yet): never touched.
	young := fmt.Sprintf("seg-%d-1-1-aa", clock.Add(-time.Minute).UnixNano())
	if err := os.WriteFile(filepath.Join(s.Dir(), young), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(2 * pruneMargin)
	removed, err := s.Prune(map[string]bool{keptRef.Segment(): true})
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != lateRef.Segment() {
		t.Fatalf("removed %v, want only %s", removed, lateRef.Segment())
	}
	if _, err := s.Get(lateRef, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a pruned packet: %v", err)
	}
	for _, c := range []struct {
		ref Ref
		sum []byte
	}{{oldRef, oldSum}, {keptRef, keptSum}, {orphanRef, orphanSum}} {
		if _, err := s.Get(c.ref, c.sum); err != nil {
			t.Fatalf("%s after pruning: %v", c.ref, err)
		}
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), young)); err != nil {
		t.Fatalf("the young segment of another process: %v", err)
	}
	// A second process sharing the folder read from a segment that this one then removed: its next
	// Prune lets go of the stale handle.
	other, err := Open(s.Dir(), false)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	other.now = func() time.Time { return clock }
	if _, err := other.Get(oldRef, oldSum); err != nil {
		t.Fatal(err)
	}
	if removed, err := s.Prune(nil); err != nil || len(removed) != 1 || removed[0] != oldRef.Segment() {
		t.Fatalf("second prune removed %v, %v", removed, err)
	}
	if _, err := other.Prune(map[string]bool{}); err != nil {
		t.Fatal(err)
	}
	other.rmu.Lock()
	stale := other.readers[oldRef.Segment()]
	other.rmu.Unlock()
	if stale != nil {
		t.Fatal("the other process still holds the removed segment open")
	}
	if Ref("nonsense").Segment() != "" {
		t.Fatal("a malformed reference has a segment")
	}
}
