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
// Segments are never rewritten: the evidence is kept as long as the folder is.
package blobs

import (
	"bytes"
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

var segCounter atomic.Int64 // two stores of one process never name a segment alike

// Ref locates a stored packet: "segment:offset:length".
type Ref string

// Store is a folder of segment files. It is safe for concurrent use.
type Store struct {
	dir     string
	sync    bool
	segSize int64

	mu   sync.Mutex
	cur  *os.File // the segment this process appends to
	name string
	off  int64

	rmu     sync.RWMutex
	readers map[string]*os.File
}

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
	return &Store{dir: dir, sync: sync, segSize: DefaultSegmentSize, readers: map[string]*os.File{}}, nil
}

// Dir is the store's folder.
func (s *Store) Dir() string { return s.dir }

// Close closes the segment files.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.cur != nil {
		_ = s.cur.Close()
		s.cur = nil
	}
	s.mu.Unlock()
	s.rmu.Lock()
	defer s.rmu.Unlock()
	for k, f := range s.readers {
		_ = f.Close()
		delete(s.readers, k)
	}
	return nil
}

// reserve returns the segment and offset where n bytes go, starting a new segment when needed.
func (s *Store) reserve(n int64) (*os.File, string, int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur == nil || s.off+n > s.segSize && s.off > 0 {
		name := fmt.Sprintf("seg-%d-%d-%d", time.Now().UnixNano(), os.Getpid(), segCounter.Add(1))
		f, err := os.OpenFile(filepath.Join(s.dir, name), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, "", 0, fmt.Errorf("blobs: starting a segment: %w", err)
		}
		if s.sync {
			if err := syncDir(s.dir); err != nil {
				_ = f.Close()
				return nil, "", 0, err
			}
		}
		// The old segment stays open for writes still in flight; readers open their own handles.
		s.cur, s.name, s.off = f, name, 0
	}
	off := s.off
	s.off += n
	return s.cur, s.name, off, nil
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
	f, name, off, err := s.reserve(int64(len(data)))
	if err != nil {
		return "", err
	}
	if _, err := f.WriteAt(data, off); err != nil {
		return "", fmt.Errorf("blobs: writing %s: %w", name, err)
	}
	if s.sync {
		if err := f.Sync(); err != nil {
			return "", fmt.Errorf("blobs: syncing %s: %w", name, err)
		}
	}
	return Ref(name + ":" + strconv.FormatInt(off, 10) + ":" + strconv.Itoa(len(data))), nil
}

func (r Ref) parse() (name string, off, n int64, err error) {
	parts := strings.Split(string(r), ":")
	if len(parts) != 3 || !strings.HasPrefix(parts[0], "seg-") || strings.ContainsAny(parts[0], `/\`) {
		return "", 0, 0, fmt.Errorf("blobs: malformed reference %q", string(r))
	}
	off, err1 := strconv.ParseInt(parts[1], 10, 64)
	n, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || off < 0 || n <= 0 {
		return "", 0, 0, fmt.Errorf("blobs: malformed reference %q", string(r))
	}
	return parts[0], off, n, nil
}

func (s *Store) reader(name string) (*os.File, error) {
	s.rmu.RLock()
	f := s.readers[name]
	s.rmu.RUnlock()
	if f != nil {
		return f, nil
	}
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if f := s.readers[name]; f != nil {
		return f, nil
	}
	f, err := os.Open(filepath.Join(s.dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: segment %s", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	s.readers[name] = f
	return f, nil
}

// Section returns a reader over the stored bytes and their length, without checking them: its
// consumer must compare the digest itself (the hub's recipients do).
func (s *Store) Section(ref Ref) (*io.SectionReader, int64, error) {
	name, off, n, err := ref.parse()
	if err != nil {
		return nil, 0, err
	}
	f, err := s.reader(name)
	if err != nil {
		return nil, 0, err
	}
	return io.NewSectionReader(f, off, n), n, nil
}

// Get returns the bytes at ref, checked against sum.
func (s *Store) Get(ref Ref, sum []byte) ([]byte, error) {
	sec, n, err := s.Section(ref)
	if err != nil {
		return nil, err
	}
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
