package workflow

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Fold lowers s and removes Vietnamese diacritics so that "cong van" matches "Công văn": NFD, drop the
// combining marks, map đ/Đ (a letter of its own, not a mark) to d, and collapse runs of space.
// It is applied when documents are written (the search_text column) and to every query.
func Fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := true
	for _, r := range norm.NFD.String(strings.ToValidUTF8(s, "\uFFFD")) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case r == 'đ' || r == 'Đ':
			r = 'd'
		case unicode.IsSpace(r) || unicode.IsControl(r):
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		default:
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
		space = false
	}
	return strings.TrimRight(b.String(), " ")
}
