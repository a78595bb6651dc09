package bench

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/internal/pgtest"
	"github.com/lienthong/lienthong/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// TestStatements: every statement in sql/*.sql is used, and PostgreSQL parses and type-checks each
// against the schema, including those only error paths run.
func TestStatements(t *testing.T) {
	t.Parallel()
	pgtest.CheckStatements(t, queries, func(ctx context.Context, pool *pgxpool.Pool) error {
		if err := migrations.Apply(ctx, pool); err != nil {
			return err
		}
		// The peer's own tables are made by the benchmark itself.
		for _, q := range []string{sqlCreateBenchPlainTable, sqlCreateBenchCounter} {
			if _, err := pool.Exec(ctx, q); err != nil {
				return err
			}
		}
		return nil
	}, "CreateBenchCounter")
}
