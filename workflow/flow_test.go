package workflow_test

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/workflow"
)

var docSeq atomic.Int64

// inState walks a new incoming document to state.
func inState(t *testing.T, b *testBundle, state string) string {
	t.Helper()
	ctx := context.Background()
	s := b.svc
	if state == workflow.StReceived {
		var id string
		err := workflow.WithTx(ctx, b.pool, func(tx pgx.Tx) error {
			r, err := s.ReceiveTx(ctx, tx, workflow.ReceivedDoc{ToOrgCode: b.org.Code, SenderCode: "000.00.00.G22",
				SenderName: "Văn phòng Chính phủ", SenderDocumentID: fmt.Sprintf("000.00.00.G22,2026/11/20,%d/VPCP-TTĐT", docSeq.Add(1)),
				CodeNumber: "7816", CodeNotation: "VPCP-TTĐT", Subject: "Về việc cung cấp thông tin", Urgency: "urgent", Secrecy: "normal"})
			id = r.ID
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	d, err := s.RegisterIncoming(ctx, b.clerk, sampleIncoming())
	if err != nil {
		t.Fatal(err)
	}
	path := map[string][]string{
		workflow.StRegistered: {}, workflow.StPresented: {"present"}, workflow.StAssigned: {"present", "assign"},
		workflow.StProcessing: {"present", "assign", "start"}, workflow.StDone: {"present", "assign", "start", "complete"},
		workflow.StFiled: {"present", "assign", "start", "complete", "file"}, workflow.StReturned: {"return"},
	}[state]
	for _, a := range path {
		if err := act(b, d.ID, a); err != nil {
			t.Fatalf("walking to %s: %s: %v", state, a, err)
		}
	}
	return d.ID
}

// act performs action as the principal entitled to it.
func act(b *testBundle, id, action string) error {
	ctx := context.Background()
	var err error
	switch action {
	case "assign":
		_, err = b.svc.AssignIncoming(ctx, b.leader, id, workflow.Assignment{LeadDepartment: "VP", LeadUserID: b.spec.UserID,
			CoordDepartments: []string{"KT"}, Deadline: "2026-12-10", Instruction: "Giao Văn phòng chủ trì, Phòng Kinh tế phối hợp"})
	case "register", "present", "file":
		_, err = b.svc.MoveIncoming(ctx, b.clerk, id, action, workflow.Action{})
	case "return":
		_, err = b.svc.MoveIncoming(ctx, b.clerk, id, action, workflow.Action{Reason: "Gửi nhầm cơ quan"})
	case "refuse":
		_, err = b.svc.MoveIncoming(ctx, b.spec, id, action, workflow.Action{Reason: "Không thuộc thẩm quyền"})
	case "start", "complete":
		_, err = b.svc.MoveIncoming(ctx, b.spec, id, action, workflow.Action{Result: "Đã trả lời bằng công văn"})
	}
	return err
}

// Every incoming action from every state: allowed exactly on the machine's edges, a Conflict otherwise.
func TestIncomingStateMachine(t *testing.T) {
	t.Parallel()
	b := setup(t, workflow.Config{})
	allowed := map[string][]string{
		"register": {"received"}, "present": {"registered"}, "assign": {"presented", "assigned", "processing"},
		"start": {"assigned"}, "complete": {"processing"}, "file": {"done"},
		"return": {"received", "registered", "presented"}, "refuse": {"assigned", "processing"},
	}
	want := map[string]string{"register": "registered", "present": "presented", "assign": "assigned", "start": "processing",
		"complete": "done", "file": "filed", "return": "returned", "refuse": "presented"}
	states := []string{"received", "registered", "presented", "assigned", "processing", "done", "filed", "returned"}
	ctx := context.Background()
	for _, action := range workflow.IncomingActions() {
		for _, st := range states {
			name := "fail/"
			ok := false
			for _, a := range allowed[action] {
				ok = ok || a == st
			}
			if ok {
				name = "ok/"
			}
			t.Run(name+action+"_from_"+st, func(t *testing.T) {
				t.Parallel()
				id := inState(t, b, st)
				err := act(b, id, action)
				if !ok {
					wantKind(t, err, apperr.Conflict)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				d, err := b.svc.GetIncoming(ctx, b.clerk, id)
				if err != nil || d.State != want[action] {
					t.Fatalf("after %s: state %q, %v", action, d.State, err)
				}
				if action == "register" && (d.RegisterNumber == nil || *d.RegisterNumber < 1) {
					t.Fatal("register gave no number")
				}
			})
		}
	}
}

func TestIncomingRolesAndRules(t *testing.T) {
	t.Parallel()
	b := setup(t, workflow.Config{})
	ctx := context.Background()
	s := b.svc
	id := inState(t, b, workflow.StPresented)
	// Only a leader assigns; an assignment needs a lead and a sane deadline.
	_, err := s.AssignIncoming(ctx, b.clerk, id, workflow.Assignment{LeadDepartment: "VP"})
	wantKind(t, err, apperr.Forbidden)
	_, err = s.AssignIncoming(ctx, b.leader, id, workflow.Assignment{Instruction: "x"})
	wantKind(t, err, apperr.Invalid)
	_, err = s.AssignIncoming(ctx, b.leader, id, workflow.Assignment{LeadDepartment: "NOPE"})
	wantKind(t, err, apperr.Invalid)
	_, err = s.AssignIncoming(ctx, b.leader, id, workflow.Assignment{LeadUserID: b.clerk2.UserID})
	wantKind(t, err, apperr.Invalid)
	_, err = s.AssignIncoming(ctx, b.leader, id, workflow.Assignment{LeadDepartment: "VP", Deadline: "2026-11-01"})
	wantKind(t, err, apperr.Invalid)
	// Assigned to the VP department (no person): a VP specialist may start, a KT one may not.
	d, err := s.AssignIncoming(ctx, b.leader, id, workflow.Assignment{LeadDepartment: "VP", CoordDepartments: []string{"KT"}, Deadline: "2026-11-30"})
	if err != nil || d.State != "assigned" || d.Deadline == nil || *d.Deadline != "2026-11-30" {
		t.Fatalf("assign = %+v, %v", d, err)
	}
	_, err = s.MoveIncoming(ctx, b.spec2, id, "start", workflow.Action{})
	wantKind(t, err, apperr.Forbidden)
	// The co-ordinating department sees it, though.
	if _, err := s.GetIncoming(ctx, b.spec2, id); err != nil {
		t.Fatal(err)
	}
	// Return and refuse need a reason.
	_, err = s.MoveIncoming(ctx, b.spec, id, "refuse", workflow.Action{})
	wantKind(t, err, apperr.Invalid)
	if _, err := s.MoveIncoming(ctx, b.spec, id, "start", workflow.Action{}); err != nil {
		t.Fatal(err)
	}
	// Overdue: the deadline passes while processing.
	b.clock.Set(b.clock.Now().AddDate(0, 0, 10))
	page, err := s.ListIncoming(ctx, b.leader, workflow.ListQuery{Overdue: true})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID != id || !page.Items[0].Overdue {
		t.Fatalf("overdue list = %+v, %v", page.Items, err)
	}
	d, err = s.MoveIncoming(ctx, b.spec, id, "complete", workflow.Action{Result: "Xong"})
	if err != nil || d.Overdue {
		t.Fatalf("done but still overdue: %+v %v", d, err)
	}
	// Admins see no documents.
	admin := mustUser(t, s, workflow.NewUser{OrgCode: b.org.Code, Name: "Quản trị", Role: "admin"})
	_, err = s.ListIncoming(ctx, admin, workflow.ListQuery{})
	wantKind(t, err, apperr.Forbidden)
	_, err = s.MoveIncoming(ctx, b.clerk, "not-an-id", "present", workflow.Action{})
	wantKind(t, err, apperr.Invalid)
	_, err = s.MoveIncoming(ctx, b.clerk, "0192f3a0-0000-7000-8000-000000000000", "present", workflow.Action{})
	wantKind(t, err, apperr.NotFound)
}

// recordingDispatcher checks it runs inside the issuing transaction.
type recordingDispatcher struct {
	calls [][]string
	fail  error
}

func (r *recordingDispatcher) DispatchTx(ctx context.Context, tx pgx.Tx, doc workflow.OutgoingDoc, to []workflow.Recipient) error {
	var state string
	if err := tx.QueryRow(ctx, `SELECT count(*)::text FROM outgoing_recipient WHERE doc_id = $1`, doc.ID).Scan(&state); err != nil {
		return err
	}
	codes := []string{doc.Number, state}
	for _, r := range to {
		codes = append(codes, r.Code)
	}
	r.calls = append(r.calls, codes)
	return r.fail
}

func draft(t *testing.T, b *testBundle, by workflow.Principal, mod func(*workflow.OutgoingIn)) workflow.OutgoingDoc {
	t.Helper()
	in := workflow.OutgoingIn{DocumentType: "Quyết định", TypeAbbr: "QĐ", Subject: "Về việc ban hành quy chế văn thư",
		SignerName: "Nguyễn Văn A", SignerPosition: "Chủ tịch", Competence: "TM.", Places: "Như trên",
		Main:        workflow.FileIn{Name: "qd.pdf", ContentType: "application/pdf", Data: minimalPDF},
		Attachments: []workflow.FileIn{{Name: "phu-luc.pdf", ContentType: "application/pdf", Data: append([]byte(nil), append(minimalPDF, '1')...)}}}
	if mod != nil {
		mod(&in)
	}
	d, err := b.svc.CreateOutgoing(context.Background(), by, in)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func toIssued(t *testing.T, b *testBundle, id string) workflow.OutgoingDoc {
	t.Helper()
	ctx := context.Background()
	s := b.svc
	if _, err := s.SubmitOutgoing(ctx, b.spec, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ReviewOutgoing(ctx, b.clerk, id, workflow.Review{Approve: true}); err != nil {
		t.Fatal(err)
	}
	signed := append(append([]byte(nil), minimalPDF...), []byte("%signed\n")...)
	if _, err := s.SignOutgoing(ctx, b.leader, id, workflow.Signature{Signed: workflow.FileIn{Name: "qd-signed.pdf", Data: signed}, KeyLabel: "leader-key"}); err != nil {
		t.Fatal(err)
	}
	d, err := s.IssueOutgoing(ctx, b.clerk, id)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestOutgoingFlow(t *testing.T) {
	t.Parallel()
	disp := &recordingDispatcher{}
	b := setup(t, workflow.Config{Dispatcher: disp})
	ctx := context.Background()
	s := b.svc
	// Communes under the province, one of them via a district; another province.
	mustOrg(t, s, workflow.NewOrg{Code: "H53.01", Name: "UBND xã Một", Level: "commune", ParentCode: b.org.Code})
	mustOrg(t, s, workflow.NewOrg{Code: "000.00.02.H53", Name: "UBND huyện Hai", Level: "district", ParentCode: b.org.Code})
	mustOrg(t, s, workflow.NewOrg{Code: "000.01.02.H53", Name: "UBND xã Ba", Level: "commune", ParentCode: "000.00.02.H53"})

	d := draft(t, b, b.spec, nil)
	if d.State != "draft" || len(d.Files) != 2 {
		t.Fatalf("draft = %+v", d)
	}
	// Refused moves before the right state, and by the wrong role.
	_, err := s.IssueOutgoing(ctx, b.clerk, d.ID)
	wantKind(t, err, apperr.Conflict)
	_, err = s.SubmitOutgoing(ctx, b.spec2, d.ID)
	wantKind(t, err, apperr.Forbidden)
	if _, err := s.SubmitOutgoing(ctx, b.spec, d.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.ReviewOutgoing(ctx, b.clerk, d.ID, workflow.Review{Approve: false})
	wantKind(t, err, apperr.Invalid)
	back, err := s.ReviewOutgoing(ctx, b.clerk, d.ID, workflow.Review{Approve: false, Reason: "Sai thể thức"})
	if err != nil || back.State != "draft" || back.Reason != "Sai thể thức" {
		t.Fatalf("send back = %+v, %v", back, err)
	}
	_, err = s.SignOutgoing(ctx, b.leader, d.ID, workflow.Signature{Signed: workflow.FileIn{Name: "s.pdf", Data: minimalPDF}})
	wantKind(t, err, apperr.Conflict)
	_, err = s.SignOutgoing(ctx, b.leader, d.ID, workflow.Signature{Signed: workflow.FileIn{Name: "s.pdf", Data: []byte("not pdf")}})
	wantKind(t, err, apperr.Invalid)
	issued := toIssued(t, b, d.ID)
	if issued.Number != "01/QĐ-UBND" || issued.State != "issued" {
		t.Fatalf("issued = %q %s", issued.Number, issued.State)
	}
	// A second decision takes 02; a công văn (no type) has its own notation but shares the plain series.
	d2 := toIssued(t, b, draft(t, b, b.spec, nil).ID)
	cv := toIssued(t, b, draft(t, b, b.spec, func(in *workflow.OutgoingIn) { in.DocumentType, in.TypeAbbr, in.UnitAbbr = "Công văn", "", "VP" }).ID)
	lnt := toIssued(t, b, draft(t, b, b.spec, func(in *workflow.OutgoingIn) { in.LegalNormative = true }).ID)
	if d2.Number != "02/QĐ-UBND" || cv.Number != "03/UBND-VP" || lnt.Number != "01/QĐ-UBND" {
		t.Fatalf("numbers: %s %s %s", d2.Number, cv.Number, lnt.Number)
	}
	// Dispatch: one by one (an alias resolves) plus every commune of the province.
	if err := s.AddAlias(ctx, b.admin, "000.00.00.G37", b.org2.Code, nil, ""); err != nil {
		t.Fatal(err)
	}
	_, err = s.DispatchOutgoing(ctx, b.clerk, issued.ID, workflow.DispatchTo{Codes: []string{"H99.01"}})
	wantKind(t, err, apperr.Invalid)
	_, err = s.DispatchOutgoing(ctx, b.clerk, issued.ID, workflow.DispatchTo{})
	wantKind(t, err, apperr.Invalid)
	out, err := s.DispatchOutgoing(ctx, b.clerk, issued.ID, workflow.DispatchTo{Codes: []string{"000.00.00.G37"}, Under: b.org.Code, Level: "commune"})
	if err != nil {
		t.Fatal(err)
	}
	if out.State != "dispatched" || len(out.Recipients) != 3 {
		t.Fatalf("dispatched = %s %+v", out.State, out.Recipients)
	}
	if len(disp.calls) != 1 || strings.Join(disp.calls[0], ",") != "01/QĐ-UBND,3,000.00.00.H37,000.01.02.H53,H53.01" {
		t.Fatalf("dispatcher calls = %v", disp.calls)
	}
	// Again to the same recipients: nothing new.
	_, err = s.DispatchOutgoing(ctx, b.clerk, issued.ID, workflow.DispatchTo{Codes: []string{b.org2.Code}})
	wantKind(t, err, apperr.Conflict)
	// A failing dispatcher rolls the recipients back.
	disp.fail = apperr.New(apperr.Unavailable, "queue_down", "queue down")
	_, err = s.DispatchOutgoing(ctx, b.clerk, d2.ID, workflow.DispatchTo{Codes: []string{b.org2.Code}})
	wantKind(t, err, apperr.Unavailable)
	got, _ := s.GetOutgoing(ctx, b.clerk, d2.ID)
	if got.State != "issued" || len(got.Recipients) != 0 {
		t.Fatalf("after failed dispatch: %s %v", got.State, got.Recipients)
	}
	disp.fail = nil
	// Delivery status from the exchange side.
	err = workflow.WithTx(ctx, b.pool, func(tx pgx.Tx) error {
		return s.DeliveryStatusTx(ctx, tx, issued.ID, "H53.01", "delivered", "hub accepted")
	})
	if err != nil {
		t.Fatal(err)
	}
	// Another organisation sees none of it.
	_, err = s.GetOutgoing(ctx, b.clerk2, issued.ID)
	wantKind(t, err, apperr.Forbidden)
}

func TestClassifiedNeverDispatched(t *testing.T) {
	t.Parallel()
	disp := &recordingDispatcher{}
	b := setup(t, workflow.Config{Dispatcher: disp})
	ctx := context.Background()
	for _, level := range []string{"confidential", "secret", "top_secret"} {
		d := toIssued(t, b, draft(t, b, b.spec, func(in *workflow.OutgoingIn) { in.Secrecy = level }).ID)
		if !strings.HasPrefix(d.Number, "0") || *d.Series != "outgoing-secret" {
			t.Fatalf("%s: number %s series %v", level, d.Number, *d.Series)
		}
		_, err := b.svc.DispatchOutgoing(ctx, b.clerk, d.ID, workflow.DispatchTo{Codes: []string{b.org2.Code}})
		wantKind(t, err, apperr.Conflict)
		if !strings.Contains(apperr.Detail(err), "may not be sent electronically") {
			t.Fatalf("unclear refusal: %s", apperr.Detail(err))
		}
	}
	if len(disp.calls) != 0 {
		t.Fatalf("dispatcher called for classified documents: %v", disp.calls)
	}
	var refusals int
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM audit_log WHERE action = 'outgoing.dispatch_refused'`).Scan(&refusals); err != nil || refusals != 3 {
		t.Fatalf("audited refusals = %d, %v", refusals, err)
	}
}

func TestReceiveIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t, workflow.Config{})
	ctx := context.Background()
	in := workflow.ReceivedDoc{ToOrgCode: b.org.Code, SenderCode: "000.00.00.G22", SenderName: "VPCP",
		SenderDocumentID: "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT", CodeNumber: "7816", CodeNotation: "VPCP-TTĐT",
		Subject: "Thử", Urgency: "flash", Secrecy: "normal",
		Files: []workflow.FileIn{{Name: "a.pdf", ContentType: "application/pdf", Data: minimalPDF}}}
	var first, second workflow.Received
	for _, r := range []*workflow.Received{&first, &second} {
		if err := workflow.WithTx(ctx, b.pool, func(tx pgx.Tx) (err error) { *r, err = b.svc.ReceiveTx(ctx, tx, in); return err }); err != nil {
			t.Fatal(err)
		}
	}
	if first.Duplicate || !second.Duplicate || first.ID != second.ID {
		t.Fatalf("first %+v second %+v", first, second)
	}
	d, err := b.svc.GetIncoming(ctx, b.clerk, first.ID)
	if err != nil || d.State != "received" || d.RegisterNumber != nil || len(d.Files) != 1 {
		t.Fatalf("received doc = %+v, %v", d, err)
	}
	in.ToOrgCode = "H01.99"
	err = workflow.WithTx(ctx, b.pool, func(tx pgx.Tx) error { _, err := b.svc.ReceiveTx(ctx, tx, in); return err })
	wantKind(t, err, apperr.NotFound)
}

func TestAuditChain(t *testing.T) {
	t.Parallel()
	b := setup(t, workflow.Config{})
	ctx := context.Background()
	inState(t, b, workflow.StFiled)
	toIssued(t, b, draft(t, b, b.spec, nil).ID)
	r, err := b.svc.VerifyAudit(ctx)
	if err != nil || !r.OK || r.Records < 15 {
		t.Fatalf("verify = %+v, %v", r, err)
	}
	// The log refuses changes through SQL.
	if _, err := b.pool.Exec(ctx, `UPDATE audit_log SET actor = 'x' WHERE seq = 3`); err == nil {
		t.Fatal("UPDATE on audit_log succeeded")
	}
	if _, err := b.pool.Exec(ctx, `DELETE FROM audit_log WHERE seq = 3`); err == nil {
		t.Fatal("DELETE on audit_log succeeded")
	}
	// A superuser who bypasses the trigger is caught by the chain.
	if _, err := b.pool.Exec(ctx, `ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update;
		UPDATE audit_log SET payload = convert_to(replace(convert_from(payload, 'UTF8'), '"v":1', '"v":1 '), 'UTF8') WHERE seq = 12`); err != nil {
		t.Fatal(err)
	}
	r, err = b.svc.VerifyAudit(ctx)
	if err != nil || r.OK || r.BadSeq != 12 {
		t.Fatalf("verify after tampering = %+v, %v", r, err)
	}
}
