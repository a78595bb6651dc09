-- Statements run by files.go (InsertFileBlob by incoming.go too).

-- name: InsertFileBlob
INSERT INTO file_blob (sha256, size, data) VALUES ($1, $2, $3) ON CONFLICT (sha256) DO NOTHING

-- name: GetFileBlob
SELECT data FROM file_blob WHERE sha256 = $1

-- name: FindOrgFile
SELECT name, content_type, size FROM (
	SELECT f.name, f.content_type, f.size FROM incoming_file f JOIN incoming_doc d ON d.id = f.doc_id
	WHERE f.sha256 = $1 AND d.org_id = $2
	UNION ALL
	SELECT f.name, f.content_type, f.size FROM outgoing_file f JOIN outgoing_doc d ON d.id = f.doc_id
	WHERE f.sha256 = $1 AND d.org_id = $2) x LIMIT 1
