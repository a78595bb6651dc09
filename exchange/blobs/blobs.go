// Package blobs keeps raw packet bytes in append-only segment files, outside PostgreSQL.
//
// The exchange ledger and the reference axis keep every packet as evidence. Stored as bytea, a 160 KB
// packet goes through PostgreSQL's TOAST path: some 80 chunk rows, 80 index entries, relation extension
// one page at a time and the whole value again in the WAL; that was half of the CPU of an end-to-end
// exchange. One file per packet was cheaper but still paid an inode, a rename and a directory entry per
// packet. Here a packet is one positioned write into the current segment of this process: Put reserves
// its range under a mutex and writes outside it, so writers proceed in parallel, and returns a Ref
// (segment, offset, length) that the database row keeps together with the packet's SHA-256.
//
// Each process appends only to segments it created (their names carry a start time and the process
// id), so several processes may share one folder; any of them reads every segment. With sync, Put
// returns only after the bytes are on disk (fdatasync), and the row referring to them is committed
// afterwards, so a row never points at bytes a crash could lose; a crash can leave unreferenced bytes
// at the end of a segment, which nothing reads. Reads check the digest, so damage shows as ErrCorrupt.
// Segments are never rewritten. A process appends to a segment for at most SegmentAge, so a segment
// older than that (plus a margin) receives no more bytes; Prune removes such segments once the caller
// says no row refers to them any longer (the hub's retention). Nodes keep theirs: they are evidence.
package blobs

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// ErrNotFound is returned for a reference to a segment or range the store does not hold.
var ErrNotFound = errors.New("blobs: no stored packet at this reference")

// ErrCorrupt is returned when the stored bytes no longer match their digest.
var ErrCorrupt = errors.New("blobs: stored packet does not match its digest")

// DefaultSegmentSize is when a new segment is started.
const DefaultSegmentSize = 1 << 30

// SegmentAge is how long a process appends to one segment before it starts a new one, so that old
// segments stop changing and can be pruned; pruneMargin covers writes still in flight at the switch
// and clocks that differ a little between processes.
const (
	SegmentAge  = 24 * time.Hour
	pruneMargin = time.Hour
)

var segCounter atomic.Int64 // two stores of one process never name a segment alike

// Ref locates a stored packet: "segment:offset:length".
type Ref string

// Store is a folder of segment files. It is safe for concurrent use.
type Store struct {
	dir     string
	sync    bool
	segSize int64
	segAge  time.Duration
	now     func() time.Time

	mu  sync.Mutex
	cur *segWriter // the segment this process appends to

	rmu     sync.Mutex
	readers map[string]*segReader
	tick    uint64
}

// segWriter is a segment this process appends to; a segment left for a new one is closed once the
// writes still in flight on it are done.
type segWriter struct {
	f        *os.File
	name     string
	started  time.Time
	off      int64
	inflight int
	retired  bool
}

// segReader is a cached read handle; handles not in use are closed beyond maxReaders.
type segReader struct {
	f    *os.File
	refs int
	used uint64
}

// maxReaders bounds the read handles kept open (segments are 1 GiB, so this covers 64 GiB of recent
// packets without reopening).
const maxReaders = 64

// MaxSize is the largest packet a reference may name (the axis's packet limit): a damaged reference
// cannot make a reader allocate more.
const MaxSize = 100 << 20

// Open prepares dir (created with mode 0700 if missing). With sync, Put returns only once the bytes are
// on disk; without it a machine crash may lose recent packets (use it only where the database is not
// synced either, such as throw-away test clusters).
func Open(dir string, sync bool) (*Store, error) {
	if dir == "" {
		return nil, errors.New("blobs: a folder is required")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	return &Store{dir: dir, sync: sync, segSize: DefaultSegmentSize, segAge: SegmentAge, now: time.Now,
		readers: map[string]*segReader{}}, nil
}

// Dir is the store's folder.
func (s *Store) Dir() string { return s.dir }

// Close closes the segment files; the store must not be used afterwards.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.cur != nil {
		_ = s.cur.f.Close()
		s.cur = nil
	}
	s.mu.Unlock()
	s.rmu.Lock()
	defer s.rmu.Unlock()
	for k, r := range s.readers {
		_ = r.f.Close()
		delete(s.readers, k)
	}
	return nil
}

