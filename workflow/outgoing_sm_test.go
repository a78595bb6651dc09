package workflow_test

import (
	"context"
	"testing"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/workflow"
)

// Every outgoing action from every state: allowed exactly on the machine's edges, a Conflict otherwise.
func TestOutgoingStateMachine(t *testing.T) {
	t.Parallel()
	b := setup(t, workflow.Config{})
	ctx := context.Background()
	s := b.svc
	signed := workflow.Signature{Signed: workflow.FileIn{Name: "s.pdf", Data: append(append([]byte(nil), minimalPDF...), 's')}}
	do := map[string]func(id string) error{
		"submit": func(id string) error { _, err := s.SubmitOutgoing(ctx, b.spec, id); return err },
		"review": func(id string) error {
			_, err := s.ReviewOutgoing(ctx, b.clerk, id, workflow.Review{Approve: true})
			return err
		},
		"sign":  func(id string) error { _, err := s.SignOutgoing(ctx, b.leader, id, signed); return err },
		"issue": func(id string) error { _, err := s.IssueOutgoing(ctx, b.clerk, id); return err },
		"dispatch": func(id string) error {
			_, err := s.DispatchOutgoing(ctx, b.clerk, id, workflow.DispatchTo{Codes: []string{b.org2.Code}})
			return err
		},
	}
	order := []string{"submit", "review", "sign", "issue", "dispatch"}
	states := []string{"draft", "in_review", "approved", "signed", "issued", "dispatched"}
	want := map[string]string{"submit": "in_review", "review": "approved", "sign": "signed", "issue": "issued", "dispatch": "dispatched"}
	for si, st := range states {
		for ai, action := range order {
			// Action ai is allowed only from state ai (dispatch also from dispatched, to add recipients;
			// a second dispatch to the same recipient is a Conflict of its own).
			ok := si == ai
			name := "fail/"
			if ok {
				name = "ok/"
			}
			t.Run(name+action+"_from_"+st, func(t *testing.T) {
				t.Parallel()
				d := draft(t, b, b.spec, nil)
				for _, step := range order[:si] {
					if err := do[step](d.ID); err != nil {
						t.Fatalf("walking to %s: %s: %v", st, step, err)
					}
				}
				err := do[action](d.ID)
				if !ok {
					wantKind(t, err, apperr.Conflict)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				got, err := s.GetOutgoing(ctx, b.clerk, d.ID)
				if err != nil || got.State != want[action] {
					t.Fatalf("after %s: %s, %v", action, got.State, err)
				}
			})
		}
	}
	// Roles: each action refused to the wrong role, whatever the state.
	d := draft(t, b, b.spec, nil)
	for action, wrong := range map[string]workflow.Principal{"review": b.spec, "sign": b.clerk, "issue": b.leader, "dispatch": b.spec} {
		var err error
		switch action {
		case "review":
			_, err = s.ReviewOutgoing(ctx, wrong, d.ID, workflow.Review{Approve: true})
		case "sign":
			_, err = s.SignOutgoing(ctx, wrong, d.ID, signed)
		case "issue":
			_, err = s.IssueOutgoing(ctx, wrong, d.ID)
		case "dispatch":
			_, err = s.DispatchOutgoing(ctx, wrong, d.ID, workflow.DispatchTo{Codes: []string{b.org2.Code}})
		}
		wantKind(t, err, apperr.Forbidden)
	}
	// Drafts: a specialist sees only their own; another organisation nothing.
	_, err := s.GetOutgoing(ctx, b.spec2, d.ID)
	wantKind(t, err, apperr.Forbidden)
	page, err := s.ListOutgoing(ctx, b.spec2, workflow.ListQuery{})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("spec2 lists %d drafts, %v", len(page.Items), err)
	}
	page, err = s.ListOutgoing(ctx, b.clerk2, workflow.ListQuery{})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("org2 lists %d, %v", len(page.Items), err)
	}
	// Bad drafts.
	for name, mod := range map[string]func(*workflow.OutgoingIn){
		"no subject":       func(in *workflow.OutgoingIn) { in.Subject = "" },
		"no main":          func(in *workflow.OutgoingIn) { in.Main = workflow.FileIn{} },
		"main not pdf":     func(in *workflow.OutgoingIn) { in.Main.ContentType = "image/png" },
		"abbr with dash":   func(in *workflow.OutgoingIn) { in.TypeAbbr = "QĐ-X" },
		"lnt without abbr": func(in *workflow.OutgoingIn) { in.LegalNormative, in.TypeAbbr = true, "" },
		"bad secrecy":      func(in *workflow.OutgoingIn) { in.Secrecy = "tuyet_mat" },
		"negative copies":  func(in *workflow.OutgoingIn) { n := -2; in.Copies = &n },
		"bad attachment":   func(in *workflow.OutgoingIn) { in.Attachments = []workflow.FileIn{{Name: "", Data: []byte("x")}} },
	} {
		in := workflow.OutgoingIn{DocumentType: "Công văn", Subject: "x", Main: workflow.FileIn{Name: "a.pdf", ContentType: "application/pdf", Data: minimalPDF}}
		mod(&in)
		_, err := s.CreateOutgoing(ctx, b.spec, in)
		if apperr.KindOf(err) != apperr.Invalid {
			t.Errorf("%s: %v", name, err)
		}
	}
}
