package workflow

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/internal/apperr"
)

var (
	sqlInsertOutgoingDraft    = queries.Must("InsertOutgoingDraft")
	sqlListOutgoingFiles      = queries.Must("ListOutgoingFiles")
	sqlListOutgoingRecipients = queries.Must("ListOutgoingRecipients")
	sqlGetOutgoingDoc         = queries.Must("GetOutgoingDoc")
	sqlListOutgoingDocs       = queries.Must("ListOutgoingDocs")
)

// Outgoing states.
const (
	StDraft      = "draft"
	StInReview   = "in_review"
	StApproved   = "approved" // reviewed, awaiting the leader's signature
	StSigned     = "signed"
	StIssued     = "issued" // numbered and in the outgoing register
	StDispatched = "dispatched"
)

var outgoingStates = []string{StDraft, StInReview, StApproved, StSigned, StIssued, StDispatched, StRecalled}

// OutgoingIn is a draft.
type OutgoingIn struct {
	DocumentType   string   `json:"document_type"`   // e.g. "Quyết định", "Công văn"
	TypeAbbr       string   `json:"type_abbr"`       // e.g. "QĐ"; empty for a công văn
	UnitAbbr       string   `json:"unit_abbr"`       // drafting unit, e.g. "VP" in 12/UBND-VP
	LegalNormative bool     `json:"legal_normative"` // each legal-normative type has its own series
	Subject        string   `json:"subject"`
	Urgency        string   `json:"urgency"`
	Secrecy        string   `json:"secrecy"`
	DueDate        string   `json:"due_date"`
	SignerName     string   `json:"signer_name"`
	SignerPosition string   `json:"signer_position"`
	Competence     string   `json:"competence"` // TM., KT., TL., TUQ., Q.
	Places         string   `json:"places"`     // "Nơi nhận" as printed
	Copies         *int     `json:"copies"`
	PageCount      *int     `json:"page_count"`
	FileHolder     string   `json:"file_holder"`
	Notes          string   `json:"notes"`
	Main           FileIn   `json:"main"` // the PDF
	Attachments    []FileIn `json:"attachments"`
}

// Recipient is an organisation an outgoing document goes to.
type Recipient struct {
	OrgID        int64     `json:"-"`
	Code         string    `json:"code"`
	Name         string    `json:"name"`
	Status       string    `json:"status,omitempty"`
	StatusDetail string    `json:"status_detail,omitempty"`
	UpdatedAt    time.Time `json:"updated_at,omitzero"`
}

// OutgoingDoc is an outgoing document; the Dispatcher gets it once issued.
type OutgoingDoc struct {
	ID             string      `json:"id"`
	OrgCode        string      `json:"org_code"`
	OrgName        string      `json:"org_name"`
	State          string      `json:"state"`
	DocumentType   string      `json:"document_type"`
	TypeAbbr       string      `json:"type_abbr"`
	UnitAbbr       string      `json:"unit_abbr"`
	LegalNormative bool        `json:"legal_normative"`
	Subject        string      `json:"subject"`
	Urgency        string      `json:"urgency"`
	Secrecy        string      `json:"secrecy"`
	DueDate        *string     `json:"due_date"`
	SignerName     string      `json:"signer_name"`
	SignerPosition string      `json:"signer_position"`
	Competence     string      `json:"competence"`
	Places         string      `json:"places"`
	Copies         *int        `json:"copies"`
	PageCount      *int        `json:"page_count"`
	FileHolder     string      `json:"file_holder"`
	Notes          string      `json:"notes"`
	Reason         string      `json:"reason"`
	DraftedBy      int64       `json:"drafted_by"`
	SignedAt       *time.Time  `json:"signed_at"`
	Series         *string     `json:"register_series"`
	IssueYear      *int        `json:"issue_year"`
	CodeNumber     *int        `json:"code_number"`
	CodeNotation   *string     `json:"code_notation"`
	Number         string      `json:"number,omitempty"` // rendered, e.g. "05/QĐ-UBND"
	IssuedAt       *time.Time  `json:"issued_at"`
	DispatchedAt   *time.Time  `json:"dispatched_at"`
	CreatedAt      time.Time   `json:"created_at"`
	UpdatedAt      time.Time   `json:"updated_at"`
	Files          []File      `json:"files"`
	Recipients     []Recipient `json:"recipients"`
}

// RenderNumber writes a number and notation as Decree 30 prints them: zero-padded below 10.
func RenderNumber(n int, notation string) string { return fmt.Sprintf("%02d/%s", n, notation) }

// Notation joins the type, issuer and unit abbreviations with '-' (QĐ-UBND, UBND-VP).
func Notation(typeAbbr, orgAbbr, unitAbbr string) string {
	var parts []string
	for _, p := range []string{typeAbbr, orgAbbr, unitAbbr} {
		if p = strings.TrimSpace(p); p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "-")
}

func outgoingSeries(secrecy string, legalNormative bool, typeAbbr string) string {
	switch {
	case IsClassified(secrecy):
		return "outgoing-secret"
	case legalNormative:
		return "outgoing-lnt-" + typeAbbr
	}
	return "outgoing"
}

