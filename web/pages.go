package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/workflow"
)

var (
	sqlListActiveOrgUsers = queries.Must("ListActiveOrgUsers")
)

// person is a user of the caller's organisation, for the assignment and signer choices.
type person struct {
	ID   int64
	Name string
	Role string
}

// people lists the active users of an organisation. (A read of the directory; workflow has no list
// call for users yet.)
func (h *Handler) people(ctx context.Context, orgID int64, role string) []person {
	rows, err := h.svc.Pool().Query(ctx, sqlListActiveOrgUsers, orgID, role)
	if err != nil {
		return nil
	}
	out, _ := pgx.CollectRows(rows, pgx.RowToStructByPos[person])
	return out
}

type tab struct {
	Key, Label, URL string
	Current         bool
}

// incomingList is the clerk's inbox and the incoming list: tabs by state, overdue, search.
func (h *Handler) incomingList(w http.ResponseWriter, r *http.Request, q req) {
	t := r.URL.Query().Get("tab")
	if t == "" {
		t = "inbox"
		if q.p.Role != workflow.RoleClerk {
			t = "all"
		}
	}
	lq := workflow.ListQuery{Limit: 50, Q: r.URL.Query().Get("q"), Cursor: r.URL.Query().Get("cursor")}
	switch t {
	case "inbox":
		lq.State = workflow.StReceived
	case "registered":
		lq.State = workflow.StRegistered
	case "presented":
		lq.State = workflow.StPresented
	case "assigned":
		lq.State = workflow.StAssigned
	case "overdue":
		lq.Overdue = true
	}
	page, err := h.svc.ListIncoming(r.Context(), q.p, lq)
	if err != nil {
		h.fail(w, r, &q.p, err)
		return
	}
	type row struct {
		workflow.IncomingDoc
		Verdicts []Verdict
	}
	rows := make([]row, len(page.Items))
	for i, d := range page.Items {
		rows[i].IncomingDoc = d
		if d.State == workflow.StReceived {
			if full, err := h.svc.GetIncoming(r.Context(), q.p, d.ID); err == nil {
				rows[i].Verdicts = h.verdicts(r.Context(), q.p, full.Files)
			}
		}
	}
	var tabs []tab
	for _, x := range [][2]string{{"inbox", "Chờ vào sổ"}, {"registered", "Đã vào sổ"}, {"presented", "Chờ phân công"},
		{"assigned", "Đã phân công"}, {"overdue", "Quá hạn"}, {"all", "Tất cả"}} {
		tabs = append(tabs, tab{Key: x[0], Label: x[1], URL: "/ui/incoming?tab=" + x[0], Current: x[0] == t})
	}
	next := ""
	if page.NextCursor != "" {
		next = "/ui/incoming?" + url.Values{"tab": {t}, "q": {lq.Q}, "cursor": {page.NextCursor}}.Encode()
	}
	h.render(w, r, http.StatusOK, "incoming_list", &q, map[string]any{"Title": "Văn bản đến", "Tabs": tabs, "Tab": t,
		"Rows": rows, "Q": lq.Q, "Next": next})
}

func firstPDF(files []workflow.File, prefer ...string) *workflow.File {
	for _, role := range prefer {
		for i := len(files) - 1; i >= 0; i-- {
			if files[i].Role == role && files[i].ContentType == "application/pdf" {
				return &files[i]
			}
		}
	}
	for i := range files {
		if files[i].ContentType == "application/pdf" {
			return &files[i]
		}
	}
	return nil
}

type historyLine struct {
	At     time.Time
	Actor  string
	Action string
	Detail string
}

