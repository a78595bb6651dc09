package migrations

import (
	"os"
	"reflect"
	"testing"

	"github.com/lienthong/lienthong/internal/pgtest"
)

// TestStatements: every statement in sql/*.sql is used and prepares against the migrated schema.
func TestStatements(t *testing.T) {
	t.Parallel()
	pgtest.CheckStatements(t, queries, Apply)
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
