package workflow

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/internal/apperr"
)

var (
	sqlRegisterIncomingDoc = queries.Must("RegisterIncomingDoc")
	sqlInsertIncomingFile  = queries.Must("InsertIncomingFile")
	sqlMaxIncomingFileSeq  = queries.Must("MaxIncomingFileSeq")
	sqlMaxOutgoingFileSeq  = queries.Must("MaxOutgoingFileSeq")
	sqlInsertOutgoingFile  = queries.Must("InsertOutgoingFile")
	sqlGetIncomingDoc      = queries.Must("GetIncomingDoc")
	sqlListIncomingFiles   = queries.Must("ListIncomingFiles")
	sqlListIncomingDocs    = queries.Must("ListIncomingDocs")
)

// Party names a sender or recipient organisation.
type Party struct {
	Code string `json:"code"`
	Name string `json:"name"`
}

// IncomingIn is what a clerk enters for an arriving document (the contract's POST /api/v1/incoming).
type IncomingIn struct {
	Sender           Party    `json:"sender"`
	CodeNumber       string   `json:"code_number"`
	CodeNotation     string   `json:"code_notation"`
	PromulgationDate string   `json:"promulgation_date"`
	DocumentType     string   `json:"document_type"`
	Subject          string   `json:"subject"`
	Urgency          string   `json:"urgency"`
	Secrecy          string   `json:"secrecy"`
	DueDate          string   `json:"due_date"`
	IsCopy           bool     `json:"is_copy"`
	PageCount        *int     `json:"page_count"`
	Notes            string   `json:"notes"`
	Source           string   `json:"source"` // paper (scanned, the default) or electronic
	Files            []FileIn `json:"files"`
}

// IncomingDoc is an incoming document as the API shows it.
type IncomingDoc struct {
	ID               string     `json:"id"`
	State            string     `json:"state"`
	Source           string     `json:"source"`
	Sender           Party      `json:"sender"`
	SenderDocumentID string     `json:"sender_document_id,omitempty"`
	CodeNumber       string     `json:"code_number"`
	CodeNotation     string     `json:"code_notation"`
	PromulgationDate *string    `json:"promulgation_date"`
	DocumentType     string     `json:"document_type"`
	Subject          string     `json:"subject"`
	Urgency          string     `json:"urgency"`
	Secrecy          string     `json:"secrecy"`
	IsCopy           bool       `json:"is_copy"`
	PageCount        *int       `json:"page_count"`
	DueDate          *string    `json:"due_date"`
	Notes            string     `json:"notes"`
	ReceivedAt       time.Time  `json:"received_at"`
	RegisterSeries   *string    `json:"register_series"`
	RegisterYear     *int       `json:"register_year"`
	RegisterNumber   *int       `json:"register_number"`
	RegisteredAt     *time.Time `json:"registered_at"`
	LeadDepartmentID *int64     `json:"lead_department_id"`
	LeadUserID       *int64     `json:"lead_user_id"`
	CoordDepartments []int64    `json:"coordinating_department_ids"`
	Deadline         *string    `json:"deadline"`
	Instruction      string     `json:"instruction"`
	AssignedAt       *time.Time `json:"assigned_at"`
	CompletedAt      *time.Time `json:"completed_at"`
	Result           string     `json:"result"`
	Reason           string     `json:"reason"`
	Overdue          bool       `json:"overdue"`
	Files            []File     `json:"files,omitempty"`
	Warnings         []string   `json:"warnings,omitempty"`
	UpdatedAt        time.Time  `json:"updated_at"`
}

// Incoming states.
const (
	StReceived   = "received"   // arrived over the axis, awaiting registration
	StRegistered = "registered" // has its incoming number
	StPresented  = "presented"  // in front of a leader
	StAssigned   = "assigned"   // leader set handler, deadline, instruction
	StProcessing = "processing"
	StDone       = "done"
	StFiled      = "filed"
	StReturned   = "returned" // sent back to the sender with a reason
)

