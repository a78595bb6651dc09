package workflow

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/internal/apperr"
)

var (
	sqlNextRegisterNumber     = queries.Must("NextRegisterNumber")
	sqlActiveUserInOrg        = queries.Must("ActiveUserInOrg")
	sqlLockIncomingDoc        = queries.Must("LockIncomingDoc")
	sqlMoveIncoming           = queries.Must("MoveIncoming")
	sqlMoveIncomingWithReason = queries.Must("MoveIncomingWithReason")
	sqlMoveIncomingCompleted  = queries.Must("MoveIncomingCompleted")
	sqlMoveIncomingFiled      = queries.Must("MoveIncomingFiled")
	sqlMoveIncomingRegistered = queries.Must("MoveIncomingRegistered")
	sqlMoveIncomingAssigned   = queries.Must("MoveIncomingAssigned")
)

// Assignment is a leader's decision on an incoming document (Decree 30 Art. 24): the lead unit or
// person (chủ trì), co-ordinating units (phối hợp), a deadline and an instruction (ý kiến chỉ đạo).
type Assignment struct {
	LeadDepartment   string   `json:"lead_department"` // department code
	LeadUserID       int64    `json:"lead_user_id"`
	CoordDepartments []string `json:"coordinating_departments"`
	Deadline         string   `json:"deadline"` // YYYY-MM-DD
	Instruction      string   `json:"instruction"`
}

// Action is the body of the simple transitions: a reason (return, refuse), a result (complete) or a note.
type Action struct {
	Reason string `json:"reason"`
	Result string `json:"result"`
	Note   string `json:"note"`
}

// incomingMove is one edge of the incoming state machine.
type incomingMove struct {
	from   []string
	to     string
	roles  []Role
	status string // edXML status sent back to an axis sender, "" for none
}

// The incoming state machine. "refuse" is the handler declining an assignment: the document goes back
// to the leader for another decision. "return" sends it back to the sender (status 02).
var incomingMoves = map[string]incomingMove{
	"register": {from: []string{StReceived}, to: StRegistered, roles: []Role{RoleClerk}, status: "03"},
	"present":  {from: []string{StRegistered}, to: StPresented, roles: []Role{RoleClerk}},
	"assign":   {from: []string{StPresented, StAssigned, StProcessing}, to: StAssigned, roles: []Role{RoleLeader}, status: "04"},
	"start":    {from: []string{StAssigned}, to: StProcessing, roles: []Role{RoleSpecialist, RoleLeader}, status: "05"},
	"complete": {from: []string{StProcessing}, to: StDone, roles: []Role{RoleSpecialist, RoleLeader}, status: "06"},
	"file":     {from: []string{StDone}, to: StFiled, roles: []Role{RoleClerk}},
	"return":   {from: []string{StReceived, StRegistered, StPresented}, to: StReturned, roles: []Role{RoleClerk, RoleLeader}, status: "02"},
	"refuse":   {from: []string{StAssigned, StProcessing}, to: StPresented, roles: []Role{RoleSpecialist, RoleLeader}},
}

// IncomingActions lists the transition names, for the API and its document.
func IncomingActions() []string {
	return []string{"register", "present", "assign", "start", "complete", "file", "return", "refuse"}
}

// MoveIncoming applies a simple transition (register, present, start, complete, file, return, refuse)
// to a document of the caller's organisation.
func (s *Service) MoveIncoming(ctx context.Context, p Principal, id, action string, a Action) (IncomingDoc, error) {
	if action == "assign" {
		return IncomingDoc{}, apperr.New(apperr.Invalid, "use_assign", "Dùng AssignIncoming để giao việc / use AssignIncoming")
	}
	return s.moveIncoming(ctx, p, id, action, func(ctx context.Context, tx pgx.Tx, d *IncomingDoc, org Org, detail map[string]any) (string, []any, error) {
		reason := strings.TrimSpace(a.Reason)
		switch action {
		case "return", "refuse":
			if err := checkText("reason", reason, 1, 1000); err != nil {
				return "", nil, apperr.New(apperr.Invalid, "reason_required", "Phải ghi lý do (reason) / a reason is required")
			}
			detail["reason"] = reason
			return sqlMoveIncomingWithReason, []any{reason}, nil
		case "complete":
			result := strings.TrimSpace(a.Result)
			if err := checkText("result", result, 0, 2000); err != nil {
				return "", nil, err
			}
			detail["result"] = result
			return sqlMoveIncomingCompleted, []any{result, s.now()}, nil
		case "file":
			return sqlMoveIncomingFiled, []any{s.now()}, nil
		case "register":
			return s.registerReceived(ctx, tx, p, d)
		}
		return "", nil, nil
	})
}

