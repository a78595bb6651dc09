package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/workflow"
)

var labels = map[string]map[string]string{
	"urgency": {"normal": "Thường", "urgent": "Khẩn", "very_urgent": "Thượng khẩn", "flash": "Hỏa tốc"},
	"secrecy": {"normal": "Thường", "confidential": "Mật", "secret": "Tối mật", "top_secret": "Tuyệt mật"},
	"state": {
		workflow.StReceived: "Chờ vào sổ", workflow.StRegistered: "Đã vào sổ", workflow.StPresented: "Chờ lãnh đạo phân công",
		workflow.StAssigned: "Đã phân công", workflow.StProcessing: "Đang xử lý", workflow.StDone: "Đã xử lý xong",
		workflow.StFiled: "Đã lưu hồ sơ", workflow.StReturned: "Đã trả lại",
		workflow.StDraft: "Dự thảo", workflow.StInReview: "Chờ duyệt", workflow.StApproved: "Đã duyệt, chờ ký",
		workflow.StSigned: "Đã ký, chờ phát hành", workflow.StIssued: "Đã phát hành (cấp số)", workflow.StDispatched: "Đã gửi",
	},
	"role":   {"clerk": "Văn thư", "leader": "Lãnh đạo", "specialist": "Chuyên viên", "admin": "Quản trị"},
	"level":  {"central": "Trung ương", "province": "Cấp tỉnh", "district": "Cấp huyện (cũ)", "commune": "Cấp xã"},
	"source": {"axis": "Trục liên thông", "paper": "Giấy (quét)", "electronic": "Điện tử"},
	"delivery": {
		"queued": "Đang chờ gửi", "sent": "Đã gửi lên trục", "failed": "Gửi lỗi", "expired": "Quá thời hạn gửi", "cancelled": "Đã huỷ",
		"01": "Đã nhận (01)", "02": "Bị từ chối / trả lại (02)", "03": "Đã vào sổ (03)", "04": "Đã phân công (04)",
		"05": "Đang xử lý (05)", "06": "Đã hoàn thành (06)", "15": "Đồng ý thu hồi/cập nhật (15)", "16": "Từ chối thu hồi/cập nhật (16)",
	},
	"action": {
		"incoming.receive": "Nhận từ trục liên thông", "incoming.register": "Vào sổ văn bản đến", "incoming.present": "Trình lãnh đạo",
		"incoming.assign": "Phân công xử lý", "incoming.start": "Bắt đầu xử lý", "incoming.complete": "Hoàn thành",
		"incoming.file": "Lưu hồ sơ", "incoming.return": "Trả lại nơi gửi", "incoming.refuse": "Từ chối xử lý",
		"outgoing.draft": "Tạo dự thảo", "outgoing.submit": "Trình duyệt", "outgoing.review": "Xem xét dự thảo",
		"outgoing.send_to_leader": "Trình ký", "outgoing.sign": "Ký số", "outgoing.issue": "Cấp số, phát hành",
		"outgoing.dispatch": "Gửi đi", "outgoing.sign_prepare": "Chuẩn bị ký số (USB token)", "outgoing.sign_complete": "Hoàn tất ký số",
		"outgoing.sign_ticket": "Cấp phiếu ký qua dịch vụ ký số", "outgoing.sign_upload": "Nhận bản ký từ dịch vụ ký số",
		"outgoing.sign_download": "Dịch vụ ký số tải văn bản", "outgoing.sign_refused": "Từ chối chữ ký",
		"outgoing.sign_upload_refused": "Từ chối bản ký tải lên", "outgoing.delivery_status": "Trạng thái gửi nhận", "outgoing.dispatch_refused": "Từ chối gửi (văn bản mật)",
	},
}

func label(kind, v string) string {
	if s, ok := labels[kind][v]; ok {
		return s
	}
	return v
}

// vnDate renders a date as dd/mm/yyyy: from a YYYY-MM-DD string (or a pointer to one) or a time.
func vnDate(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case *string:
		if x == nil {
			return ""
		}
		return vnDate(*x)
	case string:
		t, err := time.Parse("2006-01-02", x)
		if err != nil {
			return x
		}
		return t.Format("02/01/2006")
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.In(workflow.Local).Format("02/01/2006")
	case *time.Time:
		if x == nil {
			return ""
		}
		return vnDate(*x)
	}
	return fmt.Sprint(v)
}

// vnTime renders an instant as dd/mm/yyyy hh:mm in Vietnam.
func vnTime(v any) string {
	switch x := v.(type) {
	case time.Time:
		if x.IsZero() {
			return ""
		}
		return x.In(workflow.Local).Format("02/01/2006 15:04")
	case *time.Time:
		if x == nil {
			return ""
		}
		return vnTime(*x)
	}
	return ""
}

// isoDate renders a date for the machine-readable datetime attribute.
func isoDate(v any) string {
	switch x := v.(type) {
	case *string:
		if x == nil {
			return ""
		}
		return *x
	case string:
		return x
	case time.Time:
		return x.In(workflow.Local).Format(time.RFC3339)
	case *time.Time:
		if x == nil {
			return ""
		}
		return x.In(workflow.Local).Format(time.RFC3339)
	}
	return ""
}

