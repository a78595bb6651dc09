-- Statements run by admin.go.

-- Whether organisation $2 is organisation $1 or one of its ancestors.
-- name: IsOrgInSubtreeOf
WITH RECURSIVE up AS (
		SELECT id, parent_id FROM org WHERE id = $1
		UNION SELECT o.id, o.parent_id FROM org o JOIN up ON o.id = up.parent_id)
	SELECT EXISTS (SELECT 1 FROM up WHERE id = $2)
