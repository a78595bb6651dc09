package workflow

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"time"

	"github.com/lienthong/lienthong/internal/apperr"
)

var idState struct {
	sync.Mutex
	ms  int64
	seq uint16
}

// newID returns a UUIDv7 (RFC 9562): time-ordered, so newest-first lists walk the primary key. Within
// one process ids are strictly increasing: the 12-bit rand_a field counts within a millisecond (RFC 9562
// §6.2 method 1), and a clock that stands still or steps back borrows the last millisecond.
func newID(now time.Time) string {
	var b [16]byte
	_, _ = rand.Read(b[8:])
	idState.Lock()
	ms := now.UnixMilli()
	if ms > idState.ms {
		idState.ms, idState.seq = ms, uint16(b[8])<<2 // start low so the counter rarely overflows
	} else {
		idState.seq++
		if idState.seq > 0x0fff {
			idState.ms, idState.seq = idState.ms+1, 0
		}
	}
	ms, seq := idState.ms, idState.seq
	idState.Unlock()
	binary.BigEndian.PutUint64(b[:8], uint64(ms)<<16|uint64(seq))
	b[6] = 0x70 | b[6]&0x0f
	b[8] = 0x80 | b[8]&0x3f
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:])
	return string(s[:])
}

// ParseID checks a document id from outside (a URL path, a cursor) and returns its canonical form.
func ParseID(s string) (string, error) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return "", apperr.New(apperr.Invalid, "bad_id", "Mã văn bản không hợp lệ / malformed document id")
	}
	var out [36]byte
	for i := 0; i < 36; i++ {
		c := s[i]
		switch {
		case i == 8 || i == 13 || i == 18 || i == 23:
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			c += 'a' - 'A'
		default:
			return "", apperr.New(apperr.Invalid, "bad_id", "Mã văn bản không hợp lệ / malformed document id")
		}
		out[i] = c
	}
	return string(out[:]), nil
}
