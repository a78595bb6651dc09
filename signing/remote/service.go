package remote

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/signing/appearance"
	"github.com/lienthong/lienthong/signing/cms"
	"github.com/lienthong/lienthong/signing/pades"
	"github.com/lienthong/lienthong/signing/verify"
	"github.com/lienthong/lienthong/workflow"
)

var (
	sqlGetSignLeader             = queries.Must("GetSignLeader")
	sqlUpsertSignRequest         = queries.Must("UpsertSignRequest")
	sqlGetSignRequestLeader      = queries.Must("GetSignRequestLeader")
	sqlDeleteExpiredSignSessions = queries.Must("DeleteExpiredSignSessions")
	sqlInsertSignSession         = queries.Must("InsertSignSession")
	sqlGetSignSession            = queries.Must("GetSignSession")
	sqlClaimSignSession          = queries.Must("ClaimSignSession")
	sqlGetSignSessionUsedAt      = queries.Must("GetSignSessionUsedAt")
	sqlReleaseSignSession        = queries.Must("ReleaseSignSession")
	sqlSetSignSessionResult      = queries.Must("SetSignSessionResult")
)

// Config holds what a Service needs besides the document office.
type Config struct {
	// TTL is how long a prepared signature or a file ticket stays usable; 5 minutes when zero.
	TTL time.Duration
	// Roots are the trust anchors certificates must chain to (the government CA roots). With nil, any
	// chain is accepted at prepare and a result whose only finding is "no trusted chain" is accepted
	// at complete; configure roots in production.
	Roots *x509.CertPool
	// Intermediates help build chains for certificates sent without their issuers.
	Intermediates []*x509.Certificate
	Now           func() time.Time // injectable clock; time.Now when nil
	Logger        *slog.Logger
	// Reason and Location go into the signature dictionary when a request gives none.
	Reason, Location string
	// TSA, when set, makes signatures PAdES B-T: complete timestamps the signature value at once
	// (tsp.Client.Timestamp), so the signing time does not rest on the server's claim alone.
	TSA cms.TimestampFunc
}

// Service runs remote signing on the document office's database.
type Service struct {
	wf   *workflow.Service
	pool *pgxpool.Pool
	cfg  Config
	now  func() time.Time
	log  *slog.Logger
}