func (h *Handler) history(ctx context.Context, p workflow.Principal, id string) []historyLine {
	entries, err := h.svc.History(ctx, p, id)
	if err != nil {
		return nil
	}
	out := make([]historyLine, 0, len(entries))
	for _, e := range entries {
		var rec struct {
			Detail map[string]any `json:"detail"`
		}
		_ = json.Unmarshal(e.Record, &rec)
		l := historyLine{At: e.At, Actor: actorName(e.Actor), Action: label("action", e.Action)}
		var parts []string
		for _, k := range []string{"number", "instruction", "deadline", "reason", "leader", "recipient", "status", "detail"} {
			if v, ok := rec.Detail[k]; ok && v != nil && v != "" {
				s := toString(v)
				if k == "status" {
					s = label("delivery", s)
				}
				if k == "deadline" {
					s = "hạn " + vnDate(s)
				}
				parts = append(parts, s)
			}
		}
		if rs, ok := rec.Detail["recipients"].([]any); ok {
			var codes []string
			for _, c := range rs {
				codes = append(codes, toString(c))
			}
			parts = append(parts, "tới "+strings.Join(codes, ", "))
		}
		l.Detail = strings.Join(parts, " · ")
		out = append(out, l)
	}
	return out
}

func toString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// actorName turns the audit actor "user:12 Name (role@ORG)" into "Name".
func actorName(a string) string {
	if strings.HasPrefix(a, "user:") {
		if _, rest, ok := strings.Cut(a, " "); ok {
			if i := strings.LastIndex(rest, " ("); i > 0 {
				return rest[:i]
			}
			return rest
		}
	}
	if a == "exchange" {
		return "Hệ thống liên thông"
	}
	return a
}

func (h *Handler) incomingView(w http.ResponseWriter, r *http.Request, q req) {
	d, err := h.svc.GetIncoming(r.Context(), q.p, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, &q.p, err)
		return
	}
	data := map[string]any{"Title": "Văn bản đến: " + d.Subject, "Doc": d, "PDF": firstPDF(d.Files),
		"Verdicts": h.verdicts(r.Context(), q.p, d.Files), "History": h.history(r.Context(), q.p, d.ID)}
	if q.p.Role == workflow.RoleLeader {
		deps, _ := h.svc.ListDepartments(r.Context(), q.p.OrgID)
		data["Departments"] = deps
		data["People"] = h.people(r.Context(), q.p.OrgID, "")
	}
	canAssign := q.p.Role == workflow.RoleLeader && (d.State == workflow.StPresented || d.State == workflow.StAssigned || d.State == workflow.StProcessing)
	data["CanAssign"] = canAssign
	handler := q.p.Role == workflow.RoleLeader || q.p.Role == workflow.RoleSpecialist
	data["CanStart"] = handler && d.State == workflow.StAssigned
	data["CanComplete"] = handler && d.State == workflow.StProcessing
	data["CanRegister"] = q.p.Role == workflow.RoleClerk && d.State == workflow.StReceived
	data["CanPresent"] = q.p.Role == workflow.RoleClerk && d.State == workflow.StRegistered
	data["CanReturn"] = (q.p.Role == workflow.RoleClerk || q.p.Role == workflow.RoleLeader) &&
		(d.State == workflow.StReceived || d.State == workflow.StRegistered || d.State == workflow.StPresented)
	var dept string
	for _, x := range h.departmentsByID(r.Context(), q.p.OrgID) {
		if d.LeadDepartmentID != nil && x.ID == *d.LeadDepartmentID {
			dept = x.Name
		}
	}
	data["LeadDepartment"] = dept
	if d.LeadUserID != nil {
		for _, x := range h.people(r.Context(), q.p.OrgID, "") {
			if x.ID == *d.LeadUserID {
				data["LeadUser"] = x.Name
			}
		}
	}
	h.render(w, r, http.StatusOK, "incoming_view", &q, data)
}

func (h *Handler) departmentsByID(ctx context.Context, org int64) []workflow.Department {
	d, _ := h.svc.ListDepartments(ctx, org)
	return d
}

