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

// schemaVersion is the version of our own exchange tables (below); River's are versioned by rivermigrate.
const schemaVersion = 2

// exchangeSchema holds the ledger of the exchange side. River's river_job is the queue only: what was
// sent, received and answered lives here, with the raw packet and receipt bytes as evidence.
const exchangeSchema = `
CREATE TABLE IF NOT EXISTS exchange_schema (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS exchange_outbox (
	message_id   text PRIMARY KEY,
	doc_id       text NOT NULL,
	sender       text NOT NULL,
	recipient    text NOT NULL,
	document_id  text NOT NULL,
	kind         text NOT NULL CHECK (kind IN ('edoc', 'status')),
	status_code  text NOT NULL DEFAULT '',
	packet       bytea NOT NULL,
	sha256       bytea NOT NULL,
	urgency      text NOT NULL DEFAULT 'normal',
	deadline     timestamptz NOT NULL,
	state        text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'failed', 'expired', 'cancelled')),
	attempts     int NOT NULL DEFAULT 0,
	last_error   text NOT NULL DEFAULT '',
	axis_id      text,
	accepted_at  timestamptz,
	receipt      bytea,
	redeliveries int NOT NULL DEFAULT 0,
	created_at   timestamptz NOT NULL DEFAULT now(),
	updated_at   timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE exchange_outbox ALTER COLUMN packet SET STORAGE EXTERNAL;
CREATE INDEX IF NOT EXISTS exchange_outbox_doc ON exchange_outbox (doc_id);
CREATE INDEX IF NOT EXISTS exchange_outbox_document ON exchange_outbox (sender, document_id, recipient);
CREATE TABLE IF NOT EXISTS exchange_failed (
	message_id  text PRIMARY KEY REFERENCES exchange_outbox (message_id),
	reason      text NOT NULL,
	last_error  text NOT NULL,
	attempts    int NOT NULL,
	failed_at   timestamptz NOT NULL,
	resolved_at timestamptz
);
CREATE TABLE IF NOT EXISTS exchange_inbound (
	id            bigserial PRIMARY KEY,
	recipient     text NOT NULL,
	sender        text NOT NULL,
	document_id   text NOT NULL,
	code          text NOT NULL DEFAULT '',
	promulgation  text NOT NULL DEFAULT '',
	axis_id       text NOT NULL,
	sha256        bytea NOT NULL,
	packet        bytea NOT NULL,
	verdict       text NOT NULL,
	detail        text NOT NULL DEFAULT '',
	filed_doc_id  text,
	received_at   timestamptz NOT NULL,
	UNIQUE (recipient, sender, document_id)
);
ALTER TABLE exchange_inbound ALTER COLUMN packet SET STORAGE EXTERNAL;
CREATE TABLE IF NOT EXISTS exchange_status (
	sender      text NOT NULL,
	document_id text NOT NULL,
	recipient   text NOT NULL,
	progress    text NOT NULL DEFAULT '',
	recall      text NOT NULL DEFAULT '',
	updated_at  timestamptz NOT NULL,
	PRIMARY KEY (sender, document_id, recipient)
);
CREATE TABLE IF NOT EXISTS exchange_status_event (
	id          bigserial PRIMARY KEY,
	direction   text NOT NULL CHECK (direction IN ('in', 'out')),
	sender      text NOT NULL,
	document_id text NOT NULL,
	recipient   text NOT NULL,
	code        text NOT NULL,
	description text NOT NULL DEFAULT '',
	applied     boolean NOT NULL,
	sha256      bytea NOT NULL,
	at          timestamptz NOT NULL,
	UNIQUE (direction, sha256)
);
INSERT INTO exchange_schema (version) VALUES (1) ON CONFLICT DO NOTHING;
-- Version 2: the packet bytes may live in a segment store (Config.Packets); the row then keeps the
-- digest and packet_ref (segment:offset:length) instead of the bytes.
ALTER TABLE exchange_outbox ALTER COLUMN packet DROP NOT NULL;
ALTER TABLE exchange_inbound ALTER COLUMN packet DROP NOT NULL;
ALTER TABLE exchange_outbox ADD COLUMN IF NOT EXISTS packet_ref text;
-- Every outbox row is updated once or more (sent, attempts): room on its page keeps the updates HOT
-- (no new index entries).
ALTER TABLE exchange_outbox SET (fillfactor = 70);
ALTER TABLE exchange_inbound ADD COLUMN IF NOT EXISTS packet_ref text;
INSERT INTO exchange_schema (version) VALUES (2) ON CONFLICT DO NOTHING;
`

const dropSchema = `DROP TABLE IF EXISTS exchange_status_event, exchange_status, exchange_inbound, exchange_failed, exchange_outbox, exchange_schema`

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
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(74062)`); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, exchangeSchema); err != nil {
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
	if _, err := pool.Exec(ctx, dropSchema); err != nil {
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
	if err := pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM exchange_schema`).Scan(&v); err != nil || v < schemaVersion {
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
	_ = pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM exchange_schema`).Scan(&v)
	return fmt.Sprintf("river %d/%d migrations applied; exchange tables version %d/%d", len(ex), len(all), v, schemaVersion), nil
}