// registerReceived numbers a document that arrived over the axis.
func (s *Service) registerReceived(ctx context.Context, tx pgx.Tx, p Principal, d *IncomingDoc) (string, []any, error) {
	series := incomingSeries(d.Secrecy, d.IsCopy)
	year := s.now().In(Local).Year()
	var number int
	if err := tx.QueryRow(ctx, sqlNextRegisterNumber, p.OrgID, series, year).Scan(&number); err != nil {
		return "", nil, dbErr(err)
	}
	now := s.now()
	d.RegisterSeries, d.RegisterYear, d.RegisterNumber, d.RegisteredAt = &series, &year, &number, &now
	return sqlMoveIncomingRegistered, []any{series, year, number, now, p.UserID}, nil
}

// AssignIncoming records a leader's assignment.
func (s *Service) AssignIncoming(ctx context.Context, p Principal, id string, a Assignment) (IncomingDoc, error) {
	return s.moveIncoming(ctx, p, id, "assign", func(ctx context.Context, tx pgx.Tx, d *IncomingDoc, org Org, detail map[string]any) (string, []any, error) {
		instr := strings.TrimSpace(a.Instruction)
		if err := checkText("instruction", instr, 0, 2000); err != nil {
			return "", nil, err
		}
		deadline, err := parseDate("deadline", a.Deadline)
		if err != nil {
			return "", nil, err
		}
		if deadline != nil && deadline.Before(today(s.now())) {
			return "", nil, apperr.New(apperr.Invalid, "deadline_past", "Hạn xử lý đã qua / the deadline is in the past")
		}
		var leadDept *int64
		if c := strings.TrimSpace(a.LeadDepartment); c != "" {
			id, err := deptID(ctx, tx, p.OrgID, c)
			if err != nil {
				return "", nil, err
			}
			leadDept = &id
		}
		var leadUser *int64
		if a.LeadUserID != 0 {
			var ok bool
			if err := tx.QueryRow(ctx, sqlActiveUserInOrg, a.LeadUserID, p.OrgID).Scan(&ok); err != nil {
				return "", nil, dbErr(err)
			}
			if !ok {
				return "", nil, apperr.New(apperr.Invalid, "bad_lead_user", "Người chủ trì không thuộc cơ quan / lead_user_id is not a user of this organisation")
			}
			leadUser = &a.LeadUserID
		}
		if leadDept == nil && leadUser == nil {
			return "", nil, apperr.New(apperr.Invalid, "lead_required",
				"Phải giao cho một phòng (lead_department) hoặc một người (lead_user_id) chủ trì / a lead department or lead user is required")
		}
		if len(a.CoordDepartments) > 50 {
			return "", nil, apperr.New(apperr.Invalid, "too_many_departments", "Tối đa 50 phòng phối hợp / at most 50 co-ordinating departments")
		}
		coord := []int64{}
		for _, c := range a.CoordDepartments {
			id, err := deptID(ctx, tx, p.OrgID, strings.TrimSpace(c))
			if err != nil {
				return "", nil, err
			}
			coord = append(coord, id)
		}
		d.LeadDepartmentID, d.LeadUserID, d.CoordDepartments, d.Deadline, d.Instruction = leadDept, leadUser, coord, fmtDate(deadline), instr
		now := s.now()
		d.AssignedAt = &now
		detail["lead_department"], detail["lead_user_id"], detail["coordinating"] = a.LeadDepartment, a.LeadUserID, a.CoordDepartments
		detail["deadline"], detail["instruction"] = a.Deadline, instr
		return sqlMoveIncomingAssigned, []any{leadDept, leadUser, coord, deadline, instr, now}, nil
	})
}

