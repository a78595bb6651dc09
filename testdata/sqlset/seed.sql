-- Seed for FuzzParse: two statements, a kind, a header comment.

-- name: NextNumber :one
UPDATE register_counter SET last = last + 1
WHERE org_id = $1 RETURNING last;

-- name: Ping
SELECT 1;
