// Package web is the browser console of a lienthong node for clerks (văn thư) and leaders (lãnh đạo):
// server-rendered HTML (html/template, embedded) with a little plain JavaScript, on top of the same
// workflow.Service the HTTP API uses. Nothing here decides what a document may do: every action is a
// call to the workflow (or, for remote signing, a forwarded call to the node's own API), so roles,
// states and numbering stay where they are enforced.
//
// Sessions: a user signs in with their API token; the server keeps the token in memory under a random
// session id, sent back as an HttpOnly, SameSite=Strict cookie. Every form carries the session's CSRF
// token and every state-changing request is checked against it (and against the Origin header when the
// browser sends one).
package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"crypto/x509"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lienthong/lienthong/exchange/delivery"
	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/workflow"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Deliveries is the exchange side's view of outgoing deliveries that the console shows and acts on
// (delivery.Node implements it). Optional: without it the console shows each recipient's status from
// the workflow and says that re-delivery is not available in this process.
type Deliveries interface {
	FailedDeliveries(ctx context.Context, limit int) ([]delivery.Failed, error)
	Redeliver(ctx context.Context, messageID string) error
}

// Config configures the console.
type Config struct {
	Service *workflow.Service
	// API is the node's HTTP API; the console forwards the remote-signing JSON calls of its pages to it
	// with the signed-in user's token, so they go through exactly the API's checks.
	API http.Handler
	// Roots are the trust anchors for the verification shown on incoming documents (nil: signatures are
	// checked but no chain is trusted, and the page says so).
	Roots *x509.CertPool
	// Verifier overrides the PDF verification (tests); nil uses signing/verify with Roots.
	Verifier Verifier
	// Deliveries, when set, lists failed deliveries and re-delivers them.
	Deliveries Deliveries
	// AgentURL is the local signing agent on the leader's PC; http://127.0.0.1:8987 by default.
	AgentURL string
	// SecureCookies sets the Secure attribute (serve behind HTTPS).
	SecureCookies bool
	SessionTTL    time.Duration // 8 hours by default
	Logger        *slog.Logger
	Now           func() time.Time
}

// Handler serves the console under /ui/.
type Handler struct {
	cfg   Config
	svc   *workflow.Service
	log   *slog.Logger
	now   func() time.Time
	mux   *http.ServeMux
	pages map[string]*template.Template
	ver   Verifier
	vmu   sync.Mutex
	vc    map[string]Verdict // verification results by file SHA-256

	mu       sync.Mutex
	sessions map[string]*session
	dmu      sync.RWMutex
	del      Deliveries
}

type session struct {
	token   string
	csrf    string
	expires time.Time
}

// maxForm caps one request's body (forms with files).
const maxForm = 200 << 20

const (
	cookieSession = "lt_session"
	cookieLogin   = "lt_login" // pre-login CSRF (double submit) for the sign-in form
)

// New builds the console.
func New(cfg Config) (*Handler, error) {
	if cfg.Service == nil {
		return nil, errors.New("web: Service is required")
	}
	if cfg.AgentURL == "" {
		cfg.AgentURL = "http://127.0.0.1:8987"
	}
	if _, err := url.Parse(cfg.AgentURL); err != nil {
		return nil, errors.New("web: bad agent URL")
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 8 * time.Hour
	}
	h := &Handler{cfg: cfg, svc: cfg.Service, log: cfg.Logger, now: cfg.Now, sessions: map[string]*session{},
		vc: map[string]Verdict{}, del: cfg.Deliveries, ver: cfg.Verifier}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.ver == nil {
		h.ver = PDFVerifier{Roots: cfg.Roots}
	}
	var err error
	if h.pages, err = parsePages(); err != nil {
		return nil, err
	}
	h.routes()
	return h, nil
}

// SetDeliveries plugs in the exchange side after construction (a serve hook that starts the delivery
// node calls it).
func (h *Handler) SetDeliveries(d Deliveries) {
	h.dmu.Lock()
	h.del = d
	h.dmu.Unlock()
}

func (h *Handler) deliveries() Deliveries {
	h.dmu.RLock()
	defer h.dmu.RUnlock()
	return h.del
}

