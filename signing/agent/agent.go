// Package agent is the local signing agent (`lienthong agent`) that runs on a leader's PC: the web page
// of the lienthong server asks it, over HTTP on the loopback interface, for the certificate on the
// plugged-in USB token and for a signature over the digest the server prepared (package
// signing/remote). Only the digest is signed here; the document is assembled on the server.
//
// What keeps it safe to run:
//   - it listens on loopback only (Listen refuses any other address) and answers only requests whose
//     Host is a loopback name (against DNS rebinding) and whose Origin is one of the configured server
//     origins (CORS with that exact origin, never "*"; any other or missing Origin gets 403);
//   - every certificate read and every signature is confirmed by the leader at the PC (Prompter),
//     after being shown the requesting origin and, for a signature, the document number, subject, hash,
//     signing time and certificate; the PIN is asked by the agent, never by the web page;
//   - the PIN is never written anywhere: it goes to the token through the hsm package, which holds it
//     in memory while the key is open and wipes it at Close. With a PIN cache (Config.KeyCache) the
//     logged-in key is kept open for that long after its last use, then closed;
//   - token failures (removed, wrong PIN, PIN locked, last try) are answered with a message a leader
//     understands, in Vietnamese and English, and the wrong PIN is never retried.
package agent

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/internal/apperr"
)

// Prompter asks the leader at the PC. Implementations: the terminal (cmd/lienthong), Auto (tests and
// unattended use with --yes).
type Prompter interface {
	// Confirm shows what is about to happen and returns true only on an explicit yes.
	Confirm(ctx context.Context, c Confirmation) (bool, error)
	// PIN asks for the token's PIN. It is called only when the key URI has no pin-source.
	PIN(ctx context.Context, token string) ([]byte, error)
}

// Confirmation is what the leader is shown before the agent acts.
type Confirmation struct {
	Action  string   // "certificate" or "sign"
	Origin  string   // the web page asking
	Token   string   // token label (serial)
	Subject string   // certificate subject
	Summary *Summary // for "sign"
	Digest  string   // hex of the digest to sign, for "sign"
}

// Text renders the confirmation for a person, Vietnamese first.
func (c Confirmation) Text() string {
	var b strings.Builder
	switch c.Action {
	case "sign":
		fmt.Fprintf(&b, "Trang %s đề nghị KÝ SỐ văn bản / %s asks you to SIGN a document:\n", c.Origin, c.Origin)
		if s := c.Summary; s != nil {
			fmt.Fprintf(&b, "  Số, ký hiệu / number:   %s\n", s.Number)
			fmt.Fprintf(&b, "  Loại / type:            %s\n", s.DocumentType)
			fmt.Fprintf(&b, "  Trích yếu / subject:    %s\n", s.Subject)
			fmt.Fprintf(&b, "  Cơ quan / organisation: %s\n", s.Organisation)
			fmt.Fprintf(&b, "  Tệp / file:             %s\n", s.FileName)
			fmt.Fprintf(&b, "  SHA-256 văn bản:        %s\n", s.DocumentSHA256)
			if !s.SignedAt.IsZero() {
				fmt.Fprintf(&b, "  Thời điểm ký / time:    %s\n", s.SignedAt.Format("02/01/2006 15:04:05 -07:00"))
			}
		}
		fmt.Fprintf(&b, "  Chứng thư / certificate: %s\n", c.Subject)
		fmt.Fprintf(&b, "  Token:                  %s\n", c.Token)
		fmt.Fprintf(&b, "  Giá trị băm ký / digest: %s\n", c.Digest)
	default:
		fmt.Fprintf(&b, "Trang %s đề nghị đọc chứng thư số trên token / %s asks to read the certificate on the token:\n", c.Origin, c.Origin)
		fmt.Fprintf(&b, "  Token: %s\n  Chứng thư / certificate: %s\n", c.Token, c.Subject)
	}
	return b.String()
}

// Auto is a Prompter for tests and automation (--yes): it confirms everything and gives a fixed PIN
// (nil PIN: the key URI's pin-source must supply it).
type Auto struct{ Pin []byte }

