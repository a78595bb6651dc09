package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/internal/pgtest"
	"github.com/lienthong/lienthong/migrations"
	"github.com/lienthong/lienthong/workflow"
	"github.com/lienthong/lienthong/workflow/api"
	"github.com/lienthong/lienthong/workflow/regpdf"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type bundle struct {
	srv                              *httptest.Server
	api                              *api.Server
	svc                              *workflow.Service
	clerk, leader, spec, clerk2, adm string
	specID                           int64
}

func setup(t testing.TB) *bundle {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := migrations.Up(ctx, pool); err != nil {
		t.Fatal(err)
	}
	b := &bundle{svc: workflow.New(pool, workflow.Config{})}
	sys := workflow.System("test")
	for _, o := range []workflow.NewOrg{
		{Code: "000.00.00.H53", Name: "UBND tỉnh Tây Ninh", Abbr: "UBND", Level: "province"},
		{Code: "H53.01", Name: "UBND xã Một", Level: "commune", ParentCode: "000.00.00.H53"},
		{Code: "H53.02", Name: "UBND xã Hai", Level: "commune", ParentCode: "000.00.00.H53"},
		{Code: "000.00.00.H37", Name: "UBND tỉnh Lạng Sơn", Abbr: "UBND", Level: "province"},
	} {
		if _, err := b.svc.AddOrg(ctx, sys, o); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := b.svc.AddDepartment(ctx, sys, "000.00.00.H53", "VP", "Văn phòng"); err != nil {
		t.Fatal(err)
	}
	user := func(org, name, role, dept string) (int64, string) {
		u, tok, err := b.svc.AddUser(ctx, sys, workflow.NewUser{OrgCode: org, Name: name, Role: role, DepartmentCode: dept})
		if err != nil {
			t.Fatal(err)
		}
		return u.ID, tok
	}
	_, b.clerk = user("000.00.00.H53", "Văn thư", "clerk", "")
	_, b.leader = user("000.00.00.H53", "Chủ tịch", "leader", "")
	b.specID, b.spec = user("000.00.00.H53", "Chuyên viên", "specialist", "VP")
	_, b.adm = user("000.00.00.H53", "Quản trị", "admin", "")
	_, b.clerk2 = user("000.00.00.H37", "Văn thư LS", "clerk", "")
	b.api = api.New(api.Deps{Service: b.svc})
	b.srv = httptest.NewServer(b.api)
	t.Cleanup(b.srv.Close)
	return b
}

type resp struct {
	status int
	ctype  string
	body   []byte
}

func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("response is not a JSON object: %v: %s", err, r.body)
	}
	return m
}

func (b *bundle) do(t testing.TB, method, path, token string, body any) resp {
	t.Helper()
	var rd io.Reader
	switch v := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(v)
	case []byte:
		rd = bytes.NewReader(v)
	default:
		j, _ := json.Marshal(v)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, b.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return resp{res.StatusCode, res.Header.Get("Content-Type"), data}
}

func (b *bundle) must(t testing.TB, want int, method, path, token string, body any) map[string]any {
	t.Helper()
	r := b.do(t, method, path, token, body)
	if r.status != want {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, r.status, want, r.body)
	}
	return r.json(t)
}

// wantProblem checks a 4xx problem+json with a detail a clerk can read.
func wantProblem(t testing.TB, r resp, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if r.ctype != "application/problem+json" {
		t.Fatalf("content type %q", r.ctype)
	}
	m := r.json(t)
	if d, _ := m["detail"].(string); d == "" || d == "internal error" || m["status"] != float64(status) {
		t.Fatalf("problem without a useful detail: %s", r.body)
	}
}

const contractBody = `{"sender": {"code": "000.00.00.G22", "name": "Bộ Thông tin và Truyền thông"},
 "code_number": "123", "code_notation": "BTTTT-VP", "promulgation_date": "2026-11-20",
 "document_type": "Công văn", "subject": "Về việc triển khai chữ ký số",
 "urgency": "normal", "secrecy": "normal", "due_date": "2026-12-01"}`

