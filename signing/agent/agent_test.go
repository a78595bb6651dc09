package agent_test

import (
	"context"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/hsmtest"
	"github.com/lienthong/lienthong/signing/agent"
)

const page = "https://vanban.tayninh.gov.vn"

func newAgent(t *testing.T, cfg agent.Config) *httptest.Server {
	t.Helper()
	if cfg.Origins == nil {
		cfg.Origins = []string{page}
	}
	if cfg.Prompter == nil {
		cfg.Prompter = agent.Auto{}
	}
	a, err := agent.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() { srv.Close(); _ = a.Close() })
	return srv
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
}

func call(t *testing.T, srv *httptest.Server, method, path, origin string, hdr map[string]string, body any) answer {
	t.Helper()
	var rd io.Reader
	if body != nil {
		j, _ := json.Marshal(body)
		rd = strings.NewReader(string(j))
	}
	req, _ := http.NewRequest(method, srv.URL+path, rd)
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	a := answer{status: res.StatusCode, header: res.Header}
	data, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(data, &a.body)
	return a
}

func TestOriginChecks(t *testing.T) {
	t.Parallel()
	srv := newAgent(t, agent.Config{Module: "/nonexistent.so"})
	for _, c := range []struct {
		name, origin string
		hdr          map[string]string
		want         int
	}{
		{"ok/allowed-origin", page, nil, 200},
		{"ok/allowed-origin-default-port", "https://VANBAN.tayninh.gov.vn:443", nil, 200},
		{"fail/no-origin", "", nil, 403},
		{"fail/other-site", "https://evil.example", nil, 403},
		{"fail/lookalike", "https://vanban.tayninh.gov.vn.evil.example", nil, 403},
		{"fail/http-downgrade", "http://vanban.tayninh.gov.vn", nil, 403},
		{"fail/null-origin", "null", nil, 403},
		{"fail/rebinding-host", page, map[string]string{"Host": "evil.example:8987"}, 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := call(t, srv, "GET", "/v1/status", c.origin, c.hdr, nil)
			if a.status != c.want {
				t.Fatalf("status %d, want %d: %v", a.status, c.want, a.body)
			}
			acao := a.header.Get("Access-Control-Allow-Origin")
			if c.want == 200 && acao != c.origin {
				t.Errorf("Access-Control-Allow-Origin %q, want the caller's origin", acao)
			}
			if c.want == 403 {
				if acao != "" {
					t.Errorf("a refused origin got Access-Control-Allow-Origin %q", acao)
				}
				if d, _ := a.body["detail"].(string); !strings.Contains(d, "/") || a.header.Get("Content-Type") != "application/problem+json" {
					t.Errorf("refusal without a bilingual problem: %v", a.body)
				}
			}
		})
	}
	t.Run("ok/preflight-with-local-network-access", func(t *testing.T) {
		a := call(t, srv, "OPTIONS", "/v1/sign", page, map[string]string{"Access-Control-Request-Method": "POST",
			"Access-Control-Request-Private-Network": "true"}, nil)
		if a.status != 204 || a.header.Get("Access-Control-Allow-Private-Network") != "true" ||
			a.header.Get("Access-Control-Allow-Origin") != page || !strings.Contains(a.header.Get("Access-Control-Allow-Methods"), "POST") {
			t.Fatalf("preflight: %d %v", a.status, a.header)
		}
	})
	t.Run("fail/preflight-other-origin", func(t *testing.T) {
		a := call(t, srv, "OPTIONS", "/v1/sign", "https://evil.example", map[string]string{"Access-Control-Request-Method": "POST",
			"Access-Control-Request-Private-Network": "true"}, nil)
		if a.status != 403 || a.header.Get("Access-Control-Allow-Private-Network") != "" {
			t.Fatalf("preflight from another origin: %d %v", a.status, a.header)
		}
	})
	t.Run("fail/sign-from-other-origin-never-reaches-the-token", func(t *testing.T) {
		a := call(t, srv, "POST", "/v1/sign", "https://evil.example", nil, map[string]any{"token_serial": "x", "key_id": "01"})
		if a.status != 403 || a.body["code"] != "agent_origin_refused" {
			t.Fatalf("%d %v", a.status, a.body)
		}
	})
}

