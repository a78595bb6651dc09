package pdf

import (
	"bytes"
	"strings"
	"testing"
)

// Hex strings read alike through the in-place fast path and the windowed byte-by-byte path, and the
// same inputs fail on both.
func TestHexStringsBothPaths(t *testing.T) {
	long := strings.Repeat("0a1B", 5000) // 20 000 digits: longer than the first window
	for _, tc := range []struct {
		in   string
		want []byte
		bad  bool
	}{
		{"<48656C6C6F>", []byte("Hello"), false},
		{"<48656c6c6f>", []byte("Hello"), false},
		{"<48 65 6C\n6C 6F>", []byte("Hello"), false},
		{"<486>", []byte{0x48, 0x60}, false}, // odd length: the last digit is padded with 0
		{"<>", []byte{}, false},
		{"<" + long + ">", bytes.Repeat([]byte{0x0a, 0x1b}, 5000), false},
		{"<48zz>", nil, true},
		{"<4865", nil, true}, // unterminated
	} {
		in := []byte(tc.in + " ")
		for name, l := range map[string]*lexer{
			"in place": newBytesLexer(in, 1, true),
			"windowed": newLexer(bytes.NewReader(in), int64(len(in)), 1, true),
		} {
			got, err := l.readHex()
			if tc.bad {
				if err == nil {
					t.Errorf("%s %.20q: accepted as %x", name, tc.in, got)
				}
				continue
			}
			if err != nil || !bytes.Equal(got, tc.want) {
				t.Errorf("%s %.20q: %x, %v; want %x", name, tc.in, got, err, tc.want)
				continue
			}
			if l.pos != int64(len(tc.in)) {
				t.Errorf("%s %.20q: stopped at %d, want %d (just after '>')", name, tc.in, l.pos, len(tc.in))
			}
		}
	}
}
