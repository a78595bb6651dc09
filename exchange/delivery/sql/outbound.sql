-- Statements run by outbound.go: the outbox, its delivery jobs and the failed-deliveries list.

-- Records that the axis accepted a queued packet.
-- name: MarkOutboxSent
UPDATE exchange_outbox SET state = 'sent', attempts = attempts + 1, axis_id = $2, accepted_at = $3,
	receipt = $4, last_error = '', updated_at = $5 WHERE message_id = $1 AND state = 'queued'

-- name: InsertOutbox
INSERT INTO exchange_outbox (message_id, doc_id, sender, recipient, document_id, kind, status_code,
	packet, packet_ref, sha256, urgency, deadline, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13) ON CONFLICT (message_id) DO NOTHING

-- name: GetOutboxForDelivery
SELECT doc_id, sender, recipient, document_id, kind, status_code, state, packet, packet_ref, sha256, deadline, attempts
FROM exchange_outbox WHERE message_id = $1

-- name: RecordFailedAttempt
UPDATE exchange_outbox SET attempts = attempts + 1, last_error = $2, updated_at = $3 WHERE message_id = $1

-- name: SetOutboxState
UPDATE exchange_outbox SET state = $2, updated_at = $3 WHERE message_id = $1

-- name: UpsertFailedDelivery
INSERT INTO exchange_failed (message_id, reason, last_error, attempts, failed_at) VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (message_id) DO UPDATE SET reason = EXCLUDED.reason, last_error = EXCLUDED.last_error,
	attempts = EXCLUDED.attempts, failed_at = EXCLUDED.failed_at, resolved_at = NULL

-- name: ListFailedDeliveries
SELECT f.message_id, o.doc_id, o.recipient, o.document_id, o.kind, f.reason, f.last_error, f.attempts, f.failed_at
FROM exchange_failed f JOIN exchange_outbox o USING (message_id) WHERE f.resolved_at IS NULL ORDER BY f.failed_at LIMIT $1

-- name: RequeueFailedDelivery
UPDATE exchange_outbox o SET state = 'queued', redeliveries = redeliveries + 1, updated_at = $2
FROM exchange_failed f WHERE f.message_id = o.message_id AND o.message_id = $1 AND f.resolved_at IS NULL
RETURNING o.urgency, o.redeliveries

-- name: SetOutboxDeadline
UPDATE exchange_outbox SET deadline = $2 WHERE message_id = $1

-- name: ResolveFailedDelivery
UPDATE exchange_failed SET resolved_at = $2 WHERE message_id = $1

-- name: GetOutboxKind
SELECT kind FROM exchange_outbox WHERE message_id = $1

-- name: ListDocumentDeliveries
SELECT message_id, recipient, kind, state, coalesce(axis_id, ''), attempts FROM exchange_outbox
WHERE doc_id = $1 ORDER BY recipient, kind, status_code
