package web_test

import (
	"context"
	"crypto/x509"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/internal/pgtest"
	"github.com/lienthong/lienthong/migrations"
	"github.com/lienthong/lienthong/signing/remote"
	"github.com/lienthong/lienthong/web"
	"github.com/lienthong/lienthong/workflow"
	"github.com/lienthong/lienthong/workflow/api"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// node is a node as `serve` builds it (API with remote signing, console mounted at /ui/) over a real
// PostgreSQL database filled with the demo data, on a real HTTP listener.
type node struct {
	srv   *httptest.Server
	svc   *workflow.Service
	demo  web.Demo
	roots *x509.CertPool
	web   *web.Handler
	api   *api.Server
	mount *swapHandler
}

// swapHandler lets a test replace the console after the server started (the browser test needs the
// server's URL for the agent, and the agent's URL for the console).
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

func (n *node) swap(h *web.Handler) {
	var x http.Handler = h
	n.web = h
	n.mount.h.Store(&x)
}

func apiOf(t *testing.T, n *node) *api.Server {
	t.Helper()
	return n.api
}

func newNode(t *testing.T, cfg web.Config) *node {
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
	n := &node{svc: workflow.New(pool, workflow.Config{AuthCacheTTL: -1})}
	if n.demo, err = web.SeedDemo(ctx, n.svc); err != nil {
		t.Fatal(err)
	}
	n.roots = x509.NewCertPool()
	n.roots.AddCert(n.demo.CA.Cert)
	a := api.New(api.Deps{Service: n.svc})
	a.SetRemoteSigning(remote.New(n.svc, remote.Config{Roots: n.roots}), api.RemoteSigningOptions{})
	cfg.Service, cfg.API = n.svc, a
	if cfg.Roots == nil {
		cfg.Roots = n.roots
	}
	if n.web, err = web.New(cfg); err != nil {
		t.Fatal(err)
	}
	n.api, n.mount = a, &swapHandler{}
	n.swap(n.web)
	a.Handle("/ui/", n.mount)
	n.srv = httptest.NewServer(a)
	t.Cleanup(n.srv.Close)
	return n
}

// browser is a cookie-keeping HTTP client that does not follow redirects.
type browser struct {
	t    *testing.T
	c    *http.Client
	base string
	csrf string
}

func (n *node) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: n.srv.URL, c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) get(path string) (int, string) {
	b.t.Helper()
	resp, err := b.c.Get(b.base + path)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if m := csrfRE.FindSubmatch(body); m != nil {
		b.csrf = string(m[1])
	}
	return resp.StatusCode, string(body)
}

// post sends a form with the current CSRF token (unless the form has its own) and returns the status,
// the Location and the body.
func (b *browser) post(path string, form url.Values) (int, string, string) {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if !form.Has("csrf") {
		form.Set("csrf", b.csrf)
	}
	resp, err := b.c.PostForm(b.base+path, form)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(body)
}

func (b *browser) login(token string) {
	b.t.Helper()
	b.get("/ui/login")
	code, loc, body := b.post("/ui/login", url.Values{"token": {token}, "next": {"/ui/"}})
	if code != http.StatusSeeOther || loc != "/ui/" {
		b.t.Fatalf("login: %d %q %s", code, loc, body)
	}
	b.get("/ui/outgoing") // any page, for the session's CSRF token
}

func mustContain(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page lacks %q", w)
		}
	}
}
