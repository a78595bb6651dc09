package demo

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/exchange/delivery"
	"github.com/lienthong/lienthong/internal/pgtest"
	"github.com/lienthong/lienthong/migrations"
)

// TestStatements: every statement in sql/*.sql is used, and PostgreSQL parses and type-checks each
// against the schema, including those only error paths run.
func TestStatements(t *testing.T) {
	t.Parallel()
	pgtest.CheckStatements(t, queries, func(ctx context.Context, pool *pgxpool.Pool) error {
		if err := migrations.Apply(ctx, pool); err != nil {
			return err
		}
		return delivery.Migrate(ctx, pool)
	})
}
