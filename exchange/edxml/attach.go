package edxml

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"strings"
)

// NormaliseCID strips surrounding space, angle brackets and a leading "cid:" (any case), so that a
// manifest "cid:209" matches an attachment "209" or "<209>".
func NormaliseCID(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 4 && strings.EqualFold(s[:4], "cid:") {
		s = s[4:]
	}
	return strings.TrimSuffix(strings.TrimPrefix(strings.TrimSpace(s), "<"), ">")
}

// IsZip reports whether data starts with a ZIP local file header.
func IsZip(data []byte) bool { return bytes.HasPrefix(data, []byte("PK\x03\x04")) }

// File is one file of an attachment after unwrapping.
type File struct {
	Name   string
	Data   []byte
	SHA256 string
}

// Limits on ZIP unwrapping, against archive bombs.
const (
	maxZipEntries = 100
	maxZipTotal   = 200 << 20
)

// Files returns the files an attachment carries: the raw payload itself, or, when it is ZIP-wrapped (the
// VPCP sample sends application/zip), every regular file inside.
func (a Attachment) Files() ([]File, error) {
	if !IsZip(a.Data) {
		s := sha256.Sum256(a.Data)
		return []File{{Name: a.Name, Data: a.Data, SHA256: hex.EncodeToString(s[:])}}, nil
	}
	zr, err := zip.NewReader(bytes.NewReader(a.Data), int64(len(a.Data)))
	if err != nil {
		return nil, fmt.Errorf("attachment %q: reading ZIP: %w", a.Name, err)
	}
	if len(zr.File) > maxZipEntries {
		return nil, fmt.Errorf("attachment %q: ZIP holds more than %d entries", a.Name, maxZipEntries)
	}
	var out []File
	var total int64
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("attachment %q: ZIP entry %q: %w", a.Name, f.Name, err)
		}
		data, err := io.ReadAll(io.LimitReader(rc, maxZipTotal-total+1))
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("attachment %q: ZIP entry %q: %w", a.Name, f.Name, err)
		}
		total += int64(len(data))
		if total > maxZipTotal {
			return nil, fmt.Errorf("attachment %q: ZIP expands to more than %d bytes", a.Name, maxZipTotal)
		}
		s := sha256.Sum256(data)
		out = append(out, File{Name: path.Base(f.Name), Data: data, SHA256: hex.EncodeToString(s[:])})
	}
	return out, nil
}

// Attachment returns the attachment a manifest reference points to, matching normalised content ids.
func (p *Packet) Attachment(r Reference) (Attachment, bool) {
	id := NormaliseCID(r.ContentID)
	for _, a := range p.Attachments {
		if NormaliseCID(a.ContentID) == id {
			return a, true
		}
	}
	return Attachment{}, false
}
