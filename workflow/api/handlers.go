package api

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/workflow"
)

func (s *Server) routesWorkflow() {
	s.Handle("GET /healthz", http.HandlerFunc(s.healthz))
	s.Handle("GET /openapi.json", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openapiDoc)
	}))
	s.HandleAuth("GET /api/v1/me", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		writeJSON(w, http.StatusOK, p)
	})
	s.HandleAuth("GET /api/v1/orgs", s.listOrgs)
	s.HandleAuth("POST /api/v1/orgs", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		var in struct {
			Code       string `json:"code"`
			Name       string `json:"name"`
			Abbr       string `json:"abbr"`
			Level      string `json:"level"`
			ParentCode string `json:"parent_code"`
		}
		if err := s.decode(w, r, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		o, err := s.svc.AdminAddOrg(r.Context(), p, workflow.NewOrg{Code: in.Code, Name: in.Name, Abbr: in.Abbr, Level: in.Level, ParentCode: in.ParentCode})
		s.reply(w, r, http.StatusCreated, o, err)
	})
	s.HandleAuth("POST /api/v1/orgs/{code}/departments", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		var in struct {
			Code string `json:"code"`
			Name string `json:"name"`
		}
		if err := s.decode(w, r, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		d, err := s.svc.AdminAddDepartment(r.Context(), p, r.PathValue("code"), in.Code, in.Name)
		s.reply(w, r, http.StatusCreated, d, err)
	})
	s.HandleAuth("POST /api/v1/users", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		var in struct {
			OrgCode        string `json:"org_code"`
			Name           string `json:"name"`
			Position       string `json:"position"`
			Role           string `json:"role"`
			DepartmentCode string `json:"department_code"`
		}
		if err := s.decode(w, r, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		u, token, err := s.svc.AdminAddUser(r.Context(), p, workflow.NewUser{OrgCode: in.OrgCode, Name: in.Name, Position: in.Position,
			Role: in.Role, DepartmentCode: in.DepartmentCode})
		s.reply(w, r, http.StatusCreated, map[string]any{"user": u, "token": token}, err)
	})
	s.HandleAuth("GET /api/v1/departments", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		deps, err := s.svc.ListDepartments(r.Context(), p.OrgID)
		s.reply(w, r, http.StatusOK, map[string]any{"items": deps}, err)
	})

	s.HandleAuth("POST /api/v1/incoming", s.registerIncoming)
	s.HandleAuth("GET /api/v1/incoming", s.listIncoming)
	s.HandleAuth("GET /api/v1/incoming/{id}", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		d, err := s.svc.GetIncoming(r.Context(), p, r.PathValue("id"))
		s.reply(w, r, http.StatusOK, d, err)
	})
	s.HandleAuth("GET /api/v1/incoming/{id}/history", s.history)
	s.HandleAuth("POST /api/v1/incoming/{id}/assign", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		var a workflow.Assignment
		if err := s.decode(w, r, &a); err != nil {
			WriteProblem(w, r, err)
			return
		}
		d, err := s.svc.AssignIncoming(r.Context(), p, r.PathValue("id"), a)
		s.reply(w, r, http.StatusOK, d, err)
	})
	for _, action := range workflow.IncomingActions() {
		if action == "assign" {
			continue
		}
		s.HandleAuth("POST /api/v1/incoming/{id}/"+action, func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
			var a workflow.Action
			if r.ContentLength != 0 {
				if err := s.decode(w, r, &a); err != nil {
					WriteProblem(w, r, err)
					return
				}
			}
			d, err := s.svc.MoveIncoming(r.Context(), p, r.PathValue("id"), action, a)
			s.reply(w, r, http.StatusOK, d, err)
		})
	}

	s.HandleAuth("POST /api/v1/outgoing", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		var in workflow.OutgoingIn
		if err := s.decode(w, r, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		d, err := s.svc.CreateOutgoing(r.Context(), p, in)
		s.reply(w, r, http.StatusCreated, d, err)
	})
	s.HandleAuth("GET /api/v1/outgoing", s.listOutgoing)
	s.HandleAuth("GET /api/v1/outgoing/{id}", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		d, err := s.svc.GetOutgoing(r.Context(), p, r.PathValue("id"))
		s.reply(w, r, http.StatusOK, d, err)
	})
	s.HandleAuth("GET /api/v1/outgoing/{id}/history", s.history)
	s.HandleAuth("POST /api/v1/outgoing/{id}/submit", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		d, err := s.svc.SubmitOutgoing(r.Context(), p, r.PathValue("id"))
		s.reply(w, r, http.StatusOK, d, err)
	})
	s.HandleAuth("POST /api/v1/outgoing/{id}/review", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		var in workflow.Review
		if err := s.decode(w, r, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		d, err := s.svc.ReviewOutgoing(r.Context(), p, r.PathValue("id"), in)
		s.reply(w, r, http.StatusOK, d, err)
	})
	s.HandleAuth("POST /api/v1/outgoing/{id}/sign", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		var in workflow.Signature
		if err := s.decode(w, r, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		if rs := s.rs(); rs != nil {
			if err := rs.svc.CheckDirectSign(r.Context(), p, r.PathValue("id"), in.Signed.Data); err != nil {
				WriteProblem(w, r, err)
				return
			}
		}
		d, err := s.svc.SignOutgoing(r.Context(), p, r.PathValue("id"), in)
		s.reply(w, r, http.StatusOK, d, err)
	})
	s.HandleAuth("POST /api/v1/outgoing/{id}/issue", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		d, err := s.svc.IssueOutgoing(r.Context(), p, r.PathValue("id"))
		s.reply(w, r, http.StatusOK, d, err)
	})
	s.HandleAuth("POST /api/v1/outgoing/{id}/recall", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		var in workflow.Action
		if err := s.decode(w, r, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		d, err := s.svc.RecallOutgoing(r.Context(), p, r.PathValue("id"), in)
		s.reply(w, r, http.StatusOK, d, err)
	})
	s.HandleAuth("POST /api/v1/outgoing/{id}/dispatch", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		var in workflow.DispatchTo
		if err := s.decode(w, r, &in); err != nil {
			WriteProblem(w, r, err)
			return
		}
		d, err := s.svc.DispatchOutgoing(r.Context(), p, r.PathValue("id"), in)
		s.reply(w, r, http.StatusOK, d, err)
	})

	s.HandleAuth("GET /api/v1/files/{sha256}", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		f, data, err := s.svc.GetFile(r.Context(), p, r.PathValue("sha256"))
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		w.Header().Set("Content-Type", f.ContentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Header().Set("Content-Disposition", `attachment; filename="`+strings.NewReplacer(`"`, "", "\\", "", "\r", "", "\n", "").Replace(f.Name)+`"`)
		w.Header().Set("ETag", `"`+f.SHA256+`"`)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(data)
	})
	s.HandleAuth("GET /api/v1/registers/incoming", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		per, err := s.period(r)
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		rows, err := s.svc.IncomingRegister(r.Context(), p, per)
		if err != nil {
			s.reply(w, r, 0, nil, err)
			return
		}
		h, cells := incomingTable(rows)
		s.writeRegister(w, r, p, per, "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN", rows, h, cells)
	})
	s.HandleAuth("GET /api/v1/registers/outgoing", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		per, err := s.period(r)
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		rows, err := s.svc.OutgoingRegister(r.Context(), p, per)
		if err != nil {
			s.reply(w, r, 0, nil, err)
			return
		}
		h, cells := outgoingTable(rows)
		s.writeRegister(w, r, p, per, "SỔ ĐĂNG KÝ VĂN BẢN ĐI", rows, h, cells)
	})
	s.HandleAuth("GET /api/v1/registers/tracking", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		per, err := s.period(r)
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		rows, err := s.svc.TrackingRegister(r.Context(), p, per)
		if err != nil {
			s.reply(w, r, 0, nil, err)
			return
		}
		h, cells := trackingTable(rows)
		s.writeRegister(w, r, p, per, "SỔ THEO DÕI GIẢI QUYẾT VĂN BẢN ĐẾN", rows, h, cells)
	})
	s.HandleAuth("GET /api/v1/search", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		limit, err := intParam(r, "limit")
		if err != nil {
			WriteProblem(w, r, err)
			return
		}
		res, err := s.svc.Search(r.Context(), p, r.URL.Query().Get("q"), limit)
		s.reply(w, r, http.StatusOK, map[string]any{"items": res}, err)
	})
}