// reserve returns the segment and offset where n bytes go, starting a new segment when needed; the
// caller calls done(w) after writing.
func (s *Store) reserve(n int64) (*segWriter, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.cur == nil || s.cur.off > 0 && (s.cur.off+n > s.segSize || now.Sub(s.cur.started) >= s.segAge) {
		var rnd [4]byte
		_, _ = rand.Read(rnd[:])
		// Start time, process id, a counter and a random part: unique across the processes (and
		// containers, whose process ids repeat) that share the folder. Prune reads the start time.
		name := fmt.Sprintf("seg-%d-%d-%d-%x", now.UnixNano(), os.Getpid(), segCounter.Add(1), rnd)
		f, err := os.OpenFile(filepath.Join(s.dir, name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, 0, fmt.Errorf("blobs: starting a segment: %w", err)
		}
		if s.sync {
			if err := syncDir(s.dir); err != nil {
				_ = f.Close()
				return nil, 0, err
			}
		}
		if old := s.cur; old != nil {
			old.retired = true
			if old.inflight == 0 {
				_ = old.f.Close()
			}
		}
		s.cur = &segWriter{f: f, name: name, started: now}
	}
	w := s.cur
	off := w.off
	w.off += n
	w.inflight++
	return w, off, nil
}

func (s *Store) done(w *segWriter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.inflight--
	if w.retired && w.inflight == 0 {
		_ = w.f.Close()
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("blobs: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("blobs: syncing %s: %w", dir, err)
	}
	return nil
}

// Prune removes the segments that no longer receive bytes (started more than SegmentAge and a margin
// ago) and that referenced does not name (segment names, as in a Ref's first part), and returns their
// names. The caller builds referenced from its rows after deleting what its retention allows; a segment
// still being written is never removed, whatever referenced says. A segment that is being read in this
// process is left for the next call.
func (s *Store) Prune(referenced map[string]bool) ([]string, error) {
	entries, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	cutoff := s.now().Add(-s.segAge - pruneMargin)
	var removed []string
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || referenced[name] {
			continue
		}
		started, ok := segmentStart(name)
		if !ok || !started.Before(cutoff) {
			continue
		}
		s.mu.Lock()
		current := s.cur != nil && s.cur.name == name
		s.mu.Unlock()
		if current {
			continue
		}
		s.rmu.Lock()
		r := s.readers[name]
		busy := r != nil && r.refs > 0
		if r != nil && !busy {
			_ = r.f.Close()
			delete(s.readers, name)
		}
		s.rmu.Unlock()
		if busy {
			continue
		}
		if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("blobs: %w", err)
		}
		removed = append(removed, name)
	}
	if len(removed) > 0 && s.sync {
		if err := syncDir(s.dir); err != nil {
			return removed, err
		}
	}
	// Another process sharing the folder may have removed segments this one read from: let go of those
	// handles, or the disk space stays held until this process exits.
	s.rmu.Lock()
	for name, r := range s.readers {
		if r.refs > 0 {
			continue
		}
		if _, err := os.Stat(filepath.Join(s.dir, name)); errors.Is(err, fs.ErrNotExist) {
			_ = r.f.Close()
			delete(s.readers, name)
		}
	}
	s.rmu.Unlock()
	return removed, nil
}

// segmentStart reads the start time from a segment's name (seg-<unix nanoseconds>-...).
func segmentStart(name string) (time.Time, bool) {
	rest, ok := strings.CutPrefix(name, "seg-")
	if !ok {
		return time.Time{}, false
	}
	digits, _, _ := strings.Cut(rest, "-")
	ns, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || ns <= 0 {
		return time.Time{}, false
	}
	return time.Unix(0, ns), true
}

// Segment is the segment a reference points into ("" for a malformed reference).
func (r Ref) Segment() string {
	name, _, _, err := r.parse()
	if err != nil {
		return ""
	}
	return name
}

// Inline is the size below which callers keep a packet in its database row: a status packet of a few
// kilobytes costs PostgreSQL little, and evidence that small is handier in the row.
const Inline = 16 << 10

// Put stores data and returns where it is and its SHA-256.
func (s *Store) Put(data []byte) (Ref, []byte, error) {
	sum := sha256.Sum256(data)
	ref, err := s.PutDigest(data, sum[:])
	return ref, sum[:], err
}

