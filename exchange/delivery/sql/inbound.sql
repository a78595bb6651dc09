-- Statements run by inbound.go: received documents and the status state machine.

-- Creates a pair's status row if needed and locks it until the transaction ends, in one statement:
-- two statuses for a new pair arriving together serialise on the row instead of both starting from an
-- empty state.
-- name: LockStatusRow
INSERT INTO exchange_status (sender, document_id, recipient, updated_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (sender, document_id, recipient) DO UPDATE SET sender = EXCLUDED.sender RETURNING progress, recall

-- name: ListInboundFiledBefore
SELECT i.sender, i.document_id FROM exchange_inbound i
JOIN unnest($2::text[], $3::text[]) AS w(sender, document_id) USING (sender, document_id) WHERE i.recipient = $1

-- name: InsertInbound
INSERT INTO exchange_inbound (recipient, sender, document_id, code, promulgation, axis_id, sha256, packet,
	packet_ref, verdict, detail, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
ON CONFLICT (recipient, sender, document_id) DO NOTHING RETURNING id

-- name: SetInboundFiledDoc
UPDATE exchange_inbound SET filed_doc_id = $2 WHERE id = $1

-- name: GetInboundCodeAndDate
SELECT code, promulgation FROM exchange_inbound WHERE recipient = $1 AND sender = $2 AND document_id = $3

-- name: UpdateStatusState
UPDATE exchange_status SET progress = $4, recall = $5, updated_at = $6 WHERE sender = $1 AND document_id = $2 AND recipient = $3

-- name: InsertOutgoingStatusEvent
INSERT INTO exchange_status_event (direction, sender, document_id, recipient, code, description, applied, sha256, at)
VALUES ('out', $1, $2, $3, $4, $5, true, $6, $7) ON CONFLICT DO NOTHING

-- name: InsertIncomingStatusEvent
INSERT INTO exchange_status_event (direction, sender, document_id, recipient, code, description, applied, sha256, at)
VALUES ('in', $1, $2, $3, $4, $5, false, $6, $7) ON CONFLICT DO NOTHING RETURNING id

-- name: MarkStatusEventApplied
UPDATE exchange_status_event SET applied = true WHERE id = $1

-- name: GetSentEdocDocID
SELECT doc_id FROM exchange_outbox WHERE sender = $1 AND document_id = $2 AND recipient = $3 AND kind = 'edoc' LIMIT 1

-- name: GetStatusState
SELECT progress, recall FROM exchange_status WHERE sender = $1 AND document_id = $2 AND recipient = $3
