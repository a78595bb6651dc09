-- Statements run by runner.go: the runner's bookkeeping in lienthong_migration. The migrations
-- themselves are the NNN_name.up.sql / .down.sql files one folder up.

-- name: LockMigrations
SELECT pg_advisory_xact_lock($1)

-- name: EnsureMigrationTable
CREATE TABLE IF NOT EXISTS lienthong_migration (
	version    int PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
)

-- name: RecordMigration
INSERT INTO lienthong_migration (version, name) VALUES ($1, $2)

-- name: ForgetMigration
DELETE FROM lienthong_migration WHERE version = $1

-- name: ListAppliedMigrations
SELECT version, applied_at FROM lienthong_migration
