package api

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"html/template"
	"net/http"
	"sync"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/workflow"
	"github.com/lienthong/lienthong/workflow/regpdf"
)

// A register as a table: the Decree 30 Appendix IV column titles and the cells, so one renderer serves
// JSON, CSV (for spreadsheets), PDF (workflow/regpdf) and a printable HTML page (A4 landscape).
type table struct {
	Title   string
	Org     string
	From    string
	To      string
	Headers []string
	Rows    [][]string
}

func s(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func incomingTable(rows []workflow.IncomingRegisterRow) ([]string, [][]string) {
	h := []string{"Ngày đến", "Số đến", "Tác giả", "Số, ký hiệu", "Ngày tháng", "Tên loại và trích yếu nội dung",
		"Đơn vị hoặc người nhận", "Ngày chuyển", "Ký nhận", "Ghi chú"}
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = []string{r.ArrivalDate, fmt.Sprint(r.Number), r.Author, r.NumberNotation, s(r.DocumentDate), r.TypeAndSummary,
			r.Receiver, s(r.TransferDate), r.ReceiptSignature, r.Notes}
	}
	return h, out
}

func outgoingTable(rows []workflow.OutgoingRegisterRow) ([]string, [][]string) {
	h := []string{"Số, ký hiệu văn bản", "Ngày tháng văn bản", "Tên loại và trích yếu nội dung", "Người ký",
		"Nơi nhận văn bản", "Đơn vị, người nhận bản lưu", "Số lượng bản", "Ngày chuyển", "Ký nhận", "Ghi chú"}
	out := make([][]string, len(rows))
	for i, r := range rows {
		copies := ""
		if r.Copies != nil {
			copies = fmt.Sprint(*r.Copies)
		}
		out[i] = []string{r.NumberNotation, r.Date, r.TypeAndSummary, r.Signer, r.Recipients, r.FileHolder, copies,
			s(r.TransferDate), r.ReceiptSignature, r.Notes}
	}
	return h, out
}

func trackingTable(rows []workflow.TrackingRow) ([]string, [][]string) {
	h := []string{"Số đến", "Tên loại, số, ký hiệu, ngày tháng, tác giả", "Người nhận / đơn vị", "Thời hạn giải quyết",
		"Tiến độ giải quyết", "Số, ký hiệu văn bản trả lời", "Ghi chú"}
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = []string{fmt.Sprint(r.Number), r.Document, r.Receiver, s(r.Deadline), r.Progress, r.ReplyNumber, r.Notes}
	}
	return h, out
}

var printTmpl = template.Must(template.New("register").Parse(`<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>{{.Title}}</title>
<style>
@page { size: A4 landscape; margin: 15mm; }
body { font-family: "Times New Roman", "Liberation Serif", serif; font-size: 12pt; }
h1 { text-align: center; font-size: 14pt; margin: 0 0 4pt; }
p.meta { text-align: center; margin: 0 0 10pt; }
table { border-collapse: collapse; width: 100%; }
th, td { border: 1px solid #000; padding: 3pt; vertical-align: top; }
th { font-weight: bold; text-align: center; }
thead { display: table-header-group; }
tr { page-break-inside: avoid; }
</style></head><body>
<h1>{{.Title}}</h1>
<p class="meta">{{.Org}} — từ ngày {{.From}} đến ngày {{.To}}</p>
<table><thead><tr>{{range .Headers}}<th>{{.}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr>{{range .}}<td>{{.}}</td>{{end}}</tr>{{end}}</tbody></table>
</body></html>
`))

var (
	fontOnce sync.Once
	fontData []byte
	fontErr  error
)

func registerFont() ([]byte, error) {
	fontOnce.Do(func() { fontData, fontErr = regpdf.LoadFont() })
	return fontData, fontErr
}

// weightsFor gives the summary and recipient columns more room; registers have 10 or 7 columns.
func weightsFor(n int) []float64 {
	switch n {
	case 10:
		return []float64{1.1, 0.7, 1.8, 1.3, 1.1, 3.2, 1.6, 1.1, 0.9, 1.2}
	case 7:
		return []float64{0.7, 3.2, 1.6, 1.1, 1.4, 1.4, 1.2}
	}
	return nil
}

// writeRegister answers with JSON (default), CSV or printable HTML according to ?format=.
func (srv *Server) writeRegister(w http.ResponseWriter, r *http.Request, p workflow.Principal, per workflow.Period, title string,
	items any, headers []string, rows [][]string,
) {
	t := table{Title: title, Org: p.OrgName + " (" + p.OrgCode + ")", From: per.From.Format("02/01/2006"),
		To: per.To.Format("02/01/2006"), Headers: headers, Rows: rows}
	switch r.URL.Query().Get("format") {
	case "", "json":
		writeJSON(w, http.StatusOK, map[string]any{"from": per.From.Format("2006-01-02"), "to": per.To.Format("2006-01-02"), "items": items})
	case "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="register.csv"`)
		_, _ = w.Write([]byte("\xef\xbb\xbf")) // BOM: spreadsheet programs then read UTF-8
		cw := csv.NewWriter(w)
		_ = cw.Write(headers)
		_ = cw.WriteAll(rows)
	case "pdf":
		font, err := registerFont()
		if err != nil {
			WriteProblem(w, r, apperr.Wrap(apperr.Unavailable, "font_missing",
				"Máy chủ thiếu phông chữ tiếng Việt để in PDF (cài fonts-liberation2) / the server lacks a Vietnamese font for PDF (install fonts-liberation2)", err))
			return
		}
		var buf bytes.Buffer
		if err := regpdf.Render(&buf, font, regpdf.Table{Title: t.Title, Subtitle: t.Org + " — từ ngày " + t.From + " đến ngày " + t.To,
			Headers: headers, Weights: weightsFor(len(headers)), Rows: rows}); err != nil {
			WriteProblem(w, r, apperr.Wrap(apperr.Internal, "pdf_failed", "internal error", err))
			return
		}
		w.Header().Set("Content-Type", "application/pdf")
		w.Header().Set("Content-Disposition", `attachment; filename="register.pdf"`)
		_, _ = w.Write(buf.Bytes())
	case "html":
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
		_ = printTmpl.Execute(w, t)
	default:
		WriteProblem(w, r, apperr.New(apperr.Invalid, "bad_format", "format phải là json, csv, html hoặc pdf / format must be json, csv, html or pdf"))
	}
}