// PutDigest stores data whose SHA-256 the caller has just computed (sum), sparing a second pass over a
// large packet; a wrong sum would make every later read fail with ErrCorrupt.
func (s *Store) PutDigest(data, sum []byte) (Ref, error) {
	if len(data) == 0 {
		return "", errors.New("blobs: nothing to store")
	}
	if len(sum) != sha256.Size {
		return "", fmt.Errorf("blobs: a digest is %d bytes, got %d", sha256.Size, len(sum))
	}
	w, off, err := s.reserve(int64(len(data)))
	if err != nil {
		return "", err
	}
	defer s.done(w)
	if _, err := w.f.WriteAt(data, off); err != nil {
		return "", fmt.Errorf("blobs: writing %s: %w", w.name, err)
	}
	if s.sync {
		if err := w.f.Sync(); err != nil {
			return "", fmt.Errorf("blobs: syncing %s: %w", w.name, err)
		}
	}
	return Ref(w.name + ":" + strconv.FormatInt(off, 10) + ":" + strconv.Itoa(len(data))), nil
}

func (r Ref) parse() (name string, off, n int64, err error) {
	parts := strings.Split(string(r), ":")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "seg-") || strings.ContainsAny(parts[0], `/\`) {
		return "", 0, 0, fmt.Errorf("blobs: malformed reference %q", string(r))
	}
	off, err1 := strconv.ParseInt(parts[1], 10, 64)
	n, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || off < 0 || n <= 0 || n > MaxSize {
		return "", 0, 0, fmt.Errorf("blobs: malformed reference %q", string(r))
	}
	return parts[0], off, n, nil
}

// acquire returns the segment's read handle with one more user; release gives it back.
func (s *Store) acquire(name string) (*segReader, error) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.tick++
	if r := s.readers[name]; r != nil {
		r.refs++
		r.used = s.tick
		return r, nil
	}
	f, err := os.Open(filepath.Join(s.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: segment %s", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	r := &segReader{f: f, refs: 1, used: s.tick}
	s.readers[name] = r
	for len(s.readers) > maxReaders {
		// Close the least recently used handle nobody is reading from (if all are busy, wait for
		// the next call).
		var oldest string
		for k, c := range s.readers {
			if c.refs == 0 && (oldest == "" || c.used < s.readers[oldest].used) {
				oldest = k
			}
		}
		if oldest == "" {
			break
		}
		_ = s.readers[oldest].f.Close()
		delete(s.readers, oldest)
	}
	return r, nil
}

func (s *Store) release(r *segReader) {
	s.rmu.Lock()
	r.refs--
	s.rmu.Unlock()
}

// Reader reads one stored packet; Close it when done.
type Reader struct {
	*io.SectionReader
	s    *Store
	r    *segReader
	once sync.Once
}

// Close gives the segment's handle back.
func (r *Reader) Close() error {
	r.once.Do(func() { r.s.release(r.r) })
	return nil
}

// Section returns a reader over the stored bytes and their length, without checking them: its
// consumer must compare the digest itself (the hub's recipients do). The caller closes it.
func (s *Store) Section(ref Ref) (*Reader, int64, error) {
	name, off, n, err := ref.parse()
	if err != nil {
		return nil, 0, err
	}
	r, err := s.acquire(name)
	if err != nil {
		return nil, 0, err
	}
	return &Reader{SectionReader: io.NewSectionReader(r.f, off, n), s: s, r: r}, n, nil
}

// Get returns the bytes at ref, checked against sum.
func (s *Store) Get(ref Ref, sum []byte) ([]byte, error) {
	sec, n, err := s.Section(ref)
	if err != nil {
		return nil, err
	}
	defer sec.Close()
	b := make([]byte, n)
	if _, err := io.ReadFull(sec, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: %s is past the end of its segment", ErrNotFound, string(ref))
		}
		return nil, fmt.Errorf("blobs: reading %s: %w", string(ref), err)
	}
	if got := sha256.Sum256(b); !bytes.Equal(got[:], sum) {
		return nil, fmt.Errorf("%w: %s", ErrCorrupt, string(ref))
	}
	return b, nil
}