func (Auto) Confirm(context.Context, Confirmation) (bool, error) { return true, nil }
func (a Auto) PIN(context.Context, string) ([]byte, error) {
	if a.Pin == nil {
		return nil, errors.New("no PIN source")
	}
	return append([]byte(nil), a.Pin...), nil
}

// Config configures an Agent.
type Config struct {
	Module  string   // PKCS#11 module (.so) of the leader's token
	Origins []string // the lienthong server origins allowed to call, e.g. https://vanban.tayninh.gov.vn
	// PINSource, when set (file:PATH or env:VAR), gives the PIN without asking (automation, tests).
	PINSource string
	Prompter  Prompter
	// KeyCache keeps a logged-in key open this long after its last use, so the leader types the PIN
	// once for a certificate read and the signature that follows, or for a batch. The PIN itself stays
	// only inside the open key (in memory) and is wiped when it closes. Zero: 2 minutes between a
	// certificate read and the signature, closed right after the signature.
	KeyCache time.Duration
	Logger   *slog.Logger
	Now      func() time.Time
}

// Agent serves the local signing API.
type Agent struct {
	cfg     Config
	origins map[string]bool
	log     *slog.Logger
	now     func() time.Time

	mu   sync.Mutex // one operation (and one prompt) at a time
	keys map[string]*cachedKey
}

type cachedKey struct {
	key     *hsm.Key
	expires time.Time
	timer   *time.Timer
}

// New checks the configuration and returns an Agent.
func New(cfg Config) (*Agent, error) {
	a := &Agent{cfg: cfg, origins: map[string]bool{}, log: cfg.Logger, now: cfg.Now, keys: map[string]*cachedKey{}}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if a.now == nil {
		a.now = time.Now
	}
	if cfg.Prompter == nil {
		return nil, errors.New("agent: no prompter")
	}
	if len(cfg.Origins) == 0 {
		return nil, apperr.New(apperr.Invalid, "agent_no_origin", "give the lienthong server's origin (--origin https://...)")
	}
	for _, o := range cfg.Origins {
		n, err := NormalizeOrigin(o)
		if err != nil {
			return nil, err
		}
		a.origins[n] = true
	}
	return a, nil
}

// NormalizeOrigin checks and normalises an origin: scheme://host[:port], lower case, no path. Only
// https is accepted, except http for loopback hosts (development and tests): browsers refuse calls to
// a local agent from plain http pages.
func NormalizeOrigin(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	bad := apperr.New(apperr.Invalid, "agent_bad_origin", "the origin must look like https://host[:port] with no path: "+s)
	if err != nil || u.Hostname() == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || u.User != nil {
		return "", bad
	}
	scheme := strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Host)
	switch scheme {
	case "https":
	case "http":
		if !isLoopbackHost(u.Hostname()) {
			return "", apperr.New(apperr.Invalid, "agent_origin_not_https", "the server origin must be https:// (browsers block http pages from calling a local agent): "+s)
		}
	default:
		return "", bad
	}
	if p := u.Port(); (scheme == "https" && p == "443") || (scheme == "http" && p == "80") {
		host = strings.ToLower(u.Hostname())
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return scheme + "://" + host, nil
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Listen opens the agent's listener; any address that is not loopback is refused.
func Listen(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, "agent_listen", "the listen address must be host:port on loopback, e.g. 127.0.0.1:8987", err)
	}
	if !isLoopbackHost(host) {
		return nil, apperr.New(apperr.Invalid, "agent_listen_not_loopback",
			"the agent listens on loopback only (127.0.0.1, ::1 or localhost), never on "+host)
	}
	return net.Listen("tcp", addr)
}

// Close closes every cached key (wiping the PINs they hold).
func (a *Agent) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, c := range a.keys {
		c.timer.Stop()
		_ = c.key.Close()
		delete(a.keys, k)
	}
	return nil
}