func (h *Handler) incomingAction(w http.ResponseWriter, r *http.Request, q req) {
	id, action := r.PathValue("id"), r.PathValue("action")
	var err error
	msg := ""
	switch action {
	case "register", "present":
		_, err = h.svc.MoveIncoming(r.Context(), q.p, id, action, workflow.Action{})
		msg = action + "ed"
	case "start":
		_, err = h.svc.MoveIncoming(r.Context(), q.p, id, "start", workflow.Action{})
		msg = "started"
	case "complete":
		_, err = h.svc.MoveIncoming(r.Context(), q.p, id, "complete", workflow.Action{Result: r.PostFormValue("result")})
		msg = "completed"
	case "return":
		_, err = h.svc.MoveIncoming(r.Context(), q.p, id, "return", workflow.Action{Reason: r.PostFormValue("reason")})
		msg = "returned"
	case "assign":
		a := workflow.Assignment{LeadDepartment: r.PostFormValue("lead_department"), Instruction: r.PostFormValue("instruction"),
			CoordDepartments: r.PostForm["coordinating"]}
		if v := r.PostFormValue("lead_user"); v != "" {
			a.LeadUserID, _ = strconv.ParseInt(v, 10, 64)
		}
		a.Deadline, err = parseVNDate("Hạn xử lý", r.PostFormValue("deadline"))
		if err == nil {
			_, err = h.svc.AssignIncoming(r.Context(), q.p, id, a)
		}
		msg = "assigned"
	default:
		h.errorPage(w, r, &q.p, http.StatusNotFound, "Không có thao tác này.")
		return
	}
	if err != nil {
		h.fail(w, r, &q.p, err)
		return
	}
	next := "/ui/incoming/" + url.PathEscape(id) + "?msg=" + msg
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// incomingNew is the clerk's form for a paper (or e-mailed) document.
func (h *Handler) incomingNew(w http.ResponseWriter, r *http.Request, q req) {
	orgs, _ := h.svc.ListOrgs(r.Context(), "", "")
	h.render(w, r, http.StatusOK, "incoming_new", &q, map[string]any{"Title": "Vào sổ văn bản đến", "Orgs": orgs, "DocTypes": docTypes})
}

func (h *Handler) incomingCreate(w http.ResponseWriter, r *http.Request, q req) {
	if r.MultipartForm == nil {
		h.errorPage(w, r, &q.p, http.StatusBadRequest, "Hãy gửi biểu mẫu kèm tệp (multipart/form-data).")
		return
	}
	f := r.MultipartForm
	v := func(k string) string {
		if x := f.Value[k]; len(x) > 0 {
			return strings.TrimSpace(x[0])
		}
		return ""
	}
	in := workflow.IncomingIn{CodeNumber: v("code_number"), CodeNotation: v("code_notation"), DocumentType: v("document_type"),
		Subject: v("subject"), Urgency: v("urgency"), Secrecy: v("secrecy"), IsCopy: v("is_copy") == "1",
		Sender: workflow.Party{Name: v("sender_name")}}
	if c := v("sender_code"); c != "" {
		o, err := h.svc.LookupOrg(r.Context(), c)
		if err != nil {
			h.fail(w, r, &q.p, err)
			return
		}
		in.Sender = workflow.Party{Code: o.Code, Name: o.Name}
	}
	var err error
	if in.PromulgationDate, err = parseVNDate("Ngày ban hành", v("promulgation_date")); err == nil {
		in.DueDate, err = parseVNDate("Hạn trả lời", v("due_date"))
	}
	if err != nil {
		h.fail(w, r, &q.p, err)
		return
	}
	for _, fh := range f.File["file"] {
		if fh.Filename == "" {
			continue
		}
		fi, err := readPart(fh, 50<<20)
		if err != nil {
			h.fail(w, r, &q.p, err)
			return
		}
		in.Files = append(in.Files, fi)
	}
	d, err := h.svc.RegisterIncoming(r.Context(), q.p, in)
	if err != nil {
		h.fail(w, r, &q.p, err)
		return
	}
	msg := "registered"
	if len(d.Warnings) > 0 {
		msg = "registered_dup"
	}
	http.Redirect(w, r, "/ui/incoming/"+d.ID+"?msg="+msg, http.StatusSeeOther)
}

// queue is the leader's desk: documents waiting for an assignment, drafts to approve and to sign.
func (h *Handler) queue(w http.ResponseWriter, r *http.Request, q req) {
	ctx := r.Context()
	presented, err := h.svc.ListIncoming(ctx, q.p, workflow.ListQuery{State: workflow.StPresented, Limit: 100})
	if err != nil {
		h.fail(w, r, &q.p, err)
		return
	}
	overdue, _ := h.svc.ListIncoming(ctx, q.p, workflow.ListQuery{Overdue: true, Limit: 100})
	review, _ := h.svc.ListOutgoing(ctx, q.p, workflow.ListQuery{State: workflow.StInReview, Limit: 100})
	approved, _ := h.svc.ListOutgoing(ctx, q.p, workflow.ListQuery{State: workflow.StApproved, Limit: 100})
	h.render(w, r, http.StatusOK, "queue", &q, map[string]any{"Title": "Việc chờ lãnh đạo", "Presented": presented.Items,
		"Overdue": overdue.Items, "Review": review.Items, "Approved": approved.Items})
}

// registers shows the registers of a year, or the results of a diacritics-insensitive search.
func (h *Handler) registers(w http.ResponseWriter, r *http.Request, q req) {
	ctx := r.Context()
	now := h.now().In(workflow.Local)
	year := now.Year()
	if y, err := strconv.Atoi(r.URL.Query().Get("year")); err == nil && y >= 2000 && y <= 9999 {
		year = y
	}
	kind := r.URL.Query().Get("kind")
	if kind != "outgoing" && kind != "tracking" {
		kind = "incoming"
	}
	per := workflow.Period{From: time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC), To: time.Date(year, 12, 31, 0, 0, 0, 0, time.UTC)}
	data := map[string]any{"Title": "Sổ văn bản năm " + strconv.Itoa(year), "Year": year, "Kind": kind,
		"Years": []int{now.Year(), now.Year() - 1, now.Year() - 2}}
	var err error
	if qs := strings.TrimSpace(r.URL.Query().Get("q")); qs != "" {
		data["Q"] = qs
		data["Results"], err = h.svc.Search(ctx, q.p, qs, 100)
	} else {
		switch kind {
		case "incoming":
			data["Incoming"], err = h.svc.IncomingRegister(ctx, q.p, per)
		case "outgoing":
			data["Outgoing"], err = h.svc.OutgoingRegister(ctx, q.p, per)
		case "tracking":
			data["Tracking"], err = h.svc.TrackingRegister(ctx, q.p, per)
		}
	}
	if err != nil {
		h.fail(w, r, &q.p, err)
		return
	}
	h.render(w, r, http.StatusOK, "registers", &q, data)
}

