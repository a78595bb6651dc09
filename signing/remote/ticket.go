package remote

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/signing/cms"
	"github.com/lienthong/lienthong/workflow"
)

var (
	sqlDeleteExpiredSignTickets     = queries.Must("DeleteExpiredSignTickets")
	sqlInsertSignTicket             = queries.Must("InsertSignTicket")
	sqlGetSignTicketByDownloadToken = queries.Must("GetSignTicketByDownloadToken")
	sqlGetSignTicketByUploadToken   = queries.Must("GetSignTicketByUploadToken")
	sqlClaimSignTicketDownload      = queries.Must("ClaimSignTicketDownload")
	sqlClaimSignTicketUpload        = queries.Must("ClaimSignTicketUpload")
	sqlGetTicketOwner               = queries.Must("GetTicketOwner")
	sqlReleaseSignTicketUpload      = queries.Must("ReleaseSignTicketUpload")
	sqlSetSignTicketResult          = queries.Must("SetSignTicketResult")
)

// TicketRequest asks for download/upload URLs for the government signing service.
type TicketRequest struct {
	// Certificate (DER), when given, is the only certificate the uploaded signature may be made with
	// (the page reads it from the service's GetCertInfo action).
	Certificate    []byte `json:"certificate,omitempty"`
	DocumentSHA256 string `json:"document_sha256,omitempty"`
}

// Ticket is a pair of single-use capabilities. The tokens are shown once; only their hashes are kept.
type Ticket struct {
	ID             string    `json:"id"`
	DownloadToken  string    `json:"-"`
	UploadToken    string    `json:"-"`
	ExpiresAt      time.Time `json:"expires_at"`
	DocumentSHA256 string    `json:"document_sha256"`
	FileName       string    `json:"file_name"`
	Number         string    `json:"number"`
	Subject        string    `json:"subject"`
}

// Ticket errors.
var (
	ErrTicketUnknown = apperr.New(apperr.NotFound, "sign_ticket_unknown",
		"Đường dẫn ký không hợp lệ / this signing link is not valid")
	ErrTicketUsed = apperr.New(apperr.Conflict, "sign_ticket_used",
		"Đường dẫn ký đã được dùng / this signing link was already used")
	ErrTicketExpired = apperr.New(apperr.Conflict, "sign_ticket_expired",
		"Đường dẫn ký đã hết hạn; hãy ký lại từ đầu / this signing link has expired; start again")
	ErrUploadSigner = apperr.New(apperr.Invalid, "sign_upload_signer",
		"Tệp được ký bằng chứng thư số khác chứng thư đã chọn / the file was signed with another certificate than the one chosen")
)

// CreateTicket issues download and upload tokens for the draft id's current version, for p.
func (s *Service) CreateTicket(ctx context.Context, p workflow.Principal, id string, req TicketRequest) (Ticket, error) {
	d, main, err := s.signable(ctx, p, id)
	if err != nil {
		return Ticket{}, err
	}
	if req.DocumentSHA256 != "" && !strings.EqualFold(req.DocumentSHA256, main.SHA256) {
		return Ticket{}, ErrVersionChanged
	}
	now := s.now()
	var certSum []byte
	if len(req.Certificate) > 0 {
		if _, err := s.checkCertificate(req.Certificate, nil, now); err != nil {
			return Ticket{}, err
		}
		sum := sha256.Sum256(req.Certificate)
		certSum = sum[:]
	}
	t := Ticket{ExpiresAt: now.Add(s.cfg.TTL), DocumentSHA256: main.SHA256, FileName: main.Name, Number: d.Number, Subject: d.Subject}
	if t.Number == "" {
		t.Number = NotNumbered
	}
	var down, up [32]byte
	if _, err := rand.Read(down[:]); err != nil {
		return Ticket{}, err
	}
	if _, err := rand.Read(up[:]); err != nil {
		return Ticket{}, err
	}
	t.DownloadToken = "dl_" + base64.RawURLEncoding.EncodeToString(down[:])
	t.UploadToken = "ul_" + base64.RawURLEncoding.EncodeToString(up[:])
	var tid [16]byte
	if _, err := rand.Read(tid[:]); err != nil {
		return Ticket{}, err
	}
	tid[6] = tid[6]&0x0f | 0x40
	tid[8] = tid[8]&0x3f | 0x80
	t.ID = uuidString(tid)
	docSum, _ := hex.DecodeString(main.SHA256)
	dh, uh := sha256.Sum256([]byte(t.DownloadToken)), sha256.Sum256([]byte(t.UploadToken))
	err = workflow.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlDeleteExpiredSignTickets, now.Add(-24*time.Hour)); err != nil {
			return dbError(err)
		}
		if _, err := tx.Exec(ctx, sqlInsertSignTicket,
			t.ID, d.ID, p.UserID, docSum, certSum, dh[:], uh[:], now, t.ExpiresAt); err != nil {
			return dbError(err)
		}
		return s.wf.AuditTx(ctx, tx, workflow.Event{Actor: p, Action: "outgoing.sign_ticket", OrgID: p.OrgID, DocID: d.ID,
			DocSHA256: docSum, Detail: map[string]any{"ticket": t.ID, "expires_at": t.ExpiresAt.Format(time.RFC3339)}})
	})
	if err != nil {
		return Ticket{}, err
	}
	return t, nil
}

