package workflow_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/workflow"
)

type recallingDispatcher struct {
	recordingDispatcher
	recalled []string
}

func (r *recallingDispatcher) RecallTx(ctx context.Context, tx pgx.Tx, doc workflow.OutgoingDoc, to []workflow.Recipient, reason string) error {
	for _, x := range to {
		r.recalled = append(r.recalled, x.Code+":"+reason)
	}
	return nil
}

func TestRecall(t *testing.T) {
	t.Parallel()
	disp := &recallingDispatcher{}
	b := setup(t, workflow.Config{Dispatcher: disp})
	ctx := context.Background()
	s := b.svc
	// Outgoing: only issued/dispatched documents, with a reason; then frozen.
	d := draft(t, b, b.spec, nil)
	_, err := s.RecallOutgoing(ctx, b.clerk, d.ID, workflow.Action{Reason: "Sai sót"})
	wantKind(t, err, apperr.Conflict)
	toIssued(t, b, d.ID)
	if _, err := s.DispatchOutgoing(ctx, b.clerk, d.ID, workflow.DispatchTo{Codes: []string{b.org2.Code}}); err != nil {
		t.Fatal(err)
	}
	_, err = s.RecallOutgoing(ctx, b.clerk, d.ID, workflow.Action{})
	wantKind(t, err, apperr.Invalid)
	_, err = s.RecallOutgoing(ctx, b.spec, d.ID, workflow.Action{Reason: "x"})
	wantKind(t, err, apperr.Forbidden)
	_, err = s.RecallOutgoing(ctx, b.clerk2, d.ID, workflow.Action{Reason: "x"})
	wantKind(t, err, apperr.Forbidden)
	got, err := s.RecallOutgoing(ctx, b.leader, d.ID, workflow.Action{Reason: "Sai sót nội dung"})
	if err != nil || got.State != "recalled" || len(disp.recalled) != 1 || disp.recalled[0] != b.org2.Code+":Sai sót nội dung" {
		t.Fatalf("recall = %s %v %v", got.State, disp.recalled, err)
	}
	_, err = s.DispatchOutgoing(ctx, b.clerk, d.ID, workflow.DispatchTo{Codes: []string{"000.00.00.G22"}})
	wantKind(t, err, apperr.Conflict)

	// Incoming: the files go, the metadata and number stay; twice is harmless.
	in := workflow.ReceivedDoc{ToOrgCode: b.org.Code, SenderCode: "000.00.00.G22", SenderName: "VPCP",
		SenderDocumentID: "000.00.00.G22,2026/11/20,1/VPCP", Subject: "Thu hồi thử", Urgency: "normal", Secrecy: "normal",
		Files: []workflow.FileIn{{Name: "a.pdf", ContentType: "application/pdf", Data: append(append([]byte(nil), minimalPDF...), "%recall"...)}}}
	var rec workflow.Received
	if err := workflow.WithTx(ctx, b.pool, func(tx pgx.Tx) (err error) { rec, err = s.ReceiveTx(ctx, tx, in); return err }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.MoveIncoming(ctx, b.clerk, rec.ID, "register", workflow.Action{}); err != nil {
		t.Fatal(err)
	}
	before, _ := s.GetIncoming(ctx, b.clerk, rec.ID)
	for range 2 {
		err := workflow.WithTx(ctx, b.pool, func(tx pgx.Tx) error {
			id, err := s.RecallIncomingTx(ctx, tx, b.org.Code, "000.00.00.G22", in.SenderDocumentID, "Gửi nhầm")
			if err == nil && id != rec.ID {
				t.Errorf("recalled %s, want %s", id, rec.ID)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	after, err := s.GetIncoming(ctx, b.clerk, rec.ID)
	if err != nil || after.State != "recalled" || len(after.Files) != 0 || *after.RegisterNumber != *before.RegisterNumber || after.Reason != "Gửi nhầm" {
		t.Fatalf("after recall: %+v %v", after, err)
	}
	_, _, err = s.GetFile(ctx, b.clerk, before.Files[0].SHA256)
	wantKind(t, err, apperr.NotFound)
	_, err = s.MoveIncoming(ctx, b.clerk, rec.ID, "present", workflow.Action{})
	wantKind(t, err, apperr.Conflict)
	err = workflow.WithTx(ctx, b.pool, func(tx pgx.Tx) error {
		_, err := s.RecallIncomingTx(ctx, tx, b.org.Code, "000.00.00.G22", "no such", "x")
		return err
	})
	wantKind(t, err, apperr.NotFound)
	if r, err := s.VerifyAudit(ctx); err != nil || !r.OK {
		t.Fatalf("audit: %+v %v", r, err)
	}
}