func (h *Handler) outgoingList(w http.ResponseWriter, r *http.Request, q req) {
	st := r.URL.Query().Get("state")
	lq := workflow.ListQuery{Limit: 50, State: st, Q: r.URL.Query().Get("q"), Cursor: r.URL.Query().Get("cursor")}
	page, err := h.svc.ListOutgoing(r.Context(), q.p, lq)
	if err != nil {
		h.fail(w, r, &q.p, err)
		return
	}
	var tabs []tab
	for _, x := range [][2]string{{"", "Tất cả"}, {workflow.StDraft, "Dự thảo"}, {workflow.StInReview, "Chờ duyệt"},
		{workflow.StApproved, "Chờ ký"}, {workflow.StSigned, "Chờ phát hành"}, {workflow.StIssued, "Chờ gửi"}, {workflow.StDispatched, "Đã gửi"}} {
		tabs = append(tabs, tab{Key: x[0], Label: x[1], URL: "/ui/outgoing?state=" + x[0], Current: x[0] == st})
	}
	next := ""
	if page.NextCursor != "" {
		next = "/ui/outgoing?" + url.Values{"state": {st}, "q": {lq.Q}, "cursor": {page.NextCursor}}.Encode()
	}
	h.render(w, r, http.StatusOK, "outgoing_list", &q, map[string]any{"Title": "Văn bản đi", "Tabs": tabs, "Items": page.Items,
		"Q": lq.Q, "State": st, "Next": next})
}

var docTypes = []string{"Công văn", "Quyết định", "Thông báo", "Kế hoạch", "Báo cáo", "Tờ trình", "Giấy mời", "Chỉ thị"}

func (h *Handler) outgoingNew(w http.ResponseWriter, r *http.Request, q req) {
	h.render(w, r, http.StatusOK, "outgoing_new", &q, map[string]any{"Title": "Soạn văn bản đi", "DocTypes": docTypes})
}

