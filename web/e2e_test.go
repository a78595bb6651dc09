package web_test

import (
	"context"
	"crypto/x509/pkix"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/hsmtest"
	"github.com/lienthong/lienthong/signing/agent"
	"github.com/lienthong/lienthong/web"
	"github.com/lienthong/lienthong/workflow"
)

const chromiumPath = "/usr/bin/chromium"

// artifacts is where screenshots go: $LIENTHONG_ARTIFACTS/web-e2e, or a folder under the system temp
// directory that outlives the test (its path is logged).
func artifacts(t *testing.T) string {
	dir := os.Getenv("LIENTHONG_ARTIFACTS")
	if dir != "" {
		dir = filepath.Join(dir, "web-e2e")
	} else {
		dir = filepath.Join(os.TempDir(), "lienthong-web-e2e-"+time.Now().UTC().Format("20060102-150405"))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)
	return dir
}

// TestBrowserClerkRegistersLeaderAssignsAndSigns drives Debian's Chromium through the console: the
// clerk signs in, sees the verification verdicts, registers a document received from the axis and
// presents it; the leader assigns it with an instruction and a deadline, then signs an approved draft
// with a SoftHSM token (standing in for the USB token) through the local signing agent on loopback;
// the clerk issues the signed document and sends it to a commune chosen with the directory filter.
func TestBrowserClerkRegistersLeaderAssignsAndSigns(t *testing.T) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("%s is absent (apt-get install chromium; `make test` installs it): %v", chromiumPath, err)
	}
	// The leader's token and the agent, allowed for the node's origin only.
	tok := hsmtest.Token(t)
	n := newNode(t, web.Config{})
	if _, err := tok.IssueKey(context.Background(), "leader", []byte{0x31}, hsm.ECP256, n.demo.CA,
		pkix.Name{Country: []string{"VN"}, Organization: []string{"UBND tỉnh Tây Ninh"}, CommonName: n.demo.Users["leader"].Name}); err != nil {
		t.Fatal(err)
	}
	ag, err := agent.New(agent.Config{Module: tok.Store.Module, Origins: []string{n.srv.URL}, PINSource: "file:" + tok.PINFile, Prompter: agent.Auto{}})
	if err != nil {
		t.Fatal(err)
	}
	agSrv := httptest.NewServer(ag.Handler())
	t.Cleanup(func() { agSrv.Close(); _ = ag.Close() })
	// The console is told where the agent listens (a random port here, 127.0.0.1:8987 in real use).
	n2, err := web.New(web.Config{Service: n.svc, API: apiOf(t, n), Roots: n.roots, AgentURL: agSrv.URL})
	if err != nil {
		t.Fatal(err)
	}
	n.swap(n2)

	shots := artifacts(t)
	ctx, cancel := context.WithTimeout(context.Background(), 85*time.Second)
	defer cancel()
	actx, acancel := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true), chromedp.Flag("lang", "vi-VN"),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1366, 900))
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()

	step := 0
	start := time.Now()
	shot := func(name string) {
		t.Helper()
		step++
		t.Logf("%5.1fs %s", time.Since(start).Seconds(), name)
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(shots, fmt.Sprintf("%02d-%s.png", step, name)), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			shot("failed-" + strings.ReplaceAll(what, " ", "-"))
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return s
	}
	signIn := func(token string) {
		t.Helper()
		do("sign in",
			chromedp.Navigate(n.srv.URL+"/ui/login"),
			chromedp.WaitVisible(chromedp.CSS("#token")),
			chromedp.SendKeys(chromedp.CSS("#token"), token),
			chromedp.Click(chromedp.CSS(`button[type=submit].primary`)),
			chromedp.WaitVisible(chromedp.CSS(".who")))
	}

	// 1. The clerk: inbox with the verdicts, register, present.
	signIn(n.demo.Tokens["clerk"])
	do("inbox", chromedp.WaitVisible(chromedp.CSS("table.list")))
	if s := text("table.list"); !strings.Contains(s, "con dấu số hợp lệ của Văn phòng Chính phủ") || !strings.Contains(s, "nội dung đã bị thay đổi sau khi ký") {
		t.Errorf("inbox verdicts missing: %q", s)
	}
	shot("clerk-inbox")
	id := n.demo.Received[0]
	do("open the document", chromedp.Click(chromedp.CSS(`a[href="/ui/incoming/`+id+`"]`)), chromedp.WaitVisible(chromedp.CSS("#btn-register")))
	shot("clerk-document")
	do("register", chromedp.Click(chromedp.CSS("#btn-register")), chromedp.WaitVisible(chromedp.CSS("#btn-present")))
	if s := text(".flash"); !strings.Contains(s, "Đã vào sổ") {
		t.Errorf("after register: %q", s)
	}
	shot("clerk-registered")
	// The registration's flash is still on the page when the click returns: wait until the form's
	// redirect has replaced the page (no present button any more), or the next navigation races that
	// redirect ("Not attached to an active page"), and for the state itself (bounded) before asserting.
	do("present", chromedp.Click(chromedp.CSS("#btn-present")), chromedp.WaitNotPresent(chromedp.CSS("#btn-present")),
		chromedp.WaitVisible(chromedp.CSS(".flash")))
	stateIs := func(who, want string) {
		t.Helper()
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
			if d, err := n.svc.GetIncoming(ctx, n.demo.Users[who], id); err == nil && d.State == want {
				return
			}
		}
	}
	stateIs("clerk", workflow.StPresented)
	d, err := n.svc.GetIncoming(ctx, n.demo.Users["clerk"], id)
	if err != nil || d.State != workflow.StPresented || d.RegisterNumber == nil || *d.RegisterNumber != 3 {
		t.Fatalf("after the clerk: state %s, number %v, %v", d.State, d.RegisterNumber, err) // 1 and 2 went to the demo's paper documents
	}
	do("registers", chromedp.Navigate(n.srv.URL+"/ui/registers?q=chu+ky+so"), chromedp.WaitVisible(chromedp.CSS("#results")))
	shot("clerk-search")
	do("sign out", chromedp.Click(chromedp.CSS("header button.link")), chromedp.WaitVisible(chromedp.CSS("#token")))

	// 2. The leader: queue, read, assign with an instruction and a deadline.
	signIn(n.demo.Tokens["leader"])
	do("queue", chromedp.WaitVisible(chromedp.CSS(`a[href="/ui/incoming/`+id+`"]`)))
	shot("leader-queue")
	deadline := time.Now().In(workflow.Local).AddDate(0, 0, 10)
	do("assign",
		chromedp.Click(chromedp.CSS(`a[href="/ui/incoming/`+id+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#assign-form")),
		chromedp.SetValue(chromedp.CSS("#lead_department"), "KT"),
		chromedp.SendKeys(chromedp.CSS("#deadline"), deadline.Format("02/01/2006")),
		chromedp.SendKeys(chromedp.CSS("#instruction"), "Phòng Kinh tế chủ trì, báo cáo trước hạn."))
	shot("leader-assign-form")
	do("submit the assignment", chromedp.Click(chromedp.CSS("#btn-assign")), chromedp.WaitVisible(chromedp.CSS(".flash")))
	if s := text(".flash"); !strings.Contains(s, "Đã phân công") {
		t.Errorf("after assign: %q", s)
	}
	shot("leader-assigned")
	stateIs("leader", workflow.StAssigned)
	d, _ = n.svc.GetIncoming(ctx, n.demo.Users["leader"], id)
	if d.State != workflow.StAssigned || d.Deadline == nil || *d.Deadline != deadline.Format("2006-01-02") || d.Instruction != "Phòng Kinh tế chủ trì, báo cáo trước hạn." {
		t.Fatalf("after the leader: %+v", d)
	}

	// 3. The leader signs the approved draft with the token through the agent.
	do("open the draft", chromedp.Navigate(n.srv.URL+"/ui/outgoing/"+n.demo.ToSign), chromedp.WaitVisible(chromedp.CSS("#btn-sign")))
	shot("leader-draft")
	do("sign", chromedp.Click(chromedp.CSS("#btn-sign")))
	// Success reloads the page with the flash message; failure shows the reason in the status line.
	do("wait for the signature", chromedp.WaitVisible(chromedp.CSS("p.flash.ok, #sign-status.err")))
	do("signed page", chromedp.WaitVisible(chromedp.CSS("#out-state")))
	shot("leader-signed")
	if s := text("#main"); !strings.Contains(s, "Đã ký số văn bản") {
		t.Fatalf("signing did not finish: %q", firstLine(s))
	}
	o, err := n.svc.GetOutgoing(ctx, n.demo.Users["leader"], n.demo.ToSign)
	if err != nil || o.State != workflow.StSigned || o.SignedAt == nil {
		t.Fatalf("draft after signing: %s %v", o.State, err)
	}

	// 4. The clerk issues it and picks a recipient from the directory, filtered by level and name.
	do("sign out", chromedp.Click(chromedp.CSS("header button.link")), chromedp.WaitVisible(chromedp.CSS("#token")))
	signIn(n.demo.Tokens["clerk"])
	do("issue", chromedp.Navigate(n.srv.URL+"/ui/outgoing/"+n.demo.ToSign), chromedp.WaitVisible(chromedp.CSS("#btn-issue")),
		chromedp.Click(chromedp.CSS("#btn-issue")), chromedp.WaitVisible(chromedp.CSS("#dispatch-form")),
		chromedp.SetValue(chromedp.CSS("#f-level"), "commune"), chromedp.SendKeys(chromedp.CSS("#f-name"), "binh"))
	visible, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#orglist label')).filter(l => !l.hidden).map(l => l.dataset.name)`))
	if err != nil || len(visible) != 1 || !strings.Contains(visible[0], "Tân Bình") {
		t.Fatalf("recipient filter (commune, \"binh\") shows %q (%v)", visible, err)
	}
	shot("clerk-choose-recipient")
	do("dispatch", chromedp.Click(chromedp.CSS(`#orglist input[value="000.02.00.H53"]`)), chromedp.Click(chromedp.CSS("#btn-dispatch")),
		chromedp.WaitVisible(chromedp.CSS("li.recipient")))
	shot("clerk-dispatched")
	o, _ = n.svc.GetOutgoing(ctx, n.demo.Users["clerk"], n.demo.ToSign)
	if o.State != workflow.StDispatched || len(o.Recipients) != 1 || o.Recipients[0].Code != "000.02.00.H53" {
		t.Fatalf("after dispatch: %s %+v", o.State, o.Recipients)
	}
}

func firstLine(s string) string {
	if len(s) > 400 {
		return s[:400]
	}
	return s
}