// parseVNDate reads dd/mm/yyyy (or YYYY-MM-DD) into the workflow's YYYY-MM-DD; empty stays empty.
func parseVNDate(field, s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	for _, layout := range []string{"02/01/2006", "2/1/2006", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.Format("2006-01-02"), nil
		}
	}
	return "", apperr.New(apperr.Invalid, "bad_date", field+": ngày phải có dạng dd/mm/yyyy (vd. 05/12/2026); đã nhập "+fmt.Sprintf("%q", s))
}

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}

var funcs = template.FuncMap{
	"label":   label,
	"pathesc": url.PathEscape,
	"date":    vnDate,
	"time":    vnTime,
	"iso":     isoDate,
	"deref":   func(p *int) int { return deref(p) },
	"derefs":  func(p *string) string { return deref(p) },
	"size": func(n int64) string {
		switch {
		case n >= 1<<20:
			return fmt.Sprintf("%.1f MB", float64(n)/(1<<20))
		case n >= 1<<10:
			return fmt.Sprintf("%.0f KB", float64(n)/(1<<10))
		}
		return fmt.Sprintf("%d B", n)
	},
	"number": func(d workflow.IncomingDoc) string {
		if d.RegisterNumber == nil {
			return ""
		}
		return fmt.Sprintf("%d/%d", *d.RegisterNumber, deref(d.RegisterYear))
	},
	"code": func(number, notation string) string {
		if number == "" && notation == "" {
			return ""
		}
		if number == "" {
			return notation
		}
		if notation == "" {
			return number
		}
		return number + "/" + notation
	},
	"has": func(list []string, v string) bool {
		for _, x := range list {
			if x == v {
				return true
			}
		}
		return false
	},
}

func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New(base).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", n, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// render writes page with data; the layout adds the navigation for p and the session's CSRF token.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, page string, q *req, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	if q != nil {
		data["User"] = q.p
		data["CSRF"] = q.sess.csrf
	}
	data["Path"] = r.URL.Path
	data["AgentURL"] = h.cfg.AgentURL
	if m := r.URL.Query().Get("msg"); m != "" {
		data["Flash"] = flashText[m]
	}
	t := h.pages[page]
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		h.log.ErrorContext(r.Context(), "template", slog.String("page", page), slog.Any("error", err))
		http.Error(w, "lỗi hiển thị trang / page rendering failed", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

var flashText = map[string]string{
	"registered":     "Đã vào sổ văn bản đến.",
	"registered_dup": "Đã vào sổ văn bản đến. Lưu ý: có thể trùng với một văn bản đã vào sổ (cùng nơi gửi, số, ký hiệu và ngày); hãy kiểm tra.", "presented": "Đã trình lãnh đạo.", "assigned": "Đã phân công xử lý.",
	"returned": "Đã trả lại văn bản cho nơi gửi.", "started": "Đã bắt đầu xử lý.", "completed": "Đã hoàn thành xử lý.", "created": "Đã lưu dự thảo.", "submitted": "Đã trình duyệt dự thảo.",
	"approved": "Đã duyệt dự thảo.", "sentback": "Đã trả lại dự thảo cho người soạn.", "signer": "Đã trình lãnh đạo ký.",
	"signed": "Đã ký số văn bản.", "issued": "Đã cấp số và phát hành.", "dispatched": "Đã gửi văn bản đi.",
	"redelivered": "Đã đưa lần gửi lỗi vào hàng đợi gửi lại.",
}

// errorPage shows a message a clerk can act on.
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, p *workflow.Principal, status int, msg string) {
	data := map[string]any{"Title": "Không thực hiện được", "Message": msg, "Status": status, "Back": r.Header.Get("Referer")}
	if p != nil {
		data["User"] = *p
		if _, s := h.session(r); s != nil {
			data["CSRF"] = s.csrf
		}
	}
	h.render(w, r, status, "error", nil, data)
}

var kindStatus = map[apperr.Kind]int{
	apperr.Invalid: http.StatusBadRequest, apperr.NotFound: http.StatusNotFound, apperr.Conflict: http.StatusConflict,
	apperr.Unauthorized: http.StatusUnauthorized, apperr.Forbidden: http.StatusForbidden,
	apperr.Unavailable: http.StatusServiceUnavailable, apperr.TooLarge: http.StatusRequestEntityTooLarge,
	apperr.Internal: http.StatusInternalServerError,
}

// fail shows err's clerk-safe detail (Vietnamese part first) with the status of its kind.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, p *workflow.Principal, err error) {
	k := apperr.KindOf(err)
	if k == apperr.Internal || k == apperr.Unavailable {
		h.log.ErrorContext(r.Context(), "console request failed", slog.String("path", r.URL.Path), slog.Any("error", err))
	}
	h.errorPage(w, r, p, kindStatus[k], apperr.Detail(err))
}
