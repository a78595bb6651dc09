package remote_test

import (
	"testing"

	"github.com/lienthong/lienthong/workflow"
)

// The plain upload route must not get around "only the leader it was sent to signs, and only a
// verified signature over the unchanged draft".
func TestDirectSignUploadGuarded(t *testing.T) {
	t.Parallel()
	b := setup(t)
	junk := workflow.Signature{Signed: workflow.FileIn{Name: "signed.pdf", ContentType: "application/pdf", Data: classicPDF}, KeyLabel: "x"}

	t.Run("fail/another-leader", func(t *testing.T) {
		d := b.draft(t, true)
		p := b.call(t, 403, "POST", "/api/v1/outgoing/"+d.ID+"/sign", "leaderB", junk, nil)
		if p.Code != "sign_not_sent_to_you" {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("fail/unsigned-file-from-the-right-leader", func(t *testing.T) {
		d := b.draft(t, true)
		p := b.call(t, 400, "POST", "/api/v1/outgoing/"+d.ID+"/sign", "leader", junk, nil)
		if p.Code == "" {
			t.Fatalf("%+v", p)
		}
		got, err := b.wf.GetOutgoing(t.Context(), b.leader, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != workflow.StApproved {
			t.Fatalf("state %s after a refused upload, want %s", got.State, workflow.StApproved)
		}
	})
	t.Run("ok/not-sent-keeps-the-organisation-rule", func(t *testing.T) {
		d := b.draft(t, false)
		b.call(t, 200, "POST", "/api/v1/outgoing/"+d.ID+"/sign", "leader", junk, nil)
	})
}
