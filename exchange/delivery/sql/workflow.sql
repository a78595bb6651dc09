-- Statements run by workflow.go: the document office side of a Node.

-- name: GetSentEdocDocumentID
SELECT document_id FROM exchange_outbox WHERE doc_id = $1 AND recipient = $2 AND kind = 'edoc' LIMIT 1