// incomingSeries picks the number series: secret documents and copies have their own (Decree 30 Art. 15,
// 22).
func incomingSeries(secrecy string, isCopy bool) string {
	switch {
	case IsClassified(secrecy):
		return "incoming-secret"
	case isCopy:
		return "incoming-copy"
	}
	return "incoming"
}

type incomingValues struct {
	senderCode, senderName, number, notation, docType, subject, urgency, secrecy, notes, source string
	promulgation, due                                                                           *time.Time
	isCopy                                                                                      bool
	pages                                                                                       *int
	files                                                                                       []FileIn
}

func (s *Service) validateIncoming(in *IncomingIn) (incomingValues, error) {
	v := incomingValues{
		senderName: strings.TrimSpace(in.Sender.Name), number: strings.TrimSpace(in.CodeNumber),
		notation: strings.TrimSpace(in.CodeNotation), docType: strings.TrimSpace(in.DocumentType),
		subject: strings.TrimSpace(in.Subject), notes: strings.TrimSpace(in.Notes), isCopy: in.IsCopy, pages: in.PageCount,
		files: in.Files,
	}
	var err error
	if c := strings.TrimSpace(in.Sender.Code); c != "" {
		if v.senderCode, err = NormalizeOrgCode(c); err != nil {
			return v, err
		}
	}
	checks := []struct {
		field    string
		val      string
		min, max int
	}{
		{"sender.name", v.senderName, 1, 200}, {"code_number", v.number, 0, 11}, {"code_notation", v.notation, 0, 30},
		{"document_type", v.docType, 0, 100}, {"subject", v.subject, 1, 500}, {"notes", v.notes, 0, 1000},
	}
	for _, c := range checks {
		if err := checkText(c.field, c.val, c.min, c.max); err != nil {
			return v, err
		}
	}
	if v.urgency, err = oneOf("urgency", in.Urgency, urgencies, "normal"); err != nil {
		return v, err
	}
	if v.secrecy, err = oneOf("secrecy", in.Secrecy, secrecies, "normal"); err != nil {
		return v, err
	}
	if v.source, err = oneOf("source", in.Source, []string{"paper", "electronic"}, "paper"); err != nil {
		return v, err
	}
	if v.promulgation, err = parseDate("promulgation_date", in.PromulgationDate); err != nil {
		return v, err
	}
	if v.promulgation != nil && v.promulgation.After(today(s.now()).AddDate(0, 0, 1)) {
		return v, apperr.New(apperr.Invalid, "future_promulgation_date",
			"Ngày ban hành ở tương lai / promulgation_date is in the future")
	}
	if v.due, err = parseDate("due_date", in.DueDate); err != nil {
		return v, err
	}
	if v.pages != nil && (*v.pages < 0 || *v.pages > 99999) {
		return v, apperr.New(apperr.Invalid, "bad_page_count", "page_count phải từ 0 đến 99999 / page_count must be 0–99999")
	}
	if len(v.files) > 50 {
		return v, apperr.New(apperr.TooLarge, "too_many_files", "Tối đa 50 tệp / at most 50 files")
	}
	for i := range v.files {
		if err := s.checkFile(&v.files[i]); err != nil {
			return v, err
		}
	}
	return v, nil
}

