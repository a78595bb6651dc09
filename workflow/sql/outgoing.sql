-- Statements run by outgoing.go.

-- name: InsertOutgoingDraft
INSERT INTO outgoing_doc (id, org_id, state, document_type, type_abbr, unit_abbr,
		legal_normative, subject, urgency, secrecy, due_date, signer_name, signer_position, competence, places,
		copies, page_count, file_holder, notes, drafted_by, search_text, created_at, updated_at)
	VALUES ($1, $2, 'draft', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $21)

-- name: ListOutgoingFiles
SELECT encode(sha256, 'hex'), name, content_type, size, role FROM outgoing_file WHERE doc_id = $1 ORDER BY seq

-- name: ListOutgoingRecipients
SELECT org_id, code, name, status, status_detail, updated_at FROM outgoing_recipient WHERE doc_id = $1 ORDER BY code

-- name: GetOutgoingDoc
SELECT d.id::text, o.code, o.name, d.state, d.document_type, d.type_abbr, d.unit_abbr, d.legal_normative,
	d.subject, d.urgency, d.secrecy, d.due_date, d.signer_name, d.signer_position, d.competence, d.places, d.copies,
	d.page_count, d.file_holder, d.notes, d.reason, d.drafted_by, d.signed_at, d.series, d.issue_year, d.code_number,
	d.code_notation, d.issued_at, d.dispatched_at, d.created_at, d.updated_at, d.org_id FROM outgoing_doc d JOIN org o ON o.id = d.org_id WHERE d.id = $1

-- name: ListOutgoingDocs
SELECT d.id::text, o.code, o.name, d.state, d.document_type, d.type_abbr, d.unit_abbr, d.legal_normative,
	d.subject, d.urgency, d.secrecy, d.due_date, d.signer_name, d.signer_position, d.competence, d.places, d.copies,
	d.page_count, d.file_holder, d.notes, d.reason, d.drafted_by, d.signed_at, d.series, d.issue_year, d.code_number,
	d.code_notation, d.issued_at, d.dispatched_at, d.created_at, d.updated_at, d.org_id FROM outgoing_doc d JOIN org o ON o.id = d.org_id
	WHERE d.org_id = $1 AND ($2::uuid IS NULL OR d.id < $2) AND ($3 = '' OR d.state = $3)
	AND (NOT $4 OR d.drafted_by = $5) AND d.search_text LIKE ALL ($6::text[])
	ORDER BY d.id DESC LIMIT $7
