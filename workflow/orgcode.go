package workflow

import (
	"regexp"
	"strings"

	"github.com/lienthong/lienthong/internal/apperr"
)

// Organisation codes are opaque strings: we validate their shape on input but never route on it.
var (
	// QCVN 102:2016 LLL.CC.BB.Xnn (13 characters, highest level rightmost).
	code102Re = regexp.MustCompile(`^\d{3}\.(\d{2}|[A-Z]\d{2})\.\d{2,3}\.[A-Z]\d{2}$`)
	// QĐ 20/2020/QĐ-TTg: up to 35 characters, first group MX1X2 with M in A–Y, then dot groups.
	codeQD20Re = regexp.MustCompile(`^[A-Y]\d{2}(\.[0-9A-Z]+)*$`)
)

// MaxOrgCodeLen is the longest organisation code accepted (QĐ 20 and the edXML OrganId field).
const MaxOrgCodeLen = 35

// NormalizeOrgCode trims spaces and upper-cases a code, then validates it. The result is the stored form.
func NormalizeOrgCode(s string) (string, error) {
	c := strings.ToUpper(strings.TrimSpace(s))
	if err := ValidateOrgCode(c); err != nil {
		return "", err
	}
	return c, nil
}

// ValidateOrgCode reports whether c is a QCVN 102 or QĐ 20 organisation code.
func ValidateOrgCode(c string) error {
	switch {
	case c == "":
		return apperr.New(apperr.Invalid, "org_code_missing",
			"Thiếu mã định danh cơ quan / organisation code is missing")
	case len(c) > MaxOrgCodeLen:
		return apperr.New(apperr.Invalid, "org_code_too_long",
			"Mã định danh cơ quan dài quá 35 ký tự / organisation code is longer than 35 characters")
	case code102Re.MatchString(c), codeQD20Re.MatchString(c):
		return nil
	}
	return apperr.New(apperr.Invalid, "org_code_malformed",
		"Mã định danh cơ quan không đúng dạng QCVN 102 (vd. 000.00.00.H53) hoặc QĐ 20 (vd. H37.02) / "+
			"organisation code "+quote(c)+" is neither a QCVN 102 code (e.g. 000.00.00.H53) nor a QĐ 20 code (e.g. H37.02)")
}

// quote renders user input safely inside a message: printable, bounded.
func quote(s string) string {
	const max = 40
	r := []rune(s)
	if len(r) > max {
		s = string(r[:max]) + "…"
	}
	return strings.ToValidUTF8(`"`+strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)+`"`, "?")
}
