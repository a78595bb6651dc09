-- Statements run by service.go: sending a draft to a leader and the prepare/complete signing sessions.

-- name: GetSignLeader
SELECT role, org_id, active, name FROM app_user WHERE id = $1

-- name: UpsertSignRequest
INSERT INTO sign_request (doc_id, leader_id, requested_by, requested_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (doc_id) DO UPDATE SET leader_id = $2, requested_by = $3, requested_at = $4

-- name: GetSignRequestLeader
SELECT leader_id FROM sign_request WHERE doc_id = $1

-- name: DeleteExpiredSignSessions
DELETE FROM sign_session WHERE expires_at < $1

-- name: InsertSignSession
INSERT INTO sign_session (id, doc_id, user_id, doc_sha256, cert_sha256, chain, field, hash,
	signed_at, base_size, increment, contents_pos, contents_end, digest, signed_attrs, created_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)

-- name: GetSignSession
SELECT doc_id::text, field, hash, user_id, doc_sha256, cert_sha256, chain, signed_at, expires_at,
	used_at, base_size, contents_pos, contents_end, increment, digest, signed_attrs
FROM sign_session WHERE id = $1

-- name: ClaimSignSession
UPDATE sign_session SET used_at = $2 WHERE id = $1 AND user_id = $3 AND used_at IS NULL AND expires_at > $2

-- name: GetSignSessionUsedAt
SELECT used_at FROM sign_session WHERE id = $1

-- name: ReleaseSignSession
UPDATE sign_session SET used_at = NULL WHERE id = $1 AND result_sha256 IS NULL

-- name: SetSignSessionResult
UPDATE sign_session SET result_sha256 = $2 WHERE id = $1
