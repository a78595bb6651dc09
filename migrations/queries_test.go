package migrations

import (
	"context"
	"os"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/internal/pgtest"
)

func TestEveryStatementIsUsed(t *testing.T) {
	if u := queries.Unused(); len(u) > 0 {
		t.Fatalf("statements in sql/*.sql that no code runs: %v", u)
	}
}

// The runner's own statements (sql/, queries.go) sit next to the migrations: neither the embedded FS
// nor a parse of the source folder may take them for migrations.
func TestRunnerSQLIsNotAMigration(t *testing.T) {
	embedded, err := All()
	if err != nil {
		t.Fatal(err)
	}
	folder, err := parse(os.DirFS("."))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(folder, embedded) {
		t.Fatalf("the source folder parses to %d migrations, the embedded FS to %d", len(folder), len(embedded))
	}
	if _, err := FS.Open("sql/runner.sql"); err == nil {
		t.Fatal("sql/runner.sql is embedded among the migrations")
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
	if _, err := Up(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if s := pgtest.PrepareAll(t, conn, queries); len(s) > 0 {
		t.Errorf("statements skipped as multi-command: %v", s)
	}
}
