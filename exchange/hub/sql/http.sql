-- Statements run by http.go: the HTTP API's pushes, inbox listings, fetches, acknowledgements and receipts.

-- One statement stores the packet and its per-recipient inbox rows (atomic on its own, one round
-- trip); no row back means the (sender, message id) was there already.
-- name: InsertPacketWithDeliveries
WITH p AS (
	INSERT INTO hub_packet (sender, from_code, message_id, kind, sha256, size, body, body_ref, accepted_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (sender, message_id) DO NOTHING RETURNING id, accepted_at
), d AS (
	INSERT INTO hub_delivery (packet_id, recipient)
	SELECT p.id, u.r FROM p, unnest($10::text[]) WITH ORDINALITY AS u(r, n) ORDER BY u.n RETURNING id, recipient
)
SELECT p.id::text, p.accepted_at, x.r, x.i FROM p, (SELECT array_agg(recipient) AS r, array_agg(id::text) AS i FROM d) x

-- name: GetPacketByMessageID
SELECT id::text, accepted_at, sha256 FROM hub_packet WHERE sender = $1 AND message_id = $2

-- name: ListPendingInbox
SELECT d.id::text, p.from_code, d.recipient, p.kind, p.message_id, p.sha256, p.size, p.accepted_at,
	CASE WHEN p.size <= $4 THEN p.body END
FROM hub_delivery d JOIN hub_packet p ON p.id = d.packet_id
WHERE d.recipient = $1 AND d.state = 'pending' AND ($2 = '' OR p.kind = $2)
ORDER BY d.seq LIMIT $3

-- name: GetInboxPacket
SELECT p.body, p.body_ref, p.from_code, p.kind, p.sha256 FROM hub_delivery d JOIN hub_packet p ON p.id = d.packet_id
WHERE d.id = $1::uuid AND d.recipient = $2

-- name: AckDelivery
UPDATE hub_delivery SET state = $3, reason = $4, acked_at = coalesce(acked_at, $5)
WHERE id = $1::uuid AND recipient = $2

-- name: AckDeliveries
UPDATE hub_delivery d SET state = CASE WHEN u.ok THEN 'done' ELSE 'fail' END, reason = u.reason,
	acked_at = coalesce(d.acked_at, $2)
FROM (SELECT DISTINCT ON (id) id, ok, reason FROM unnest($3::uuid[], $4::bool[], $5::text[]) AS x(id, ok, reason)) u
WHERE d.id = u.id AND d.recipient = $1

-- name: ListSentDeliveries
SELECT p.id::text, d.recipient, d.state, d.reason, p.accepted_at, d.acked_at
FROM hub_packet p JOIN hub_delivery d ON d.packet_id = p.id WHERE p.id = $1::uuid AND p.sender = $2