// New returns a Service. Run the migrations (003_remote_signing) first.
func New(wf *workflow.Service, cfg Config) *Service {
	s := &Service{wf: wf, pool: wf.Pool(), cfg: cfg, now: cfg.Now, log: cfg.Logger}
	if s.cfg.TTL <= 0 {
		s.cfg.TTL = 5 * time.Minute
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// TTL is how long prepared signatures and tickets live.
func (s *Service) TTL() time.Duration { return s.cfg.TTL }

// Errors a client can act on. Each is an *apperr.Error, so the API answers with a 4xx problem.
var (
	ErrNotSentToYou = apperr.New(apperr.Forbidden, "sign_not_sent_to_you",
		"Dự thảo này không được trình cho đồng chí ký / this draft was not sent to you for signature")
	ErrNotSent = apperr.New(apperr.Forbidden, "sign_not_sent",
		"Dự thảo chưa được trình lãnh đạo nào ký (POST .../signer) / this draft has not been sent to a leader for signature")
	ErrSessionUnknown = apperr.New(apperr.NotFound, "sign_session_unknown",
		"Không có phiên ký này / no such signing session")
	ErrSessionUsed = apperr.New(apperr.Conflict, "sign_session_used",
		"Phiên ký đã được dùng; hãy chuẩn bị ký lại / this signing session was already used; prepare a new one")
	ErrSessionExpired = apperr.New(apperr.Conflict, "sign_session_expired",
		"Phiên ký đã hết hạn; hãy chuẩn bị ký lại / this signing session has expired; prepare a new one")
	ErrSessionOtherUser = apperr.New(apperr.Forbidden, "sign_session_other_user",
		"Phiên ký thuộc người dùng khác / this signing session belongs to another user")
	ErrCertificateMismatch = apperr.New(apperr.Invalid, "sign_certificate_mismatch",
		"Chứng thư số khác với chứng thư đã dùng khi chuẩn bị ký / the certificate is not the one the signature was prepared for")
	ErrSignatureInvalid = apperr.New(apperr.Invalid, "sign_signature_invalid",
		"Chữ ký không hợp lệ với chứng thư số và dữ liệu đã chuẩn bị / the signature does not verify with the prepared certificate and data")
	ErrVersionChanged = apperr.New(apperr.Conflict, "sign_version_changed",
		"Văn bản đã thay đổi so với bản đồng chí đã xem / the document changed since the version you looked at")
)

// SendToLeader records that the draft id goes to leader leaderID for signature (replacing an earlier
// choice). Clerks and leaders of the draft's organisation may do it while the draft is in review or
// approved.
func (s *Service) SendToLeader(ctx context.Context, p workflow.Principal, id string, leaderID int64) (SignRequest, error) {
	if p.Role != workflow.RoleClerk && p.Role != workflow.RoleLeader {
		return SignRequest{}, apperr.New(apperr.Forbidden, "role", "Chỉ văn thư hoặc lãnh đạo trình ký / only a clerk or a leader sends a draft for signature")
	}
	d, err := s.wf.GetOutgoing(ctx, p, id)
	if err != nil {
		return SignRequest{}, err
	}
	if d.State != workflow.StInReview && d.State != workflow.StApproved {
		return SignRequest{}, apperr.New(apperr.Conflict, "wrong_state",
			"Chỉ trình ký dự thảo đang xem xét hoặc đã duyệt (trạng thái hiện tại: "+d.State+") / only drafts in review or approved can be sent for signature")
	}
	r := SignRequest{DocID: d.ID, LeaderID: leaderID, RequestedBy: p.UserID, RequestedAt: s.now()}
	err = workflow.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		var role string
		var org int64
		var active bool
		err := tx.QueryRow(ctx, sqlGetSignLeader, leaderID).Scan(&role, &org, &active, &r.LeaderName)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && (org != p.OrgID || !active)) {
			return apperr.New(apperr.Invalid, "sign_leader_unknown", "Không có lãnh đạo này trong cơ quan / no such leader in your organisation")
		}
		if err != nil {
			return dbError(err)
		}
		if role != string(workflow.RoleLeader) {
			return apperr.New(apperr.Invalid, "sign_not_leader", "Người nhận trình ký phải là lãnh đạo / the person must be a leader")
		}
		if _, err := tx.Exec(ctx, sqlUpsertSignRequest, d.ID, leaderID, p.UserID, r.RequestedAt); err != nil {
			return dbError(err)
		}
		return s.wf.AuditTx(ctx, tx, workflow.Event{Actor: p, Action: "outgoing.send_to_leader", OrgID: p.OrgID, DocID: d.ID,
			Detail: map[string]any{"leader_id": leaderID, "leader": r.LeaderName}})
	})
	return r, err
}

// SignRequest is who a draft is sent to for signature.
type SignRequest struct {
	DocID       string    `json:"doc_id"`
	LeaderID    int64     `json:"leader_id"`
	LeaderName  string    `json:"leader_name"`
	RequestedBy int64     `json:"requested_by"`
	RequestedAt time.Time `json:"requested_at"`
}

// signable loads the draft for p and checks that p may sign it now: a leader of its organisation, the
// one it was sent to, the draft approved. It returns the draft and its main file.
func (s *Service) signable(ctx context.Context, p workflow.Principal, id string) (workflow.OutgoingDoc, workflow.File, error) {
	if p.Role != workflow.RoleLeader {
		return workflow.OutgoingDoc{}, workflow.File{}, apperr.New(apperr.Forbidden, "role",
			"Chỉ lãnh đạo được ký văn bản / only leaders sign documents")
	}
	d, err := s.wf.GetOutgoing(ctx, p, id)
	if err != nil {
		return d, workflow.File{}, err
	}
	var leader int64
	err = s.pool.QueryRow(ctx, sqlGetSignRequestLeader, d.ID).Scan(&leader)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, workflow.File{}, ErrNotSent
	}
	if err != nil {
		return d, workflow.File{}, dbError(err)
	}
	if leader != p.UserID {
		return d, workflow.File{}, ErrNotSentToYou
	}
	if d.State != workflow.StApproved {
		return d, workflow.File{}, apperr.New(apperr.Conflict, "wrong_state",
			"Chỉ ký dự thảo đã được duyệt (trạng thái hiện tại: "+d.State+") / only approved drafts can be signed (state: "+d.State+")")
	}
	for _, f := range d.Files {
		if f.Role == "main" {
			return d, f, nil
		}
	}
	return d, workflow.File{}, apperr.New(apperr.Conflict, "sign_no_main_file", "Dự thảo không có tệp PDF chính / the draft has no main PDF")
}