func TestListenLoopbackOnly(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:8987", "example.com:8987"} {
		if ln, err := agent.Listen(addr); err == nil {
			ln.Close()
			t.Errorf("Listen(%q) accepted a non-loopback address", addr)
		}
	}
	ln, err := agent.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
}

func TestConfig(t *testing.T) {
	t.Parallel()
	for _, o := range []string{"http://vanban.example.gov.vn", "https://host/path", "ftp://x", "", "https://user@host"} {
		if _, err := agent.New(agent.Config{Origins: []string{o}, Prompter: agent.Auto{}}); err == nil {
			t.Errorf("origin %q accepted", o)
		}
	}
	if _, err := agent.New(agent.Config{Prompter: agent.Auto{}}); err == nil {
		t.Error("no origin accepted")
	}
	if got, err := agent.NormalizeOrigin("HTTPS://Vanban.Example.gov.vn:443/"); err != nil || got != "https://vanban.example.gov.vn" {
		t.Errorf("NormalizeOrigin = %q, %v", got, err)
	}
}

type declining struct{ agent.Auto }

// recording confirms and remembers what the leader was shown.
type recording struct {
	agent.Auto
	mu   sync.Mutex
	seen []agent.Confirmation
}

func (r *recording) Confirm(_ context.Context, c agent.Confirmation) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, c)
	return true, nil
}

func (declining) Confirm(context.Context, agent.Confirmation) (bool, error) { return false, nil }

