package pgtest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/internal/sqlset"
)

func TestMain(m *testing.M) { Main(m) }

func TestNewDatabaseIsIsolated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := NewDatabase(t), NewDatabase(t)
	if a == b {
		t.Fatal("two tests got the same database")
	}
	ca, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close(ctx)
	if _, err := ca.Exec(ctx, "CREATE TABLE x (v text)"); err != nil {
		t.Fatal(err)
	}
	cb, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close(ctx)
	var n int
	if err := cb.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'x'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatal("table made in one test database is visible in another")
	}
}

func TestPrepareAllReportsBrokenStatements(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE TABLE doc (id int, subject text)"); err != nil {
		t.Fatal(err)
	}
	set, err := sqlset.Parse("q.sql", `-- name: Good
SELECT subject FROM doc WHERE id = $1;
-- name: Script
CREATE TABLE IF NOT EXISTS other (v int); -- runs with Exec
INSERT INTO other VALUES (1);
-- name: QuotedSemicolon
SELECT string_agg(subject, '; ') FROM doc; -- a ";" in a string or a comment is not a second command
-- name: Typo
SELECT subjet FROM doc WHERE id = $1
-- name: NoTable
SELECT 1 FROM missing
`)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{TB: t}
	if s := PrepareAll(rec, conn, set); len(s) != 1 || s[0] != "Script" {
		t.Errorf("skipped %v, want [Script]", s)
	}
	got := strings.Join(rec.errs, "\n")
	if len(rec.errs) != 2 || !strings.Contains(got, "Typo (q.sql:8)") || !strings.Contains(got, "NoTable (q.sql:10)") {
		t.Errorf("errors:\n%s", got)
	}
}

// recorder keeps the errors PrepareAll reports instead of failing the test.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Helper() {}

func TestCheckStatementsReportsUnusedAndUnexpectedSkips(t *testing.T) {
	t.Parallel()
	set, err := sqlset.Parse("q.sql", "-- name: Used\nSELECT v FROM t\n-- name: Left\nSELECT 1\n-- name: Script\nSELECT 1; SELECT 2\n")
	if err != nil {
		t.Fatal(err)
	}
	set.Must("Used")
	rec := &recorder{TB: t}
	CheckStatements(rec, set, func(ctx context.Context, pool *pgxpool.Pool) error {
		_, err := pool.Exec(ctx, "CREATE TABLE t (v int)")
		return err
	}) // Script not declared as a script
	got := strings.Join(rec.errs, "\n")
	if len(rec.errs) != 2 || !strings.Contains(got, "no code runs: [Left Script]") || !strings.Contains(got, "[Script], want []") {
		t.Errorf("errors:\n%s", got)
	}
}
