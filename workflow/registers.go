package workflow

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/internal/apperr"
)

var (
	sqlListIncomingRegister = queries.Must("ListIncomingRegister")
	sqlListOutgoingRegister = queries.Must("ListOutgoingRegister")
	sqlListTrackingRegister = queries.Must("ListTrackingRegister")
	sqlSearchDocuments      = queries.Must("SearchDocuments")
)

// Period is an inclusive range of dates (in Vietnam) a register is printed for.
type Period struct {
	From time.Time
	To   time.Time
}

// ParsePeriod reads from/to as YYYY-MM-DD; empty from is 1 January of to's year, empty to is today.
func (s *Service) ParsePeriod(from, to string) (Period, error) {
	t, err := parseDate("to", to)
	if err != nil {
		return Period{}, err
	}
	if t == nil {
		d := today(s.now())
		t = &d
	}
	f, err := parseDate("from", from)
	if err != nil {
		return Period{}, err
	}
	if f == nil {
		d := time.Date(t.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
		f = &d
	}
	if f.After(*t) {
		return Period{}, apperr.New(apperr.Invalid, "bad_period", "from phải trước to / from must not be after to")
	}
	if t.Sub(*f) > 366*24*time.Hour {
		return Period{}, apperr.New(apperr.Invalid, "long_period", "Mỗi lần in tối đa một năm / a register covers at most one year")
	}
	return Period{From: *f, To: *t}, nil
}

// bounds turns the period's dates into UTC instants (Vietnam midnight to midnight).
func (p Period) bounds() (time.Time, time.Time) {
	from := time.Date(p.From.Year(), p.From.Month(), p.From.Day(), 0, 0, 0, 0, Local)
	to := time.Date(p.To.Year(), p.To.Month(), p.To.Day(), 0, 0, 0, 0, Local).AddDate(0, 0, 1)
	return from, to
}

// IncomingRegisterRow has the Decree 30 Appendix IV columns of the incoming register (sổ đăng ký văn
// bản đến).
type IncomingRegisterRow struct {
	ArrivalDate      string  `json:"arrival_date"`      // ngày đến
	Number           int     `json:"number"`            // số đến
	Series           string  `json:"series"`            // sổ
	Author           string  `json:"author"`            // tác giả
	NumberNotation   string  `json:"number_notation"`   // số, ký hiệu
	DocumentDate     *string `json:"document_date"`     // ngày tháng
	TypeAndSummary   string  `json:"type_and_summary"`  // tên loại và trích yếu nội dung
	Receiver         string  `json:"receiver"`          // đơn vị hoặc người nhận
	TransferDate     *string `json:"transfer_date"`     // ngày chuyển
	ReceiptSignature string  `json:"receipt_signature"` // ký nhận (signed on paper)
	Notes            string  `json:"notes"`             // ghi chú
	DocID            string  `json:"doc_id"`
}

// OutgoingRegisterRow has the Appendix IV columns of the outgoing register (sổ đăng ký văn bản đi).
type OutgoingRegisterRow struct {
	NumberNotation   string  `json:"number_notation"`
	Date             string  `json:"date"`
	Series           string  `json:"series"`
	TypeAndSummary   string  `json:"type_and_summary"`
	Signer           string  `json:"signer"`
	Recipients       string  `json:"recipients"`
	FileHolder       string  `json:"file_holder"`
	Copies           *int    `json:"copies"`
	TransferDate     *string `json:"transfer_date"`
	ReceiptSignature string  `json:"receipt_signature"`
	Notes            string  `json:"notes"`
	DocID            string  `json:"doc_id"`
}

// TrackingRow has the Appendix IV columns of the tracking register (sổ theo dõi giải quyết văn bản đến).
type TrackingRow struct {
	Number       int     `json:"number"`       // số đến
	Document     string  `json:"document"`     // tên loại, số, ký hiệu, ngày tháng, tác giả
	Receiver     string  `json:"receiver"`     // người nhận / đơn vị
	Deadline     *string `json:"deadline"`     // thời hạn giải quyết
	Progress     string  `json:"progress"`     // tiến độ
	ReplyNumber  string  `json:"reply_number"` // số, ký hiệu văn bản trả lời
	Notes        string  `json:"notes"`
	Overdue      bool    `json:"overdue"`
	DocID        string  `json:"doc_id"`
	registeredAt time.Time
}

func registerRoles(p Principal) error { return require(p, RoleClerk, RoleLeader) }

func dateStr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := t.In(Local).Format("2006-01-02")
	return &s
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			out = append(out, strings.TrimSpace(p))
		}
	}
	return strings.Join(out, sep)
}