// AppearanceIn places a visible signature: the leader's signature image (PNG) in Rect on Page.
type AppearanceIn struct {
	ImagePNG []byte     `json:"image_png,omitempty"` // base64 in JSON
	Page     int        `json:"page,omitempty"`      // 1-based; default 1
	Rect     [4]float64 `json:"rect"`                // x1,y1,x2,y2 in points
}

// PrepareRequest is what the page sends (the certificate comes from the agent).
type PrepareRequest struct {
	Certificate []byte   `json:"certificate"`     // DER, base64 in JSON
	Chain       [][]byte `json:"chain,omitempty"` // issuers (DER), optional
	// DocumentSHA256 is the version the leader looked at; when given, a draft that changed since is refused.
	DocumentSHA256 string        `json:"document_sha256,omitempty"`
	Appearance     *AppearanceIn `json:"appearance,omitempty"`
	Reason         string        `json:"reason,omitempty"`
	Location       string        `json:"location,omitempty"`
}

// Summary is what the leader is shown before signing.
type Summary struct {
	DocumentID     string    `json:"document_id"`
	Number         string    `json:"number"` // "05/QĐ-UBND", or "(chưa cấp số)" for a draft not yet issued
	DocumentType   string    `json:"document_type"`
	Subject        string    `json:"subject"`
	Organisation   string    `json:"organisation"`
	FileName       string    `json:"file_name"`
	DocumentSHA256 string    `json:"document_sha256"`
	Signer         string    `json:"signer"`             // certificate subject
	CertSerial     string    `json:"certificate_serial"` // hex
	SignedAt       time.Time `json:"signed_at"`
	Field          string    `json:"field"`
}

// Prepared is the answer of Prepare.
type Prepared struct {
	ID        string    `json:"id"`
	ExpiresAt time.Time `json:"expires_at"`
	// SignedAttributes is the DER SET OF signed attributes; Digest is its hash with DigestAlgorithm:
	// the token signs Digest (RSA PKCS#1 v1.5 with DigestInfo, or ECDSA).
	SignedAttributes []byte  `json:"signed_attributes"`
	Digest           []byte  `json:"digest"`
	DigestAlgorithm  string  `json:"digest_algorithm"`
	KeyAlgorithm     string  `json:"key_algorithm"` // RSA or ECDSA
	Summary          Summary `json:"summary"`
}

// NotNumbered is the number shown for a draft that has no number yet (it gets one when issued).
const NotNumbered = "(chưa cấp số / not yet numbered)"

