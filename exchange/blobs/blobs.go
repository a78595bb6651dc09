// Package blobs keeps raw packet bytes as content-addressed files, named by their SHA-256.
//
// The exchange ledger and the reference axis keep every packet as evidence. Stored as bytea, a 160 KB
// packet goes through PostgreSQL's TOAST path: some 80 chunk rows, 80 index entries, relation extension
// one page at a time and the whole value again in the WAL. That was half of the CPU of an end-to-end
// exchange, so with a Store configured the rows keep only the digest and the bytes live here. A file
// is written to a temporary name, synced (unless the store was opened without sync) and renamed, so a
// name always holds the whole value; the database row that refers to it is committed afterwards, so a
// crash can leave an unreferenced file (harmless: same content, same name) but never a row without its
// bytes.
package blobs

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrNotFound is returned for a digest the store does not hold.
var ErrNotFound = errors.New("blobs: no stored packet with this digest")

// ErrCorrupt is returned when a stored file no longer matches its digest.
var ErrCorrupt = errors.New("blobs: stored packet does not match its digest")

// Store is a folder of content-addressed files. It is safe for concurrent use by goroutines and by
// several processes sharing the folder.
type Store struct {
	dir  string
	sync bool
}

// Open prepares dir (created with mode 0700 if missing). With sync, every new file and its folder are
// fsynced before Put returns; without it a machine crash may lose recent files (use it only where the
// database is not synced either, such as throw-away test clusters).
func Open(dir string, sync bool) (*Store, error) {
	if dir == "" {
		return nil, errors.New("blobs: a folder is required")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	return &Store{dir: dir, sync: sync}, nil
}

// Dir is the store's folder.
func (s *Store) Dir() string { return s.dir }

func (s *Store) path(sum []byte) (string, error) {
	if len(sum) != sha256.Size {
		return "", fmt.Errorf("blobs: a digest is %d bytes, got %d", sha256.Size, len(sum))
	}
	h := hex.EncodeToString(sum)
	return filepath.Join(s.dir, h[:2], h), nil
}

// Put stores data and returns its SHA-256. Storing the same bytes again is cheap and changes nothing.
func (s *Store) Put(data []byte) ([]byte, error) {
	sum := sha256.Sum256(data)
	p, err := s.path(sum[:])
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(p); err == nil && st.Size() == int64(len(data)) {
		return sum[:], nil
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil && s.sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, p)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("blobs: writing %s: %w", filepath.Base(p), err)
	}
	if s.sync {
		if d, err := os.Open(dir); err == nil {
			err = d.Sync()
			_ = d.Close()
			if err != nil {
				return nil, fmt.Errorf("blobs: syncing %s: %w", dir, err)
			}
		}
	}
	return sum[:], nil
}

// Get returns the bytes stored under sum, checked against it.
func (s *Store) Get(sum []byte) ([]byte, error) {
	p, err := s.path(sum)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %x", ErrNotFound, sum)
	}
	if err != nil {
		return nil, fmt.Errorf("blobs: %w", err)
	}
	if got := sha256.Sum256(b); !bytes.Equal(got[:], sum) {
		return nil, fmt.Errorf("%w: %x", ErrCorrupt, sum)
	}
	return b, nil
}

// Open opens the file stored under sum for streaming (an HTTP response can then use sendfile); the
// reader checks nothing, so its consumer must compare the digest itself. The caller closes it.
func (s *Store) Open(sum []byte) (*os.File, int64, error) {
	p, err := s.path(sum)
	if err != nil {
		return nil, 0, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("%w: %x", ErrNotFound, sum)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("blobs: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		_ = f.Close()
		return nil, 0, fmt.Errorf("blobs: %w", err)
	}
	return f, st.Size(), nil
}
