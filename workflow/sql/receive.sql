-- Statements run by receive.go.

-- name: FindIncomingBySender
SELECT id::text FROM incoming_doc WHERE org_id = $1 AND sender_code = $2 AND sender_document_id = $3

-- name: InsertReceivedIncoming
INSERT INTO incoming_doc (id, org_id, state, source, sender_code, sender_name, sender_document_id,
		code_number, code_notation, promulgation_date, document_type, subject, urgency, secrecy, due_date,
		received_at, packet_sha256, search_text, created_at, updated_at)
	VALUES ($1, $2, 'received', 'axis', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $14, $14)
	ON CONFLICT (org_id, sender_code, sender_document_id) WHERE sender_document_id IS NOT NULL DO NOTHING

-- name: SetRecipientStatus
UPDATE outgoing_recipient r SET status = $3, status_detail = $4, updated_at = $5
	WHERE r.doc_id = $1 AND r.code = $2

-- name: GetOutgoingOrg
SELECT org_id FROM outgoing_doc WHERE id = $1