// TestTokenErrors: with a SoftHSM token, the leader's words for a wrong PIN, a missing token, a refusal.
func TestTokenErrors(t *testing.T) {
	t.Parallel()
	tok := hsmtest.Token(t)
	if _, err := tok.IssueKey(context.Background(), "leader", []byte{0x20}, hsm.RSA2048, hsmtest.CA(t), pkix.Name{CommonName: "Lãnh đạo"}); err != nil {
		t.Fatal(err)
	}
	ref := map[string]any{"token_serial": tok.Serial, "key_id": "20"}
	t.Run("fail/wrong-pin", func(t *testing.T) {
		pinFile := filepath.Join(t.TempDir(), "wrong.pin")
		if err := os.WriteFile(pinFile, []byte("000000\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		srv := newAgent(t, agent.Config{Module: tok.Store.Module, PINSource: "file:" + pinFile})
		a := call(t, srv, "POST", "/v1/certificate", page, nil, ref)
		d, _ := a.body["detail"].(string)
		if a.status != 401 || a.body["code"] != "agent_wrong_pin" || !strings.Contains(d, "Mã PIN không đúng") || !strings.Contains(d, "The PIN is wrong") {
			t.Fatalf("%d %v", a.status, a.body)
		}
		if strings.Contains(d, "000000") {
			t.Fatal("the PIN appears in the answer")
		}
	})
	t.Run("fail/token-not-plugged-in", func(t *testing.T) {
		srv := newAgent(t, agent.Config{Module: tok.Store.Module, PINSource: "file:" + tok.PINFile})
		a := call(t, srv, "POST", "/v1/certificate", page, nil, map[string]any{"token_serial": "NO-SUCH-TOKEN", "key_id": "20"})
		if a.status != 503 || a.body["code"] != "agent_token_missing" || !strings.Contains(a.body["detail"].(string), "cắm token") {
			t.Fatalf("%d %v", a.status, a.body)
		}
	})
	t.Run("fail/declined", func(t *testing.T) {
		srv := newAgent(t, agent.Config{Module: tok.Store.Module, PINSource: "file:" + tok.PINFile, Prompter: declining{}})
		a := call(t, srv, "POST", "/v1/certificate", page, nil, ref)
		if a.status != 403 || a.body["code"] != "agent_declined" {
			t.Fatalf("%d %v", a.status, a.body)
		}
	})
	t.Run("ok/the-leader-sees-the-certificate-and-the-document", func(t *testing.T) {
		rec := &recording{}
		srv := newAgent(t, agent.Config{Module: tok.Store.Module, PINSource: "file:" + tok.PINFile, Prompter: rec})
		if a := call(t, srv, "POST", "/v1/certificate", page, nil, ref); a.status != 200 {
			t.Fatalf("%d %v", a.status, a.body)
		}
		attrs := []byte{0x31, 0x03, 0x02, 0x01, 0x00}
		sum := sha256.Sum256(attrs)
		if a := call(t, srv, "POST", "/v1/sign", page, nil, map[string]any{"token_serial": tok.Serial, "key_id": "20", "digest": sum[:],
			"signed_attributes": attrs, "summary": map[string]any{"number": "07/QĐ-UBND", "subject": "Về việc xem trước"}}); a.status != 200 {
			t.Fatalf("%d %v", a.status, a.body)
		}
		if len(rec.seen) != 2 || !strings.Contains(rec.seen[0].Subject, "Lãnh đạo") || rec.seen[0].Origin != page ||
			rec.seen[1].Summary == nil || rec.seen[1].Summary.Number != "07/QĐ-UBND" || !strings.Contains(rec.seen[1].Subject, "Lãnh đạo") {
			t.Fatalf("the leader was shown %+v", rec.seen)
		}
	})
	t.Run("ok/list-and-sign-only-attribute-digests", func(t *testing.T) {
		srv := newAgent(t, agent.Config{Module: tok.Store.Module, PINSource: "file:" + tok.PINFile})
		a := call(t, srv, "GET", "/v1/certificates", page, nil, nil)
		if a.status != 200 || !strings.Contains(mustJSON(a.body), tok.Serial) {
			t.Fatalf("%d %v", a.status, a.body)
		}
		attrs := []byte{0x31, 0x03, 0x02, 0x01, 0x00}
		sum := sha256.Sum256(attrs)
		req := map[string]any{"token_serial": tok.Serial, "key_id": "20", "session_id": "s", "digest": sum[:], "digest_algorithm": "SHA-256",
			"signed_attributes": attrs, "summary": map[string]any{"number": "01/QĐ-UBND", "subject": "Thử"}}
		if a = call(t, srv, "POST", "/v1/sign", page, nil, req); a.status != 200 || a.body["signature"] == nil {
			t.Fatalf("sign: %d %v", a.status, a.body)
		}
		req["summary"] = map[string]any{"number": "01/QĐ-UBND", "certificate_serial": "0badc0de"}
		if a = call(t, srv, "POST", "/v1/sign", page, nil, req); a.status != 400 || a.body["code"] != "agent_certificate_mismatch" {
			t.Fatalf("summary for another certificate: %d %v", a.status, a.body)
		}
		other := sha256.Sum256([]byte("an arbitrary value chosen by a page"))
		req["digest"] = other[:]
		if a = call(t, srv, "POST", "/v1/sign", page, nil, req); a.status != 400 || a.body["code"] != "agent_digest_mismatch" {
			t.Fatalf("arbitrary digest: %d %v", a.status, a.body)
		}
	})
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func FuzzNormalizeOrigin(f *testing.F) {
	for _, s := range []string{page, "http://127.0.0.1:8080", "https://[::1]:443", "null", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := agent.NormalizeOrigin(s)
		if err != nil {
			return
		}
		// A normalised origin is stable and is https, or http on loopback.
		again, err := agent.NormalizeOrigin(n)
		if err != nil || again != n {
			t.Fatalf("NormalizeOrigin(%q) = %q, then %q, %v", s, n, again, err)
		}
		if !strings.HasPrefix(n, "https://") && !strings.HasPrefix(n, "http://") {
			t.Fatalf("NormalizeOrigin(%q) = %q", s, n)
		}
	})
}

func TestConfirmationText(t *testing.T) {
	t.Parallel()
	c := agent.Confirmation{Action: "sign", Origin: page, Token: "leadertoken (1234)", Subject: "CN=Nguyễn Văn A",
		Digest: "abcd", Summary: &agent.Summary{Number: "05/QĐ-UBND", DocumentType: "Quyết định", Subject: "Về việc thử",
			Organisation: "UBND tỉnh Tây Ninh", FileName: "qd.pdf", DocumentSHA256: "18c9e818"}}
	text := c.Text()
	for _, want := range []string{page, "05/QĐ-UBND", "Về việc thử", "UBND tỉnh Tây Ninh", "18c9e818", "CN=Nguyễn Văn A", "abcd", "KÝ SỐ"} {
		if !strings.Contains(text, want) {
			t.Errorf("the confirmation does not show %q:\n%s", want, text)
		}
	}
}