func TestOpenAPIServedAndComplete(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := b.do(t, "GET", "/openapi.json", "", nil)
	file, err := os.ReadFile("openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	if r.status != 200 || !bytes.Equal(r.body, file) {
		t.Fatal("served /openapi.json differs from the checked-in workflow/api/openapi.json")
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(file, &doc); err != nil || !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("not an OpenAPI 3 document: %v", err)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	routes := b.api.Routes()
	for _, rt := range routes {
		if !documented[rt] {
			t.Errorf("route %q is not in openapi.json", rt)
		}
		delete(documented, rt)
	}
	var extra []string
	for k := range documented {
		extra = append(extra, k)
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("openapi.json documents routes the server does not have: %v", extra)
	}
}

func TestAuth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	wantProblem(t, b.do(t, "GET", "/api/v1/incoming", "", nil), 401)
	wantProblem(t, b.do(t, "GET", "/api/v1/incoming", "lt_unknown", nil), 401)
	r := b.do(t, "GET", "/api/v1/incoming", "", nil)
	_ = r
	req, _ := http.NewRequest("GET", b.srv.URL+"/api/v1/incoming", nil)
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("a:b")))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") == "" {
		t.Fatalf("basic auth: %d %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
	// Wrong role.
	wantProblem(t, b.do(t, "POST", "/api/v1/incoming", b.leader, contractBody), 403)
	wantProblem(t, b.do(t, "GET", "/api/v1/incoming", b.adm, nil), 403)
	// Wrong organisation.
	d := b.must(t, 201, "POST", "/api/v1/incoming", b.clerk, contractBody)
	id := d["id"].(string)
	wantProblem(t, b.do(t, "GET", "/api/v1/incoming/"+id, b.clerk2, nil), 403)
	wantProblem(t, b.do(t, "POST", "/api/v1/incoming/"+id+"/present", b.clerk2, nil), 403)
	page := b.must(t, 200, "GET", "/api/v1/incoming", b.clerk2, nil)
	if items := page["items"].([]any); len(items) != 0 {
		t.Fatalf("another organisation lists %d documents", len(items))
	}
	// Public endpoints.
	if r := b.do(t, "GET", "/healthz", "", nil); r.status != 200 {
		t.Fatalf("healthz %d", r.status)
	}
	b.must(t, 200, "GET", "/api/v1/me", b.clerk, nil)
}

func TestContractIncoming(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i := 1; i <= 5; i++ {
		d := b.must(t, 201, "POST", "/api/v1/incoming", b.clerk, contractBody)
		if d["register_number"] != float64(i) || d["register_year"] == nil || d["id"] == "" {
			t.Fatalf("registration %d: %v", i, d)
		}
	}
	// curl -d without -H 'Content-Type: application/json' still works.
	req, _ := http.NewRequest("POST", b.srv.URL+"/api/v1/incoming", strings.NewReader(contractBody))
	req.Header.Set("Authorization", "Bearer "+b.clerk)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("form-urlencoded JSON: %d", res.StatusCode)
	}
	// Another organisation starts at 1.
	if d := b.must(t, 201, "POST", "/api/v1/incoming", b.clerk2, contractBody); d["register_number"] != float64(1) {
		t.Fatalf("org2 first number %v", d["register_number"])
	}
	var seen []float64
	cursor := ""
	for {
		page := b.must(t, 200, "GET", "/api/v1/incoming?limit=2&cursor="+cursor, b.clerk, nil)
		for _, it := range page["items"].([]any) {
			seen = append(seen, it.(map[string]any)["register_number"].(float64))
		}
		cursor = page["next_cursor"].(string)
		if cursor == "" {
			break
		}
	}
	if fmt.Sprint(seen) != "[6 5 4 3 2 1]" {
		t.Fatalf("paged numbers %v", seen)
	}
}

