-- Statements run by recall.go.

-- name: LockIncomingBySender
SELECT id::text, state FROM incoming_doc WHERE org_id = $1 AND sender_code = $2 AND sender_document_id = $3
	FOR UPDATE

-- name: DeleteIncomingFiles
DELETE FROM incoming_file WHERE doc_id = $1

-- name: RecallIncomingDoc
UPDATE incoming_doc SET state = 'recalled', reason = $2, recalled_at = $3, updated_at = $3 WHERE id = $1

-- name: RecallOutgoingDoc
UPDATE outgoing_doc SET state = 'recalled', reason = $2, recalled_at = $3, updated_at = $3 WHERE id = $1