func readPart(fh *multipart.FileHeader, max int64) (workflow.FileIn, error) {
	f, err := fh.Open()
	if err != nil {
		return workflow.FileIn{}, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return workflow.FileIn{}, err
	}
	if int64(len(data)) > max {
		return workflow.FileIn{}, apperr.New(apperr.TooLarge, "file_too_large", "Tệp "+fh.Filename+" lớn hơn 50 MB.")
	}
	ct := fh.Header.Get("Content-Type")
	if strings.HasSuffix(strings.ToLower(fh.Filename), ".pdf") {
		ct = "application/pdf"
	}
	return workflow.FileIn{Name: fh.Filename, ContentType: ct, Data: data}, nil
}

func (h *Handler) outgoingCreate(w http.ResponseWriter, r *http.Request, q req) {
	if r.MultipartForm == nil {
		h.errorPage(w, r, &q.p, http.StatusBadRequest, "Hãy gửi biểu mẫu kèm tệp (multipart/form-data).")
		return
	}
	f := r.MultipartForm
	v := func(k string) string {
		if x := f.Value[k]; len(x) > 0 {
			return x[0]
		}
		return ""
	}
	in := workflow.OutgoingIn{DocumentType: v("document_type"), TypeAbbr: v("type_abbr"), UnitAbbr: v("unit_abbr"),
		Subject: v("subject"), Urgency: v("urgency"), Secrecy: v("secrecy"), SignerName: v("signer_name"),
		SignerPosition: v("signer_position"), Competence: v("competence"), Places: v("places")}
	var err error
	if in.DueDate, err = parseVNDate("Hạn trả lời", v("due_date")); err != nil {
		h.fail(w, r, &q.p, err)
		return
	}
	mains := f.File["main"]
	if len(mains) == 0 {
		h.errorPage(w, r, &q.p, http.StatusBadRequest, "Hãy chọn tệp PDF dự thảo.")
		return
	}
	if in.Main, err = readPart(mains[0], 50<<20); err != nil {
		h.fail(w, r, &q.p, err)
		return
	}
	for _, fh := range f.File["attachments"] {
		if fh.Size == 0 && fh.Filename == "" {
			continue
		}
		a, err := readPart(fh, 50<<20)
		if err != nil {
			h.fail(w, r, &q.p, err)
			return
		}
		in.Attachments = append(in.Attachments, a)
	}
	d, err := h.svc.CreateOutgoing(r.Context(), q.p, in)
	if err != nil {
		h.fail(w, r, &q.p, err)
		return
	}
	http.Redirect(w, r, "/ui/outgoing/"+d.ID+"?msg=created", http.StatusSeeOther)
}

// recipientView is one recipient's delivery: current status, its timeline and any failed delivery.
type recipientView struct {
	workflow.Recipient
	Events []historyLine
	Failed []failedView
}

type failedView struct {
	MessageID, Reason, LastError string
	Attempts                     int
	FailedAt                     time.Time
}

