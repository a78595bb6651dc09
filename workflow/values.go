package workflow

import (
	"strings"
	"time"

	"github.com/lienthong/lienthong/internal/apperr"
)

// Urgency values of the contract (thường, khẩn, thượng khẩn, hỏa tốc).
var urgencies = []string{"normal", "urgent", "very_urgent", "flash"}

// Secrecy values of the contract (thường, mật, tối mật, tuyệt mật).
var secrecies = []string{"normal", "confidential", "secret", "top_secret"}

func oneOf(field, v string, allowed []string, def string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" && def != "" {
		return def, nil
	}
	for _, a := range allowed {
		if v == a {
			return v, nil
		}
	}
	return "", apperr.New(apperr.Invalid, "bad_"+field,
		field+" phải là một trong "+strings.Join(allowed, ", ")+" / "+field+" must be one of "+strings.Join(allowed, ", ")+"; got "+quote(v))
}

// IsClassified reports whether secrecy forbids electronic dispatch (mật, tối mật, tuyệt mật).
func IsClassified(secrecy string) bool { return secrecy != "" && secrecy != "normal" }

// parseDate reads a YYYY-MM-DD date; empty gives nil.
func parseDate(field, s string) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	t, err := time.ParseInLocation("2006-01-02", s, time.UTC)
	if err != nil || t.Year() < 1900 || t.Year() > 9999 {
		return nil, apperr.New(apperr.Invalid, "bad_"+field,
			field+" phải có dạng YYYY-MM-DD (vd. 2026-11-20) / "+field+" must be a date YYYY-MM-DD; got "+quote(s))
	}
	return &t, nil
}

// fmtDate renders a date column.
func fmtDate(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.Format("2006-01-02")
	return &s
}

// today is the calendar date in Vietnam, as a UTC midnight (how date columns come back).
func today(now time.Time) time.Time {
	y, m, d := now.In(Local).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}
