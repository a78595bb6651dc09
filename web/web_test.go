package web_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/exchange/delivery"
	"github.com/lienthong/lienthong/exchange/demo"
	"github.com/lienthong/lienthong/web"
	"github.com/lienthong/lienthong/workflow"
)

func TestSignInSessionAndCSRF(t *testing.T) {
	n := newNode(t, web.Config{})
	b := n.browser(t)
	if code, _ := b.get("/ui/incoming"); code != http.StatusSeeOther {
		t.Fatalf("no session: %d, want a redirect to the sign-in page", code)
	}
	b.get("/ui/login")
	if code, _, body := b.post("/ui/login", url.Values{"token": {"lt_wrong"}}); code != http.StatusUnauthorized || !strings.Contains(body, "Mã truy cập không đúng") {
		t.Fatalf("wrong token: %d", code)
	}
	if code, _, _ := b.post("/ui/login", url.Values{"token": {n.demo.Tokens["clerk"]}, "csrf": {"forged"}}); code != http.StatusForbidden {
		t.Fatalf("sign-in with a forged CSRF token: %d, want 403", code)
	}
	b.get("/ui/login")
	code, _, _ := b.post("/ui/login", url.Values{"token": {n.demo.Tokens["clerk"]}})
	if code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", code)
	}
	u, _ := url.Parse(n.srv.URL + "/ui/")
	var sess *http.Cookie
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "lt_session" {
			sess = c
		}
	}
	if sess == nil || strings.Contains(sess.Value, n.demo.Tokens["clerk"]) {
		t.Fatalf("session cookie missing or carries the API token: %+v", sess)
	}
	// The jar hides attributes; check them on a fresh sign-in response.
	b2 := n.browser(t)
	b2.get("/ui/login")
	req, _ := http.NewRequest(http.MethodPost, n.srv.URL+"/ui/login", strings.NewReader(url.Values{"token": {n.demo.Tokens["clerk"]}, "csrf": {b2.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b2.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	setc := strings.Join(resp.Header.Values("Set-Cookie"), "\n")
	if !strings.Contains(setc, "lt_session=") || !strings.Contains(setc, "HttpOnly") || !strings.Contains(setc, "SameSite=Strict") {
		t.Fatalf("session cookie attributes: %s", setc)
	}

	code, body := b.get("/ui/incoming")
	if code != http.StatusOK {
		t.Fatalf("inbox: %d", code)
	}
	mustContain(t, body, "Trần Thị Văn Thư", "Chờ vào sổ")
	id := n.demo.Received[0]
	if code, _, _ := b.post("/ui/incoming/"+id+"/register", url.Values{"csrf": {"nope"}}); code != http.StatusForbidden {
		t.Fatalf("action with a wrong CSRF token: %d, want 403", code)
	}
	req, _ = http.NewRequest(http.MethodPost, n.srv.URL+"/ui/incoming/"+id+"/register", strings.NewReader(url.Values{"csrf": {b.csrf}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	if resp, err := b.c.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin post: %v %v", resp.StatusCode, err)
	}
	d, _ := n.svc.GetIncoming(context.Background(), n.demo.Users["clerk"], id)
	if d.State != workflow.StReceived {
		t.Fatalf("a refused request changed the document: %s", d.State)
	}
	// The page's signing calls (JSON, forwarded to the API) need the CSRF header too.
	prep := n.srv.URL + "/ui/api/outgoing/" + n.demo.ToSign + "/signing/prepare"
	req, _ = http.NewRequest(http.MethodPost, prep, strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := b.c.Do(req); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("signing call without CSRF header: %v %v", resp.StatusCode, err)
	}
	req, _ = http.NewRequest(http.MethodPost, prep, strings.NewReader(`{}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", b.csrf)
	resp, err = b.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// Forwarded as the clerk: the API's own role check answers.
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(resp.Header.Get("Content-Type"), "problem+json") || !strings.Contains(string(pb), "lãnh đạo") {
		t.Fatalf("forwarded signing call as a clerk: %d %s %s", resp.StatusCode, resp.Header.Get("Content-Type"), pb)
	}
	// Sign out: the session is gone on the server.
	if code, loc, _ := b.post("/ui/logout", nil); code != http.StatusSeeOther || loc != "/ui/login" {
		t.Fatalf("logout: %d %s", code, loc)
	}
	if code, _ := b.get("/ui/incoming"); code != http.StatusSeeOther {
		t.Fatalf("after logout: %d", code)
	}
}

func TestInboxVerdictsRegisterPresentAssign(t *testing.T) {
	n := newNode(t, web.Config{})
	ctx := context.Background()
	clerk := n.browser(t)
	clerk.login(n.demo.Tokens["clerk"])
	_, body := clerk.get("/ui/incoming")
	mustContain(t, body,
		"Hợp lệ: con dấu số hợp lệ của Văn phòng Chính phủ.",
		"chữ ký số hợp lệ của Phạm Minh Đức (Sở Thông tin và Truyền thông)",
		"KHÔNG HỢP LỆ: chữ ký của UBND xã Tân Lập: nội dung đã bị thay đổi sau khi ký",
		"Không có chữ ký số nào trong tệp")

	id := n.demo.Received[0]
	_, body = clerk.get("/ui/incoming/" + id)
	mustContain(t, body, `<iframe class="pdf" src="/ui/files/`, "Vào sổ văn bản đến", "7816/VPCP-KSTT")
	code, loc, _ := clerk.post("/ui/incoming/"+id+"/register", nil)
	if code != http.StatusSeeOther || !strings.Contains(loc, "msg=registered") {
		t.Fatalf("register: %d %s", code, loc)
	}
	d, err := n.svc.GetIncoming(ctx, n.demo.Users["clerk"], id)
	if err != nil || d.State != workflow.StRegistered || d.RegisterNumber == nil {
		t.Fatalf("after register: %+v %v", d, err)
	}
	_, body = clerk.get(loc)
	mustContain(t, body, "Đã vào sổ văn bản đến.", "Trình lãnh đạo")
	if code, _, _ := clerk.post("/ui/incoming/"+id+"/register", nil); code != http.StatusConflict {
		t.Fatalf("registering twice: %d, want 409", code)
	}
	if code, _, _ := clerk.post("/ui/incoming/"+id+"/present", nil); code != http.StatusSeeOther {
		t.Fatalf("present: %d", code)
	}

	leader := n.browser(t)
	leader.login(n.demo.Tokens["leader"])
	_, body = leader.get("/ui/queue")
	mustContain(t, body, "Về việc triển khai chữ ký số trong cơ quan nhà nước", "Về việc tổng kết công tác văn thư, lưu trữ", "Quá hạn")
	if code, _, _ := clerk.post("/ui/incoming/"+id+"/assign", url.Values{"lead_department": {"KT"}, "deadline": {"01/01/2099"}}); code != http.StatusForbidden {
		t.Fatalf("a clerk assigning: %d, want 403", code)
	}
	code, _, body = leader.post("/ui/incoming/"+id+"/assign", url.Values{"lead_department": {"KT"}, "deadline": {"31/02/2099"}})
	if code != http.StatusBadRequest || !strings.Contains(body, "dd/mm/yyyy") {
		t.Fatalf("bad date: %d", code)
	}
	deadline := time.Now().AddDate(0, 1, 0)
	code, loc, _ = leader.post("/ui/incoming/"+id+"/assign", url.Values{"lead_department": {"KT"}, "coordinating": {"TH"},
		"deadline": {deadline.Format("02/01/2006")}, "instruction": {"Phòng Kinh tế chủ trì, báo cáo trước hạn."}})
	if code != http.StatusSeeOther {
		t.Fatalf("assign: %d", code)
	}
	d, _ = n.svc.GetIncoming(ctx, n.demo.Users["leader"], id)
	if d.State != workflow.StAssigned || d.Deadline == nil || *d.Deadline != deadline.Format("2006-01-02") || d.Instruction == "" || len(d.CoordDepartments) != 1 {
		t.Fatalf("after assign: %+v", d)
	}
	_, body = leader.get(loc)
	mustContain(t, body, "Đã phân công xử lý.", "Phòng Kinh tế", deadline.Format("02/01/2006"), "Phân công xử lý", "Bắt đầu xử lý")
	// The specialist of the Tổng hợp department co-ordinates but does not lead: refused; the leader may act.
	spec := n.browser(t)
	spec.login(n.demo.Tokens["specialist"])
	if code, _, _ := spec.post("/ui/incoming/"+id+"/start", nil); code != http.StatusForbidden {
		t.Fatalf("a co-ordinating specialist starting: %d, want 403", code)
	}
	if code, _, _ := leader.post("/ui/incoming/"+id+"/start", nil); code != http.StatusSeeOther {
		t.Fatalf("start: %d", code)
	}
	if code, _, _ := leader.post("/ui/incoming/"+id+"/complete", url.Values{"result": {"Đã triển khai."}}); code != http.StatusSeeOther {
		t.Fatalf("complete: %d", code)
	}
	d, _ = n.svc.GetIncoming(ctx, n.demo.Users["leader"], id)
	if d.State != workflow.StDone || d.Result != "Đã triển khai." {
		t.Fatalf("after complete: %s %q", d.State, d.Result)
	}
}

func TestRegistersByYearSearchOverdue(t *testing.T) {
	n := newNode(t, web.Config{})
	b := n.browser(t)
	b.login(n.demo.Tokens["clerk"])
	year := time.Now().In(workflow.Local).Year()
	_, body := b.get("/ui/registers")
	mustContain(t, body, "Sổ đăng ký văn bản đến", "Về việc tổng kết công tác văn thư, lưu trữ", "190/STTTT-VP")
	_, body = b.get("/ui/registers?kind=tracking")
	mustContain(t, body, `class="overdue"`, "Quá hạn")
	_, body = b.get("/ui/registers?year=" + itoa(year-1))
	mustContain(t, body, "Sổ chưa có văn bản nào trong năm "+itoa(year-1))
	_, body = b.get("/ui/registers?q=" + url.QueryEscape("chu ky so"))
	mustContain(t, body, "Về việc triển khai chữ ký số trong cơ quan nhà nước")
	if strings.Contains(body, "phòng, chống lụt bão") {
		t.Error("search matched an unrelated document")
	}
	_, body = b.get("/ui/registers?q=" + url.QueryEscape("LUT BAO"))
	mustContain(t, body, "Về việc chủ động phòng, chống lụt bão")
	// The printable register comes from the API, as the signed-in user.
	_, body = b.get("/ui/registers")
	mustContain(t, body, "/ui/registers/incoming/print?year="+itoa(year)+"&amp;format=html")
	code, body := b.get("/ui/registers/incoming/print?year=" + itoa(year) + "&format=html")
	if code != http.StatusOK {
		t.Fatalf("print: %d %s", code, body)
	}
	mustContain(t, body, "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN", "Về việc tổng kết công tác văn thư, lưu trữ")
	code, body = b.get("/ui/registers/tracking/print?year=" + itoa(year) + "&format=csv")
	if code != http.StatusOK || !strings.Contains(body, "190/STTTT-VP") {
		t.Fatalf("csv: %d %.200s", code, body)
	}
	// Overdue in the inbox list too.
	_, body = b.get("/ui/incoming?tab=overdue")
	mustContain(t, body, "Về việc tổng kết công tác văn thư, lưu trữ", "overdue-badge")
}

type fakeDeliveries struct {
	mu          sync.Mutex
	failed      []delivery.Failed
	redelivered []string
}

func (f *fakeDeliveries) FailedDeliveries(context.Context, int) ([]delivery.Failed, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]delivery.Failed(nil), f.failed...), nil
}

func (f *fakeDeliveries) Redeliver(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, x := range f.failed {
		if x.MessageID == id {
			f.failed = append(f.failed[:i], f.failed[i+1:]...)
			f.redelivered = append(f.redelivered, id)
			return nil
		}
	}
	return errors.New("not failed")
}

func TestOutgoingUploadIssueDispatchTimelineRedeliver(t *testing.T) {
	n := newNode(t, web.Config{})
	ctx := context.Background()
	clerk := n.browser(t)
	clerk.login(n.demo.Tokens["clerk"])
	_, body := clerk.get("/ui/outgoing/new")
	mustContain(t, body, `enctype="multipart/form-data"`, "Tệp dự thảo (PDF)")

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range map[string]string{"csrf": clerk.csrf, "document_type": "Công văn", "unit_abbr": "VP",
		"subject": "Về việc hướng dẫn gửi nhận văn bản điện tử", "urgency": "urgent", "due_date": "15/01/2099"} {
		_ = mw.WriteField(k, v)
	}
	fw, _ := mw.CreateFormFile("main", "du-thao.pdf")
	_, _ = fw.Write(demo.MakePDF("Du thao huong dan", 3000))
	fw, _ = mw.CreateFormFile("attachments", "phu-luc.docx")
	_, _ = fw.Write([]byte("PK\x03\x04 phụ lục"))
	_ = mw.Close()
	resp, err := clerk.c.Post(n.srv.URL+"/ui/outgoing", mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/ui/outgoing/") {
		t.Fatalf("upload: %d %s", resp.StatusCode, loc)
	}
	id := strings.TrimPrefix(strings.Split(loc, "?")[0], "/ui/outgoing/")
	d, err := n.svc.GetOutgoing(ctx, n.demo.Users["clerk"], id)
	if err != nil || len(d.Files) != 2 || d.Urgency != "urgent" || d.DueDate == nil || *d.DueDate != "2099-01-15" {
		t.Fatalf("draft: %+v %v", d, err)
	}
	for _, step := range []string{"submit", "approve"} {
		if code, _, body := clerk.post("/ui/outgoing/"+id+"/"+step, nil); code != http.StatusSeeOther {
			t.Fatalf("%s: %d %s", step, code, body)
		}
	}
	code, _, _ := clerk.post("/ui/outgoing/"+id+"/signer", url.Values{"leader_id": {itoa(int(n.demo.Users["leader"].UserID))}})
	if code != http.StatusSeeOther {
		t.Fatalf("send to leader: %d", code)
	}
	// The signature itself is the browser test's job; here the leader's signed file is stored directly.
	if _, err := n.svc.SignOutgoing(ctx, n.demo.Users["leader"], id, workflow.Signature{Signed: workflow.FileIn{Name: "signed.pdf", Data: demo.MakePDF("signed", 3000)}}); err != nil {
		t.Fatal(err)
	}
	if code, _, body := clerk.post("/ui/outgoing/"+id+"/issue", nil); code != http.StatusSeeOther {
		t.Fatalf("issue: %d %s", code, body)
	}
	_, body = clerk.get("/ui/outgoing/" + id)
	mustContain(t, body, "/UBND-VP", "Gửi văn bản", `data-level="commune"`, "UBND xã Tân Lập", "Cấp xã")
	code, _, body = clerk.post("/ui/outgoing/"+id+"/dispatch", url.Values{"codes": {"000.00.00.G22"}, "by_level": {"1"},
		"under": {"000.00.00.H53"}, "level": {"commune"}})
	if code != http.StatusSeeOther {
		t.Fatalf("dispatch: %d %s", code, body)
	}
	d, _ = n.svc.GetOutgoing(ctx, n.demo.Users["clerk"], id)
	if len(d.Recipients) != 4 {
		t.Fatalf("recipients: %+v", d.Recipients)
	}
	// What the exchange side records, then a failed delivery to one commune.
	if err := workflow.WithTx(ctx, n.svc.Pool(), func(tx pgx.Tx) error {
		if err := n.svc.DeliveryStatusTx(ctx, tx, id, "000.01.00.H53", "sent", "axis id 42"); err != nil {
			return err
		}
		return n.svc.DeliveryStatusTx(ctx, tx, id, "000.01.00.H53", "03", "Đã vào sổ")
	}); err != nil {
		t.Fatal(err)
	}
	_, body = clerk.get("/ui/outgoing/" + id)
	mustContain(t, body, "Theo dõi gửi nhận", "Đã gửi lên trục", "Đã vào sổ (03)", "chưa gửi lại được từ đây")

	fd := &fakeDeliveries{failed: []delivery.Failed{{MessageID: "m-1", DocID: id, Recipient: "000.02.00.H53", Kind: "edoc",
		Reason: "deadline", LastError: "axis 503", Attempts: 10, FailedAt: time.Now()}}}
	n.web.SetDeliveries(fd)
	_, body = clerk.get("/ui/outgoing/" + id)
	mustContain(t, body, "Gửi lại", "axis 503")
	if code, _, _ := clerk.post("/ui/outgoing/"+id+"/redeliver", url.Values{"message_id": {"other"}}); code != http.StatusNotFound {
		t.Fatalf("re-deliver an unknown message: %d", code)
	}
	if code, loc, _ := clerk.post("/ui/outgoing/"+id+"/redeliver", url.Values{"message_id": {"m-1"}}); code != http.StatusSeeOther || !strings.Contains(loc, "redelivered") {
		t.Fatalf("re-deliver: %d %s", code, loc)
	}
	if len(fd.redelivered) != 1 {
		t.Fatalf("redelivered: %v", fd.redelivered)
	}
}

func TestFilesStayInTheOrganisation(t *testing.T) {
	n := newNode(t, web.Config{})
	ctx := context.Background()
	d, err := n.svc.GetIncoming(ctx, n.demo.Users["clerk"], n.demo.Received[0])
	if err != nil {
		t.Fatal(err)
	}
	b := n.browser(t)
	b.login(n.demo.Tokens["clerk"])
	resp, err := b.c.Get(n.srv.URL + "/ui/files/" + d.Files[0].SHA256)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "inline") {
		t.Fatalf("own file: %d %v", resp.StatusCode, resp.Header)
	}
	_, tok, err := n.svc.AddUser(ctx, workflow.System("test"), workflow.NewUser{OrgCode: "000.00.00.G22", Name: "Văn thư VPCP", Role: "clerk"})
	if err != nil {
		t.Fatal(err)
	}
	other := n.browser(t)
	other.login(tok)
	resp, err = other.c.Get(n.srv.URL + "/ui/files/" + d.Files[0].SHA256)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Fatal("another organisation's clerk read the file")
	}
	if code, _ := other.get("/ui/incoming/" + d.ID); code == http.StatusOK {
		t.Fatal("another organisation's clerk opened the document")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestPaperRegistrationAndDuplicateWarning(t *testing.T) {
	n := newNode(t, web.Config{})
	b := n.browser(t)
	b.login(n.demo.Tokens["clerk"])
	_, body := b.get("/ui/incoming/new")
	mustContain(t, body, "Văn phòng Chính phủ (000.00.00.G22)", "Bản quét (PDF)")
	send := func() (int, string, string) {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for k, v := range map[string]string{"csrf": b.csrf, "sender_code": "000.00.00.G22", "code_number": "301", "code_notation": "VPCP-TH",
			"promulgation_date": "02/01/2026", "document_type": "Công văn", "subject": "Về việc rà soát thủ tục hành chính", "due_date": "20/01/2099"} {
			_ = mw.WriteField(k, v)
		}
		fw, _ := mw.CreateFormFile("file", "301.pdf")
		_, _ = fw.Write(demo.MakePDF("301", 2000))
		_ = mw.Close()
		resp, err := b.c.Post(n.srv.URL+"/ui/incoming", mw.FormDataContentType(), &buf)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(rb)
	}
	code, loc, rb := send()
	if code != http.StatusSeeOther || !strings.HasSuffix(loc, "msg=registered") {
		t.Fatalf("paper registration: %d %s %s", code, loc, rb)
	}
	_, body = b.get(loc)
	mustContain(t, body, "Đã vào sổ văn bản đến.", "301/VPCP-TH", "02/01/2026", "20/01/2099", "Văn phòng Chính phủ (000.00.00.G22)")
	if code, loc, _ = send(); code != http.StatusSeeOther || !strings.HasSuffix(loc, "msg=registered_dup") {
		t.Fatalf("the same document again: %d %s, want a duplicate warning", code, loc)
	}
}