func (h *Handler) outgoingView(w http.ResponseWriter, r *http.Request, q req) {
	ctx := r.Context()
	d, err := h.svc.GetOutgoing(ctx, q.p, r.PathValue("id"))
	if err != nil {
		h.fail(w, r, &q.p, err)
		return
	}
	hist := h.history(ctx, q.p, d.ID)
	entries, _ := h.svc.History(ctx, q.p, d.ID)
	recips := make([]recipientView, len(d.Recipients))
	for i, rc := range d.Recipients {
		recips[i].Recipient = rc
		for _, e := range entries {
			var rec struct {
				Detail map[string]any `json:"detail"`
			}
			_ = json.Unmarshal(e.Record, &rec)
			switch e.Action {
			case "outgoing.dispatch":
				if rs, ok := rec.Detail["recipients"].([]any); ok {
					for _, c := range rs {
						if toString(c) == rc.Code {
							recips[i].Events = append(recips[i].Events, historyLine{At: e.At, Actor: actorName(e.Actor), Action: "Gửi đi"})
						}
					}
				}
			case "outgoing.delivery_status":
				if toString(rec.Detail["recipient"]) == rc.Code {
					recips[i].Events = append(recips[i].Events, historyLine{At: e.At, Actor: actorName(e.Actor),
						Action: label("delivery", toString(rec.Detail["status"])), Detail: toString(rec.Detail["detail"])})
				}
			}
		}
	}
	del := h.deliveries()
	if del != nil && len(d.Recipients) > 0 {
		if failed, err := del.FailedDeliveries(ctx, 1000); err == nil {
			for _, f := range failed {
				if f.DocID != d.ID {
					continue
				}
				for i := range recips {
					if strings.EqualFold(recips[i].Code, f.Recipient) {
						recips[i].Failed = append(recips[i].Failed, failedView{MessageID: f.MessageID, Reason: f.Reason,
							LastError: f.LastError, Attempts: f.Attempts, FailedAt: f.FailedAt})
					}
				}
			}
		}
	}
	isClerk, isLeader := q.p.Role == workflow.RoleClerk, q.p.Role == workflow.RoleLeader
	data := map[string]any{"Title": "Văn bản đi: " + d.Subject, "Doc": d, "PDF": firstPDF(d.Files, "signed", "main"),
		"Main": firstPDF(d.Files, "main"), "History": hist, "Recipients": recips, "RedeliverOn": del != nil,
		"CanSubmit":   d.State == workflow.StDraft && (d.DraftedBy == q.p.UserID || isClerk || isLeader),
		"CanReview":   d.State == workflow.StInReview && (isClerk || isLeader),
		"CanSendSign": (d.State == workflow.StInReview || d.State == workflow.StApproved) && (isClerk || isLeader),
		"CanSign":     d.State == workflow.StApproved && isLeader,
		"CanIssue":    d.State == workflow.StSigned && isClerk,
		"CanDispatch": (d.State == workflow.StIssued || d.State == workflow.StDispatched) && isClerk && !workflow.IsClassified(d.Secrecy),
	}
	if data["CanSendSign"].(bool) {
		data["Leaders"] = h.people(ctx, q.p.OrgID, "leader")
	}
	if data["CanDispatch"].(bool) {
		orgs, _ := h.svc.ListOrgs(ctx, "", "")
		var list []workflow.Org
		for _, o := range orgs {
			if o.Active && o.Code != q.p.OrgCode {
				list = append(list, o)
			}
		}
		data["Orgs"] = list
		data["AllOrgs"] = orgs
	}
	h.render(w, r, http.StatusOK, "outgoing_view", &q, data)
}

func (h *Handler) outgoingAction(w http.ResponseWriter, r *http.Request, q req) {
	ctx := r.Context()
	id, action := r.PathValue("id"), r.PathValue("action")
	var err error
	msg := ""
	switch action {
	case "submit":
		_, err = h.svc.SubmitOutgoing(ctx, q.p, id)
		msg = "submitted"
	case "approve":
		_, err = h.svc.ReviewOutgoing(ctx, q.p, id, workflow.Review{Approve: true})
		msg = "approved"
	case "sendback":
		_, err = h.svc.ReviewOutgoing(ctx, q.p, id, workflow.Review{Approve: false, Reason: r.PostFormValue("reason")})
		msg = "sentback"
	case "signer":
		err = h.sendToLeader(w, r, q, id)
		msg = "signer"
	case "issue":
		_, err = h.svc.IssueOutgoing(ctx, q.p, id)
		msg = "issued"
	case "dispatch":
		to := workflow.DispatchTo{Codes: r.PostForm["codes"]}
		if r.PostFormValue("by_level") == "1" {
			to.Under, to.Level = r.PostFormValue("under"), r.PostFormValue("level")
		}
		_, err = h.svc.DispatchOutgoing(ctx, q.p, id, to)
		msg = "dispatched"
	case "redeliver":
		del := h.deliveries()
		if del == nil {
			err = apperr.New(apperr.Unavailable, "no_delivery", "Máy chủ này chưa chạy phần gửi nhận liên thông nên chưa gửi lại được.")
			break
		}
		if q.p.Role != workflow.RoleClerk {
			err = apperr.New(apperr.Forbidden, "role", "Chỉ văn thư được gửi lại văn bản.")
			break
		}
		// The message must belong to this document of the caller's organisation.
		var d workflow.OutgoingDoc
		if d, err = h.svc.GetOutgoing(ctx, q.p, id); err != nil {
			break
		}
		mid := r.PostFormValue("message_id")
		failed, ferr := del.FailedDeliveries(ctx, 1000)
		if ferr != nil {
			err = apperr.Wrap(apperr.Unavailable, "delivery", "Không đọc được danh sách gửi lỗi; hãy thử lại.", ferr)
			break
		}
		found := false
		for _, f := range failed {
			if f.MessageID == mid && f.DocID == d.ID {
				found = true
			}
		}
		if !found {
			err = apperr.New(apperr.NotFound, "not_failed", "Lần gửi này không còn trong danh sách gửi lỗi (có thể đã được gửi lại).")
			break
		}
		if rerr := del.Redeliver(ctx, mid); rerr != nil {
			err = apperr.Wrap(apperr.Conflict, "redeliver", "Không gửi lại được: "+rerr.Error(), rerr)
		}
		msg = "redelivered"
	default:
		h.errorPage(w, r, &q.p, http.StatusNotFound, "Không có thao tác này.")
		return
	}
	if err != nil {
		h.fail(w, r, &q.p, err)
		return
	}
	http.Redirect(w, r, "/ui/outgoing/"+url.PathEscape(id)+"?msg="+msg, http.StatusSeeOther)
}