// Prepare builds and stores the signature revision for the draft id and p's certificate.
func (s *Service) Prepare(ctx context.Context, p workflow.Principal, id string, req PrepareRequest) (Prepared, error) {
	d, main, err := s.signable(ctx, p, id)
	if err != nil {
		return Prepared{}, err
	}
	if req.DocumentSHA256 != "" && !strings.EqualFold(req.DocumentSHA256, main.SHA256) {
		return Prepared{}, ErrVersionChanged
	}
	now := s.now()
	chain, err := s.checkCertificate(req.Certificate, req.Chain, now)
	if err != nil {
		return Prepared{}, err
	}
	_, data, err := s.wf.GetFile(ctx, p, main.SHA256)
	if err != nil {
		return Prepared{}, err
	}
	o := pades.Options{Chain: chain, Now: func() time.Time { return now }, Reason: req.Reason, Location: req.Location}
	if s.cfg.TSA != nil {
		o.Level, o.TSA = pades.LevelBT, s.cfg.TSA
	}
	if o.Reason == "" {
		o.Reason = s.cfg.Reason
	}
	if o.Location == "" {
		o.Location = s.cfg.Location
	}
	if len(o.Reason) > 200 || len(o.Location) > 200 {
		return Prepared{}, apperr.New(apperr.Invalid, "sign_text_too_long", "Lý do/địa điểm tối đa 200 ký tự / reason and location: at most 200 characters")
	}
	if a := req.Appearance; a != nil {
		o.Page, o.Rect = a.Page, a.Rect
		if len(a.ImagePNG) > 0 {
			img, err := appearance.DecodePNG(a.ImagePNG)
			if err != nil {
				return Prepared{}, err
			}
			o.Appearance = &appearance.Image{Img: img}
		}
		if o.Appearance != nil && o.Rect == [4]float64{} {
			return Prepared{}, apperr.New(apperr.Invalid, "sign_rect_required", "Chữ ký hiển thị cần vị trí (rect) / a visible signature needs a rect")
		}
	}
	prep, err := pades.Prepare(ctx, bytes.NewReader(data), int64(len(data)), o)
	if err != nil {
		return Prepared{}, err
	}
	sid, err := randomID()
	if err != nil {
		return Prepared{}, err
	}
	docSum, _ := hex.DecodeString(main.SHA256)
	certSum := sha256.Sum256(chain[0].Raw)
	ders := make([][]byte, len(chain))
	for i, c := range chain {
		ders[i] = c.Raw
	}
	exp := now.Add(s.cfg.TTL)
	err = workflow.WithTx(ctx, s.pool, func(tx pgx.Tx) error {
		// Spent and long-expired sessions are kept a day for diagnosis, then dropped.
		if _, err := tx.Exec(ctx, sqlDeleteExpiredSignSessions, now.Add(-24*time.Hour)); err != nil {
			return dbError(err)
		}
		if _, err := tx.Exec(ctx, sqlInsertSignSession,
			sid, d.ID, p.UserID, docSum, certSum[:], ders, prep.Field, prep.Hash.String(), prep.SignedAt, prep.BaseSize,
			prep.Increment, prep.ContentsPos, prep.ContentsEnd, prep.Digest, prep.SignedAttrs, now, exp); err != nil {
			return dbError(err)
		}
		return s.wf.AuditTx(ctx, tx, workflow.Event{Actor: p, Action: "outgoing.sign_prepare", OrgID: p.OrgID, DocID: d.ID,
			DocSHA256: docSum, Key: keyName(chain[0]), Detail: map[string]any{"session": sid, "field": prep.Field,
				"signed_at": prep.SignedAt.Format(time.RFC3339), "expires_at": exp.Format(time.RFC3339)}})
	})
	if err != nil {
		return Prepared{}, err
	}
	number := d.Number
	if number == "" {
		number = NotNumbered
	}
	return Prepared{
		ID: sid, ExpiresAt: exp, SignedAttributes: prep.SignedAttrs, Digest: prep.ToBeSigned(), DigestAlgorithm: "SHA-256",
		KeyAlgorithm: keyAlgorithm(chain[0].PublicKey),
		Summary: Summary{DocumentID: d.ID, Number: number, DocumentType: d.DocumentType, Subject: d.Subject,
			Organisation: d.OrgName, FileName: main.Name, DocumentSHA256: main.SHA256, Signer: chain[0].Subject.String(),
			CertSerial: hex.EncodeToString(chain[0].SerialNumber.Bytes()), SignedAt: prep.SignedAt, Field: prep.Field},
	}, nil
}

// CompleteRequest carries the token's signature over Prepared.Digest.
type CompleteRequest struct {
	Certificate []byte `json:"certificate"` // DER: must be the prepared one
	Signature   []byte `json:"signature"`   // RSA PKCS#1 v1.5 / PSS, or ECDSA (DER or raw r‖s)
}

// Completed is the answer of Complete.
type Completed struct {
	Document     workflow.OutgoingDoc `json:"document"`
	SignedSHA256 string               `json:"signed_sha256"`
	Verification *Verification        `json:"verification"`
}

// Verification is the verifier's finding on the new signature.
type Verification struct {
	Indication    verify.Indication    `json:"indication"`
	SubIndication verify.SubIndication `json:"sub_indication,omitempty"`
	Level         string               `json:"level,omitempty"`
	Signer        string               `json:"signer,omitempty"`
	WholeDocument bool                 `json:"whole_document"`
}

type session struct {
	docID, field, hash                 string
	userID                             int64
	docSum, certSum                    []byte
	chain                              [][]byte
	signedAt, expiresAt                time.Time
	usedAt                             *time.Time
	baseSize, contentsPos, contentsEnd int64
	increment, digest, signedAttrs     []byte
}

