package remote_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/hsmtest"
	"github.com/lienthong/lienthong/hsm/softhsm"
	"github.com/lienthong/lienthong/internal/pgtest"
	"github.com/lienthong/lienthong/migrations"
	"github.com/lienthong/lienthong/signing/agent"
	"github.com/lienthong/lienthong/signing/cms/tsp/tsptest"
	"github.com/lienthong/lienthong/signing/remote"
	"github.com/lienthong/lienthong/signing/verify"
	"github.com/lienthong/lienthong/workflow"
	"github.com/lienthong/lienthong/workflow/api"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// bundle is a node (real HTTP over real PostgreSQL), a leader's SoftHSM token standing in for the USB
// token, and the local agent on loopback configured for the node's origin.
type bundle struct {
	srv     *httptest.Server
	agent   *httptest.Server
	wf      *workflow.Service
	clock   *clock
	tok     *softhsm.Token
	iss     *softhsm.Issued
	other   *softhsm.Issued // a second key and certificate on the same token (same CA)
	ca      *softhsm.CA
	roots   *x509.CertPool
	spec    workflow.Principal
	clerk   workflow.Principal
	leader  workflow.Principal
	tokens  map[string]string // role name -> API token
	leaderB int64
}

var classicPDF = func() []byte {
	b, err := os.ReadFile("../../testdata/pdf/classic.pdf")
	if err != nil {
		panic(err)
	}
	return b
}()

func setup(t *testing.T) *bundle { t.Helper(); return setupWith(t, nil) }

