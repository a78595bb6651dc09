package workflow

import (
	"testing"

	"github.com/lienthong/lienthong/internal/pgtest"
	"github.com/lienthong/lienthong/migrations"
)

// TestStatements: every statement in sql/*.sql is used, and PostgreSQL parses and type-checks each
// against the migrated schema, including those only error paths run.
func TestStatements(t *testing.T) {
	t.Parallel()
	pgtest.CheckStatements(t, queries, migrations.Apply)
}
