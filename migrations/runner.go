package migrations

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The runner's own bookkeeping (sql/runner.sql), not migrations: those are the NNN_*.sql files.
var (
	sqlLockMigrations        = queries.Must("LockMigrations")
	sqlEnsureMigrationTable  = queries.Must("EnsureMigrationTable")
	sqlRecordMigration       = queries.Must("RecordMigration")
	sqlForgetMigration       = queries.Must("ForgetMigration")
	sqlListAppliedMigrations = queries.Must("ListAppliedMigrations")
)

// Migration is one numbered step.
type Migration struct {
	Version int
	Name    string
	Up      string
	Down    string
}

// Status is one migration with the time it was applied (zero when pending).
type Status struct {
	Migration
	AppliedAt time.Time
}

// Applied reports whether the migration is in the database.
func (s Status) Applied() bool { return !s.AppliedAt.IsZero() }

// DB is what the runner needs: a pool or a single connection.
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// lockKey is the advisory lock held while migrating so two processes never migrate at once.
const lockKey = 0x6c69656e74686f6e // "lienthon"

var fileRe = regexp.MustCompile(`^(\d{3})_([a-z0-9_]+)\.(up|down)\.sql$`)

// All returns the embedded migrations in version order. It fails if a file is misnamed, a version is
// repeated, a down file is missing, or versions are not 1..N.
func All() ([]Migration, error) { return parse(FS) }

func parse(fsys fs.FS) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	byVersion := map[int]*Migration{}
	for _, e := range entries {
		// Directories (sql/ holds the runner's own statements) and Go files are not migrations, for when
		// fsys is the source folder rather than FS.
		if e.IsDir() || strings.HasSuffix(e.Name(), ".go") {
			continue
		}
		m := fileRe.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migrations: misnamed file %q (want NNN_name.up.sql or .down.sql)", e.Name())
		}
		v, _ := strconv.Atoi(m[1])
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("migrations: %w", err)
		}
		mg := byVersion[v]
		if mg == nil {
			mg = &Migration{Version: v, Name: m[2]}
			byVersion[v] = mg
		} else if mg.Name != m[2] {
			return nil, fmt.Errorf("migrations: version %03d has two names (%s, %s)", v, mg.Name, m[2])
		}
		if m[3] == "up" {
			mg.Up = string(b)
		} else {
			mg.Down = string(b)
		}
	}
	out := make([]Migration, 0, len(byVersion))
	for _, m := range byVersion {
		if m.Up == "" || m.Down == "" {
			return nil, fmt.Errorf("migrations: %03d_%s needs both an up and a down file", m.Version, m.Name)
		}
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations: versions must be 1..N without gaps; found %03d at position %d", m.Version, i+1)
		}
	}
	return out, nil
}

// Apply is Up for callers that need only the error, such as a test's schema set-up
// (pgtest.CheckStatements(t, queries, migrations.Apply)).
func Apply(ctx context.Context, pool *pgxpool.Pool) error {
	_, err := Up(ctx, pool)
	return err
}

// Up applies every pending migration, each in its own transaction, and returns the versions applied.
func Up(ctx context.Context, db DB) ([]int, error) {
	return run(ctx, db, func(all []Migration, applied map[int]time.Time) []step {
		var steps []step
		for _, m := range all {
			if _, ok := applied[m.Version]; !ok {
				steps = append(steps, step{m, true})
			}
		}
		return steps
	})
}

// Down reverts the last n applied migrations (all of them when n <= 0), newest first.
func Down(ctx context.Context, db DB, n int) ([]int, error) {
	return run(ctx, db, func(all []Migration, applied map[int]time.Time) []step {
		var steps []step
		for i := len(all) - 1; i >= 0; i-- {
			if _, ok := applied[all[i].Version]; ok {
				steps = append(steps, step{all[i], false})
				if n > 0 && len(steps) == n {
					break
				}
			}
		}
		return steps
	})
}

