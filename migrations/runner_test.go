package migrations_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/internal/pgtest"
	"github.com/lienthong/lienthong/migrations"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func tableCount(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(),
		`SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'lienthong_migration'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Up → validate → down → validate fails → up again, as CI does for River.
func TestUpDownUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	all, err := migrations.All()
	if err != nil {
		t.Fatal(err)
	}
	if err := migrations.Validate(ctx, pool); err == nil {
		t.Fatal("Validate passed on an empty database")
	}
	done, err := migrations.Up(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != len(all) {
		t.Fatalf("applied %v, want %d migrations", done, len(all))
	}
	if err := migrations.Validate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	if again, err := migrations.Up(ctx, pool); err != nil || len(again) != 0 {
		t.Fatalf("second Up applied %v, %v", again, err)
	}
	if n := tableCount(t, pool); n < 10 {
		t.Fatalf("only %d tables after up", n)
	}
	// One step down, then everything.
	if d, err := migrations.Down(ctx, pool, 1); err != nil || len(d) != 1 || d[0] != len(all) {
		t.Fatalf("Down(1) = %v, %v", d, err)
	}
	if err := migrations.Validate(ctx, pool); err == nil {
		t.Fatal("Validate passed with a migration reverted")
	}
	if _, err := migrations.Down(ctx, pool, 0); err != nil {
		t.Fatal(err)
	}
	if n := tableCount(t, pool); n != 0 {
		t.Fatalf("%d tables left after down", n)
	}
	if _, err := migrations.Up(ctx, pool); err != nil {
		t.Fatalf("up after down: %v", err)
	}
	st, err := migrations.List(ctx, pool)
	if err != nil || len(st) != len(all) || !st[len(st)-1].Applied() {
		t.Fatalf("List = %v, %v", st, err)
	}
}

// Two runners at once: the advisory lock makes exactly one apply each step.
func TestConcurrentUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	errs := make(chan error, 4)
	for range 4 {
		go func() { _, err := migrations.Up(ctx, pool); errs <- err }()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if err := migrations.Validate(ctx, pool); err != nil {
		t.Fatal(err)
	}
}