func uuidString(b [16]byte) string {
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

type ticketRow struct {
	id, docID            string
	userID               int64
	docSum, certSum      []byte
	expiresAt            time.Time
	downloaded, uploaded *time.Time
}

// readTicket finds the ticket of a download or upload token with query (sqlGetSignTicketByDownloadToken
// or sqlGetSignTicketByUploadToken). No lock is taken: the single use is enforced by claim.
func (s *Service) readTicket(ctx context.Context, query, token string) (ticketRow, error) {
	var t ticketRow
	if len(token) < 10 || len(token) > 100 {
		return t, ErrTicketUnknown
	}
	sum := sha256.Sum256([]byte(token))
	err := s.pool.QueryRow(ctx, query, sum[:]).Scan(&t.id, &t.docID, &t.userID, &t.docSum, &t.certSum,
		&t.expiresAt, &t.downloaded, &t.uploaded)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, ErrTicketUnknown
	}
	if err != nil {
		return t, dbError(err)
	}
	if !s.now().Before(t.expiresAt) {
		return t, ErrTicketExpired
	}
	return t, nil
}

// claim marks one use of a ticket with query (sqlClaimSignTicketDownload or sqlClaimSignTicketUpload,
// which set downloaded_at or uploaded_at); false when it was already used or has expired meanwhile
// (another server process won).
func (s *Service) claim(ctx context.Context, id, query string) (bool, error) {
	now := s.now()
	tag, err := s.pool.Exec(ctx, query, id, now)
	if err != nil {
		return false, dbError(err)
	}
	return tag.RowsAffected() == 1, nil
}

// principal rebuilds the ticket owner's principal: the signing service calls the URLs without the
// user's API token, so the ticket stands for the user.
func (s *Service) principal(ctx context.Context, userID int64) (workflow.Principal, error) {
	var p workflow.Principal
	var role string
	var active bool
	err := s.pool.QueryRow(ctx, sqlGetTicketOwner, userID).Scan(&p.UserID, &p.Name, &role, &active, &p.OrgID, &p.OrgCode, &p.OrgName)
	if err != nil {
		return p, dbError(err)
	}
	if !active {
		return p, apperr.New(apperr.Forbidden, "user_disabled", "Tài khoản đã bị khoá / the account is disabled")
	}
	p.Role = workflow.Role(role)
	return p, nil
}

// ticketDoc checks the ticket's owner may still sign its draft and that the draft is still the version
// the ticket was issued for.
func (s *Service) ticketDoc(ctx context.Context, t ticketRow) (workflow.Principal, workflow.OutgoingDoc, workflow.File, error) {
	p, err := s.principal(ctx, t.userID)
	if err != nil {
		return p, workflow.OutgoingDoc{}, workflow.File{}, err
	}
	d, main, err := s.signable(ctx, p, t.docID)
	if err != nil {
		return p, d, main, err
	}
	if !strings.EqualFold(main.SHA256, hex.EncodeToString(t.docSum)) {
		return p, d, main, ErrVersionChanged
	}
	return p, d, main, nil
}

// Download serves the document version a download token is bound to, once.
func (s *Service) Download(ctx context.Context, token string) (name string, data []byte, err error) {
	t, err := s.readTicket(ctx, sqlGetSignTicketByDownloadToken, token)
	if err != nil {
		return "", nil, err
	}
	if t.downloaded != nil {
		return "", nil, ErrTicketUsed
	}
	p, _, main, err := s.ticketDoc(ctx, t)
	if err != nil {
		return "", nil, err
	}
	if _, data, err = s.wf.GetFile(ctx, p, main.SHA256); err != nil {
		return "", nil, err
	}
	ok, err := s.claim(ctx, t.id, sqlClaimSignTicketDownload)
	if err != nil {
		return "", nil, err
	}
	if !ok {
		return "", nil, ErrTicketUsed
	}
	_ = s.wf.Audit(context.WithoutCancel(ctx), workflow.Event{Actor: p, Action: "outgoing.sign_download", OrgID: p.OrgID, DocID: t.docID,
		DocSHA256: t.docSum, Detail: map[string]any{"ticket": t.id}})
	return main.Name, data, nil
}