// Malformed or invalid input is always a 4xx problem with a message, never a 5xx.
func TestBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	valid := b.must(t, 201, "POST", "/api/v1/incoming", b.clerk, contractBody)["id"].(string)
	cases := []struct {
		name, method, path, body string
		status                   int
	}{
		{"empty body", "POST", "/api/v1/incoming", "", 400},
		{"not json", "POST", "/api/v1/incoming", "hello", 400},
		{"array", "POST", "/api/v1/incoming", "[]", 400},
		{"two objects", "POST", "/api/v1/incoming", "{} {}", 400},
		{"unknown field", "POST", "/api/v1/incoming", `{"sender":{"name":"x"},"subject":"s","colour":"red"}`, 400},
		{"wrong type", "POST", "/api/v1/incoming", `{"sender":"x","subject":"s"}`, 400},
		{"number overflow", "POST", "/api/v1/incoming", `{"sender":{"name":"x"},"subject":"s","page_count":1e30}`, 400},
		{"missing subject", "POST", "/api/v1/incoming", `{"sender":{"name":"x"}}`, 400},
		{"nul in text", "POST", "/api/v1/incoming", `{"sender":{"name":"x\u0000y"},"subject":"s"}`, 400},
		{"invalid utf8", "POST", "/api/v1/incoming", "{\"sender\":{\"name\":\"x\xff\"},\"subject\":\"s\xfe\"}", 201},
		{"bad base64", "POST", "/api/v1/incoming", `{"sender":{"name":"x"},"subject":"s","files":[{"name":"a","content_base64":"!!!"}]}`, 400},
		{"bad date", "POST", "/api/v1/incoming", `{"sender":{"name":"x"},"subject":"s","due_date":"tomorrow"}`, 400},
		{"bad org code", "POST", "/api/v1/incoming", `{"sender":{"name":"x","code":"' OR 1=1 --"},"subject":"s"}`, 400},
		{"bad id", "GET", "/api/v1/incoming/12345", "", 400},
		{"unknown id", "GET", "/api/v1/incoming/0192f3a0-0000-7000-8000-000000000000", "", 404},
		{"bad cursor", "GET", "/api/v1/incoming?cursor=%21%21", "", 400},
		{"bad limit", "GET", "/api/v1/incoming?limit=abc", "", 400},
		{"zero limit", "GET", "/api/v1/incoming?limit=0", "", 400},
		{"huge limit", "GET", "/api/v1/incoming?limit=99999999999999999999", "", 400},
		{"bad overdue", "GET", "/api/v1/incoming?overdue=maybe", "", 400},
		{"bad state", "GET", "/api/v1/incoming?state=lost", "", 400},
		{"wrong state", "POST", "/api/v1/incoming/" + valid + "/file", "", 409},
		{"return without reason", "POST", "/api/v1/incoming/" + valid + "/return", `{}`, 400},
		{"bad assign", "POST", "/api/v1/incoming/" + valid + "/assign", `{"lead_user_id":"x"}`, 400},
		{"bad sha", "GET", "/api/v1/files/xyz", "", 400},
		{"bad period", "GET", "/api/v1/registers/incoming?from=2026-13-01", "", 400},
		{"reversed period", "GET", "/api/v1/registers/incoming?from=2026-12-01&to=2026-01-01", "", 400},
		{"empty search", "GET", "/api/v1/search?q=", "", 400},
		{"no such endpoint", "GET", "/api/v1/nothing", "", 404},
		{"wrong method", "DELETE", "/api/v1/incoming", "", 405},
		{"outgoing without pdf", "POST", "/api/v1/outgoing", `{"document_type":"Công văn","subject":"s","main":{"name":"a.pdf","content_base64":"aGVsbG8="}}`, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.body != "" {
				body = c.body
			}
			r := b.do(t, c.method, c.path, b.clerk, body)
			if c.status == 201 {
				if r.status != 201 {
					t.Fatalf("status %d: %s", r.status, r.body)
				}
				return
			}
			wantProblem(t, r, c.status)
		})
	}
	// Wrong content type.
	req, _ := http.NewRequest("POST", b.srv.URL+"/api/v1/incoming", strings.NewReader(contractBody))
	req.Header.Set("Authorization", "Bearer "+b.clerk)
	req.Header.Set("Content-Type", "text/xml")
	// (curl's default application/x-www-form-urlencoded is read as JSON: see TestEndToEnd's helpers)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Fatalf("text/xml body: %d", res.StatusCode)
	}
}