var abbrOK = func(s string) bool {
	for _, r := range s {
		if r == '-' || r == '/' || r == ' ' || r < 0x21 {
			return false
		}
	}
	return true
}

// CreateOutgoing saves a draft with its PDF and attachments.
func (s *Service) CreateOutgoing(ctx context.Context, p Principal, in OutgoingIn) (OutgoingDoc, error) {
	if err := require(p, RoleSpecialist, RoleClerk, RoleLeader); err != nil {
		return OutgoingDoc{}, err
	}
	d := OutgoingDoc{OrgCode: p.OrgCode, OrgName: p.OrgName, State: StDraft,
		DocumentType: strings.TrimSpace(in.DocumentType), TypeAbbr: strings.TrimSpace(in.TypeAbbr),
		UnitAbbr: strings.TrimSpace(in.UnitAbbr), LegalNormative: in.LegalNormative, Subject: strings.TrimSpace(in.Subject),
		SignerName: strings.TrimSpace(in.SignerName), SignerPosition: strings.TrimSpace(in.SignerPosition),
		Competence: strings.TrimSpace(in.Competence), Places: strings.TrimSpace(in.Places), Copies: in.Copies,
		PageCount: in.PageCount, FileHolder: strings.TrimSpace(in.FileHolder), Notes: strings.TrimSpace(in.Notes),
		DraftedBy: p.UserID, Recipients: []Recipient{}}
	for _, c := range []struct {
		f        string
		v        string
		min, max int
	}{{"document_type", d.DocumentType, 1, 100}, {"type_abbr", d.TypeAbbr, 0, 10}, {"unit_abbr", d.UnitAbbr, 0, 10},
		{"subject", d.Subject, 1, 500}, {"signer_name", d.SignerName, 0, 50}, {"signer_position", d.SignerPosition, 0, 100},
		{"competence", d.Competence, 0, 10}, {"places", d.Places, 0, 1000}, {"file_holder", d.FileHolder, 0, 200},
		{"notes", d.Notes, 0, 1000}} {
		if err := checkText(c.f, c.v, c.min, c.max); err != nil {
			return d, err
		}
	}
	if !abbrOK(d.TypeAbbr) || !abbrOK(d.UnitAbbr) {
		return d, apperr.New(apperr.Invalid, "bad_abbr", "Chữ viết tắt không được chứa '-', '/' hay dấu cách / abbreviations must not contain '-', '/' or spaces")
	}
	if d.LegalNormative && d.TypeAbbr == "" {
		return d, apperr.New(apperr.Invalid, "type_abbr_required", "Văn bản quy phạm pháp luật cần type_abbr (vd. QĐ) / legal-normative documents need type_abbr")
	}
	var err error
	if d.Urgency, err = oneOf("urgency", in.Urgency, urgencies, "normal"); err != nil {
		return d, err
	}
	if d.Secrecy, err = oneOf("secrecy", in.Secrecy, secrecies, "normal"); err != nil {
		return d, err
	}
	due, err := parseDate("due_date", in.DueDate)
	if err != nil {
		return d, err
	}
	d.DueDate = fmtDate(due)
	for _, n := range []*int{in.Copies, in.PageCount} {
		if n != nil && (*n < 0 || *n > 99999) {
			return d, apperr.New(apperr.Invalid, "bad_count", "copies/page_count phải từ 0 đến 99999 / must be 0–99999")
		}
	}
	if len(in.Main.Data) == 0 {
		return d, apperr.New(apperr.Invalid, "main_required", "Cần tệp PDF dự thảo (main) / the draft PDF (main) is required")
	}
	if in.Main.ContentType == "" {
		in.Main.ContentType = "application/pdf"
	}
	if err := s.checkFile(&in.Main); err != nil {
		return d, err
	}
	if in.Main.ContentType != "application/pdf" {
		return d, apperr.New(apperr.Invalid, "main_not_pdf", "Tệp chính phải là PDF / the main file must be a PDF")
	}
	if len(in.Attachments) > 50 {
		return d, apperr.New(apperr.TooLarge, "too_many_files", "Tối đa 50 tệp đính kèm / at most 50 attachments")
	}
	for i := range in.Attachments {
		if err := s.checkFile(&in.Attachments[i]); err != nil {
			return d, err
		}
	}
	now := s.now()
	d.ID, d.CreatedAt, d.UpdatedAt = newID(now), now, now
	err = s.withTx(ctx, func(tx pgx.Tx) error {
		files, err := s.storeFiles(ctx, tx, append([]FileIn{in.Main}, in.Attachments...))
		if err != nil {
			return err
		}
		files[0].Role = "main"
		for i := 1; i < len(files); i++ {
			files[i].Role = "attachment"
		}
		if _, err := tx.Exec(ctx, sqlInsertOutgoingDraft,
			d.ID, p.OrgID, d.DocumentType, d.TypeAbbr, d.UnitAbbr, d.LegalNormative, d.Subject, d.Urgency, d.Secrecy,
			due, d.SignerName, d.SignerPosition, d.Competence, d.Places, d.Copies, d.PageCount, d.FileHolder, d.Notes,
			p.UserID, outgoingSearch(d.Subject, "", d.DocumentType, d.Places), now); err != nil {
			return dbErr(err)
		}
		if err := insertFiles(ctx, tx, "outgoing_file", d.ID, files); err != nil {
			return err
		}
		d.Files = files
		key, _ := hex.DecodeString(files[0].SHA256)
		return s.audit(ctx, tx, Event{Actor: p, Action: "outgoing.draft", OrgID: p.OrgID, DocID: d.ID, DocSHA256: key,
			Detail: map[string]any{"subject": d.Subject, "files": len(files)}})
	})
	if err != nil {
		return OutgoingDoc{}, err
	}
	return d, nil
}