// Upload accepts the file signed by the government signing service for an upload token, once: it must
// be the served version plus one new signature and nothing else, verify, and (when the ticket names a
// certificate) be signed with that certificate. It is then stored as the draft's signed version. A
// refused upload does not spend the ticket.
func (s *Service) Upload(ctx context.Context, token string, signed []byte) (Completed, error) {
	t, err := s.readTicket(ctx, sqlGetSignTicketByUploadToken, token)
	if err != nil {
		return Completed{}, err
	}
	if t.uploaded != nil {
		return Completed{}, ErrTicketUsed
	}
	p, d, main, err := s.ticketDoc(ctx, t)
	if err != nil {
		return Completed{}, err
	}
	refuse := func(e error, why string) (Completed, error) {
		_ = s.wf.Audit(context.WithoutCancel(ctx), workflow.Event{Actor: p, Action: "outgoing.sign_upload_refused", OrgID: p.OrgID,
			DocID: t.docID, Detail: map[string]any{"ticket": t.id, "reason": why, "detail": apperr.Detail(e)}})
		return Completed{}, e
	}
	_, orig, err := s.wf.GetFile(ctx, p, main.SHA256)
	if err != nil {
		return Completed{}, err
	}
	sig, err := onlySignatureAdded(orig, signed)
	if err != nil {
		return refuse(err, "changed")
	}
	signer, err := signerCertificate(sig.Contents)
	if err != nil {
		return refuse(err, "signer")
	}
	if t.certSum != nil {
		if sum := sha256.Sum256(signer.Raw); !bytes.Equal(sum[:], t.certSum) {
			return refuse(ErrUploadSigner, "other_certificate")
		}
	}
	// The same checks as a certificate sent to prepare: valid now, a signing key usage, trusted chain.
	if _, err := s.checkCertificate(signer.Raw, certsDER(sig.Contents), s.now()); err != nil {
		return refuse(err, "signer_certificate")
	}
	v, err := s.check(ctx, signed, sig.Field)
	if err != nil {
		return refuse(err, "verifier_refused")
	}
	ok, err := s.claim(ctx, t.id, sqlClaimSignTicketUpload)
	if err != nil {
		return Completed{}, err
	}
	if !ok {
		return Completed{}, ErrTicketUsed
	}
	doc, err := s.wf.SignOutgoing(ctx, p, d.ID, workflow.Signature{
		Signed:   workflow.FileIn{Name: signedName(main.Name), ContentType: "application/pdf", Data: signed},
		KeyLabel: keyName(signer),
	})
	if err != nil {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_, _ = s.pool.Exec(rctx, sqlReleaseSignTicketUpload, t.id)
		cancel()
		return Completed{}, err
	}
	sum := sha256.Sum256(signed)
	dctx := context.WithoutCancel(ctx)
	err = workflow.WithTx(dctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(dctx, sqlSetSignTicketResult, t.id, sum[:]); err != nil {
			return dbError(err)
		}
		return s.wf.AuditTx(dctx, tx, workflow.Event{Actor: p, Action: "outgoing.sign_upload", OrgID: p.OrgID, DocID: d.ID,
			DocSHA256: sum[:], Key: keyName(signer), Detail: map[string]any{"ticket": t.id, "field": sig.Field,
				"served_sha256": main.SHA256, "indication": string(v.Indication)}})
	})
	if err != nil {
		s.log.ErrorContext(ctx, "remote signing: recording the upload", slog.String("ticket", t.id), slog.Any("error", err))
	}
	return Completed{Document: doc, SignedSHA256: hex.EncodeToString(sum[:]), Verification: v}, nil
}

// signerCertificate finds the certificate of the one SignerInfo in a signature's CMS.
func signerCertificate(contents []byte) (*x509.Certificate, error) {
	bad := apperr.New(apperr.Invalid, "sign_upload_signer", "Không đọc được người ký trong chữ ký mới / the new signature's signer cannot be read")
	sd, err := cms.Parse(contents)
	if err != nil || len(sd.Signers) != 1 {
		return nil, bad
	}
	si := sd.Signers[0]
	for _, c := range sd.Certificates {
		if si.SerialNumber != nil && c.SerialNumber.Cmp(si.SerialNumber) == 0 && bytes.Equal(c.RawIssuer, si.IssuerRaw) {
			return c, nil
		}
		if len(si.SubjectKeyID) > 0 && bytes.Equal(c.SubjectKeyId, si.SubjectKeyID) {
			return c, nil
		}
	}
	return nil, bad
}

// certsDER returns the certificates a CMS carries (to help build the signer's chain).
func certsDER(contents []byte) [][]byte {
	sd, err := cms.Parse(contents)
	if err != nil {
		return nil
	}
	var out [][]byte
	for _, c := range sd.Certificates {
		if len(out) == 8 {
			break
		}
		out = append(out, c.Raw)
	}
	return out
}