func deptID(ctx context.Context, tx pgx.Tx, orgID int64, code string) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, sqlFindDepartmentByCode, orgID, code).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, apperr.New(apperr.Invalid, "bad_department", "Không có phòng ban "+quote(code)+" trong cơ quan / no such department")
	}
	return id, dbErr(err)
}

// moveFunc checks and prepares an action's own changes: it returns the UPDATE that sets them with the
// new state (one of the MoveIncoming… statements: $1 the document, $2 the state, $3… args), or "" when
// the action changes the state only.
type moveFunc func(ctx context.Context, tx pgx.Tx, d *IncomingDoc, org Org, detail map[string]any) (update string, args []any, err error)

// moveIncoming locks the document, checks organisation, role, handler and state, applies the update
// chosen by fn, audits and (for axis documents) sends the status back, all in one transaction.
func (s *Service) moveIncoming(ctx context.Context, p Principal, rawID, action string, fn moveFunc) (IncomingDoc, error) {
	id, err := ParseID(rawID)
	if err != nil {
		return IncomingDoc{}, err
	}
	mv, ok := incomingMoves[action]
	if !ok {
		return IncomingDoc{}, apperr.New(apperr.NotFound, "unknown_action", "Không có thao tác "+quote(action)+" / unknown action")
	}
	if err := require(p, mv.roles...); err != nil {
		return IncomingDoc{}, err
	}
	var d IncomingDoc
	err = s.withTx(ctx, func(tx pgx.Tx) error {
		var org int64
		var err error
		d, err = s.scanIncoming(tx.QueryRow(ctx, sqlLockIncomingDoc, id), &org)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("văn bản đến")
		}
		if err != nil {
			return dbErr(err)
		}
		if org != p.OrgID {
			return errOtherOrg
		}
		if !contains(mv.from, d.State) {
			return apperr.New(apperr.Conflict, "wrong_state",
				"Không thể "+action+" văn bản đang ở trạng thái "+d.State+" (cần "+strings.Join(mv.from, "/")+") / cannot "+action+
					" a document in state "+d.State+" (needs "+strings.Join(mv.from, "/")+")")
		}
		// Specialists act only on what is theirs; leaders may act for them.
		if p.Role == RoleSpecialist && !isHandler(p, d) {
			return apperr.New(apperr.Forbidden, "not_handler",
				"Anh/chị không phải người chủ trì xử lý văn bản này / you are not the handler of this document")
		}
		detail := map[string]any{"from": d.State, "to": mv.to}
		update, args, err := fn(ctx, tx, &d, Org{ID: org, Code: p.OrgCode}, detail)
		if err != nil {
			return err
		}
		now := s.now()
		q := sqlMoveIncoming
		if update != "" {
			q = update
		}
		if _, err := tx.Exec(ctx, q, append([]any{id, mv.to}, args...)...); err != nil {
			return dbErr(err)
		}
		d.State, d.UpdatedAt = mv.to, now
		if action == "return" || action == "refuse" {
			d.Reason = detail["reason"].(string)
		}
		if r, ok := detail["result"].(string); ok {
			d.Result = r
		}
		d.Overdue = overdue(d.State, parseDay(d.Deadline), parseDay(d.DueDate), now)
		if err := s.audit(ctx, tx, Event{Actor: p, Action: "incoming." + action, OrgID: p.OrgID, DocID: id, Detail: detail}); err != nil {
			return err
		}
		if mv.status != "" && d.SenderDocumentID != "" && s.status != nil {
			desc, _ := detail["reason"].(string)
			if action == "assign" {
				desc = d.Instruction
			}
			if err := s.status.NotifyStatusTx(ctx, tx, StatusEvent{DocID: id, OrgCode: p.OrgCode, SenderCode: d.Sender.Code,
				SenderDocumentID: d.SenderDocumentID, StatusCode: mv.status, Description: desc, ActorName: p.Name, At: now}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return IncomingDoc{}, err
	}
	return d, nil
}

func parseDay(s *string) *time.Time {
	if s == nil {
		return nil
	}
	t, err := time.Parse("2006-01-02", *s)
	if err != nil {
		return nil
	}
	return &t
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}