// sendToLeader goes through the node API's route (remote signing owns the sign_request record).
func (h *Handler) sendToLeader(w http.ResponseWriter, r *http.Request, q req, id string) error {
	leader, err := strconv.ParseInt(r.PostFormValue("leader_id"), 10, 64)
	if err != nil || leader <= 0 {
		return apperr.New(apperr.Invalid, "leader_required", "Hãy chọn lãnh đạo ký.")
	}
	if h.cfg.API == nil {
		return apperr.New(apperr.Unavailable, "no_api", "Ký số từ xa chưa được bật trên máy chủ này.")
	}
	body, _ := json.Marshal(map[string]int64{"leader_id": leader})
	r2, _ := http.NewRequestWithContext(r.Context(), http.MethodPost, "/api/v1/outgoing/"+url.PathEscape(id)+"/signer", strings.NewReader(string(body)))
	r2.Header.Set("Content-Type", "application/json")
	r2.Header.Set("Authorization", "Bearer "+q.sess.token)
	rec := &captureWriter{header: http.Header{}}
	h.cfg.API.ServeHTTP(rec, r2)
	if rec.status >= 300 {
		var pb struct {
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(rec.body, &pb)
		kind := apperr.Invalid
		switch rec.status {
		case http.StatusForbidden:
			kind = apperr.Forbidden
		case http.StatusConflict:
			kind = apperr.Conflict
		case http.StatusNotFound:
			kind = apperr.NotFound
		}
		if pb.Detail == "" {
			return errors.New("send to leader: status " + strconv.Itoa(rec.status))
		}
		return apperr.New(kind, "signer", pb.Detail)
	}
	return nil
}

type captureWriter struct {
	header http.Header
	status int
	body   []byte
}

func (c *captureWriter) Header() http.Header { return c.header }
func (c *captureWriter) Write(b []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	c.body = append(c.body, b...)
	return len(b), nil
}
func (c *captureWriter) WriteHeader(s int) { c.status = s }

// file serves a stored file inline (for the PDF viewer in the page); the workflow checks the caller's
// organisation.
func (h *Handler) file(w http.ResponseWriter, r *http.Request, q req) {
	f, data, err := h.svc.GetFile(r.Context(), q.p, r.PathValue("sha256"))
	if err != nil {
		h.fail(w, r, &q.p, err)
		return
	}
	disp := "attachment"
	if f.ContentType == "application/pdf" && r.URL.Query().Get("download") == "" {
		disp = "inline"
	}
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.Header().Set("Content-Disposition", disp+`; filename="`+strings.NewReplacer(`"`, "", "\\", "", "\r", "", "\n", "").Replace(asciiName(f.Name))+`"; filename*=UTF-8''`+url.PathEscape(f.Name))
	w.Header().Set("Cache-Control", "private, max-age=600")
	// PDFs are shown in the page's frame (Chrome refuses to show a PDF in a sandboxed frame, so no
	// sandbox here); nothing but a PDF is ever served inline, and nosniff keeps it one.
	w.Header().Set("Content-Security-Policy", "frame-ancestors 'self'")
	_, _ = w.Write(data)
}

func asciiName(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 0x20 && r < 0x7f {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	return b.String()
}