// ServeHTTP sets the security headers every page gets and routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"object-src 'self'; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; connect-src 'self' "+h.agentOrigin())
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "SAMEORIGIN")
	hd.Set("Referrer-Policy", "same-origin")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) agentOrigin() string {
	u, err := url.Parse(h.cfg.AgentURL)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

func (h *Handler) routes() {
	m := http.NewServeMux()
	h.mux = m
	sub, _ := fs.Sub(staticFS, "static")
	static := http.StripPrefix("/ui/static/", http.FileServerFS(sub))
	m.Handle("GET /ui/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		static.ServeHTTP(w, r)
	}))
	m.HandleFunc("GET /ui/login", h.loginPage)
	m.HandleFunc("POST /ui/login", h.login)
	m.HandleFunc("POST /ui/logout", h.logout)
	m.HandleFunc("GET /ui/{$}", h.auth(h.home))
	m.HandleFunc("GET /ui", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/ui/", http.StatusFound) })

	m.HandleFunc("GET /ui/incoming", h.auth(h.incomingList))
	m.HandleFunc("GET /ui/incoming/new", h.auth(h.incomingNew))
	m.HandleFunc("POST /ui/incoming", h.auth(h.post(h.incomingCreate)))
	m.HandleFunc("GET /ui/incoming/{id}", h.auth(h.incomingView))
	m.HandleFunc("POST /ui/incoming/{id}/{action}", h.auth(h.post(h.incomingAction)))
	m.HandleFunc("GET /ui/queue", h.auth(h.queue))
	m.HandleFunc("GET /ui/registers", h.auth(h.registers))
	m.HandleFunc("GET /ui/registers/{kind}/print", h.auth(h.printRegister))

	m.HandleFunc("GET /ui/outgoing", h.auth(h.outgoingList))
	m.HandleFunc("GET /ui/outgoing/new", h.auth(h.outgoingNew))
	m.HandleFunc("POST /ui/outgoing", h.auth(h.post(h.outgoingCreate)))
	m.HandleFunc("GET /ui/outgoing/{id}", h.auth(h.outgoingView))
	m.HandleFunc("POST /ui/outgoing/{id}/{action}", h.auth(h.post(h.outgoingAction)))

	m.HandleFunc("GET /ui/files/{sha256}", h.auth(h.file))
	// The same with the file's name last, so the browser's PDF viewer shows it as the title.
	m.HandleFunc("GET /ui/files/{sha256}/{name}", h.auth(h.file))
	// The signing page's JSON calls, forwarded to the node's API with the user's token.
	m.HandleFunc("POST /ui/api/outgoing/{id}/signing/prepare", h.auth(h.post(h.forward)))
	m.HandleFunc("POST /ui/api/signing/sessions/{session}/complete", h.auth(h.post(h.forward)))
	m.HandleFunc("/ui/", func(w http.ResponseWriter, r *http.Request) {
		h.errorPage(w, r, nil, http.StatusNotFound, "Không có trang này.")
	})
}

// req is what an authenticated handler gets.
type req struct {
	p    workflow.Principal
	sess *session
	sid  string
}

type authFunc func(w http.ResponseWriter, r *http.Request, q req)

// auth loads the session and the principal (the token is checked on every request, so a disabled
// user is out at once); without one, GET pages redirect to the sign-in page.
func (h *Handler) auth(next authFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sid, s := h.session(r)
		if s == nil {
			h.toLogin(w, r)
			return
		}
		p, err := h.svc.Authenticate(r.Context(), s.token)
		if err != nil {
			if apperr.IsKind(err, apperr.Unauthorized) {
				h.drop(sid)
				h.toLogin(w, r)
				return
			}
			h.fail(w, r, nil, err)
			return
		}
		if p.Role == workflow.RoleAdmin {
			h.errorPage(w, r, &p, http.StatusForbidden, "Tài khoản quản trị không xem văn bản; hãy dùng tài khoản văn thư hoặc lãnh đạo.")
			return
		}
		next(w, r, req{p: p, sess: s, sid: sid})
	}
}

