package workflow

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFold(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Công văn":               "cong van",
		"ĐÔN ĐỐC  đào\ttạo":      "don doc dao tao",
		"Hỏa tốc / Thượng khẩn":  "hoa toc / thuong khan",
		"Quyết định 123/QĐ-UBND": "quyet dinh 123/qd-ubnd",
		"  ":                     "",
		"Nghị định\u0301":        "nghi dinh",
		"Tuyệt mật":              "tuyet mat",
	} {
		if got := Fold(in); got != want {
			t.Errorf("Fold(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzFold(f *testing.F) {
	for _, s := range []string{"Công văn", "Đ", "a\u0301", "\xff", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := Fold(s)
		if !utf8.ValidString(out) && utf8.ValidString(s) {
			t.Fatalf("Fold(%q) = invalid UTF-8 %q", s, out)
		}
		if Fold(out) != out {
			t.Fatalf("Fold is not idempotent on %q: %q then %q", s, out, Fold(out))
		}
		if strings.ContainsAny(out, "đĐ") || strings.HasSuffix(out, " ") || strings.HasPrefix(out, " ") {
			t.Fatalf("Fold(%q) = %q", s, out)
		}
	})
}

func FuzzOrgCode(f *testing.F) {
	for _, s := range []string{"000.00.00.H53", "000.21.32.H53", "G06.01", "H37.02.02", "", "abc", "Z01", "000.A12.345.G22"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := NormalizeOrgCode(s)
		if err != nil {
			if Detail := err.Error(); Detail == "" {
				t.Fatal("empty error")
			}
			return
		}
		if len(c) > MaxOrgCodeLen || c == "" || strings.ContainsAny(c, " \t\n") {
			t.Fatalf("accepted %q as %q", s, c)
		}
		for _, r := range c {
			if !(r == '.' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z') {
				t.Fatalf("accepted %q with %q", c, r)
			}
		}
		if again, err := NormalizeOrgCode(c); err != nil || again != c {
			t.Fatalf("normal form %q not stable: %q, %v", c, again, err)
		}
	})
}

func FuzzParseID(f *testing.F) {
	f.Add(newID(nowForFuzz))
	f.Add("")
	f.Add("0192f3a0-0000-7000-8000-00000000000G")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			return
		}
		if len(id) != 36 || strings.ToLower(s) != id {
			t.Fatalf("ParseID(%q) = %q", s, id)
		}
	})
}

func FuzzCursor(f *testing.F) {
	f.Add(makeCursor(newID(nowForFuzz)))
	f.Add("")
	f.Add("!!")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseCursor(s)
		if err == nil && id != "" {
			if _, err := ParseID(id); err != nil {
				t.Fatalf("cursor %q gave bad id %q", s, id)
			}
		}
	})
}

var nowForFuzz = mustTime("2026-11-25T10:00:00Z")