// Complete embeds the signature prepared under sessionID, verifies the result and stores it as the
// draft's signed version. The session is spent only by a completion that stores a signed version.
//
// No database lock is held while the signature is checked: the session is read, everything is
// verified, then one UPDATE claims the session (single use across every server process); when storing
// the signed version then fails, the claim is released so the leader can try again.
func (s *Service) Complete(ctx context.Context, p workflow.Principal, sessionID string, req CompleteRequest) (Completed, error) {
	if len(sessionID) < 16 || len(sessionID) > 64 {
		return Completed{}, ErrSessionUnknown
	}
	if len(req.Signature) == 0 || len(req.Signature) > 4096 {
		return Completed{}, apperr.New(apperr.Invalid, "sign_signature_missing", "Thiếu chữ ký (signature) / the signature is missing or malformed")
	}
	var ss session
	err := s.pool.QueryRow(ctx, sqlGetSignSession, sessionID).Scan(&ss.docID, &ss.field, &ss.hash, &ss.userID, &ss.docSum,
		&ss.certSum, &ss.chain, &ss.signedAt, &ss.expiresAt, &ss.usedAt, &ss.baseSize, &ss.contentsPos, &ss.contentsEnd,
		&ss.increment, &ss.digest, &ss.signedAttrs)
	if errors.Is(err, pgx.ErrNoRows) {
		return Completed{}, ErrSessionUnknown
	}
	if err != nil {
		return Completed{}, dbError(err)
	}
	refuse := func(e error, why string) (Completed, error) {
		_ = s.wf.Audit(context.WithoutCancel(ctx), workflow.Event{Actor: p, Action: "outgoing.sign_refused", OrgID: p.OrgID,
			DocID: ss.docID, Detail: map[string]any{"session": sessionID, "reason": why}})
		return Completed{}, e
	}
	switch {
	case ss.userID != p.UserID:
		return refuse(ErrSessionOtherUser, "other_user")
	case ss.usedAt != nil:
		return refuse(ErrSessionUsed, "replay")
	case !s.now().Before(ss.expiresAt):
		return refuse(ErrSessionExpired, "expired")
	}
	if sum := sha256.Sum256(req.Certificate); !bytes.Equal(sum[:], ss.certSum) {
		return refuse(ErrCertificateMismatch, "other_certificate")
	}
	d, main, err := s.signable(ctx, p, ss.docID)
	if err != nil {
		return Completed{}, err
	}
	if !strings.EqualFold(main.SHA256, hex.EncodeToString(ss.docSum)) {
		return refuse(ErrVersionChanged, "version_changed")
	}
	_, data, err := s.wf.GetFile(ctx, p, main.SHA256)
	if err != nil {
		return Completed{}, err
	}
	prep, err := ss.prepared()
	if err != nil {
		return Completed{}, err
	}
	// B-T when a TSA is configured and the session reserved room for its token (it was prepared
	// with one); otherwise B-B.
	var tsa cms.TimestampFunc
	if s.cfg.TSA != nil && int(prep.ContentsEnd-prep.ContentsPos-2)/2 >= cms.MaxSize(prep.Chain, prep.Chain[0].PublicKey, true) {
		prep.Level, tsa = pades.LevelBT, s.cfg.TSA
	}
	var signed bytes.Buffer
	if _, err := pades.CompleteTimestamped(ctx, prep, bytes.NewReader(data), req.Signature, tsa, &signed); err != nil {
		if errors.Is(err, pades.ErrSignatureMismatch) {
			return refuse(ErrSignatureInvalid, "signature_does_not_verify")
		}
		return Completed{}, err
	}
	v, err := s.check(ctx, signed.Bytes(), ss.field)
	if err != nil {
		return refuse(err, "verifier_refused")
	}
	// Claim the session: of concurrent completes (on any server process) exactly one gets the row.
	now := s.now()
	tag, err := s.pool.Exec(ctx, sqlClaimSignSession, sessionID, now, p.UserID)
	if err != nil {
		return Completed{}, dbError(err)
	}
	if tag.RowsAffected() != 1 {
		var used *time.Time
		_ = s.pool.QueryRow(ctx, sqlGetSignSessionUsedAt, sessionID).Scan(&used)
		if used != nil {
			return refuse(ErrSessionUsed, "replay")
		}
		return refuse(ErrSessionExpired, "expired")
	}
	doc, err := s.wf.SignOutgoing(ctx, p, d.ID, workflow.Signature{
		Signed:   workflow.FileIn{Name: signedName(main.Name), ContentType: "application/pdf", Data: signed.Bytes()},
		KeyLabel: keyName(prep.Chain[0]),
	})
	if err != nil {
		// Nothing was stored: give the session back (unless the draft moved on, which the next try reports).
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		_, _ = s.pool.Exec(rctx, sqlReleaseSignSession, sessionID)
		cancel()
		return Completed{}, err
	}
	sum := sha256.Sum256(signed.Bytes())
	dctx := context.WithoutCancel(ctx)
	err = workflow.WithTx(dctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(dctx, sqlSetSignSessionResult, sessionID, sum[:]); err != nil {
			return dbError(err)
		}
		return s.wf.AuditTx(dctx, tx, workflow.Event{Actor: p, Action: "outgoing.sign_complete", OrgID: p.OrgID, DocID: d.ID,
			DocSHA256: sum[:], Key: keyName(prep.Chain[0]), Detail: map[string]any{"session": sessionID, "field": ss.field,
				"prepared_sha256": main.SHA256, "indication": string(v.Indication), "signed_at": ss.signedAt.Format(time.RFC3339),
				"certificate_serial": hex.EncodeToString(prep.Chain[0].SerialNumber.Bytes())}})
	})
	if err != nil {
		// The signed version is stored (and audited by SignOutgoing); only the session's note failed.
		s.log.ErrorContext(ctx, "remote signing: recording the completion", slog.String("session", sessionID), slog.Any("error", err))
	}
	return Completed{Document: doc, SignedSHA256: hex.EncodeToString(sum[:]), Verification: v}, nil
}