// reply writes v, or the problem for err. Internal errors are logged with their cause.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, status int, v any, err error) {
	if err != nil {
		if k := apperr.KindOf(err); k == apperr.Internal || k == apperr.Unavailable {
			s.log.ErrorContext(r.Context(), "request failed", slog.String("path", r.URL.Path), slog.Any("error", err))
		}
		WriteProblem(w, r, err)
		return
	}
	writeJSON(w, status, v)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Ping(r.Context()); err != nil {
		WriteProblem(w, r, apperr.Wrap(apperr.Unavailable, "database_unavailable", "Cơ sở dữ liệu không trả lời / the database is not answering", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func intParam(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, apperr.New(apperr.Invalid, "bad_"+name, name+" phải là số nguyên / "+name+" must be an integer")
	}
	return n, nil
}

func boolParam(r *http.Request, name string) (bool, error) {
	switch r.URL.Query().Get(name) {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, apperr.New(apperr.Invalid, "bad_"+name, name+" phải là true hoặc false / "+name+" must be true or false")
}

func (s *Server) listQuery(r *http.Request) (workflow.ListQuery, error) {
	q := workflow.ListQuery{Cursor: r.URL.Query().Get("cursor"), State: r.URL.Query().Get("state"), Q: r.URL.Query().Get("q")}
	var err error
	if q.Limit, err = intParam(r, "limit"); err != nil {
		return q, err
	}
	if r.URL.Query().Has("limit") && q.Limit == 0 {
		return q, apperr.New(apperr.Invalid, "bad_limit", "limit phải từ 1 đến 500 / limit must be 1–500")
	}
	q.Overdue, err = boolParam(r, "overdue")
	return q, err
}

func (s *Server) period(r *http.Request) (workflow.Period, error) {
	return s.svc.ParsePeriod(r.URL.Query().Get("from"), r.URL.Query().Get("to"))
}

func (s *Server) registerIncoming(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
	var in workflow.IncomingIn
	if err := s.decode(w, r, &in); err != nil {
		WriteProblem(w, r, err)
		return
	}
	d, err := s.svc.RegisterIncoming(r.Context(), p, in)
	if err == nil {
		w.Header().Set("Location", "/api/v1/incoming/"+d.ID)
	}
	s.reply(w, r, http.StatusCreated, d, err)
}

func (s *Server) listIncoming(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
	q, err := s.listQuery(r)
	if err != nil {
		WriteProblem(w, r, err)
		return
	}
	page, err := s.svc.ListIncoming(r.Context(), p, q)
	if page.Items == nil {
		page.Items = []workflow.IncomingDoc{}
	}
	s.reply(w, r, http.StatusOK, page, err)
}

func (s *Server) listOutgoing(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
	q, err := s.listQuery(r)
	if err != nil {
		WriteProblem(w, r, err)
		return
	}
	page, err := s.svc.ListOutgoing(r.Context(), p, q)
	if page.Items == nil {
		page.Items = []workflow.OutgoingDoc{}
	}
	s.reply(w, r, http.StatusOK, page, err)
}

func (s *Server) history(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
	h, err := s.svc.History(r.Context(), p, r.PathValue("id"))
	if h == nil {
		h = []workflow.AuditEntry{}
	}
	s.reply(w, r, http.StatusOK, map[string]any{"items": h}, err)
}

func (s *Server) listOrgs(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
	orgs, err := s.svc.ListOrgs(r.Context(), r.URL.Query().Get("under"), r.URL.Query().Get("level"))
	if orgs == nil {
		orgs = []workflow.Org{}
	}
	s.reply(w, r, http.StatusOK, map[string]any{"items": orgs}, err)
}