// Handler is the agent's HTTP API:
//
//	GET  /v1/status        version and allowed origins
//	GET  /v1/certificates  certificates on the plugged-in tokens (no PIN needed)
//	POST /v1/certificate   {"token_serial", "key_id"} → the certificate (DER), after confirmation and PIN
//	POST /v1/sign          {"token_serial", "key_id", "session_id", "digest", "digest_algorithm",
//	                        "signed_attributes", "summary"} → {"signature", "certificate"}
func (a *Agent) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"agent": "lienthong", "version": 1, "origins": a.cfg.Origins})
	})
	mux.HandleFunc("GET /v1/certificates", a.certificates)
	mux.HandleFunc("POST /v1/certificate", a.certificate)
	mux.HandleFunc("POST /v1/sign", a.sign)
	return a.guard(mux)
}

// guard enforces loopback Host, the Origin allowlist and CORS (with the Private/Local Network Access
// preflight answer) before any handler runs.
func (a *Agent) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		if !isLoopbackHost(strings.Trim(host, "[]")) {
			writeProblem(w, http.StatusForbidden, "agent_bad_host", "Yêu cầu không gửi tới máy này / the request is not addressed to this computer (Host "+r.Host+")")
			return
		}
		origin := r.Header.Get("Origin")
		norm, err := NormalizeOrigin(origin)
		if origin == "" || err != nil || !a.origins[norm] {
			a.log.Warn("refused a request from an origin that is not allowed", slog.String("origin", origin), slog.String("path", r.URL.Path))
			writeProblem(w, http.StatusForbidden, "agent_origin_refused",
				"Trang web "+quoteOrigin(origin)+" không được phép dùng thiết bị ký số trên máy này / the page "+quoteOrigin(origin)+" may not use the signing token on this computer")
			return
		}
		hdr := w.Header()
		hdr.Set("Access-Control-Allow-Origin", origin)
		hdr.Add("Vary", "Origin")
		hdr.Set("Cache-Control", "no-store")
		if r.Method == http.MethodOptions {
			hdr.Set("Access-Control-Allow-Methods", "GET, POST")
			hdr.Set("Access-Control-Allow-Headers", "Content-Type")
			hdr.Set("Access-Control-Max-Age", "600")
			// Chrome's Private Network Access preflight (public page → loopback) needs this answer.
			if r.Header.Get("Access-Control-Request-Private-Network") == "true" {
				hdr.Set("Access-Control-Allow-Private-Network", "true")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func quoteOrigin(o string) string {
	if o == "" {
		return "(không rõ / unknown)"
	}
	if len(o) > 100 {
		o = o[:100]
	}
	return fmt.Sprintf("%q", o)
}

// CertInfo is one certificate on a token.
type CertInfo struct {
	TokenLabel  string    `json:"token_label"`
	TokenSerial string    `json:"token_serial"`
	Label       string    `json:"label"`
	KeyID       string    `json:"key_id"` // hex CKA_ID
	Subject     string    `json:"subject"`
	NotAfter    time.Time `json:"not_after"`
	HasKey      bool      `json:"has_key"`
}

func (a *Agent) certificates(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	toks, err := hsm.ListTokens(r.Context(), a.cfg.Module, hsm.ListOptions{Objects: true})
	if err != nil {
		a.fail(w, err)
		return
	}
	out := []CertInfo{}
	for _, t := range toks {
		keys := map[string]bool{}
		for _, o := range t.Objects {
			if o.Class == "private" || o.Class == "public" {
				keys[hex.EncodeToString(o.ID)] = true
			}
		}
		for _, o := range t.Objects {
			if o.Class != "cert" {
				continue
			}
			id := hex.EncodeToString(o.ID)
			out = append(out, CertInfo{TokenLabel: t.Label, TokenSerial: t.Serial, Label: o.Label, KeyID: id,
				Subject: o.Subject, NotAfter: o.NotAfter, HasKey: keys[id]})
		}
	}
	if len(out) == 0 {
		writeProblem(w, http.StatusNotFound, "agent_no_certificate",
			"Không thấy chứng thư số nào: hãy cắm token USB vào máy / no certificate found: plug in the USB token")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

// KeyRef names a key on a token: by serial (never by slot) and CKA_ID.
type KeyRef struct {
	TokenSerial string `json:"token_serial"`
	KeyID       string `json:"key_id"` // hex
}

func (k KeyRef) uri(module, pinSource string) (*hsm.URI, error) {
	id, err := hex.DecodeString(k.KeyID)
	if err != nil || len(id) == 0 || len(id) > 64 || k.TokenSerial == "" || len(k.TokenSerial) > 64 {
		return nil, apperr.New(apperr.Invalid, "agent_bad_key", "token_serial and key_id (hex) name the key")
	}
	u := &hsm.URI{Serial: k.TokenSerial, ID: id, Type: "private", ModulePath: module, PINSource: pinSource}
	return hsm.ParseURI(u.String())
}

func (k KeyRef) cacheKey() string { return k.TokenSerial + "/" + strings.ToLower(k.KeyID) }

// open returns the logged-in key, from the cache or by opening it (which asks for the PIN).
func (a *Agent) open(ctx context.Context, ref KeyRef) (*hsm.Key, error) {
	if c, ok := a.keys[ref.cacheKey()]; ok {
		if a.now().Before(c.expires) {
			return c.key, nil
		}
		a.dropLocked(ref.cacheKey())
	}
	u, err := ref.uri(a.cfg.Module, a.cfg.PINSource)
	if err != nil {
		return nil, err
	}
	opts := []hsm.Option{hsm.WithPoolSize(1), hsm.WithLogger(a.log)}
	if a.cfg.PINSource == "" {
		opts = append(opts, hsm.WithPINPrompt(func() ([]byte, error) { return a.cfg.Prompter.PIN(ctx, ref.TokenSerial) }))
	}
	return hsm.OpenURI(ctx, u, opts...)
}

// keep caches an open key for d (closing it when d is zero or negative).
func (a *Agent) keep(ref KeyRef, k *hsm.Key, d time.Duration) {
	key := ref.cacheKey()
	if c, ok := a.keys[key]; ok && c.key == k {
		if d <= 0 {
			a.dropLocked(key)
			return
		}
		c.expires = a.now().Add(d)
		c.timer.Reset(d)
		return
	}
	if d <= 0 {
		_ = k.Close()
		return
	}
	c := &cachedKey{key: k, expires: a.now().Add(d)}
	c.timer = time.AfterFunc(d, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		if cur, ok := a.keys[key]; ok && cur == c {
			a.dropLocked(key)
		}
	})
	a.keys[key] = c
}

func (a *Agent) dropLocked(key string) {
	if c, ok := a.keys[key]; ok {
		c.timer.Stop()
		_ = c.key.Close()
		delete(a.keys, key)
	}
}

func (a *Agent) certificate(w http.ResponseWriter, r *http.Request) {
	var ref KeyRef
	if err := decode(r, &ref); err != nil {
		a.fail(w, err)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	token, subject := ref.TokenSerial, "(khoá / key "+ref.KeyID+")"
	if info, ok := a.lookup(r.Context(), ref); ok {
		token, subject = info.TokenLabel+" ("+info.TokenSerial+")", info.Subject
	}
	ok, err := a.cfg.Prompter.Confirm(r.Context(), Confirmation{Action: "certificate", Origin: r.Header.Get("Origin"), Token: token,
		Subject: subject})
	if err != nil {
		a.fail(w, err)
		return
	}
	if !ok {
		a.fail(w, ErrDeclined)
		return
	}
	k, err := a.open(r.Context(), ref)
	if err != nil {
		a.fail(w, err)
		return
	}
	// Keep the key for the signature that follows.
	a.keep(ref, k, max(a.cfg.KeyCache, 2*time.Minute))
	c := k.Certificate()
	writeJSON(w, http.StatusOK, map[string]any{"certificate": c.Raw, "subject": c.Subject.String(),
		"serial": hex.EncodeToString(c.SerialNumber.Bytes()), "not_after": c.NotAfter, "token_label": k.TokenLabel()})
}

// lookup finds the public description of a certificate on the tokens (no PIN), to show the leader.
func (a *Agent) lookup(ctx context.Context, ref KeyRef) (CertInfo, bool) {
	toks, err := hsm.ListTokens(ctx, a.cfg.Module, hsm.ListOptions{Objects: true})
	if err != nil {
		return CertInfo{}, false
	}
	for _, t := range toks {
		if t.Serial != ref.TokenSerial {
			continue
		}
		for _, o := range t.Objects {
			if o.Class == "cert" && strings.EqualFold(hex.EncodeToString(o.ID), ref.KeyID) {
				return CertInfo{TokenLabel: t.Label, TokenSerial: t.Serial, Label: o.Label, KeyID: ref.KeyID, Subject: o.Subject, NotAfter: o.NotAfter}, true
			}
		}
	}
	return CertInfo{}, false
}

// Summary is the document summary the server returned from prepare (shown to the leader).
type Summary struct {
	DocumentID     string    `json:"document_id"`
	Number         string    `json:"number"`
	DocumentType   string    `json:"document_type"`
	Subject        string    `json:"subject"`
	Organisation   string    `json:"organisation"`
	FileName       string    `json:"file_name"`
	DocumentSHA256 string    `json:"document_sha256"`
	Signer         string    `json:"signer"`
	CertSerial     string    `json:"certificate_serial"`
	SignedAt       time.Time `json:"signed_at"`
	Field          string    `json:"field"`
}

// SignRequest is what the page forwards from the server's prepare answer.
type SignRequest struct {
	KeyRef
	SessionID        string   `json:"session_id"`
	Digest           []byte   `json:"digest"`
	DigestAlgorithm  string   `json:"digest_algorithm"`
	SignedAttributes []byte   `json:"signed_attributes"`
	Summary          *Summary `json:"summary"`
}

// ErrDeclined is the leader saying no.
var ErrDeclined = apperr.New(apperr.Forbidden, "agent_declined", "Đồng chí đã từ chối; không có gì được ký / you declined; nothing was signed")

func (a *Agent) sign(w http.ResponseWriter, r *http.Request) {
	var req SignRequest
	if err := decode(r, &req); err != nil {
		a.fail(w, err)
		return
	}
	if req.DigestAlgorithm != "SHA-256" && req.DigestAlgorithm != "" {
		a.fail(w, apperr.New(apperr.Invalid, "agent_digest_algorithm", "only SHA-256 digests are signed"))
		return
	}
	// The digest must be the hash of the signed attributes: the agent signs a CMS attribute set, never
	// an arbitrary value a page chose.
	if sum := sha256.Sum256(req.SignedAttributes); len(req.SignedAttributes) == 0 || len(req.SignedAttributes) > 8192 ||
		len(req.SignedAttributes) < 2 || req.SignedAttributes[0] != 0x31 || string(sum[:]) != string(req.Digest) {
		a.fail(w, apperr.New(apperr.Invalid, "agent_digest_mismatch", "the digest is not the SHA-256 of the signed attributes"))
		return
	}
	if req.Summary == nil {
		a.fail(w, apperr.New(apperr.Invalid, "agent_no_summary", "nothing to show the leader: the summary is missing"))
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	k, err := a.open(r.Context(), req.KeyRef)
	if err != nil {
		a.fail(w, err)
		return
	}
	cert := k.Certificate()
	// The server prepared for one certificate; signing its digest with another key could only fail
	// later, so say so now.
	if cs := req.Summary.CertSerial; cs != "" && !strings.EqualFold(cs, hex.EncodeToString(cert.SerialNumber.Bytes())) {
		a.keep(req.KeyRef, k, a.cfg.KeyCache)
		a.fail(w, apperr.New(apperr.Invalid, "agent_certificate_mismatch",
			"Văn bản được chuẩn bị để ký bằng chứng thư số khác / the document was prepared for another certificate"))
		return
	}
	ok, err := a.cfg.Prompter.Confirm(r.Context(), Confirmation{Action: "sign", Origin: r.Header.Get("Origin"),
		Token: k.TokenLabel() + " (" + k.TokenSerial() + ")", Subject: cert.Subject.String(), Summary: req.Summary, Digest: hex.EncodeToString(req.Digest)})
	if err != nil || !ok {
		a.keep(req.KeyRef, k, a.cfg.KeyCache)
		if err == nil {
			err = ErrDeclined
		}
		a.fail(w, err)
		return
	}
	sig, err := k.SignContext(r.Context(), req.Digest, crypto.SHA256)
	a.keep(req.KeyRef, k, a.cfg.KeyCache)
	if err != nil {
		a.fail(w, err)
		return
	}
	a.log.Info("signed", slog.String("session", req.SessionID), slog.String("document", req.Summary.DocumentID),
		slog.String("certificate_serial", hex.EncodeToString(cert.SerialNumber.Bytes())))
	writeJSON(w, http.StatusOK, map[string]any{"signature": sig, "certificate": cert.Raw})
}

// message turns errors into words a leader understands (Vietnamese, then English), with a status.
func message(err error) (int, string, string) {
	switch {
	case errors.Is(err, hsm.ErrWrongPIN):
		return http.StatusUnauthorized, "agent_wrong_pin", "Mã PIN không đúng. Kiểm tra lại rồi thử lại: mỗi lần nhập sai làm giảm số lần thử còn lại, nhập sai nhiều lần token sẽ bị khoá. / " +
			"The PIN is wrong. Check it and try again: each wrong PIN uses up one of the token's tries, and too many lock the token."
	case errors.Is(err, hsm.ErrPINLocked):
		return http.StatusForbidden, "agent_pin_locked", "Token đã bị khoá mã PIN do nhập sai quá nhiều lần. Liên hệ đơn vị cấp chứng thư số (hoặc cán bộ quản trị) để mở khoá. / " +
			"The token's PIN is locked after too many wrong tries. Ask the certificate issuer (or your administrator) to unlock it."
	case errors.Is(err, hsm.ErrPINFinalTry):
		return http.StatusForbidden, "agent_pin_final_try", "Token chỉ còn MỘT lần nhập PIN; nếu sai token sẽ bị khoá. Hãy chắc chắn mã PIN rồi ký bằng chương trình có xác nhận riêng. / " +
			"Only ONE PIN try is left; a wrong PIN will lock the token. Make sure of the PIN first."
	case errors.Is(err, hsm.ErrTokenRemoved), errors.Is(err, hsm.ErrTokenNotFound):
		return http.StatusServiceUnavailable, "agent_token_missing", "Không tìm thấy token USB hoặc token đã bị rút ra. Hãy cắm token vào máy và thử lại. / " +
			"The USB token is not plugged in or was removed. Plug it in and try again."
	case errors.Is(err, hsm.ErrModuleNotFound):
		return http.StatusServiceUnavailable, "agent_driver_missing", "Chưa cài phần mềm điều khiển (driver PKCS#11) của token trên máy. / " +
			"The token's driver (PKCS#11 module) is not installed on this computer."
	case errors.Is(err, hsm.ErrKeyNotFound), errors.Is(err, hsm.ErrCertificateMissing):
		return http.StatusNotFound, "agent_key_missing", "Không thấy khoá ký hoặc chứng thư số đã chọn trên token này. / " +
			"The chosen signing key or certificate is not on this token."
	case errors.Is(err, hsm.ErrPINRequired), errors.Is(err, hsm.ErrPINSource):
		return http.StatusUnauthorized, "agent_pin_missing", "Chưa nhập mã PIN. / No PIN was given."
	case errors.Is(err, hsm.ErrTokenBusy):
		return http.StatusServiceUnavailable, "agent_token_busy", "Token đang bận; thử lại sau giây lát. / The token is busy; try again in a moment."
	case errors.Is(err, ErrDeclined):
		return http.StatusForbidden, "agent_declined", apperr.Detail(err)
	}
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Kind == apperr.Invalid {
		return http.StatusBadRequest, ae.Code, ae.Detail
	}
	return http.StatusInternalServerError, "agent_failed", "Ký số không thành công; thử lại hoặc liên hệ cán bộ kỹ thuật. / Signing failed; try again or call IT support."
}

func (a *Agent) fail(w http.ResponseWriter, err error) {
	status, code, msg := message(err)
	if status >= 500 {
		a.log.Error("agent request failed", slog.Any("error", err))
	}
	writeProblem(w, status, code, msg)
}

func writeProblem(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"type": "urn:lienthong:problem:" + code, "title": http.StatusText(status),
		"status": status, "code": code, "detail": detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return apperr.Wrap(apperr.Invalid, "agent_bad_json", "the request is not the expected JSON", err)
	}
	return nil
}