// List reports every known migration and whether it is applied.
func List(ctx context.Context, db DB) ([]Status, error) {
	all, err := All()
	if err != nil {
		return nil, err
	}
	applied, err := appliedVersions(ctx, db)
	if err != nil {
		return nil, err
	}
	out := make([]Status, len(all))
	for i, m := range all {
		out[i] = Status{Migration: m, AppliedAt: applied[m.Version]}
	}
	return out, nil
}

// Validate returns an error unless every embedded migration is applied, so a server never runs on an
// old schema.
func Validate(ctx context.Context, db DB) error {
	st, err := List(ctx, db)
	if err != nil {
		return err
	}
	for _, s := range st {
		if !s.Applied() {
			return fmt.Errorf("migrations: %03d_%s is not applied; run `lienthong migrate up`", s.Version, s.Name)
		}
	}
	return nil
}

type step struct {
	m  Migration
	up bool
}

func run(ctx context.Context, db DB, plan func([]Migration, map[int]time.Time) []step) ([]int, error) {
	all, err := All()
	if err != nil {
		return nil, err
	}
	var done []int
	for {
		// Re-plan after each step under the lock: another process may have migrated meanwhile.
		st, more, err := oneStep(ctx, db, all, plan)
		if err != nil {
			return done, err
		}
		if st == 0 {
			return done, nil
		}
		done = append(done, st)
		if !more {
			return done, nil
		}
	}
}

// oneStep applies the first planned step in a transaction holding the advisory lock.
func oneStep(ctx context.Context, db DB, all []Migration, plan func([]Migration, map[int]time.Time) []step) (version int, more bool, err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("migrations: %w", err)
	}
	defer func() {
		if err != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = tx.Rollback(rctx)
		}
	}()
	if _, err = tx.Exec(ctx, sqlLockMigrations, int64(lockKey)); err != nil {
		return 0, false, fmt.Errorf("migrations: taking the migration lock: %w", err)
	}
	if _, err = tx.Exec(ctx, sqlEnsureMigrationTable); err != nil {
		return 0, false, fmt.Errorf("migrations: creating lienthong_migration: %w", err)
	}
	applied, err := appliedVersions(ctx, tx)
	if err != nil {
		return 0, false, err
	}
	steps := plan(all, applied)
	if len(steps) == 0 {
		return 0, false, tx.Rollback(ctx)
	}
	s := steps[0]
	if s.up {
		if _, err = tx.Exec(ctx, s.m.Up); err != nil {
			return 0, false, fmt.Errorf("migrations: applying %03d_%s: %w", s.m.Version, s.m.Name, err)
		}
		_, err = tx.Exec(ctx, sqlRecordMigration, s.m.Version, s.m.Name)
	} else {
		if _, err = tx.Exec(ctx, s.m.Down); err != nil {
			return 0, false, fmt.Errorf("migrations: reverting %03d_%s: %w", s.m.Version, s.m.Name, err)
		}
		_, err = tx.Exec(ctx, sqlForgetMigration, s.m.Version)
	}
	if err != nil {
		return 0, false, fmt.Errorf("migrations: recording %03d: %w", s.m.Version, err)
	}
	if err = tx.Commit(ctx); err != nil {
		return 0, false, fmt.Errorf("migrations: committing %03d: %w", s.m.Version, err)
	}
	return s.m.Version, len(steps) > 1, nil
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func appliedVersions(ctx context.Context, q querier) (map[int]time.Time, error) {
	rows, err := q.Query(ctx, sqlListAppliedMigrations)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table: nothing applied yet
			return map[int]time.Time{}, nil
		}
		return nil, fmt.Errorf("migrations: reading lienthong_migration: %w", err)
	}
	out := map[int]time.Time{}
	for rows.Next() {
		var v int
		var at time.Time
		if err := rows.Scan(&v, &at); err != nil {
			rows.Close()
			return nil, fmt.Errorf("migrations: %w", err)
		}
		out[v] = at
	}
	return out, rows.Err()
}
