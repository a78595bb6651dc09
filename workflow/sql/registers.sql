-- Statements run by registers.go.

-- name: ListIncomingRegister
SELECT d.id::text, d.received_at, d.register_number, d.series, d.sender_name,
		d.code_number, d.code_notation, d.promulgation_date, d.document_type, d.subject,
		coalesce(u.name, dep.name, ''), d.assigned_at, d.notes, d.state, d.reason
	FROM incoming_doc d LEFT JOIN app_user u ON u.id = d.lead_user_id LEFT JOIN department dep ON dep.id = d.lead_department_id
	WHERE d.org_id = $1 AND d.register_number IS NOT NULL AND d.registered_at >= $2 AND d.registered_at < $3
	ORDER BY d.series, d.register_year, d.register_number

-- name: ListOutgoingRegister
SELECT d.id::text, d.code_number, d.code_notation, d.issued_at, d.series, d.document_type,
		d.subject, d.competence, d.signer_position, d.signer_name, d.places,
		coalesce((SELECT string_agg(r.name, '; ' ORDER BY r.code) FROM outgoing_recipient r WHERE r.doc_id = d.id), ''),
		d.file_holder, d.copies, d.dispatched_at, d.notes
	FROM outgoing_doc d
	WHERE d.org_id = $1 AND d.code_number IS NOT NULL AND d.issued_at >= $2 AND d.issued_at < $3
	ORDER BY d.series, d.issue_year, d.code_number

-- name: ListTrackingRegister
SELECT d.id::text, d.register_number, d.document_type, d.code_number, d.code_notation,
		d.promulgation_date, d.sender_name, coalesce(u.name, dep.name, ''), coalesce(d.deadline, d.due_date), d.state,
		d.result, d.notes, d.due_date, d.registered_at
	FROM incoming_doc d LEFT JOIN app_user u ON u.id = d.lead_user_id LEFT JOIN department dep ON dep.id = d.lead_department_id
	WHERE d.org_id = $1 AND d.register_number IS NOT NULL AND coalesce(d.deadline, d.due_date) IS NOT NULL
	AND d.registered_at >= $2 AND d.registered_at < $3
	ORDER BY d.series, d.register_year, d.register_number

-- name: SearchDocuments
(SELECT 'incoming', id::text, state, coalesce(register_number::text, ''),
		concat_ws('/', nullif(code_number, ''), nullif(code_notation, '')), subject, sender_name, received_at, coalesce(deadline, due_date)
	FROM incoming_doc WHERE org_id = $1 AND search_text LIKE ALL ($2::text[]) ORDER BY id DESC LIMIT $3)
	UNION ALL
	(SELECT 'outgoing', id::text, state, coalesce(lpad(code_number::text, 2, '0') || '/' || code_notation, ''), '', subject, '',
		created_at, NULL::date
	FROM outgoing_doc WHERE org_id = $1 AND search_text LIKE ALL ($2::text[]) ORDER BY id DESC LIMIT $3)