func (h *Handler) toLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		h.errorPage(w, r, nil, http.StatusUnauthorized, "Phiên làm việc đã hết; hãy đăng nhập lại.")
		return
	}
	http.Redirect(w, r, "/ui/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
}

// post checks the CSRF token (form field csrf or header X-CSRF-Token) and the Origin of a
// state-changing request.
func (h *Handler) post(next authFunc) authFunc {
	return func(w http.ResponseWriter, r *http.Request, q req) {
		if !sameOrigin(r) {
			h.errorPage(w, r, &q.p, http.StatusForbidden, "Yêu cầu không đến từ trang của hệ thống (Origin khác).")
			return
		}
		// A draft and its attachments: 50 MB each at most (the workflow's limit), a few of them.
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		tok := r.Header.Get("X-CSRF-Token")
		if tok == "" {
			if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
				if err := r.ParseMultipartForm(32 << 20); err != nil {
					var tooBig *http.MaxBytesError
					if errors.As(err, &tooBig) {
						h.errorPage(w, r, &q.p, http.StatusRequestEntityTooLarge, "Các tệp gửi lên lớn quá (tối đa 200 MB mỗi lần); hãy gửi bớt tệp đính kèm.")
						return
					}
					h.errorPage(w, r, &q.p, http.StatusBadRequest, "Không đọc được biểu mẫu gửi lên.")
					return
				}
			}
			tok = r.PostFormValue("csrf")
		}
		if subtle.ConstantTimeCompare([]byte(tok), []byte(q.sess.csrf)) != 1 {
			h.errorPage(w, r, &q.p, http.StatusForbidden, "Biểu mẫu đã hết hạn hoặc không hợp lệ (CSRF); hãy tải lại trang và thử lại.")
			return
		}
		next(w, r, q)
	}
}

// sameOrigin accepts a request without Origin (older browsers, same-origin GET-less forms) or whose
// Origin names this host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func randToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (h *Handler) session(r *http.Request) (string, *session) {
	c, err := r.Cookie(cookieSession)
	if err != nil || c.Value == "" {
		return "", nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.sessions[c.Value]
	if s == nil {
		return "", nil
	}
	if h.now().After(s.expires) {
		delete(h.sessions, c.Value)
		return "", nil
	}
	return c.Value, s
}

func (h *Handler) drop(sid string) {
	h.mu.Lock()
	delete(h.sessions, sid)
	h.mu.Unlock()
}

func (h *Handler) setCookie(w http.ResponseWriter, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/ui", MaxAge: maxAge, HttpOnly: true,
		Secure: h.cfg.SecureCookies, SameSite: http.SameSiteStrictMode})
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	h.showLogin(w, r, http.StatusOK, "")
}

func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) {
	tok := randToken()
	h.setCookie(w, cookieLogin, tok, 600)
	next := r.URL.Query().Get("next")
	if next == "" {
		next = r.PostFormValue("next")
	}
	h.render(w, r, status, "login", nil, map[string]any{"Title": "Đăng nhập", "LoginCSRF": tok, "Next": safeNext(next), "Error": msg})
}

// safeNext keeps redirects inside the console.
func safeNext(s string) string {
	if !strings.HasPrefix(s, "/ui/") || strings.HasPrefix(s, "//") || strings.Contains(s, "\\") {
		return "/ui/"
	}
	return s
}

