-- Statements run by ticket.go: the download/upload tickets for the government signing service.
-- A ticket is found by the hash of its download or of its upload token, and each of the two is
-- claimed once (downloaded_at, uploaded_at): one statement per token kind.

-- name: DeleteExpiredSignTickets
DELETE FROM sign_ticket WHERE expires_at < $1

-- name: InsertSignTicket
INSERT INTO sign_ticket (id, doc_id, user_id, doc_sha256, cert_sha256, download_sha256,
	upload_sha256, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)

-- name: GetSignTicketByDownloadToken
SELECT id::text, doc_id::text, user_id, doc_sha256, cert_sha256, expires_at, downloaded_at, uploaded_at
FROM sign_ticket WHERE download_sha256 = $1

-- name: GetSignTicketByUploadToken
SELECT id::text, doc_id::text, user_id, doc_sha256, cert_sha256, expires_at, downloaded_at, uploaded_at
FROM sign_ticket WHERE upload_sha256 = $1

-- name: ClaimSignTicketDownload
UPDATE sign_ticket SET downloaded_at = $2 WHERE id = $1 AND downloaded_at IS NULL AND expires_at > $2

-- name: ClaimSignTicketUpload
UPDATE sign_ticket SET uploaded_at = $2 WHERE id = $1 AND uploaded_at IS NULL AND expires_at > $2

-- name: GetTicketOwner
SELECT u.id, u.name, u.role, u.active, o.id, o.code, o.name FROM app_user u JOIN org o ON o.id = u.org_id
WHERE u.id = $1

-- name: ReleaseSignTicketUpload
UPDATE sign_ticket SET uploaded_at = NULL WHERE id = $1 AND result_sha256 IS NULL

-- name: SetSignTicketResult
UPDATE sign_ticket SET result_sha256 = $2 WHERE id = $1