func pdfB64(extra string) string {
	return base64.StdEncoding.EncodeToString([]byte("%PDF-1.4\n%" + extra + "\n%%EOF\n"))
}

// The whole story through HTTP: register, route and issue.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	id := b.must(t, 201, "POST", "/api/v1/incoming", b.clerk, contractBody)["id"].(string)
	b.must(t, 200, "POST", "/api/v1/incoming/"+id+"/present", b.clerk, nil)
	b.must(t, 200, "POST", "/api/v1/incoming/"+id+"/assign", b.leader, map[string]any{
		"lead_department": "VP", "lead_user_id": b.specID, "deadline": "2099-12-01", "instruction": "Văn phòng chủ trì"})
	// The specialist now sees it.
	if items := b.must(t, 200, "GET", "/api/v1/incoming", b.spec, nil)["items"].([]any); len(items) != 1 {
		t.Fatalf("specialist sees %d", len(items))
	}
	b.must(t, 200, "POST", "/api/v1/incoming/"+id+"/start", b.spec, nil)
	b.must(t, 200, "POST", "/api/v1/incoming/"+id+"/complete", b.spec, map[string]any{"result": "Đã xử lý"})
	if d := b.must(t, 200, "POST", "/api/v1/incoming/"+id+"/file", b.clerk, nil); d["state"] != "filed" {
		t.Fatalf("state %v", d["state"])
	}
	if h := b.must(t, 200, "GET", "/api/v1/incoming/"+id+"/history", b.leader, nil)["items"].([]any); len(h) != 6 {
		t.Fatalf("history has %d records", len(h))
	}

	out := b.must(t, 201, "POST", "/api/v1/outgoing", b.spec, map[string]any{
		"document_type": "Quyết định", "type_abbr": "QĐ", "subject": "Về việc ban hành quy chế công tác văn thư",
		"signer_name": "Nguyễn Văn A", "signer_position": "Chủ tịch", "competence": "TM.",
		"main": map[string]any{"name": "qd.pdf", "content_type": "application/pdf", "content_base64": pdfB64("draft")}})
	oid := out["id"].(string)
	b.must(t, 200, "POST", "/api/v1/outgoing/"+oid+"/submit", b.spec, nil)
	b.must(t, 200, "POST", "/api/v1/outgoing/"+oid+"/review", b.clerk, map[string]any{"approve": true})
	b.must(t, 200, "POST", "/api/v1/outgoing/"+oid+"/sign", b.leader, map[string]any{"key_label": "chu-tich",
		"signed": map[string]any{"name": "qd-signed.pdf", "content_base64": pdfB64("signed")}})
	iss := b.must(t, 200, "POST", "/api/v1/outgoing/"+oid+"/issue", b.clerk, nil)
	if iss["number"] != "01/QĐ-UBND" {
		t.Fatalf("number %v", iss["number"])
	}
	disp := b.must(t, 200, "POST", "/api/v1/outgoing/"+oid+"/dispatch", b.clerk, map[string]any{"under": "000.00.00.H53", "level": "commune"})
	if rs := disp["recipients"].([]any); len(rs) != 2 {
		t.Fatalf("recipients %v", rs)
	}
	// Files come back checked.
	sha := disp["files"].([]any)[0].(map[string]any)["sha256"].(string)
	if r := b.do(t, "GET", "/api/v1/files/"+sha, b.clerk, nil); r.status != 200 || !bytes.HasPrefix(r.body, []byte("%PDF-")) {
		t.Fatalf("file download %d", r.status)
	}
	// A secret document is refused for electronic dispatch with a clear problem.
	sec := b.must(t, 201, "POST", "/api/v1/outgoing", b.clerk, map[string]any{"document_type": "Công văn", "subject": "Mật",
		"secrecy": "secret", "main": map[string]any{"name": "m.pdf", "content_base64": pdfB64("secret")}})["id"].(string)
	b.must(t, 200, "POST", "/api/v1/outgoing/"+sec+"/submit", b.clerk, nil)
	b.must(t, 200, "POST", "/api/v1/outgoing/"+sec+"/review", b.leader, map[string]any{"approve": true})
	b.must(t, 200, "POST", "/api/v1/outgoing/"+sec+"/sign", b.leader, map[string]any{"signed": map[string]any{"name": "s.pdf", "content_base64": pdfB64("s2")}})
	b.must(t, 200, "POST", "/api/v1/outgoing/"+sec+"/issue", b.clerk, nil)
	r := b.do(t, "POST", "/api/v1/outgoing/"+sec+"/dispatch", b.clerk, map[string]any{"codes": []string{"H53.01"}})
	wantProblem(t, r, 409)
	if !strings.Contains(string(r.body), "classified_no_electronic_dispatch") {
		t.Fatalf("refusal: %s", r.body)
	}
	// Registers and search.
	for _, reg := range []string{"incoming", "outgoing", "tracking"} {
		m := b.must(t, 200, "GET", "/api/v1/registers/"+reg, b.clerk, nil)
		if len(m["items"].([]any)) == 0 {
			t.Errorf("%s register is empty", reg)
		}
	}
	for q, want := range map[string]int{"trien khai chu ky": 1, "cong tac van thu": 1, "01/qd-ubnd": 1, "bo thong tin": 1, "123/BTTTT": 1, "khong co": 0} {
		m := b.must(t, 200, "GET", "/api/v1/search?q="+strings.ReplaceAll(q, " ", "+"), b.leader, nil)
		if got := len(m["items"].([]any)); got != want {
			t.Errorf("search %q: %d hits, want %d", q, got, want)
		}
	}
}