// IncomingRegister lists the incoming register of the caller's organisation for a period, in number
// order per series.
func (s *Service) IncomingRegister(ctx context.Context, p Principal, per Period) ([]IncomingRegisterRow, error) {
	if err := registerRoles(p); err != nil {
		return nil, err
	}
	from, to := per.bounds()
	rows, err := s.pool.Query(ctx, sqlListIncomingRegister, p.OrgID, from, to)
	if err != nil {
		return nil, dbErr(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (IncomingRegisterRow, error) {
		var x IncomingRegisterRow
		var at time.Time
		var num, notation, docType, subject, state, reason string
		var prom, assigned *time.Time
		err := r.Scan(&x.DocID, &at, &x.Number, &x.Series, &x.Author, &num, &notation, &prom, &docType, &subject,
			&x.Receiver, &assigned, &x.Notes, &state, &reason)
		x.ArrivalDate = at.In(Local).Format("2006-01-02")
		x.NumberNotation = joinNonEmpty("/", num, notation)
		x.DocumentDate = fmtDate(prom)
		x.TypeAndSummary = joinNonEmpty(": ", docType, subject)
		x.TransferDate = dateStr(assigned)
		if state == StReturned {
			x.Notes = joinNonEmpty("; ", x.Notes, "Trả lại: "+reason)
		}
		if state == StRecalled {
			x.Notes = joinNonEmpty("; ", x.Notes, "Thu hồi: "+reason)
		}
		return x, err
	})
}

// OutgoingRegister lists the outgoing register for a period.
func (s *Service) OutgoingRegister(ctx context.Context, p Principal, per Period) ([]OutgoingRegisterRow, error) {
	if err := registerRoles(p); err != nil {
		return nil, err
	}
	from, to := per.bounds()
	rows, err := s.pool.Query(ctx, sqlListOutgoingRegister, p.OrgID, from, to)
	if err != nil {
		return nil, dbErr(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (OutgoingRegisterRow, error) {
		var x OutgoingRegisterRow
		var n int
		var notation, docType, subject, comp, pos, name, places, recips string
		var issued time.Time
		var dispatched *time.Time
		err := r.Scan(&x.DocID, &n, &notation, &issued, &x.Series, &docType, &subject, &comp, &pos, &name, &places,
			&recips, &x.FileHolder, &x.Copies, &dispatched, &x.Notes)
		x.NumberNotation = RenderNumber(n, notation)
		x.Date = issued.In(Local).Format("2006-01-02")
		x.TypeAndSummary = joinNonEmpty(": ", docType, subject)
		x.Signer = joinNonEmpty(" ", comp, pos, name)
		x.Recipients = joinNonEmpty("; ", places, recips)
		x.TransferDate = dateStr(dispatched)
		return x, err
	})
}

var progressVI = map[string]string{
	StRegistered: "Đã vào sổ", StPresented: "Đang trình", StAssigned: "Đã giao", StProcessing: "Đang giải quyết",
	StDone: "Đã giải quyết", StFiled: "Đã lưu hồ sơ", StReturned: "Đã trả lại", StRecalled: "Đã thu hồi",
}

// TrackingRegister lists the tracking register (documents with a deadline) for a period.
func (s *Service) TrackingRegister(ctx context.Context, p Principal, per Period) ([]TrackingRow, error) {
	if err := registerRoles(p); err != nil {
		return nil, err
	}
	from, to := per.bounds()
	rows, err := s.pool.Query(ctx, sqlListTrackingRegister, p.OrgID, from, to)
	if err != nil {
		return nil, dbErr(err)
	}
	now := s.now()
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (TrackingRow, error) {
		var x TrackingRow
		var docType, num, notation, sender, state string
		var prom, deadline, due *time.Time
		err := r.Scan(&x.DocID, &x.Number, &docType, &num, &notation, &prom, &sender, &x.Receiver, &deadline, &state,
			&x.ReplyNumber, &x.Notes, &due, &x.registeredAt)
		date := ""
		if prom != nil {
			date = prom.Format("02/01/2006")
		}
		x.Document = joinNonEmpty(", ", docType, joinNonEmpty("/", num, notation), date, sender)
		x.Deadline = fmtDate(deadline)
		x.Progress = progressVI[state]
		x.Overdue = overdue(state, deadline, due, now)
		if x.Overdue {
			x.Progress += " (quá hạn)"
		}
		return x, err
	})
}

// SearchResult is one hit of Search.
type SearchResult struct {
	Kind    string    `json:"kind"` // incoming or outgoing
	ID      string    `json:"id"`
	State   string    `json:"state"`
	Number  string    `json:"number"` // số đến, or the outgoing number/notation
	Code    string    `json:"code"`   // the sender's number/notation (incoming)
	Subject string    `json:"subject"`
	Party   string    `json:"party"` // sender (incoming)
	At      time.Time `json:"at"`
	Overdue bool      `json:"overdue,omitempty"`
}

// Search finds documents of the caller's organisation whose subject, number/notation or sender
// contains every word of q, ignoring case and Vietnamese diacritics.
func (s *Service) Search(ctx context.Context, p Principal, q string, limit int) ([]SearchResult, error) {
	if err := require(p, RoleClerk, RoleLeader); err != nil {
		return nil, err
	}
	lq := ListQuery{Q: q, Limit: limit}
	_, words, err := lq.normalise(nil)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, apperr.New(apperr.Invalid, "q_required", "Nhập từ khoá tìm kiếm (q) / the search text q is required")
	}
	rows, err := s.pool.Query(ctx, sqlSearchDocuments,
		p.OrgID, words, lq.Limit)
	if err != nil {
		return nil, dbErr(err)
	}
	now := s.now()
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SearchResult, error) {
		var x SearchResult
		var due *time.Time
		err := r.Scan(&x.Kind, &x.ID, &x.State, &x.Number, &x.Code, &x.Subject, &x.Party, &x.At, &due)
		x.Overdue = x.Kind == "incoming" && overdue(x.State, due, nil, now)
		return x, err
	})
}
