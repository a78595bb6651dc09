package bench

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/internal/pgtest"
	"github.com/lienthong/lienthong/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func TestEveryStatementIsUsed(t *testing.T) {
	if u := queries.Unused(); len(u) > 0 {
		t.Fatalf("statements in sql/*.sql that no code runs: %v", u)
	}
}

// TestEveryStatementPrepares has PostgreSQL parse and type-check every statement against the schema,
// including those only error paths run.
func TestEveryStatementPrepares(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if _, err := migrations.Up(ctx, pool); err != nil {
		t.Fatal(err)
	}
	// The peer's own tables are made by the benchmark itself.
	for _, q := range []string{sqlCreateBenchPlainTable, sqlCreateBenchCounter} {
		if _, err := pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// Only the multi-command schema script cannot be prepared (it runs in every test's set-up).
	if s := pgtest.PrepareAll(t, conn, queries); len(s) != 1 || s[0] != "CreateBenchCounter" {
		t.Errorf("statements skipped: %v, want [CreateBenchCounter]", s)
	}
}