// FuzzIncomingBody posts arbitrary bodies: the answer is never a 5xx.
func FuzzIncomingBody(f *testing.F) {
	for _, s := range []string{contractBody, "", "{}", "[]", `{"sender":{"name":"x"},"subject":"s","page_count":-1}`,
		`{"sender":{"name":"x"},"subject":"s","files":[{"name":"a.pdf","content_type":"application/pdf","content_base64":"JVBERi0="}]}`} {
		f.Add([]byte(s))
	}
	b := setup(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		r := b.do(t, "POST", "/api/v1/incoming", b.clerk, body)
		if r.status >= 500 {
			t.Fatalf("status %d for %q: %s", r.status, body, r.body)
		}
	})
}

func TestRegisterFormats(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.must(t, 201, "POST", "/api/v1/incoming", b.clerk, contractBody)
	r := b.do(t, "GET", "/api/v1/registers/incoming?format=csv", b.clerk, nil)
	if r.status != 200 || !strings.HasPrefix(r.ctype, "text/csv") || !strings.Contains(string(r.body), "Số đến") ||
		!strings.Contains(string(r.body), "123/BTTTT-VP") {
		t.Fatalf("csv: %d %s %s", r.status, r.ctype, r.body)
	}
	r = b.do(t, "GET", "/api/v1/registers/incoming?format=html", b.clerk, nil)
	if r.status != 200 || !strings.Contains(string(r.body), "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN") || !strings.Contains(string(r.body), "Về việc triển khai chữ ký số") {
		t.Fatalf("html: %d %s", r.status, r.body)
	}
	r = b.do(t, "GET", "/api/v1/registers/incoming?format=pdf", b.clerk, nil)
	if _, err := regpdf.LoadFont(); err != nil {
		wantProblem(t, r, 503) // no Vietnamese font on this machine: a clear 503, not a broken PDF
	} else if r.status != 200 || r.ctype != "application/pdf" || !bytes.HasPrefix(r.body, []byte("%PDF-")) {
		t.Fatalf("pdf: %d %s", r.status, r.ctype)
	}
	for _, reg := range []string{"outgoing", "tracking"} {
		m := b.must(t, 200, "GET", "/api/v1/registers/"+reg, b.clerk, nil)
		if _, ok := m["items"].([]any); !ok {
			t.Fatalf("%s items = %v", reg, m["items"])
		}
	}
	wantProblem(t, b.do(t, "GET", "/api/v1/registers/outgoing?format=xlsx", b.clerk, nil), 400)
	wantProblem(t, b.do(t, "GET", "/api/v1/registers/outgoing", b.spec, nil), 403)
}

