// Package migrations holds lienthong's numbered, embedded SQL migrations and the runner that applies
// them. Files are named NNN_name.up.sql / NNN_name.down.sql; each runs in its own transaction and is
// recorded in the lienthong_migration table. River keeps its own table (river_migration) and is migrated
// by the exchange side with rivermigrate, so the two never step on each other.
package migrations

import "embed"

// FS holds every migration file.
//
//go:embed *.sql
var FS embed.FS
