// Package sqlset holds the named SQL statements a package keeps in its embedded .sql files, so runtime
// SQL lives in SQL files (reviewable, greppable, usable by psql and sqlc) rather than in Go strings.
//
// A file holds statements in sqlc's notation: a line "-- name: StatementName" (an optional sqlc kind
// such as ":one" may follow) starts a statement that runs to the next such line. Text before the first
// name line is a comment for readers and is ignored, and so are the comment lines just above a name line
// (they describe the statement that follows, not the one before). Names are unique across the files of
// a set.
//
// A package declares each statement it runs as a package variable (var sqlX = queries.Must("X")), so a
// missing name fails when the package is initialised, before any test or command runs, and a test asks
// Unused for statements no code asks for.
package sqlset

import (
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"sync"
)

// Set is the statements of one package, by name.
type Set struct {
	mu    sync.Mutex
	stmts map[string]stmt
	used  map[string]bool
}

type stmt struct {
	text  string
	where string // file:line, for messages
}

// Load reads every *.sql file in dir of fsys.
func Load(fsys fs.FS, dir string) (*Set, error) {
	names, err := fs.Glob(fsys, path.Join(dir, "*.sql"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("sqlset: no .sql files in %s", dir)
	}
	s := &Set{stmts: map[string]stmt{}, used: map[string]bool{}}
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		if err := s.add(n, string(b)); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// MustLoad is Load for package initialisation: the files are embedded, so an error is a build mistake.
func MustLoad(fsys fs.FS, dir string) *Set {
	s, err := Load(fsys, dir)
	if err != nil {
		panic(err)
	}
	return s
}

// Parse reads statements from the text of one file; file names it in errors.
func Parse(file, text string) (*Set, error) {
	s := &Set{stmts: map[string]stmt{}, used: map[string]bool{}}
	if err := s.add(file, text); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Set) add(file, text string) error {
	var name, where string
	var body strings.Builder
	flush := func() error {
		if name == "" {
			return nil
		}
		q := trimTrailingComments(body.String())
		if q == "" {
			return fmt.Errorf("sqlset: %s: statement %q is empty", where, name)
		}
		if prev, ok := s.stmts[name]; ok {
			return fmt.Errorf("sqlset: %s: statement %q is already defined at %s", where, name, prev.where)
		}
		s.stmts[name] = stmt{text: q, where: where}
		return nil
	}
	for i, line := range strings.SplitAfter(text, "\n") {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "-- name:")
		if !ok {
			if name != "" {
				body.WriteString(line)
			}
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		fields := strings.Fields(rest)
		if len(fields) == 0 || len(fields) > 2 || !validName(fields[0]) || (len(fields) == 2 && !strings.HasPrefix(fields[1], ":")) {
			return fmt.Errorf("sqlset: %s:%d: want \"-- name: Name\" with a Go-style name and an optional :kind, have %q", file, i+1, strings.TrimSpace(line))
		}
		name, where = fields[0], fmt.Sprintf("%s:%d", file, i+1)
		body.Reset()
	}
	return flush()
}

// trimTrailingComments drops the blank and "--" comment lines at the end of a statement: they stand
// above the next name line and describe the next statement.
func trimTrailingComments(body string) string {
	lines := strings.Split(strings.TrimSpace(body), "\n")
	for len(lines) > 0 {
		l := strings.TrimSpace(lines[len(lines)-1])
		if l != "" && !strings.HasPrefix(l, "--") {
			break
		}
		lines = lines[:len(lines)-1]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

func validName(n string) bool {
	for i, r := range n {
		switch {
		case r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z', r == '_':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return n != ""
}

// Get returns the statement called name, and whether there is one.
func (s *Set) Get(name string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.stmts[name]
	if ok {
		s.used[name] = true
	}
	return st.text, ok
}

// Must returns the statement called name and panics when there is none; call it from package variable
// declarations so a mistake stops the package from initialising.
func (s *Set) Must(name string) string {
	q, ok := s.Get(name)
	if !ok {
		panic(fmt.Sprintf("sqlset: no statement %q in the package's .sql files", name))
	}
	return q
}

// Statement is one named statement and the file:line of its name line.
type Statement struct{ Name, Text, Where string }

// All returns every statement sorted by name, without counting them as asked for (for tests that check
// the statements themselves).
func (s *Set) All() []Statement {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Statement, 0, len(s.stmts))
	for n, st := range s.stmts {
		out = append(out, Statement{Name: n, Text: st.text, Where: st.where})
	}
	slices.SortFunc(out, func(a, b Statement) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Unused returns, sorted, the names nobody has asked for: statements left behind in a .sql file.
func (s *Set) Unused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for n := range s.stmts {
		if !s.used[n] {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}