func outgoingSearch(subject, number, docType, places string) string {
	return Fold(subject + " " + number + " " + docType + " " + places)
}

func scanOutgoing(row pgx.Row, org *int64) (OutgoingDoc, error) {
	var d OutgoingDoc
	var due *time.Time
	var o int64
	err := row.Scan(&d.ID, &d.OrgCode, &d.OrgName, &d.State, &d.DocumentType, &d.TypeAbbr, &d.UnitAbbr, &d.LegalNormative,
		&d.Subject, &d.Urgency, &d.Secrecy, &due, &d.SignerName, &d.SignerPosition, &d.Competence, &d.Places, &d.Copies,
		&d.PageCount, &d.FileHolder, &d.Notes, &d.Reason, &d.DraftedBy, &d.SignedAt, &d.Series, &d.IssueYear, &d.CodeNumber,
		&d.CodeNotation, &d.IssuedAt, &d.DispatchedAt, &d.CreatedAt, &d.UpdatedAt, &o)
	if err != nil {
		return d, err
	}
	d.DueDate = fmtDate(due)
	if d.CodeNumber != nil && d.CodeNotation != nil {
		d.Number = RenderNumber(*d.CodeNumber, *d.CodeNotation)
	}
	if org != nil {
		*org = o
	}
	return d, nil
}

func (s *Service) loadOutgoingDetails(ctx context.Context, q queryer, d *OutgoingDoc) error {
	rows, err := q.Query(ctx, sqlListOutgoingFiles, d.ID)
	if err != nil {
		return dbErr(err)
	}
	if d.Files, err = pgx.CollectRows(rows, pgx.RowToStructByPos[File]); err != nil {
		return dbErr(err)
	}
	rows, err = q.Query(ctx, sqlListOutgoingRecipients, d.ID)
	if err != nil {
		return dbErr(err)
	}
	if d.Recipients, err = pgx.CollectRows(rows, pgx.RowToStructByPos[Recipient]); err != nil {
		return dbErr(err)
	}
	return nil
}

// GetOutgoing returns one outgoing document of the caller's organisation.
func (s *Service) GetOutgoing(ctx context.Context, p Principal, id string) (OutgoingDoc, error) {
	id, err := ParseID(id)
	if err != nil {
		return OutgoingDoc{}, err
	}
	if err := require(p, RoleClerk, RoleLeader, RoleSpecialist); err != nil {
		return OutgoingDoc{}, err
	}
	var org int64
	d, err := scanOutgoing(s.pool.QueryRow(ctx, sqlGetOutgoingDoc, id), &org)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, notFound("văn bản đi")
	}
	if err != nil {
		return d, dbErr(err)
	}
	if org != p.OrgID {
		return OutgoingDoc{}, errOtherOrg
	}
	if p.Role == RoleSpecialist && d.DraftedBy != p.UserID {
		return OutgoingDoc{}, apperr.New(apperr.Forbidden, "not_drafter", "Chuyên viên chỉ xem được dự thảo của mình / specialists see only their own drafts")
	}
	return d, s.loadOutgoingDetails(ctx, s.pool, &d)
}

// ListOutgoing pages the caller's organisation's outgoing documents, newest first (specialists: their own).
func (s *Service) ListOutgoing(ctx context.Context, p Principal, q ListQuery) (Page[OutgoingDoc], error) {
	var page Page[OutgoingDoc]
	if err := require(p, RoleClerk, RoleLeader, RoleSpecialist); err != nil {
		return page, err
	}
	after, words, err := q.normalise(outgoingStates)
	if err != nil {
		return page, err
	}
	var afterArg *string
	if after != "" {
		afterArg = &after
	}
	rows, err := s.pool.Query(ctx, sqlListOutgoingDocs, p.OrgID, afterArg, q.State, p.Role == RoleSpecialist, p.UserID, words, q.Limit+1)
	if err != nil {
		return page, dbErr(err)
	}
	page.Items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutgoingDoc, error) { return scanOutgoing(r, nil) })
	if err != nil {
		return page, dbErr(err)
	}
	if len(page.Items) > q.Limit {
		page.Items = page.Items[:q.Limit]
		page.NextCursor = makeCursor(page.Items[q.Limit-1].ID)
	}
	for i := range page.Items {
		page.Items[i].Files, page.Items[i].Recipients = []File{}, []Recipient{}
	}
	return page, nil
}
