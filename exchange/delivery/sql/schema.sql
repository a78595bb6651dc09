-- Statements run by schema.go: our exchange tables (River's come from rivermigrate).

-- The ledger of the exchange side (Migrate runs it after LockExchangeSchema). River's river_job is the
-- queue only: what was sent, received and answered lives here, with the raw packet and receipt bytes
-- as evidence.
-- name: CreateExchangeTables
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

-- name: DropExchangeTables
DROP TABLE IF EXISTS exchange_status_event, exchange_status, exchange_inbound, exchange_failed, exchange_outbox, exchange_schema

-- name: LockExchangeSchema
SELECT pg_advisory_xact_lock(74062)

-- name: GetExchangeSchemaVersion
SELECT coalesce(max(version), 0) FROM exchange_schema
