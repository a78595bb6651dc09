-- Statements run by audit.go.

-- Advances the chain tip and inserts the record in one statement. The UPDATE locks audit_head until
-- the caller's transaction ends, which orders records exactly as they commit.
-- name: AppendAuditRecord
WITH h AS (
    UPDATE audit_head SET prev = hash, seq = seq + 1, hash = sha256(hash || int8send(seq + 1) || $1::bytea)
    RETURNING seq, prev, hash)
INSERT INTO audit_log (seq, at, actor, action, org_id, doc_id, payload, prev_hash, hash)
SELECT h.seq, $2, $3, $4, $5, $6, $1, h.prev, h.hash FROM h

-- name: GetAuditHead
SELECT seq, hash, prev FROM audit_head

-- name: ListAuditChain
SELECT seq, at, actor, action, coalesce(org_id, 0), coalesce(doc_id::text, ''), payload, prev_hash, hash
	FROM audit_log ORDER BY seq

-- name: ListDocumentHistory
SELECT seq, at, actor, action, payload FROM audit_log
	WHERE doc_id = $1 AND org_id = $2 ORDER BY seq

-- name: AuditHasHash
SELECT EXISTS (SELECT 1 FROM audit_log WHERE hash = $1)
