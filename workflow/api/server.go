// Package api is the HTTP face of the document office: Bearer-token authentication, role and
// organisation checks on every endpoint, RFC 9457 problem+json errors and the OpenAPI 3 document that
// is checked in beside it (openapi.json) and served at /openapi.json.
//
// Other packages attach their own routes with Handle (public) or HandleAuth (authenticated) before
// the server starts; the exchange side adds its endpoints this way.
package api

import (
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/workflow"
)

//go:embed openapi.json
var openapiDoc []byte

// OpenAPI returns the checked-in OpenAPI 3 document.
func OpenAPI() []byte { return openapiDoc }

// Deps are what the server needs.
type Deps struct {
	Service *workflow.Service
	Logger  *slog.Logger
	// MaxBody caps request bodies (base64 files included); 100 MB when zero.
	MaxBody int64
}

// Server routes requests. It is an http.Handler.
type Server struct {
	svc     *workflow.Service
	log     *slog.Logger
	mux     *http.ServeMux
	maxBody int64
	routes  []string
}

// AuthHandler is an endpoint that needs an authenticated principal.
type AuthHandler func(w http.ResponseWriter, r *http.Request, p workflow.Principal)

// New builds the server with every workflow route.
func New(d Deps) *Server {
	s := &Server{svc: d.Service, log: d.Logger, mux: http.NewServeMux(), maxBody: d.MaxBody}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.maxBody <= 0 {
		s.maxBody = 100 << 20
	}
	s.routesWorkflow()
	s.routesRemoteSigning()
	return s
}

// Handle adds an unauthenticated route ("GET /path/{x}" pattern syntax of net/http).
func (s *Server) Handle(pattern string, h http.Handler) {
	s.routes = append(s.routes, pattern)
	s.mux.Handle(pattern, h)
}

// HandleAuth adds a route that requires a Bearer token; the handler gets the principal. Role and
// organisation checks stay with the handler (or the service it calls).
func (s *Server) HandleAuth(pattern string, h AuthHandler) {
	s.Handle(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := s.authenticate(r)
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		h(w, r, p)
	}))
}

// Routes lists the registered patterns, sorted.
func (s *Server) Routes() []string {
	out := append([]string(nil), s.routes...)
	sort.Strings(out)
	return out
}

// ServeHTTP answers unknown paths and methods with problem+json too, and recovers from panics as 500s.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "panic in handler", slog.Any("panic", v), slog.String("path", r.URL.Path))
			WriteProblem(w, r, apperr.New(apperr.Internal, "panic", "internal error"))
		}
	}()
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.noRoute(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.DebugContext(r.Context(), "request", slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Duration("duration", time.Since(start)))
	}
}

func (s *Server) noRoute(w http.ResponseWriter, r *http.Request) {
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, p := s.mux.Handler(probe); p != "" {
			w.Header().Set("Allow", m)
			WriteProblem(w, r, &apperr.Error{Kind: apperr.Invalid, Code: "method_not_allowed",
				Detail: "Phương thức " + r.Method + " không dùng được ở đây (dùng " + m + ") / method not allowed here; use " + m})
			return
		}
	}
	WriteProblem(w, r, apperr.New(apperr.NotFound, "no_such_endpoint", "Không có địa chỉ này / no such endpoint: "+r.URL.Path))
}

func (s *Server) authenticate(r *http.Request) (workflow.Principal, error) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return workflow.Principal{}, workflow.ErrBadToken
	}
	return s.svc.Authenticate(r.Context(), strings.TrimSpace(token))
}

// Problem is an RFC 9457 problem document.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	Code     string `json:"code,omitempty"`
	Instance string `json:"instance,omitempty"`
}

var kindStatus = map[apperr.Kind]int{
	apperr.Invalid: http.StatusBadRequest, apperr.NotFound: http.StatusNotFound, apperr.Conflict: http.StatusConflict,
	apperr.Unauthorized: http.StatusUnauthorized, apperr.Forbidden: http.StatusForbidden,
	apperr.Unavailable: http.StatusServiceUnavailable, apperr.TooLarge: http.StatusRequestEntityTooLarge,
	apperr.Internal: http.StatusInternalServerError,
}

// WriteProblem answers with err as problem+json: the status from its apperr Kind and the clerk-safe
// detail. Causes are never shown.
func WriteProblem(w http.ResponseWriter, r *http.Request, err error) {
	kind := apperr.KindOf(err)
	status := kindStatus[kind]
	var ae *apperr.Error
	code := "internal"
	if errors.As(err, &ae) && ae.Code != "" {
		code = ae.Code
	}
	if code == "method_not_allowed" {
		status = http.StatusMethodNotAllowed
	}
	p := Problem{Type: "urn:lienthong:problem:" + code, Title: http.StatusText(status), Status: status,
		Detail: apperr.Detail(err), Code: code, Instance: r.URL.Path}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="lienthong"`)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// decode reads a JSON body strictly: one object, no unknown fields, within the size limit.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		// curl -d sends application/x-www-form-urlencoded unless told otherwise; the body is still JSON.
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json") && mt != "application/x-www-form-urlencoded") {
			return &apperr.Error{Kind: apperr.Invalid, Code: "unsupported_media_type",
				Detail: "Nội dung phải là JSON (Content-Type: application/json) / the body must be JSON"}
		}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, s.maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		var b64 base64.CorruptInputError
		switch {
		case errors.As(err, &b64):
			return apperr.New(apperr.Invalid, "bad_base64", "content_base64 không phải base64 hợp lệ / content_base64 is not valid base64")
		case errors.As(err, &tooBig):
			return apperr.New(apperr.TooLarge, "body_too_large", "Dữ liệu gửi lên quá lớn / request body too large")
		case errors.Is(err, io.EOF):
			return apperr.New(apperr.Invalid, "empty_body", "Thiếu nội dung JSON / the request body is empty")
		case errors.As(err, &syn):
			return apperr.New(apperr.Invalid, "bad_json", "JSON sai cú pháp / malformed JSON: "+syn.Error())
		case errors.As(err, &typ):
			return apperr.New(apperr.Invalid, "bad_json_type", "Trường "+typ.Field+" sai kiểu dữ liệu / field "+typ.Field+" has the wrong type (want "+typ.Type.String()+")")
		case strings.HasPrefix(err.Error(), "json: unknown field"):
			return apperr.New(apperr.Invalid, "unknown_field", "Trường không được hỗ trợ / "+strings.TrimPrefix(err.Error(), "json: "))
		}
		return apperr.New(apperr.Invalid, "bad_json", "JSON không hợp lệ / malformed JSON")
	}
	if dec.More() {
		return apperr.New(apperr.Invalid, "bad_json", "Chỉ gửi một đối tượng JSON / send exactly one JSON object")
	}
	return nil
}