// RegisterIncoming enters a paper or e-mailed document in the caller's incoming register: it gets the
// next number of the year in its series, in the same transaction as the document, its files and its
// audit record.
func (s *Service) RegisterIncoming(ctx context.Context, p Principal, in IncomingIn) (IncomingDoc, error) {
	if err := require(p, RoleClerk); err != nil {
		return IncomingDoc{}, err
	}
	v, err := s.validateIncoming(&in)
	if err != nil {
		return IncomingDoc{}, err
	}
	now := s.now()
	id := newID(now)
	series := incomingSeries(v.secrecy, v.isCopy)
	year := now.In(Local).Year()
	files := make([]File, len(v.files))
	// One pipelined batch, which PostgreSQL runs as one implicit transaction: the file bytes, the number
	// and the document, the file rows and the audit record commit together or not at all. The counter
	// row is locked from the number's statement to the end of the batch without any client round trip
	// in between, which is what makes gapless numbering fast under concurrency.
	b := &pgx.Batch{}
	for i, f := range v.files {
		sum := sha256.Sum256(f.Data)
		files[i] = File{SHA256: hex.EncodeToString(sum[:]), Name: f.Name, ContentType: f.ContentType, Size: int64(len(f.Data))}
		b.Queue(sqlInsertFileBlob, sum[:], int64(len(f.Data)), f.Data)
	}
	var number int
	var dup *string
	docHash := ""
	if len(files) > 0 {
		docHash = files[0].SHA256
	}
	at := now.UTC().Truncate(time.Microsecond)
	// Number, document and audit record in one statement (see sql/incoming.sql).
	b.Queue(sqlRegisterIncomingDoc,
		id, p.OrgID, series, year, v.source, v.senderCode, v.senderName, v.number, v.notation,
		v.promulgation, v.docType, v.subject, v.urgency, v.secrecy, v.isCopy, v.pages, v.due, v.notes,
		now, p.UserID, incomingSearch(v.subject, v.number, v.notation, v.senderName, v.senderCode),
		at.Format(time.RFC3339Nano), p.actor(), docHash, v.number+"/"+v.notation, at,
	).QueryRow(func(row pgx.Row) error { return row.Scan(&number, &dup) })
	for i, f := range files {
		key, _ := hex.DecodeString(f.SHA256)
		b.Queue(sqlInsertIncomingFile, id, i+1, key, f.Name, f.ContentType, f.Size)
	}
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return IncomingDoc{}, dbErr(err)
	}
	var warnings []string
	if dup != nil {
		warnings = append(warnings, "possible_duplicate:"+*dup)
	}
	d := IncomingDoc{ID: id, State: StRegistered, Source: v.source, Sender: Party{v.senderCode, v.senderName},
		CodeNumber: v.number, CodeNotation: v.notation, PromulgationDate: fmtDate(v.promulgation),
		DocumentType: v.docType, Subject: v.subject, Urgency: v.urgency, Secrecy: v.secrecy, IsCopy: v.isCopy,
		PageCount: v.pages, DueDate: fmtDate(v.due), Notes: v.notes, ReceivedAt: now, RegisterSeries: &series,
		RegisterYear: &year, RegisterNumber: &number, RegisteredAt: &now, CoordDepartments: []int64{},
		Files: files, Warnings: warnings, UpdatedAt: now}
	d.Overdue = overdue(d.State, nil, v.due, now)
	return d, nil
}

func incomingSearch(subject, number, notation, senderName, senderCode string) string {
	return Fold(subject + " " + number + "/" + notation + " " + senderName + " " + senderCode)
}

// storeFiles puts file bytes in the blob store (within tx) and returns their references in order.
func (s *Service) storeFiles(ctx context.Context, tx pgx.Tx, in []FileIn) ([]File, error) {
	out := make([]File, 0, len(in))
	for _, f := range in {
		key, err := PutFileTx(ctx, tx, f.Data)
		if err != nil {
			return nil, err
		}
		out = append(out, File{SHA256: hex.EncodeToString(key), Name: f.Name, ContentType: f.ContentType, Size: int64(len(f.Data))})
	}
	return out, nil
}

