-- Statements run by incoming.go.

-- Number, document and audit record in one statement. The audit payload is built by the server from
-- the row being written, so it carries the number; the duplicate lookup runs on the snapshot before the
-- insert, so it never finds the document itself.
-- name: RegisterIncomingDoc
WITH n AS (
		INSERT INTO register_counter AS c (org_id, series, year, last) VALUES ($2, $3, $4, 1)
		ON CONFLICT (org_id, series, year) DO UPDATE SET last = c.last + 1 RETURNING last),
	ins AS (
		INSERT INTO incoming_doc (id, org_id, state, source, sender_code, sender_name, code_number, code_notation,
			promulgation_date, document_type, subject, urgency, secrecy, is_copy, page_count, due_date, notes,
			received_at, series, register_year, register_number, registered_at, registered_by, search_text,
			created_by, created_at, updated_at)
		SELECT $1, $2, 'registered', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
			$19, $3, $4, n.last, $19, $20, $21, $20, $19, $19 FROM n
		RETURNING register_number),
	dup AS (SELECT x.id::text AS id FROM incoming_doc x WHERE x.org_id = $2 AND x.sender_code = $6
		AND x.code_number = $8 AND x.code_notation = $9 AND x.promulgation_date IS NOT DISTINCT FROM $10
		AND ($8 <> '' OR $9 <> '') LIMIT 1),
	p AS (SELECT convert_to(json_strip_nulls(json_build_object('v', 1, 'at', $22::text, 'actor', $23::text,
		'actor_id', $20::bigint, 'action', 'incoming.register', 'org_id', $2::bigint, 'doc_id', $1::text,
		'doc_sha256', nullif($24::text, ''), 'detail', json_build_object('series', $3::text, 'year', $4::int,
		'number', ins.register_number, 'sender', $6::text, 'code', $25::text, 'duplicate_of', (SELECT id FROM dup))))::text,
		'UTF8') AS payload FROM ins),
	h AS (UPDATE audit_head SET prev = hash, seq = seq + 1, hash = sha256(hash || int8send(seq + 1) || (SELECT payload FROM p))
		RETURNING seq, prev, hash),
	a AS (INSERT INTO audit_log (seq, at, actor, action, org_id, doc_id, payload, prev_hash, hash)
		SELECT h.seq, $26, $23, 'incoming.register', $2, $1, (SELECT payload FROM p), h.prev, h.hash FROM h)
	SELECT ins.register_number, (SELECT id FROM dup) FROM ins

-- name: InsertIncomingFile
INSERT INTO incoming_file (doc_id, seq, sha256, name, content_type, size) VALUES ($1, $2, $3, $4, $5, $6)

-- name: MaxIncomingFileSeq
SELECT coalesce(max(seq), 0) FROM incoming_file WHERE doc_id = $1

-- name: MaxOutgoingFileSeq
SELECT coalesce(max(seq), 0) FROM outgoing_file WHERE doc_id = $1

-- name: InsertOutgoingFile
INSERT INTO outgoing_file (doc_id, seq, role, sha256, name, content_type, size)
	VALUES ($1, $2, $3, $4, $5, $6, $7)

-- name: GetIncomingDoc
SELECT d.id::text, d.state, d.source, d.sender_code, d.sender_name, coalesce(d.sender_document_id, ''),
	d.code_number, d.code_notation, d.promulgation_date, d.document_type, d.subject, d.urgency, d.secrecy, d.is_copy,
	d.page_count, d.due_date, d.notes, d.received_at, d.series, d.register_year, d.register_number, d.registered_at,
	d.lead_department_id, d.lead_user_id, d.coord_department_ids, d.deadline, d.instruction, d.assigned_at,
	d.completed_at, d.result, d.reason, d.updated_at, d.org_id FROM incoming_doc d WHERE d.id = $1

-- name: ListIncomingFiles
SELECT encode(sha256, 'hex'), name, content_type, size, '' FROM incoming_file WHERE doc_id = $1 ORDER BY seq

-- name: ListIncomingDocs
SELECT d.id::text, d.state, d.source, d.sender_code, d.sender_name, coalesce(d.sender_document_id, ''),
	d.code_number, d.code_notation, d.promulgation_date, d.document_type, d.subject, d.urgency, d.secrecy, d.is_copy,
	d.page_count, d.due_date, d.notes, d.received_at, d.series, d.register_year, d.register_number, d.registered_at,
	d.lead_department_id, d.lead_user_id, d.coord_department_ids, d.deadline, d.instruction, d.assigned_at,
	d.completed_at, d.result, d.reason, d.updated_at, d.org_id FROM incoming_doc d
	WHERE d.org_id = $1 AND ($2::uuid IS NULL OR d.id < $2)
	AND ($3 = '' OR d.state = $3)
	AND (NOT $4 OR (coalesce(d.deadline, d.due_date) < $5 AND d.state NOT IN ('done', 'filed', 'returned', 'recalled')))
	AND (NOT $6 OR d.lead_user_id = $7 OR (d.lead_user_id IS NULL AND d.lead_department_id = $8) OR $8 = ANY (d.coord_department_ids))
	AND d.search_text LIKE ALL ($9::text[])
	ORDER BY d.id DESC LIMIT $10
