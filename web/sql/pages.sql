-- Statements run by pages.go.

-- The active users of an organisation, of one role or (with '') of every role, by name.
-- name: ListActiveOrgUsers
SELECT id, name, role FROM app_user WHERE org_id = $1 AND active
	AND ($2 = '' OR role = $2) ORDER BY name