// setupWith lets a test adjust the remote signing configuration (a TSA, more roots) before the
// server starts.
func setupWith(t *testing.T, adjust func(*remote.Config)) *bundle {
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
	b := &bundle{clock: &clock{t: time.Now().Truncate(time.Second)}, tokens: map[string]string{}}
	b.wf = workflow.New(pool, workflow.Config{Now: b.clock.Now, AuthCacheTTL: -1})
	sys := workflow.System("test")
	if _, err := b.wf.AddOrg(ctx, sys, workflow.NewOrg{Code: "000.00.00.H53", Name: "UBND tỉnh Tây Ninh", Abbr: "UBND", Level: "province"}); err != nil {
		t.Fatal(err)
	}
	user := func(key, name, role string) workflow.Principal {
		_, tok, err := b.wf.AddUser(ctx, sys, workflow.NewUser{OrgCode: "000.00.00.H53", Name: name, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		b.tokens[key] = tok
		p, err := b.wf.Authenticate(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	b.spec = user("spec", "Chuyên viên", "specialist")
	b.clerk = user("clerk", "Văn thư", "clerk")
	b.leader = user("leader", "Nguyễn Văn A", "leader")
	b.leaderB = user("leaderB", "Trần Thị B", "leader").UserID

	b.tok = hsmtest.Token(t)
	b.ca = hsmtest.CA(t)
	b.iss, err = b.tok.IssueKey(ctx, "leader", []byte{0x20}, hsm.RSA2048, b.ca, pkix.Name{CommonName: "Nguyễn Văn A", Organization: []string{"UBND tỉnh Tây Ninh"}})
	if err != nil {
		t.Fatal(err)
	}
	b.other, err = b.tok.IssueKey(ctx, "other", []byte{0x21}, hsm.ECP256, b.ca, pkix.Name{CommonName: "Người khác"})
	if err != nil {
		t.Fatal(err)
	}
	b.roots = x509.NewCertPool()
	b.roots.AddCert(b.ca.Cert)

	cfg := remote.Config{Roots: b.roots, Now: b.clock.Now, Reason: "Phê duyệt", Location: "Tây Ninh"}
	if adjust != nil {
		adjust(&cfg)
	}
	rs := remote.New(b.wf, cfg)
	a := api.New(api.Deps{Service: b.wf})
	a.SetRemoteSigning(rs, api.RemoteSigningOptions{})
	b.srv = httptest.NewServer(a)
	t.Cleanup(b.srv.Close)

	ag, err := agent.New(agent.Config{Module: b.tok.Store.Module, Origins: []string{b.srv.URL}, PINSource: "file:" + b.tok.PINFile,
		Prompter: agent.Auto{}})
	if err != nil {
		t.Fatal(err)
	}
	b.agent = httptest.NewServer(ag.Handler())
	t.Cleanup(func() { b.agent.Close(); _ = ag.Close() })
	return b
}

// draft makes an approved draft sent to the leader (when send is true) and returns its id.
func (b *bundle) draft(t *testing.T, send bool) workflow.OutgoingDoc {
	t.Helper()
	ctx := context.Background()
	d, err := b.wf.CreateOutgoing(ctx, b.spec, workflow.OutgoingIn{DocumentType: "Quyết định", TypeAbbr: "QĐ",
		Subject: "Về việc ban hành quy chế ký số", Main: workflow.FileIn{Name: "quyet-dinh.pdf", ContentType: "application/pdf", Data: classicPDF}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.wf.SubmitOutgoing(ctx, b.spec, d.ID); err != nil {
		t.Fatal(err)
	}
	if d, err = b.wf.ReviewOutgoing(ctx, b.clerk, d.ID, workflow.Review{Approve: true}); err != nil {
		t.Fatal(err)
	}
	if send {
		b.call(t, 200, "POST", "/api/v1/outgoing/"+d.ID+"/signer", "clerk", map[string]any{"leader_id": b.leader.UserID}, nil)
	}
	return d
}

type problem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// call makes a request to the node as the user named by who ("" = no token) and decodes the answer
// into out (or a problem when want is 4xx).
func (b *bundle) call(t *testing.T, want int, method, path, who string, body any, out any) problem {
	t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, b.srv.URL+path, rd)
	if who != "" {
		req.Header.Set("Authorization", "Bearer "+b.tokens[who])
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return do(t, req, want, out)
}

func do(t *testing.T, req *http.Request, want int, out any) problem {
	t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d: %s", req.Method, req.URL.Path, res.StatusCode, want, data)
	}
	var p problem
	if want >= 400 {
		if ct := res.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("%s %s: content type %q, want problem+json", req.Method, req.URL.Path, ct)
		}
		if err := json.Unmarshal(data, &p); err != nil || p.Detail == "" || p.Code == "" {
			t.Fatalf("not a problem with a detail: %s", data)
		}
		return p
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s: %v: %s", req.URL.Path, err, data)
		}
	}
	return p
}

// agentCall makes a request to the local agent as the node's page would (Origin = the node).
func (b *bundle) agentCall(t *testing.T, want int, method, path string, body any, out any) problem {
	t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, b.agent.URL+path, rd)
	req.Header.Set("Origin", b.srv.URL)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return do(t, req, want, out)
}

type certAnswer struct {
	Certificate []byte `json:"certificate"`
	Subject     string `json:"subject"`
}

type signAnswer struct {
	Signature   []byte `json:"signature"`
	Certificate []byte `json:"certificate"`
}

func signaturePNG(t *testing.T) []byte {
	img := image.NewNRGBA(image.Rect(0, 0, 120, 60))
	for x := 10; x < 110; x++ {
		img.Set(x, 30+(x%7)-3, color.NRGBA{0, 0, 160, 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// prepare runs the page's first steps: the certificate from the agent, then prepare on the node.
func (b *bundle) prepare(t *testing.T, docID string) (remote.Prepared, []byte) {
	t.Helper()
	var list struct {
		Items []agent.CertInfo `json:"items"`
	}
	b.agentCall(t, 200, "GET", "/v1/certificates", nil, &list)
	var ref *agent.CertInfo
	for i, c := range list.Items {
		if c.TokenSerial == b.tok.Serial && c.KeyID == "20" {
			ref = &list.Items[i]
		}
	}
	if ref == nil || !ref.HasKey || !strings.Contains(ref.Subject, "Nguyễn Văn A") {
		t.Fatalf("the agent does not list the leader's certificate: %+v", list.Items)
	}
	var ca certAnswer
	b.agentCall(t, 200, "POST", "/v1/certificate", map[string]string{"token_serial": b.tok.Serial, "key_id": "20"}, &ca)
	if !bytes.Equal(ca.Certificate, b.iss.Cert.Raw) {
		t.Fatal("the agent returned another certificate")
	}
	var prep remote.Prepared
	b.call(t, 201, "POST", "/api/v1/outgoing/"+docID+"/signing/prepare", "leader", remote.PrepareRequest{
		Certificate: ca.Certificate, Appearance: &remote.AppearanceIn{ImagePNG: signaturePNG(t), Page: 1, Rect: [4]float64{350, 60, 530, 130}},
	}, &prep)
	return prep, ca.Certificate
}

func (b *bundle) agentSign(t *testing.T, prep remote.Prepared) []byte {
	t.Helper()
	var sa signAnswer
	b.agentCall(t, 200, "POST", "/v1/sign", map[string]any{"token_serial": b.tok.Serial, "key_id": "20", "session_id": prep.ID,
		"digest": prep.Digest, "digest_algorithm": prep.DigestAlgorithm, "signed_attributes": prep.SignedAttributes, "summary": prep.Summary}, &sa)
	return sa.Signature
}

func (b *bundle) download(t *testing.T, sha string) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", b.srv.URL+"/api/v1/files/"+sha, nil)
	req.Header.Set("Authorization", "Bearer "+b.tokens["leader"])
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("download %s: %d %s", sha, res.StatusCode, data)
	}
	return data
}

// TestAgentFlowEndToEnd: a leader signs a draft through the agent with the token; the result verifies
// with our verifier and with poppler's pdfsig; the session cannot be replayed.
func TestAgentFlowEndToEnd(t *testing.T) {
	t.Parallel()
	b := setup(t)
	d := b.draft(t, true)
	prep, cert := b.prepare(t, d.ID)
	if prep.Summary.Subject != d.Subject || prep.Summary.Number != remote.NotNumbered || prep.Summary.DocumentSHA256 != d.Files[0].SHA256 {
		t.Fatalf("summary %+v does not describe the draft", prep.Summary)
	}
	if !prep.ExpiresAt.After(b.clock.Now()) || prep.ExpiresAt.Sub(b.clock.Now()) > 10*time.Minute {
		t.Fatalf("expires at %v", prep.ExpiresAt)
	}
	sig := b.agentSign(t, prep)
	var done remote.Completed
	b.call(t, 200, "POST", "/api/v1/signing/sessions/"+prep.ID+"/complete", "leader", remote.CompleteRequest{Certificate: cert, Signature: sig}, &done)
	if done.Document.State != workflow.StSigned || done.Verification.Indication != verify.TotalPassed || !done.Verification.WholeDocument {
		t.Fatalf("complete: state %s, verification %+v", done.Document.State, done.Verification)
	}
	signed := b.download(t, done.SignedSHA256)
	if !bytes.HasPrefix(signed, classicPDF) {
		t.Fatal("the signed version does not keep the draft's bytes")
	}
	rep, err := verify.PDF(context.Background(), bytes.NewReader(signed), int64(len(signed)), verify.Options{Roots: b.roots})
	if err != nil || !rep.Valid || len(rep.Signatures) != 1 || rep.Signatures[0].Signer.CommonName != "Nguyễn Văn A" {
		t.Fatalf("our verifier: %v %+v", err, rep)
	}
	if !rep.Signatures[0].ClaimedSigningTime.Equal(prep.Summary.SignedAt) {
		t.Errorf("signing time %v, prepared %v", rep.Signatures[0].ClaimedSigningTime, prep.Summary.SignedAt)
	}
	checkPdfsig(t, signed, b.ca.Cert)

	// Replay: the same session and signature again.
	p := b.call(t, 409, "POST", "/api/v1/signing/sessions/"+prep.ID+"/complete", "leader", remote.CompleteRequest{Certificate: cert, Signature: sig}, nil)
	if p.Code != "sign_session_used" {
		t.Fatalf("replay: %+v", p)
	}
	// The audit trail has the prepare and the completion.
	var hist struct {
		Items []struct {
			Action string `json:"action"`
		} `json:"items"`
	}
	b.call(t, 200, "GET", "/api/v1/outgoing/"+d.ID+"/history", "leader", nil, &hist)
	actions := map[string]bool{}
	for _, h := range hist.Items {
		actions[h.Action] = true
	}
	for _, a := range []string{"outgoing.send_to_leader", "outgoing.sign_prepare", "outgoing.sign", "outgoing.sign_complete", "outgoing.sign_refused"} {
		if !actions[a] {
			t.Errorf("history lacks %s: %v", a, actions)
		}
	}
}

func TestRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	t.Run("fail/not-sent-to-a-leader", func(t *testing.T) {
		d := b.draft(t, false)
		p := b.call(t, 403, "POST", "/api/v1/outgoing/"+d.ID+"/signing/prepare", "leader", remote.PrepareRequest{Certificate: b.iss.Cert.Raw}, nil)
		if p.Code != "sign_not_sent" {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("fail/another-leader", func(t *testing.T) {
		d := b.draft(t, true)
		p := b.call(t, 403, "POST", "/api/v1/outgoing/"+d.ID+"/signing/prepare", "leaderB", remote.PrepareRequest{Certificate: b.iss.Cert.Raw}, nil)
		if p.Code != "sign_not_sent_to_you" {
			t.Fatalf("%+v", p)
		}
		b.call(t, 403, "POST", "/api/v1/outgoing/"+d.ID+"/signing/prepare", "clerk", remote.PrepareRequest{Certificate: b.iss.Cert.Raw}, nil)
		b.call(t, 401, "POST", "/api/v1/outgoing/"+d.ID+"/signing/prepare", "", remote.PrepareRequest{Certificate: b.iss.Cert.Raw}, nil)
	})
	t.Run("fail/send-to-non-leader", func(t *testing.T) {
		d := b.draft(t, false)
		b.call(t, 400, "POST", "/api/v1/outgoing/"+d.ID+"/signer", "clerk", map[string]any{"leader_id": b.spec.UserID}, nil)
		b.call(t, 403, "POST", "/api/v1/outgoing/"+d.ID+"/signer", "spec", map[string]any{"leader_id": b.leader.UserID}, nil)
	})
	t.Run("fail/untrusted-or-malformed-certificate", func(t *testing.T) {
		d := b.draft(t, true)
		other := hsmtest.CA(t)
		p := b.call(t, 400, "POST", "/api/v1/outgoing/"+d.ID+"/signing/prepare", "leader", remote.PrepareRequest{Certificate: other.Cert.Raw}, nil)
		if p.Code != "sign_certificate_untrusted" && p.Code != "sign_certificate_usage" {
			t.Fatalf("%+v", p)
		}
		b.call(t, 400, "POST", "/api/v1/outgoing/"+d.ID+"/signing/prepare", "leader", remote.PrepareRequest{Certificate: []byte("junk")}, nil)
		b.call(t, 400, "POST", "/api/v1/outgoing/"+d.ID+"/signing/prepare", "leader", map[string]any{"certificate": "not base64!"}, nil)
	})
	t.Run("fail/stale-version", func(t *testing.T) {
		d := b.draft(t, true)
		p := b.call(t, 409, "POST", "/api/v1/outgoing/"+d.ID+"/signing/prepare", "leader",
			remote.PrepareRequest{Certificate: b.iss.Cert.Raw, DocumentSHA256: strings.Repeat("ab", 32)}, nil)
		if p.Code != "sign_version_changed" {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("fail/complete-refusals", func(t *testing.T) {
		d := b.draft(t, true)
		prep, cert := b.prepare(t, d.ID)
		sig := b.agentSign(t, prep)
		path := "/api/v1/signing/sessions/" + prep.ID + "/complete"
		// Another certificate than the prepared one.
		p := b.call(t, 400, "POST", path, "leader", remote.CompleteRequest{Certificate: b.other.Cert.Raw, Signature: sig}, nil)
		if p.Code != "sign_certificate_mismatch" {
			t.Fatalf("other certificate: %+v", p)
		}
		// A signature that does not verify (made by another key, or garbage).
		okey := hsmtest.Open(t, b.other.URI)
		bad, err := okey.Sign(nil, prep.Digest, crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range [][]byte{bad, bytes.Repeat([]byte{7}, len(sig)), append(bytes.Clone(sig[:len(sig)-1]), sig[len(sig)-1]^1)} {
			p = b.call(t, 400, "POST", path, "leader", remote.CompleteRequest{Certificate: cert, Signature: s}, nil)
			if p.Code != "sign_signature_invalid" {
				t.Fatalf("bad signature: %+v", p)
			}
		}
		// Another user, an unknown session.
		if p = b.call(t, 403, "POST", path, "leaderB", remote.CompleteRequest{Certificate: cert, Signature: sig}, nil); p.Code != "sign_session_other_user" {
			t.Fatalf("other user: %+v", p)
		}
		b.call(t, 404, "POST", "/api/v1/signing/sessions/"+strings.Repeat("x", 32)+"/complete", "leader", remote.CompleteRequest{Certificate: cert, Signature: sig}, nil)
		// None of the refusals spent the session: the right signature still completes, once.
		b.call(t, 200, "POST", path, "leader", remote.CompleteRequest{Certificate: cert, Signature: sig}, nil)
		b.call(t, 409, "POST", path, "leader", remote.CompleteRequest{Certificate: cert, Signature: sig}, nil)
	})
	t.Run("fail/expired", func(t *testing.T) {
		d := b.draft(t, true)
		prep, cert := b.prepare(t, d.ID)
		sig := b.agentSign(t, prep)
		b.clock.Add(6 * time.Minute)
		defer b.clock.Add(-6 * time.Minute)
		p := b.call(t, 409, "POST", "/api/v1/signing/sessions/"+prep.ID+"/complete", "leader", remote.CompleteRequest{Certificate: cert, Signature: sig}, nil)
		if p.Code != "sign_session_expired" {
			t.Fatalf("%+v", p)
		}
	})
}

// TestTwoServerProcesses: sessions live in PostgreSQL, so a second server (another process in
// production) completes what the first prepared, and of two concurrent completes exactly one wins.
func TestTwoServerProcesses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rs2 := remote.New(b.wf, remote.Config{Roots: b.roots, Now: b.clock.Now})
	a2 := api.New(api.Deps{Service: b.wf})
	a2.SetRemoteSigning(rs2, api.RemoteSigningOptions{})
	srv2 := httptest.NewServer(a2)
	t.Cleanup(srv2.Close)

	d := b.draft(t, true)
	prep, cert := b.prepare(t, d.ID)
	sig := b.agentSign(t, prep)
	body, _ := json.Marshal(remote.CompleteRequest{Certificate: cert, Signature: sig})
	statuses := make(chan int, 2)
	var wg sync.WaitGroup
	for _, base := range []string{b.srv.URL, srv2.URL} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("POST", base+"/api/v1/signing/sessions/"+prep.ID+"/complete", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+b.tokens["leader"])
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				statuses <- 0
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			statuses <- res.StatusCode
		}()
	}
	wg.Wait()
	close(statuses)
	got := map[int]int{}
	for s := range statuses {
		got[s]++
	}
	if got[200] != 1 || got[409] != 1 {
		t.Fatalf("two concurrent completes on two servers: %v, want one 200 and one 409", got)
	}
	doc, err := b.wf.GetOutgoing(context.Background(), b.leader, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, f := range doc.Files {
		if f.Role == "signed" {
			n++
		}
	}
	if doc.State != workflow.StSigned || n != 1 {
		t.Fatalf("state %s with %d signed versions, want signed with exactly one", doc.State, n)
	}
}

// TestTimestampedCompletion: with a TSA configured, complete adds an RFC 3161 signature timestamp at
// once (PAdES B-T); the result verifies with our verifier and pdfsig.
func TestTimestampedCompletion(t *testing.T) {
	t.Parallel()
	tsa, err := tsptest.New(tsptest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer tsa.Close()
	b := setupWith(t, func(c *remote.Config) {
		c.TSA = tsa.Client().Timestamp
		c.Roots.AddCert(tsa.Root.Cert)
	})
	d := b.draft(t, true)
	prep, cert := b.prepare(t, d.ID)
	sig := b.agentSign(t, prep)
	var done remote.Completed
	b.call(t, 200, "POST", "/api/v1/signing/sessions/"+prep.ID+"/complete", "leader", remote.CompleteRequest{Certificate: cert, Signature: sig}, &done)
	if done.Verification.Level != "B-T" || tsa.Requests() != 1 {
		t.Fatalf("verification %+v, TSA requests %d", done.Verification, tsa.Requests())
	}
	signed := b.download(t, done.SignedSHA256)
	rep, err := verify.PDF(context.Background(), bytes.NewReader(signed), int64(len(signed)), verify.Options{Roots: b.roots})
	if err != nil || !rep.Valid || rep.Signatures[0].TimestampTime == nil {
		t.Fatalf("our verifier: %v %+v", err, rep)
	}
	checkPdfsig(t, signed, b.ca.Cert)
}