func insertFiles(ctx context.Context, tx pgx.Tx, table, docID string, files []File) error {
	if len(files) == 0 {
		return nil
	}
	maxSeq := sqlMaxIncomingFileSeq
	if table == "outgoing_file" {
		maxSeq = sqlMaxOutgoingFileSeq
	}
	var startSeq int
	if err := tx.QueryRow(ctx, maxSeq, docID).Scan(&startSeq); err != nil {
		return dbErr(err)
	}
	for i, f := range files {
		key, _ := hex.DecodeString(f.SHA256)
		var err error
		if table == "outgoing_file" {
			_, err = tx.Exec(ctx, sqlInsertOutgoingFile, docID, startSeq+i+1, f.Role, key, f.Name, f.ContentType, f.Size)
		} else {
			_, err = tx.Exec(ctx, sqlInsertIncomingFile, docID, startSeq+i+1, key, f.Name, f.ContentType, f.Size)
		}
		if err != nil {
			return dbErr(err)
		}
	}
	return nil
}

func overdue(state string, deadline, due *time.Time, now time.Time) bool {
	switch state {
	case StDone, StFiled, StReturned, StRecalled:
		return false
	}
	d := deadline
	if d == nil {
		d = due
	}
	return d != nil && d.Before(today(now))
}

func (s *Service) scanIncoming(row pgx.Row, orgID *int64) (IncomingDoc, error) {
	var d IncomingDoc
	var prom, due, deadline *time.Time
	var org int64
	err := row.Scan(&d.ID, &d.State, &d.Source, &d.Sender.Code, &d.Sender.Name, &d.SenderDocumentID,
		&d.CodeNumber, &d.CodeNotation, &prom, &d.DocumentType, &d.Subject, &d.Urgency, &d.Secrecy, &d.IsCopy,
		&d.PageCount, &due, &d.Notes, &d.ReceivedAt, &d.RegisterSeries, &d.RegisterYear, &d.RegisterNumber, &d.RegisteredAt,
		&d.LeadDepartmentID, &d.LeadUserID, &d.CoordDepartments, &deadline, &d.Instruction, &d.AssignedAt,
		&d.CompletedAt, &d.Result, &d.Reason, &d.UpdatedAt, &org)
	if err != nil {
		return d, err
	}
	d.PromulgationDate, d.DueDate, d.Deadline = fmtDate(prom), fmtDate(due), fmtDate(deadline)
	d.Overdue = overdue(d.State, deadline, due, s.now())
	if d.CoordDepartments == nil {
		d.CoordDepartments = []int64{}
	}
	if orgID != nil {
		*orgID = org
	}
	return d, nil
}

// GetIncoming returns one incoming document of the caller's organisation with its files.
func (s *Service) GetIncoming(ctx context.Context, p Principal, id string) (IncomingDoc, error) {
	id, err := ParseID(id)
	if err != nil {
		return IncomingDoc{}, err
	}
	if err := require(p, RoleClerk, RoleLeader, RoleSpecialist); err != nil {
		return IncomingDoc{}, err
	}
	var org int64
	d, err := s.scanIncoming(s.pool.QueryRow(ctx, sqlGetIncomingDoc, id), &org)
	if errors.Is(err, pgx.ErrNoRows) {
		return d, notFound("văn bản đến")
	}
	if err != nil {
		return d, dbErr(err)
	}
	if err := s.canSeeIncoming(p, org, d); err != nil {
		return IncomingDoc{}, err
	}
	rows, err := s.pool.Query(ctx, sqlListIncomingFiles, id)
	if err != nil {
		return d, dbErr(err)
	}
	if d.Files, err = pgx.CollectRows(rows, pgx.RowToStructByPos[File]); err != nil {
		return d, dbErr(err)
	}
	return d, nil
}

var errOtherOrg = apperr.New(apperr.Forbidden, "other_organisation",
	"Văn bản thuộc cơ quan khác / the document belongs to another organisation")

func (s *Service) canSeeIncoming(p Principal, org int64, d IncomingDoc) error {
	if org != p.OrgID {
		return errOtherOrg
	}
	if p.Role == RoleSpecialist && !isHandler(p, d) && !inCoord(p, d) {
		return apperr.New(apperr.Forbidden, "not_assigned",
			"Văn bản không được giao cho anh/chị hoặc phòng của anh/chị / the document is not assigned to you or your department")
	}
	return nil
}

