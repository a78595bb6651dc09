package delivery

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

var (
	sqlCreateExchangeTables     = queries.Must("CreateExchangeTables")
	sqlDropExchangeTables       = queries.Must("DropExchangeTables")
	sqlLockExchangeSchema       = queries.Must("LockExchangeSchema")
	sqlGetExchangeSchemaVersion = queries.Must("GetExchangeSchemaVersion")
)

// schemaVersion is the version of our own exchange tables (sql/schema.sql); River's are versioned by
// rivermigrate.
const schemaVersion = 2

// Migrate brings River's schema (rivermigrate) and our exchange tables up to date. `lienthong migrate`
// runs it after the workflow migrations.
func Migrate(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("delivery: river migrator: %w", err)
	}
	// River's migrations each run in their own transaction (one adds an enum value, which PostgreSQL
	// refuses to use in the transaction that added it), so they cannot share ours.
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("delivery: river migrations: %w", err)
	}
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlLockExchangeSchema); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlCreateExchangeTables); err != nil {
			return fmt.Errorf("delivery: exchange tables: %w", err)
		}
		return nil
	})
}

// MigrateDown removes our tables and River's.
func MigrateDown(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return err
	}
	if _, err := pool.Exec(ctx, sqlDropExchangeTables); err != nil {
		return err
	}
	_, err = m.Migrate(ctx, rivermigrate.DirectionDown, &rivermigrate.MigrateOpts{TargetVersion: -1})
	return err
}

// ErrSchemaBehind is returned by CheckSchema when River's or our schema is not current.
var ErrSchemaBehind = errors.New("delivery: the River or exchange schema is behind; run `lienthong migrate`")

// CheckSchema refuses to start on a database whose River schema is behind (rivermigrate Validate) or that
// lacks our tables.
func CheckSchema(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return err
	}
	res, err := m.Validate(ctx, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSchemaBehind, err)
	}
	if !res.OK {
		return fmt.Errorf("%w: %v", ErrSchemaBehind, res.Messages)
	}
	var v int
	if err := pool.QueryRow(ctx, sqlGetExchangeSchemaVersion).Scan(&v); err != nil || v < schemaVersion {
		return fmt.Errorf("%w: exchange tables at version %d", ErrSchemaBehind, v)
	}
	return nil
}

// Status describes the schema state in one line.
func Status(ctx context.Context, pool *pgxpool.Pool) (string, error) {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return "", err
	}
	ex, err := m.ExistingVersions(ctx)
	if err != nil {
		return "", err
	}
	all := m.AllVersions()
	var v int
	_ = pool.QueryRow(ctx, sqlGetExchangeSchemaVersion).Scan(&v)
	return fmt.Sprintf("river %d/%d migrations applied; exchange tables version %d/%d", len(ex), len(all), v, schemaVersion), nil
}
