-- Statements run by incoming_flow.go (NextRegisterNumber by outgoing_flow.go too).

-- The next number of organisation $1's series $2 in year $3 (1 for the first); the counter row stays
-- locked until the transaction ends, so numbers have no gaps.
-- name: NextRegisterNumber
INSERT INTO register_counter AS c (org_id, series, year, last) VALUES ($1, $2, $3, 1)
	ON CONFLICT (org_id, series, year) DO UPDATE SET last = c.last + 1 RETURNING last

-- name: ActiveUserInOrg
SELECT EXISTS (SELECT 1 FROM app_user WHERE id = $1 AND org_id = $2 AND active)

-- name: LockIncomingDoc
SELECT d.id::text, d.state, d.source, d.sender_code, d.sender_name, coalesce(d.sender_document_id, ''),
	d.code_number, d.code_notation, d.promulgation_date, d.document_type, d.subject, d.urgency, d.secrecy, d.is_copy,
	d.page_count, d.due_date, d.notes, d.received_at, d.series, d.register_year, d.register_number, d.registered_at,
	d.lead_department_id, d.lead_user_id, d.coord_department_ids, d.deadline, d.instruction, d.assigned_at,
	d.completed_at, d.result, d.reason, d.updated_at, d.org_id FROM incoming_doc d WHERE d.id = $1 FOR UPDATE

-- name: MoveIncoming
UPDATE incoming_doc SET state = $2, updated_at = now() WHERE id = $1

-- name: MoveIncomingWithReason
UPDATE incoming_doc SET state = $2, updated_at = now(), reason = $3 WHERE id = $1

-- name: MoveIncomingCompleted
UPDATE incoming_doc SET state = $2, updated_at = now(), result = $3, completed_at = $4 WHERE id = $1

-- name: MoveIncomingFiled
UPDATE incoming_doc SET state = $2, updated_at = now(), filed_at = $3 WHERE id = $1

-- name: MoveIncomingRegistered
UPDATE incoming_doc SET state = $2, updated_at = now(), series = $3, register_year = $4, register_number = $5,
	registered_at = $6, registered_by = $7 WHERE id = $1

-- name: MoveIncomingAssigned
UPDATE incoming_doc SET state = $2, updated_at = now(), lead_department_id = $3, lead_user_id = $4,
	coord_department_ids = $5, deadline = $6, instruction = $7, assigned_at = $8 WHERE id = $1