func (ss *session) prepared() (*pades.Prepared, error) {
	chain := make([]*x509.Certificate, len(ss.chain))
	for i, der := range ss.chain {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("remote: stored certificate: %w", err)
		}
		chain[i] = c
	}
	h := crypto.SHA256
	switch ss.hash {
	case crypto.SHA256.String():
	case crypto.SHA384.String():
		h = crypto.SHA384
	case crypto.SHA512.String():
		h = crypto.SHA512
	default:
		return nil, fmt.Errorf("remote: stored digest algorithm %q", ss.hash)
	}
	return &pades.Prepared{Field: ss.field, Hash: h, SignedAt: ss.signedAt, Level: pades.LevelBB, BaseSize: ss.baseSize,
		Increment: ss.increment, ContentsPos: ss.contentsPos, ContentsEnd: ss.contentsEnd, Digest: ss.digest,
		SignedAttrs: ss.signedAttrs, Chain: chain}, nil
}

// check verifies a signed file with signing/verify and returns the finding on the signature in field.
// Every signature must pass; without configured roots, "no trusted chain" is the one finding tolerated.
func (s *Service) check(ctx context.Context, signed []byte, field string) (*Verification, error) {
	rep, err := verify.PDF(ctx, bytes.NewReader(signed), int64(len(signed)), verify.Options{Roots: s.cfg.Roots, Now: s.now})
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, "sign_result_unreadable", "Tệp sau khi ký không đọc được / the signed file cannot be read", err)
	}
	if len(rep.Problems) > 0 {
		return nil, apperr.New(apperr.Invalid, "sign_result_invalid", "Tệp sau khi ký không hợp lệ: "+strings.Join(rep.Problems, "; ")+" / the signed file is not valid")
	}
	var found *verify.SignatureReport
	for i := range rep.Signatures {
		sr := &rep.Signatures[i]
		ok := sr.Indication == verify.TotalPassed ||
			(s.cfg.Roots == nil && sr.Indication == verify.Indeterminate && sr.SubIndication == verify.NoCertificateChainFound)
		if !ok {
			return nil, apperr.New(apperr.Invalid, "sign_result_invalid", fmt.Sprintf(
				"Chữ ký %d không hợp lệ (%s %s) / signature %d does not verify (%s %s)", sr.Index+1, sr.Indication, sr.SubIndication,
				sr.Index+1, sr.Indication, sr.SubIndication))
		}
		if sr.Field == field {
			found = sr
		}
	}
	if found == nil {
		return nil, apperr.New(apperr.Invalid, "sign_result_invalid", "Không tìm thấy chữ ký mới trong tệp / the new signature is not in the file")
	}
	v := &Verification{Indication: found.Indication, SubIndication: found.SubIndication, Level: found.Level}
	if found.Signer != nil {
		v.Signer = found.Signer.Subject
	}
	if found.Coverage != nil {
		v.WholeDocument = found.Coverage.WholeDocument
	}
	if !v.WholeDocument {
		return nil, apperr.New(apperr.Invalid, "sign_result_invalid", "Chữ ký mới không bao toàn bộ tệp / the new signature does not cover the whole file")
	}
	return v, nil
}

