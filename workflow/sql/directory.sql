-- Statements run by directory.go (FindDepartmentByCode by incoming_flow.go too).

-- name: OrgLevelIsActive
SELECT EXISTS (SELECT 1 FROM org_level WHERE name = $1 AND active)

-- name: OrgAliasExists
SELECT EXISTS (SELECT 1 FROM org_alias WHERE code = $1)

-- name: InsertOrg
INSERT INTO org (code, name, abbr, level, parent_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)
	ON CONFLICT (code) DO NOTHING RETURNING id, created_at

-- name: OrgCodeExists
SELECT EXISTS (SELECT 1 FROM org WHERE code = $1)

-- name: UpsertOrgAlias
INSERT INTO org_alias (code, org_id, valid_from, note) VALUES ($1, $2, $3, $4)
	ON CONFLICT (code) DO UPDATE SET org_id = EXCLUDED.org_id, valid_from = EXCLUDED.valid_from, note = EXCLUDED.note

-- name: LookupOrgByCodeOrAlias
SELECT o.id, o.code, o.name, o.abbr, o.level, coalesce(p.code, ''), o.active, o.created_at FROM org o LEFT JOIN org p ON p.id = o.parent_id
	WHERE o.id = coalesce((SELECT id FROM org WHERE code = $1), (SELECT org_id FROM org_alias WHERE code = $1))

-- name: ListOrgsInSubtree
WITH RECURSIVE sub AS (
		SELECT id FROM org WHERE $1::bigint IS NULL OR id = $1
		UNION SELECT o.id FROM org o JOIN sub ON o.parent_id = sub.id WHERE $1::bigint IS NOT NULL)
	SELECT o.id, o.code, o.name, o.abbr, o.level, coalesce(p.code, ''), o.active, o.created_at FROM org o LEFT JOIN org p ON p.id = o.parent_id
	WHERE o.id IN (SELECT id FROM sub) AND ($2 = '' OR o.level = $2) ORDER BY o.code

-- name: InsertDepartment
INSERT INTO department (org_id, code, name) VALUES ($1, $2, $3) RETURNING id

-- name: ListDepartments
SELECT id, code, name FROM department WHERE org_id = $1 ORDER BY code

-- name: FindDepartmentByCode
SELECT id FROM department WHERE org_id = $1 AND code = $2

-- name: InsertUser
INSERT INTO app_user (org_id, department_id, name, position, role, created_at)
	VALUES ($1, $2, $3, $4, $5, $6) RETURNING id

-- name: InsertAPIToken
INSERT INTO api_token (sha256, user_id, created_at) VALUES ($1, $2, $3)

-- name: FindPrincipalByToken
SELECT u.id, u.name, u.role, o.id, o.code, o.name, u.department_id
	FROM api_token t JOIN app_user u ON u.id = t.user_id JOIN org o ON o.id = u.org_id
	WHERE t.sha256 = $1 AND t.revoked_at IS NULL AND u.active

-- name: LockActiveUserOrg
SELECT org_id FROM app_user WHERE id = $1 AND active FOR UPDATE

-- name: RevokeUserTokens
UPDATE api_token SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL
