package workflow

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/internal/pgtest"
	"github.com/lienthong/lienthong/migrations"
)

func TestEveryStatementIsUsed(t *testing.T) {
	if u := queries.Unused(); len(u) > 0 {
		t.Fatalf("statements in sql/*.sql that no code runs: %v", u)
	}
}

// TestEveryStatementPrepares has PostgreSQL parse and type-check every statement against the migrated
// schema, including those only error paths run.
func TestEveryStatementPrepares(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := migrations.Up(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if s := pgtest.PrepareAll(t, conn, queries); len(s) > 0 {
		t.Errorf("statements skipped as multi-command: %v", s)
	}
}
