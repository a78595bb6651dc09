package sqlset

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
)

func TestParseNamesBodiesAndKinds(t *testing.T) {
	s, err := Parse("q.sql", "-- Statements of the register.\n\n-- name: NextNumber :one\nUPDATE c\n  -- one more\n  SET last = last + 1\nRETURNING last;\n\n-- Ping is what a health check runs.\n-- name: Ping\nSELECT 1\n")
	if err != nil {
		t.Fatal(err)
	}
	if q := s.Must("NextNumber"); q != "UPDATE c\n  -- one more\n  SET last = last + 1\nRETURNING last;" {
		t.Fatalf("NextNumber = %q", q)
	}
	if q := s.Must("Ping"); q != "SELECT 1" {
		t.Fatalf("Ping = %q", q)
	}
	if _, ok := s.Get("Header"); ok {
		t.Fatal("text before the first name line became a statement")
	}
	if u := s.Unused(); len(u) != 0 {
		t.Fatalf("Unused = %v after both were asked for", u)
	}
}

func TestParseRefusesMistakes(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{"-- name: A\nSELECT 1\n-- name: A\nSELECT 2\n", `"A" is already defined at q.sql:1`},
		{"-- name: A\n\n-- name: B\nSELECT 2\n", `q.sql:1: statement "A" is empty`},
		{"-- name: A\n-- only a comment\n-- name: B\nSELECT 2\n", `q.sql:1: statement "A" is empty`},
		{"-- name:\nSELECT 1\n", "q.sql:1: want"},
		{"-- name: 1A\nSELECT 1\n", "q.sql:1: want"},
		{"-- name: A one\nSELECT 1\n", "q.sql:1: want"},
		{"-- name: A :one extra\nSELECT 1\n", "q.sql:1: want"},
	} {
		if _, err := Parse("q.sql", c.text); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", c.text, err, c.want)
		}
	}
}

func TestLoadJoinsFilesAndReportsUnused(t *testing.T) {
	fsys := fstest.MapFS{
		"sql/a.sql":   {Data: []byte("-- name: A\nSELECT 'a'\n")},
		"sql/b.sql":   {Data: []byte("-- name: B\nSELECT 'b'\n-- name: C\nSELECT 'c'\n")},
		"sql/b.txt":   {Data: []byte("-- name: D\nSELECT 'd'\n")},
		"other/x.sql": {Data: []byte("-- name: X\nSELECT 'x'\n")},
	}
	s, err := Load(fsys, "sql")
	if err != nil {
		t.Fatal(err)
	}
	s.Must("B")
	var all []string
	for _, st := range s.All() {
		all = append(all, st.Name+"="+st.Text+"@"+st.Where)
	}
	if got := strings.Join(all, " "); got != "A=SELECT 'a'@sql/a.sql:1 B=SELECT 'b'@sql/b.sql:1 C=SELECT 'c'@sql/b.sql:3" {
		t.Fatalf("All = %s", got)
	}
	if u := strings.Join(s.Unused(), ","); u != "A,C" {
		t.Fatalf("Unused = %s, want A,C (D is not a .sql file, X is in another folder)", u)
	}
	fsys["sql/c.sql"] = &fstest.MapFile{Data: []byte("-- name: A\nSELECT 2\n")}
	if _, err := Load(fsys, "sql"); err == nil || !strings.Contains(err.Error(), "sql/c.sql:1") || !strings.Contains(err.Error(), "sql/a.sql:1") {
		t.Fatalf("a name defined in two files: %v", err)
	}
	if _, err := Load(fsys, "none"); err == nil {
		t.Fatal("an empty folder loaded")
	}
}

func TestMustPanicsOnUnknownName(t *testing.T) {
	s, _ := Parse("q.sql", "-- name: A\nSELECT 1\n")
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), `"B"`) {
			t.Fatalf("recover() = %v", r)
		}
	}()
	s.Must("B")
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "..", "testdata", "sqlset", "*.sql"))
	for _, p := range seeds {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b))
	}
	f.Add("-- name: A :one\nSELECT 1\n")
	f.Fuzz(func(t *testing.T, text string) {
		s, err := Parse("f.sql", text)
		if err != nil {
			return
		}
		for n, st := range s.stmts {
			last := st.text[strings.LastIndex(st.text, "\n")+1:]
			if !validName(n) || st.text == "" || st.text != strings.TrimSpace(st.text) || strings.HasPrefix(strings.TrimSpace(last), "--") {
				t.Fatalf("statement %q = %q", n, st.text)
			}
			if strings.Contains(st.text, "-- name:") && strings.Contains("\n"+st.text, "\n-- name:") {
				t.Fatalf("statement %q swallowed a name line: %q", n, st.text)
			}
		}
	})
}
