-- Statements run by hub.go: the hub's tables, retention, nodes and aliases, and the counters.

-- The hub's tables, created at start. The advisory lock serialises hubs starting together on one
-- database. The text runs as one simple query, which PostgreSQL makes one implicit transaction, so
-- the transaction-level lock is released when it ends, however it ends.
-- name: CreateHubTables
SELECT pg_advisory_xact_lock(74061);
CREATE TABLE IF NOT EXISTS hub_node (
	code         text PRIMARY KEY,
	name         text NOT NULL DEFAULT '',
	token_sha256 bytea NOT NULL UNIQUE,
	push_url     text NOT NULL DEFAULT '',
	created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS hub_alias (
	old   text PRIMARY KEY,
	new   text NOT NULL,
	since timestamptz NOT NULL
);
CREATE TABLE IF NOT EXISTS hub_packet (
	id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	sender      text NOT NULL,
	from_code   text NOT NULL,
	message_id  text NOT NULL,
	kind        text NOT NULL,
	sha256      bytea NOT NULL,
	size        integer NOT NULL,
	body        bytea NOT NULL,
	accepted_at timestamptz NOT NULL,
	UNIQUE (sender, message_id)
);
ALTER TABLE hub_packet ALTER COLUMN body SET STORAGE EXTERNAL;
ALTER TABLE hub_packet ALTER COLUMN body DROP NOT NULL; -- NULL: the body is in Config.Packets at body_ref
ALTER TABLE hub_packet ADD COLUMN IF NOT EXISTS body_ref text;
CREATE TABLE IF NOT EXISTS hub_delivery (
	id        uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	seq       bigserial NOT NULL,
	packet_id uuid NOT NULL REFERENCES hub_packet (id),
	recipient text NOT NULL,
	state     text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'fail')),
	reason    text NOT NULL DEFAULT '',
	acked_at  timestamptz,
	UNIQUE (packet_id, recipient)
);
CREATE INDEX IF NOT EXISTS hub_delivery_inbox ON hub_delivery (recipient, seq) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS hub_packet_accepted ON hub_packet (accepted_at); -- retention (Purge)

-- name: PurgeAcknowledgedPackets
WITH old AS (
	SELECT p.id FROM hub_packet p
	WHERE p.accepted_at < $1
	  AND NOT EXISTS (SELECT 1 FROM hub_delivery d WHERE d.packet_id = p.id AND d.state = 'pending')
	LIMIT 5000),
gone AS (DELETE FROM hub_delivery d USING old WHERE d.packet_id = old.id)
DELETE FROM hub_packet p USING old WHERE p.id = old.id

-- name: ListReferencedSegments
SELECT DISTINCT split_part(body_ref, ':', 1) FROM hub_packet WHERE body_ref IS NOT NULL

-- name: ListNodes
SELECT code, token_sha256, push_url FROM hub_node

-- name: ListAliases
SELECT old, new, since FROM hub_alias

-- name: UpsertNode
INSERT INTO hub_node (code, name, token_sha256, push_url) VALUES ($1, $2, $3, $4)
ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, token_sha256 = EXCLUDED.token_sha256, push_url = EXCLUDED.push_url

-- name: UpsertAlias
INSERT INTO hub_alias (old, new, since) VALUES ($1, $2, $3)
ON CONFLICT (old) DO UPDATE SET new = EXCLUDED.new, since = EXCLUDED.since

-- name: CountHubStats
SELECT (SELECT count(*) FROM hub_packet), (SELECT count(*) FROM hub_delivery),
	(SELECT count(*) FROM hub_delivery WHERE state = 'pending'),
	(SELECT count(*) FROM (SELECT 1 FROM hub_delivery d JOIN hub_packet p ON p.id = d.packet_id
		GROUP BY p.sender, p.message_id, d.recipient HAVING count(*) > 1) x),
	(SELECT count(*) FROM hub_delivery d JOIN hub_packet p ON p.id = d.packet_id WHERE p.kind = 'edoc')
