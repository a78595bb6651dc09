package web

import (
	"bytes"
	"context"
	"crypto/x509"
	"fmt"
	"strings"

	"github.com/lienthong/lienthong/signing/verify"
	"github.com/lienthong/lienthong/workflow"
)

// Verifier checks the signatures of a received PDF for display.
type Verifier interface {
	Verify(ctx context.Context, name string, data []byte) Verdict
}

// Verdict is what the clerk is shown about one PDF: OK, a one-line summary (whose seal, or why not)
// and one line per signature.
type Verdict struct {
	File       string
	OK         bool
	Summary    string
	Signatures []SignatureLine
}

// SignatureLine describes one signature.
type SignatureLine struct {
	Who    string // common name of the signer
	Org    string // organisation in the certificate
	Seal   bool   // the organisation's seal (the certificate names the organisation itself)
	OK     bool
	Reason string // why it does not pass, in Vietnamese
}

// PDFVerifier uses signing/verify with the configured trust roots.
type PDFVerifier struct{ Roots *x509.CertPool }

var subReasons = map[verify.SubIndication]string{
	verify.NoCertificateChainFound:   "chứng thư số không do tổ chức chứng thực được tin cậy cấp",
	verify.HashFailure:               "nội dung đã bị thay đổi sau khi ký",
	verify.SigCryptoFailure:          "chữ ký không khớp với chứng thư số",
	verify.Revoked:                   "chứng thư số đã bị thu hồi",
	verify.RevokedNoPOE:              "chứng thư số đã bị thu hồi",
	verify.Expired:                   "chứng thư số đã hết hạn",
	verify.NotYetValid:               "chứng thư số chưa có hiệu lực",
	verify.FormatFailure:             "chữ ký sai định dạng",
	verify.NoSigningCertificateFound: "không có chứng thư số của người ký",
	verify.SignedDataNotFound:        "không tìm thấy dữ liệu được ký",
	verify.TryLater:                  "chưa kiểm tra được tình trạng thu hồi chứng thư",
	verify.SigConstraintsFailure:     "tệp bị sửa đổi không được phép sau khi ký",
	verify.ChainConstraintsFailure:   "chuỗi chứng thư không hợp lệ",
	verify.CryptoConstraintsFailure:  "thuật toán ký không còn an toàn",
	verify.OutOfBoundsNoPOE:          "chứng thư đã hết hạn tại thời điểm kiểm tra",
}

// Verify checks every signature of the PDF.
func (v PDFVerifier) Verify(ctx context.Context, name string, data []byte) Verdict {
	out := Verdict{File: name}
	rep, err := verify.PDF(ctx, bytes.NewReader(data), int64(len(data)), verify.Options{Roots: v.Roots, File: name})
	if err != nil {
		out.Summary = "Không đọc được tệp PDF để kiểm tra chữ ký: " + err.Error()
		return out
	}
	if len(rep.Signatures) == 0 {
		out.Summary = "Không có chữ ký số nào trong tệp " + name + "."
		return out
	}
	var seal, person, bad []string
	for _, s := range rep.Signatures {
		l := SignatureLine{OK: s.Indication == verify.TotalPassed}
		if s.Signer != nil {
			l.Who, l.Org = s.Signer.CommonName, s.Signer.Organization
			l.Seal = l.Org != "" && strings.EqualFold(strings.TrimSpace(l.Who), strings.TrimSpace(l.Org))
		}
		if !l.OK {
			l.Reason = subReasons[s.SubIndication]
			if l.Reason == "" {
				l.Reason = fmt.Sprintf("%s %s", s.Indication, s.SubIndication)
			}
			bad = append(bad, fmt.Sprintf("chữ ký của %s: %s", nameOr(l.Who, "người ký không rõ"), l.Reason))
		} else if l.Seal {
			seal = append(seal, l.Org)
		} else {
			person = append(person, nameOr(l.Who, "?")+orgSuffix(l.Org))
		}
		out.Signatures = append(out.Signatures, l)
	}
	bad = append(bad, rep.Problems...)
	if len(bad) > 0 {
		out.Summary = "KHÔNG HỢP LỆ: " + strings.Join(bad, "; ") + "."
		return out
	}
	out.OK = true
	var parts []string
	if len(seal) > 0 {
		parts = append(parts, "con dấu số hợp lệ của "+strings.Join(seal, ", "))
	}
	if len(person) > 0 {
		parts = append(parts, "chữ ký số hợp lệ của "+strings.Join(person, ", "))
	}
	out.Summary = "Hợp lệ: " + strings.Join(parts, "; ") + "."
	return out
}

func nameOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orgSuffix(o string) string {
	if o == "" {
		return ""
	}
	return " (" + o + ")"
}

// verdicts verifies the PDFs of a document (cached by content hash: stored files never change).
func (h *Handler) verdicts(ctx context.Context, p workflow.Principal, files []workflow.File) []Verdict {
	var out []Verdict
	for _, f := range files {
		if f.ContentType != "application/pdf" {
			continue
		}
		h.vmu.Lock()
		v, ok := h.vc[f.SHA256]
		h.vmu.Unlock()
		if !ok {
			_, data, err := h.svc.GetFile(ctx, p, f.SHA256)
			if err != nil {
				out = append(out, Verdict{File: f.Name, Summary: "Không lấy được tệp để kiểm tra: " + err.Error()})
				continue
			}
			v = h.ver.Verify(ctx, f.Name, data)
			h.vmu.Lock()
			if len(h.vc) > 10000 {
				clear(h.vc)
			}
			h.vc[f.SHA256] = v
			h.vmu.Unlock()
		}
		v.File = f.Name
		out = append(out, v)
	}
	if len(out) == 0 {
		out = append(out, Verdict{Summary: "Không có tệp PDF để kiểm tra chữ ký."})
	}
	return out
}