func TestAdmin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// The province admin adds a commune below it, a department and a clerk who can then work.
	b.must(t, 201, "POST", "/api/v1/orgs", b.adm, map[string]any{"code": "H53.03", "name": "UBND xã Ba", "level": "commune", "parent_code": "000.00.00.H53"})
	b.must(t, 201, "POST", "/api/v1/orgs/H53.03/departments", b.adm, map[string]any{"code": "VP", "name": "Văn phòng"})
	u := b.must(t, 201, "POST", "/api/v1/users", b.adm, map[string]any{"org_code": "H53.03", "name": "Văn thư xã", "role": "clerk", "department_code": "VP"})
	tok := u["token"].(string)
	if d := b.must(t, 201, "POST", "/api/v1/incoming", tok, contractBody); d["register_number"] != float64(1) {
		t.Fatalf("new clerk's first number %v", d["register_number"])
	}
	// Outside its subtree, or without the admin role: refused.
	wantProblem(t, b.do(t, "POST", "/api/v1/users", b.adm, map[string]any{"org_code": "000.00.00.H37", "name": "x", "role": "clerk"}), 403)
	wantProblem(t, b.do(t, "POST", "/api/v1/orgs", b.adm, map[string]any{"code": "H37.09", "name": "x", "level": "commune", "parent_code": "000.00.00.H37"}), 403)
	wantProblem(t, b.do(t, "POST", "/api/v1/orgs", b.clerk, map[string]any{"code": "H53.09", "name": "x", "level": "commune", "parent_code": "000.00.00.H53"}), 403)
	wantProblem(t, b.do(t, "POST", "/api/v1/users", b.leader, map[string]any{"org_code": "000.00.00.H53", "name": "x", "role": "admin"}), 403)
	wantProblem(t, b.do(t, "POST", "/api/v1/orgs", b.adm, map[string]any{"code": "H53.09", "name": "x", "level": "commune"}), 400)
	wantProblem(t, b.do(t, "POST", "/api/v1/orgs", b.adm, map[string]any{"code": "H53.03", "name": "x", "level": "commune", "parent_code": "000.00.00.H53"}), 409)
	wantProblem(t, b.do(t, "POST", "/api/v1/users", b.adm, map[string]any{"org_code": "000.00.00.H53", "name": "x", "role": "root"}), 400)
}

// The request schemas of openapi.json name exactly the JSON fields the server decodes (unknown fields
// are refused, so drift would break clients that follow the document).
func TestOpenAPISchemasMatchStructs(t *testing.T) {
	t.Parallel()
	var doc struct {
		Components struct {
			Schemas map[string]struct {
				Properties map[string]any `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(api.OpenAPI(), &doc); err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{
		"IncomingIn": workflow.IncomingIn{}, "Assignment": workflow.Assignment{}, "Action": workflow.Action{},
		"OutgoingIn": workflow.OutgoingIn{}, "Review": workflow.Review{}, "Signature": workflow.Signature{},
		"DispatchTo": workflow.DispatchTo{}, "FileIn": workflow.FileIn{}, "Party": workflow.Party{},
		"IncomingDoc": workflow.IncomingDoc{}, "OutgoingDoc": workflow.OutgoingDoc{},
	} {
		var fields []string
		rt := reflect.TypeOf(v)
		for i := range rt.NumField() {
			tag := strings.Split(rt.Field(i).Tag.Get("json"), ",")[0]
			if tag != "" && tag != "-" {
				fields = append(fields, tag)
			}
		}
		var documented []string
		for k := range doc.Components.Schemas[name].Properties {
			documented = append(documented, k)
		}
		sort.Strings(fields)
		sort.Strings(documented)
		if strings.Join(fields, ",") != strings.Join(documented, ",") {
			t.Errorf("%s: struct fields %v, documented %v", name, fields, documented)
		}
	}
}
