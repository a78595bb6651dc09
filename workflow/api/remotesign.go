package api

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/signing/remote"
	"github.com/lienthong/lienthong/workflow"
)

// Remote signing routes (package signing/remote): a leader signs an approved draft with the USB token
// on their own PC, through the local agent (prepare → agent signs → complete) or through the
// government signing service (single-use download and upload URLs).
//
// The routes are always registered; they use a remote.Service with default settings until
// SetRemoteSigning installs a configured one (trust roots, public URL).

// RemoteSigningOptions configure the remote signing routes.
type RemoteSigningOptions struct {
	// PublicURL is the server's address as the leader's PC reaches it (https://...); it prefixes the
	// download and upload URLs handed to the government signing service. Empty: taken from the request.
	PublicURL string
}

type remoteSigning struct {
	svc  *remote.Service
	opts RemoteSigningOptions
}

// remoteState is per server; an atomic pointer so SetRemoteSigning may run while serving.
type remoteState = atomic.Pointer[remoteSigning]

// SetRemoteSigning installs the remote signing service the routes use.
func (s *Server) SetRemoteSigning(rs *remote.Service, o RemoteSigningOptions) {
	o.PublicURL = strings.TrimRight(o.PublicURL, "/")
	s.remote().Store(&remoteSigning{svc: rs, opts: o})
}

// remoteStates holds each Server's remote signing state (kept beside the Server so that the remote
// signing routes live in this file alone).
var remoteStates sync.Map // *Server -> *remoteState

func (s *Server) remote() *remoteState {
	v, _ := remoteStates.Load(s)
	return v.(*remoteState)
}

func (s *Server) rs() *remoteSigning { return s.remote().Load() }

// routesRemoteSigning registers the remote signing routes; called from New.
func (s *Server) routesRemoteSigning() {
	st := &remoteState{}
	st.Store(&remoteSigning{svc: remote.New(s.svc, remote.Config{Logger: s.log})})
	remoteStates.Store(s, st)

	s.HandleAuth("POST /api/v1/outgoing/{id}/signer", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		var in struct {
			LeaderID int64 `json:"leader_id"`
		}
		if err := s.decode(w, r, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		out, err := s.rs().svc.SendToLeader(r.Context(), p, r.PathValue("id"), in.LeaderID)
		s.reply(w, r, http.StatusOK, out, err)
	})
	s.HandleAuth("POST /api/v1/outgoing/{id}/signing/prepare", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		var in remote.PrepareRequest
		if err := s.decode(w, r, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		out, err := s.rs().svc.Prepare(r.Context(), p, r.PathValue("id"), in)
		s.reply(w, r, http.StatusCreated, out, err)
	})
	s.HandleAuth("POST /api/v1/signing/sessions/{session}/complete", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		var in remote.CompleteRequest
		if err := s.decode(w, r, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		out, err := s.rs().svc.Complete(r.Context(), p, r.PathValue("session"), in)
		s.reply(w, r, http.StatusOK, out, err)
	})
	s.HandleAuth("POST /api/v1/outgoing/{id}/signing/tickets", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		var in remote.TicketRequest
		if r.ContentLength != 0 {
			if err := s.decode(w, r, &in); err != nil {
				WriteProblem(w, r, err)
				return
			}
		}
		rs := s.rs()
		t, err := rs.svc.CreateTicket(r.Context(), p, r.PathValue("id"), in)
		if err != nil {
			s.reply(w, r, 0, nil, err)
			return
		}
		base := rs.opts.PublicURL
		if base == "" {
			base = requestBase(r)
		}
		down := base + "/api/v1/signing/files/" + url.PathEscape(t.DownloadToken)
		up := base + "/api/v1/signing/uploads/" + url.PathEscape(t.UploadToken)
		writeJSON(w, http.StatusCreated, map[string]any{
			"ticket": t, "download_url": down, "upload_url": up,
			// The parameters of the government signing service's SignPDF/SignApproved actions.
			"plugin": map[string]any{"FileName": down, "FileUploadHandler": up, "SessionId": t.ID, "DocNumber": t.Number,
				"MetaData": []map[string]string{{"Key": "document_sha256", "Value": t.DocumentSHA256}}},
		})
	})
	// The two capability URLs carry no Bearer token: the signing service calls them, and the token in
	// the path is the credential (single use, short-lived, bound to the version and the user).
	s.Handle("GET /api/v1/signing/files/{token}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, data, err := s.rs().svc.Download(r.Context(), r.PathValue("token"))
		if err != nil {
			s.reply(w, r, 0, nil, err)
			return
		}
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(data)
	}))
	s.Handle("POST /api/v1/signing/uploads/{token}", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := s.readUpload(w, r)
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		out, err := s.rs().svc.Upload(r.Context(), r.PathValue("token"), data)
		s.reply(w, r, http.StatusOK, out, err)
	}))
}

// requestBase rebuilds the server's base URL from the request (behind a proxy, set PublicURL).
func requestBase(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// readUpload takes the signed PDF from the body: application/pdf (or octet-stream) as is, or the first
// file part of a multipart/form-data upload, as signing plugins send it.
func (s *Server) readUpload(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, s.maxBody)
	tooBig := func(err error) error {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			return apperr.New(apperr.TooLarge, "body_too_large", "Tệp tải lên quá lớn / the uploaded file is too large")
		}
		return apperr.Wrap(apperr.Invalid, "sign_upload_unreadable", "Không đọc được tệp tải lên / the upload cannot be read", err)
	}
	mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var data []byte
	var err error
	if mt == "multipart/form-data" {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, perr := mr.NextPart()
			if perr == io.EOF {
				break
			}
			if perr != nil {
				return nil, tooBig(perr)
			}
			if part.FileName() == "" {
				_ = part.Close()
				continue
			}
			data, err = io.ReadAll(part)
			_ = part.Close()
			if err != nil {
				return nil, tooBig(err)
			}
			break
		}
	} else {
		if data, err = io.ReadAll(body); err != nil {
			return nil, tooBig(err)
		}
	}
	if len(data) == 0 || !strings.HasPrefix(string(data[:min(len(data), 5)]), "%PDF-") {
		return nil, apperr.New(apperr.Invalid, "sign_upload_not_pdf", "Tệp tải lên không phải PDF / the uploaded file is not a PDF")
	}
	return data, nil
}
