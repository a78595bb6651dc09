-- Statements run by outgoing_flow.go (LockOutgoingDoc by recall.go too).

-- name: LockOutgoingDoc
SELECT d.id::text, o.code, o.name, d.state, d.document_type, d.type_abbr, d.unit_abbr, d.legal_normative,
	d.subject, d.urgency, d.secrecy, d.due_date, d.signer_name, d.signer_position, d.competence, d.places, d.copies,
	d.page_count, d.file_holder, d.notes, d.reason, d.drafted_by, d.signed_at, d.series, d.issue_year, d.code_number,
	d.code_notation, d.issued_at, d.dispatched_at, d.created_at, d.updated_at, d.org_id FROM outgoing_doc d JOIN org o ON o.id = d.org_id
	WHERE d.id = $1 FOR UPDATE OF d

-- name: SetOutgoingState
UPDATE outgoing_doc SET state = $2, updated_at = $3 WHERE id = $1

-- name: SendBackOutgoing
UPDATE outgoing_doc SET reason = $2, reviewed_by = $3 WHERE id = $1

-- name: ApproveOutgoing
UPDATE outgoing_doc SET reason = '', reviewed_by = $2 WHERE id = $1

-- name: SetOutgoingSigner
UPDATE outgoing_doc SET signed_by = $2, signed_at = $3 WHERE id = $1

-- name: GetOrgAbbr
SELECT abbr FROM org WHERE id = $1

-- name: SetOutgoingNumber
UPDATE outgoing_doc SET series = $2, issue_year = $3, code_number = $4, code_notation = $5,
	issued_at = $6, issued_by = $7, search_text = $8 WHERE id = $1

-- name: LatestSignedFile
SELECT sha256 FROM outgoing_file WHERE doc_id = $1 AND role = 'signed' ORDER BY seq DESC LIMIT 1

-- name: InsertOutgoingRecipient
INSERT INTO outgoing_recipient (doc_id, org_id, code, name, status, updated_at)
	VALUES ($1, $2, $3, $4, 'queued', $5) ON CONFLICT (doc_id, org_id) DO NOTHING

-- name: MarkOutgoingDispatched
UPDATE outgoing_doc SET dispatched_at = coalesce(dispatched_at, $2) WHERE id = $1

-- name: ListOrgsBelow
WITH RECURSIVE sub AS (
		SELECT id FROM org WHERE parent_id = $1
		UNION SELECT o.id FROM org o JOIN sub ON o.parent_id = sub.id)
	SELECT o.id, o.code, o.name, o.abbr, o.level, coalesce(p.code, ''), o.active, o.created_at FROM org o LEFT JOIN org p ON p.id = o.parent_id
	WHERE o.id IN (SELECT id FROM sub) AND ($2 = '' OR o.level = $2) ORDER BY o.code
