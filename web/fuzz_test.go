package web

import (
	"strings"
	"testing"
	"time"
)

// FuzzParseVNDate: a typed date is either refused with a message or turned into a YYYY-MM-DD that
// parses and renders back as the same day in dd/mm/yyyy.
func FuzzParseVNDate(f *testing.F) {
	for _, s := range []string{"15/12/2026", "1/2/2027", "2026-12-15", "31/02/2026", "", " 05/01/2026 ", "99/99/9999", "15-12-2026", "١٥/١٢/٢٠٢٦"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, err := parseVNDate("Hạn", s)
		if err != nil {
			if !strings.Contains(err.Error(), "dd/mm/yyyy") {
				t.Fatalf("refusal without guidance: %v", err)
			}
			return
		}
		if strings.TrimSpace(s) == "" {
			if out != "" {
				t.Fatalf("empty input gave %q", out)
			}
			return
		}
		d, perr := time.Parse("2006-01-02", out)
		if perr != nil {
			t.Fatalf("%q gave unparseable %q", s, out)
		}
		back, err := parseVNDate("Hạn", vnDate(out))
		if err != nil || back != out || d.Format("02/01/2006") != vnDate(out) {
			t.Fatalf("round trip %q -> %q -> %q (%v)", s, out, back, err)
		}
	})
}

// FuzzSafeNext: the post-sign-in redirect never leaves the console.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/ui/incoming", "//evil.example/ui/", "/ui/\\evil", "https://evil.example/", "/ui/../x", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n := safeNext(s)
		if !strings.HasPrefix(n, "/ui/") || strings.HasPrefix(n, "//") || strings.Contains(n, "\\") {
			t.Fatalf("safeNext(%q) = %q", s, n)
		}
	})
}
