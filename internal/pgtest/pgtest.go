// Package pgtest gives tests a real, isolated PostgreSQL database. With DATABASE_URL set (make test sets
// it) each call creates a fresh database on that server; without it the first call starts a private
// cluster (internal/pgcluster) for the test binary, stopped by Main.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/internal/pgcluster"
	"github.com/lienthong/lienthong/internal/sqlset"
)

var (
	once    sync.Once
	cluster *pgcluster.Cluster
	baseURL string
	initErr error
)

// Main wraps testing.M.Run so a private cluster started by this package is stopped afterwards. Use it
// from TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		_ = cluster.Stop()
	}
	os.Exit(code)
}

func server() (string, error) {
	once.Do(func() {
		if u := os.Getenv("DATABASE_URL"); u != "" {
			baseURL = u
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cluster, initErr = pgcluster.Start(ctx, "")
		if initErr == nil {
			baseURL = cluster.URL("postgres")
		}
	})
	return baseURL, initErr
}

// NewDatabase creates an empty database for this test, dropped when the test ends, and returns its URL.
func NewDatabase(t testing.TB) string {
	t.Helper()
	base, err := server()
	if err != nil {
		t.Fatalf("pgtest: no PostgreSQL: %v", err)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connecting to %s: %v", redact(base), err)
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "t_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: CREATE DATABASE: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("pgtest: DATABASE_URL: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// String is for debugging output only.
func String() string { return fmt.Sprintf("pgtest(%s)", redact(baseURL)) }

// PrepareAll has PostgreSQL prepare every single-command statement of set on conn, which parses it,
// resolves its tables, columns and functions and infers its parameter types against the schema the
// test has built, so a statement broken by a typo or a schema change fails here even if no test runs
// it. Multi-command scripts (schema set-up run with Exec) cannot be prepared and are skipped; their
// names are returned so the caller can check that nothing else was.
func PrepareAll(t testing.TB, conn *pgx.Conn, set *sqlset.Set) (skipped []string) {
	t.Helper()
	ctx := context.Background()
	for _, st := range set.All() {
		if multiCommand(st.Text) {
			skipped = append(skipped, st.Name)
			continue
		}
		if _, err := conn.Prepare(ctx, "", st.Text); err != nil {
			t.Errorf("%s (%s) does not prepare: %v", st.Name, st.Where, err)
		}
	}
	return skipped
}

// multiCommand reports whether a statement holds more than one command: a ";" outside quotes and
// comments with more than blanks after it.
func multiCommand(q string) bool {
	var b strings.Builder
	quote := byte(0)
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0: // inside '...' or "..." (a doubled quote closes and reopens: same result)
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			for i < len(q) && q[i] != '\n' {
				i++
			}
		default:
			b.WriteByte(c)
		}
	}
	s := strings.TrimSuffix(strings.TrimSpace(b.String()), ";")
	return strings.Contains(s, ";")
}

// CheckStatements is the test of a package's sql/*.sql files: every statement is run by some code
// (Unused is empty), and every statement but the multi-command scripts listed in scripts prepares
// against the schema that setup builds in a fresh database.
func CheckStatements(t testing.TB, set *sqlset.Set, setup func(context.Context, *pgxpool.Pool) error, scripts ...string) {
	t.Helper()
	if u := set.Unused(); len(u) > 0 {
		t.Errorf("statements in sql/*.sql that no code runs: %v", u)
	}
	ctx := context.Background()
	url := NewDatabase(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if err := setup(ctx, pool); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if s := PrepareAll(t, conn, set); !slices.Equal(s, scripts) {
		t.Errorf("statements skipped as multi-command scripts: %v, want %v", s, scripts)
	}
}