// checkCertificate parses the leader's certificate and checks it can sign documents now.
func (s *Service) checkCertificate(der []byte, chainDER [][]byte, now time.Time) ([]*x509.Certificate, error) {
	if len(der) == 0 {
		return nil, apperr.New(apperr.Invalid, "sign_certificate_missing", "Thiếu chứng thư số (certificate) từ thiết bị ký / the certificate from the token is missing")
	}
	if len(chainDER) > 8 {
		return nil, apperr.New(apperr.TooLarge, "sign_chain_too_long", "Chuỗi chứng thư quá dài / the certificate chain is too long")
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, "sign_certificate_malformed", "Chứng thư số không đọc được / the certificate cannot be read", err)
	}
	chain := []*x509.Certificate{leaf}
	inter := x509.NewCertPool()
	for _, c := range s.cfg.Intermediates {
		inter.AddCert(c)
	}
	for _, b := range chainDER {
		c, err := x509.ParseCertificate(b)
		if err != nil {
			return nil, apperr.Wrap(apperr.Invalid, "sign_certificate_malformed", "Chứng thư trong chuỗi không đọc được / a chain certificate cannot be read", err)
		}
		chain = append(chain, c)
		inter.AddCert(c)
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, apperr.New(apperr.Invalid, "sign_certificate_expired", fmt.Sprintf(
			"Chứng thư số không còn hiệu lực (hiệu lực %s – %s) / the certificate is not valid now (valid %s to %s)",
			leaf.NotBefore.Format(time.DateOnly), leaf.NotAfter.Format(time.DateOnly), leaf.NotBefore.Format(time.DateOnly), leaf.NotAfter.Format(time.DateOnly)))
	}
	if leaf.KeyUsage != 0 && leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) == 0 {
		return nil, apperr.New(apperr.Invalid, "sign_certificate_usage", "Chứng thư số không dùng để ký / the certificate does not allow signing")
	}
	switch leaf.PublicKey.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey:
	default:
		return nil, apperr.New(apperr.Invalid, "sign_certificate_key", "Loại khoá không được hỗ trợ (cần RSA hoặc ECDSA) / unsupported key type (RSA or ECDSA)")
	}
	if s.cfg.Roots != nil {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: s.cfg.Roots, Intermediates: inter, CurrentTime: now,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			return nil, apperr.Wrap(apperr.Invalid, "sign_certificate_untrusted",
				"Chứng thư số không do tổ chức cung cấp dịch vụ chứng thực được tin cậy cấp / the certificate does not chain to a trusted CA", err)
		}
	}
	return chain, nil
}

func keyName(c *x509.Certificate) string {
	name := c.Subject.CommonName
	if name == "" {
		name = c.Subject.String()
	}
	return name + " (serial " + hex.EncodeToString(c.SerialNumber.Bytes()) + ")"
}

func keyAlgorithm(pub crypto.PublicKey) string {
	if _, ok := pub.(*ecdsa.PublicKey); ok {
		return "ECDSA"
	}
	return "RSA"
}

func signedName(name string) string {
	base := strings.TrimSuffix(name, ".pdf")
	base = strings.TrimSuffix(base, ".PDF")
	return base + ".signed.pdf"
}

func randomID() (string, error) {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// dbError gives database failures an apperr kind at the edge of this package.
func dbError(err error) error {
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return apperr.Wrap(apperr.Unavailable, "cancelled", "Yêu cầu bị huỷ hoặc quá thời gian / request cancelled or timed out", err)
	}
	return apperr.Wrap(apperr.Unavailable, "database_unavailable",
		"Cơ sở dữ liệu tạm thời không trả lời, vui lòng thử lại / the database is not answering, try again", err)
}