func isHandler(p Principal, d IncomingDoc) bool {
	if d.LeadUserID != nil {
		return *d.LeadUserID == p.UserID
	}
	return d.LeadDepartmentID != nil && p.DepartmentID != 0 && *d.LeadDepartmentID == p.DepartmentID
}

func inCoord(p Principal, d IncomingDoc) bool {
	for _, id := range d.CoordDepartments {
		if p.DepartmentID != 0 && id == p.DepartmentID {
			return true
		}
	}
	return false
}

// ListQuery selects and pages documents.
type ListQuery struct {
	Limit   int
	Cursor  string // opaque, from the previous page's next_cursor
	State   string
	Overdue bool
	Q       string // search text, diacritics ignored
}

// Page is one page of a list.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

func parseCursor(c string) (string, error) {
	if c == "" {
		return "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", apperr.New(apperr.Invalid, "bad_cursor", "cursor không hợp lệ; hãy dùng next_cursor của trang trước / malformed cursor; use next_cursor from the previous page")
	}
	id, err := ParseID(string(b))
	if err != nil {
		return "", apperr.New(apperr.Invalid, "bad_cursor", "cursor không hợp lệ; hãy dùng next_cursor của trang trước / malformed cursor; use next_cursor from the previous page")
	}
	return id, nil
}

func makeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func (q *ListQuery) normalise(states []string) (after string, words []string, err error) {
	if q.Limit == 0 {
		q.Limit = 50
	}
	if q.Limit < 1 || q.Limit > 500 {
		return "", nil, apperr.New(apperr.Invalid, "bad_limit", "limit phải từ 1 đến 500 / limit must be 1–500")
	}
	if q.State != "" {
		if _, err := oneOf("state", q.State, states, ""); err != nil {
			return "", nil, err
		}
	}
	words = []string{}
	if after, err = parseCursor(q.Cursor); err != nil {
		return "", nil, err
	}
	if len(q.Q) > 200 {
		return "", nil, apperr.New(apperr.Invalid, "long_q", "Chuỗi tìm kiếm dài quá 200 ký tự / search text over 200 characters")
	}
	for _, w := range strings.Fields(Fold(q.Q)) {
		words = append(words, "%"+likeEscape(w)+"%")
	}
	return after, words, nil
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

var incomingStates = []string{StReceived, StRegistered, StPresented, StAssigned, StProcessing, StDone, StFiled, StReturned, StRecalled}

// ListIncoming pages the caller's organisation's incoming documents, newest first. Specialists see only
// what is assigned to them or their department.
func (s *Service) ListIncoming(ctx context.Context, p Principal, q ListQuery) (Page[IncomingDoc], error) {
	var page Page[IncomingDoc]
	if err := require(p, RoleClerk, RoleLeader, RoleSpecialist); err != nil {
		return page, err
	}
	after, words, err := q.normalise(incomingStates)
	if err != nil {
		return page, err
	}
	var afterArg *string
	if after != "" {
		afterArg = &after
	}
	spec := p.Role == RoleSpecialist
	rows, err := s.pool.Query(ctx, sqlListIncomingDocs,
		p.OrgID, afterArg, q.State, q.Overdue, today(s.now()), spec, p.UserID, p.DepartmentID, words, q.Limit+1)
	if err != nil {
		return page, dbErr(err)
	}
	page.Items, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (IncomingDoc, error) { return s.scanIncoming(r, nil) })
	if err != nil {
		return page, dbErr(err)
	}
	if len(page.Items) > q.Limit {
		page.Items = page.Items[:q.Limit]
		page.NextCursor = makeCursor(page.Items[q.Limit-1].ID)
	}
	return page, nil
}