func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.showLogin(w, r, http.StatusBadRequest, "Không đọc được biểu mẫu.")
		return
	}
	c, err := r.Cookie(cookieLogin)
	if err != nil || !sameOrigin(r) || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		h.showLogin(w, r, http.StatusForbidden, "Biểu mẫu đăng nhập đã hết hạn; hãy thử lại.")
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	if token == "" {
		h.showLogin(w, r, http.StatusBadRequest, "Hãy nhập mã truy cập (API token) của đồng chí.")
		return
	}
	p, err := h.svc.Authenticate(r.Context(), token)
	if err != nil {
		if apperr.IsKind(err, apperr.Unauthorized) {
			h.showLogin(w, r, http.StatusUnauthorized, "Mã truy cập không đúng hoặc đã bị thu hồi.")
			return
		}
		h.showLogin(w, r, http.StatusServiceUnavailable, apperr.Detail(err))
		return
	}
	sid := randToken()
	h.mu.Lock()
	now := h.now()
	for k, s := range h.sessions { // sweep expired sessions while we hold the lock
		if now.After(s.expires) {
			delete(h.sessions, k)
		}
	}
	h.sessions[sid] = &session{token: token, csrf: randToken(), expires: now.Add(h.cfg.SessionTTL)}
	h.mu.Unlock()
	h.setCookie(w, cookieSession, sid, int(h.cfg.SessionTTL/time.Second))
	h.setCookie(w, cookieLogin, "", -1)
	h.log.Info("console sign-in", slog.Int64("user_id", p.UserID), slog.String("role", string(p.Role)))
	http.Redirect(w, r, safeNext(r.PostFormValue("next")), http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	sid, s := h.session(r)
	if s != nil {
		if err := r.ParseForm(); err != nil || subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.csrf)) != 1 || !sameOrigin(r) {
			h.errorPage(w, r, nil, http.StatusForbidden, "Biểu mẫu không hợp lệ (CSRF).")
			return
		}
		h.drop(sid)
	}
	h.setCookie(w, cookieSession, "", -1)
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
}

func (h *Handler) home(w http.ResponseWriter, r *http.Request, q req) {
	switch q.p.Role {
	case workflow.RoleLeader:
		http.Redirect(w, r, "/ui/queue", http.StatusSeeOther)
	case workflow.RoleClerk:
		http.Redirect(w, r, "/ui/incoming", http.StatusSeeOther)
	default:
		http.Redirect(w, r, "/ui/outgoing", http.StatusSeeOther)
	}
}

// printRegister hands the printable register of a year (HTML, CSV or PDF, as the API renders it) to the
// browser, fetched from the node's API as the signed-in user.
func (h *Handler) printRegister(w http.ResponseWriter, r *http.Request, q req) {
	kind := r.PathValue("kind")
	if kind != "incoming" && kind != "outgoing" && kind != "tracking" {
		h.errorPage(w, r, &q.p, http.StatusNotFound, "Không có sổ này.")
		return
	}
	format := r.URL.Query().Get("format")
	if format != "csv" && format != "pdf" {
		format = "html"
	}
	year, err := strconv.Atoi(r.URL.Query().Get("year"))
	if err != nil || year < 2000 || year > 9999 {
		year = h.now().In(workflow.Local).Year()
	}
	if h.cfg.API == nil {
		h.fail(w, r, &q.p, apperr.New(apperr.Unavailable, "no_api", "Máy chủ chưa bật API nên chưa in được sổ."))
		return
	}
	to := fmt.Sprintf("%d-12-31", year)
	if today := h.now().In(workflow.Local).Format("2006-01-02"); today < to {
		to = today
	}
	u := "/api/v1/registers/" + kind + "?" + url.Values{"from": {fmt.Sprintf("%d-01-01", year)}, "to": {to}, "format": {format}}.Encode()
	r2, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, u, nil)
	r2.Header.Set("Authorization", "Bearer "+q.sess.token)
	// The printable page is the API's own document: it gets its own policy (inline styles only).
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'")
	h.cfg.API.ServeHTTP(w, r2)
}

// forward sends a signing call of the page to the node's API as the signed-in user.
func (h *Handler) forward(w http.ResponseWriter, r *http.Request, q req) {
	if h.cfg.API == nil {
		h.fail(w, r, &q.p, apperr.New(apperr.Unavailable, "no_api", "Ký số từ xa chưa được bật trên máy chủ này."))
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL.Path = "/api/v1/" + strings.TrimPrefix(r.URL.Path, "/ui/api/")
	r2.URL.RawPath = ""
	r2.RequestURI = r2.URL.RequestURI()
	r2.Header.Del("Cookie")
	r2.Header.Del("X-CSRF-Token")
	r2.Header.Set("Authorization", "Bearer "+q.sess.token)
	h.cfg.API.ServeHTTP(w, r2)
}
