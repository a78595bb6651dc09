package verify

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// Languages for WriteText.
const (
	LangVietnamese = "vi"
	LangEnglish    = "en"
)

type phrase struct{ en, vi string }

var checkTitles = map[string]phrase{
	"PDF_SIG_DICT":               {"Signature dictionary", "Từ điển chữ ký"},
	"PDF_BYTE_RANGE":             {"Signed byte ranges (/ByteRange)", "Vùng byte được ký (/ByteRange)"},
	"PDF_CONTENTS":               {"Signature value (/Contents)", "Giá trị chữ ký (/Contents)"},
	"PDF_BYTE_RANGE_GAP":         {"Unsigned gap is exactly /Contents", "Khoảng không ký đúng bằng /Contents"},
	"PDF_SIGNED_REVISION":        {"Signed revision", "Phiên bản được ký"},
	"PDF_CHANGES":                {"Changes after signing", "Thay đổi sau khi ký"},
	"PDF_DOCMDP":                 {"Certification (DocMDP)", "Chữ ký chứng nhận (DocMDP)"},
	"PDF_TRAILING_DATA":          {"Data after the last %%EOF", "Dữ liệu sau %%EOF cuối"},
	"CMS_PARSE":                  {"CMS structure", "Cấu trúc CMS"},
	"CMS_ONE_SIGNER":             {"Exactly one signer", "Đúng một người ký"},
	"CMS_DETACHED":               {"Detached signature", "Chữ ký tách rời"},
	"CMS_ALGORITHMS":             {"Algorithms", "Thuật toán"},
	"CMS_SIGNER_CERT":            {"Signer's certificate present", "Có chứng thư người ký"},
	"CMS_CONTENT_TYPE":           {"content-type attribute", "Thuộc tính content-type"},
	"CMS_DIGEST":                 {"Integrity of the signed bytes", "Toàn vẹn dữ liệu được ký"},
	"CMS_SIGNATURE":              {"Signature value", "Giá trị chữ ký số"},
	"CMS_SIGNING_CERTIFICATE":    {"signing-certificate attribute", "Thuộc tính signing-certificate"},
	"CMS_SIGNING_TIME":           {"signing-time attribute", "Thuộc tính signing-time"},
	"TSP_SIGNATURE_TIMESTAMP":    {"Signature timestamp", "Dấu thời gian của chữ ký"},
	"CERT_KEY_USAGE":             {"Key usage", "Mục đích sử dụng khóa"},
	"CERT_VALIDITY":              {"Certificate validity period", "Thời hạn chứng thư"},
	"CERT_CHAIN":                 {"Chain to a trusted CA", "Chuỗi chứng thư đến CA tin cậy"},
	"CERT_REVOCATION":            {"Revocation status", "Tình trạng thu hồi"},
	"CERT_CA_REVOCATION":         {"Revocation of a CA certificate", "Tình trạng thu hồi của chứng thư CA"},
	"TSP_DOCUMENT_TIMESTAMP_POE": {"Document timestamp as proof of existence", "Dấu thời gian tài liệu chứng minh thời điểm tồn tại"},
}

var indicationText = map[Indication]phrase{
	TotalPassed:   {"VALID", "HỢP LỆ"},
	TotalFailed:   {"INVALID", "KHÔNG HỢP LỆ"},
	Indeterminate: {"INDETERMINATE", "CHƯA XÁC ĐỊNH ĐƯỢC"},
}

var subIndicationText = map[SubIndication]phrase{
	FormatFailure:             {"the signature or the document structure is malformed or was manipulated", "cấu trúc chữ ký hoặc tài liệu sai hoặc đã bị can thiệp"},
	HashFailure:               {"the signed content was changed", "nội dung đã ký bị thay đổi"},
	SigCryptoFailure:          {"the signature value is wrong", "giá trị chữ ký không đúng"},
	Revoked:                   {"the certificate was revoked", "chứng thư đã bị thu hồi"},
	Expired:                   {"the certificate had expired", "chứng thư đã hết hạn"},
	NotYetValid:               {"the certificate was not yet valid", "chứng thư chưa có hiệu lực"},
	ChainConstraintsFailure:   {"the certificate is not allowed for this use", "chứng thư không được phép dùng cho mục đích này"},
	CryptoConstraintsFailure:  {"the algorithms are not accepted", "thuật toán không được chấp nhận"},
	NoCertificateChainFound:   {"the certificate does not chain to a trusted CA", "chứng thư không dẫn tới CA tin cậy"},
	NoSigningCertificateFound: {"the signer's certificate cannot be identified", "không xác định được chứng thư người ký"},
	OutOfBoundsNoPOE:          {"the certificate is outside its validity and no timestamp proves when it was used", "chứng thư ngoài thời hạn và không có dấu thời gian chứng minh thời điểm ký"},
	RevokedNoPOE:              {"the certificate was revoked and nothing proves the signature came first", "chứng thư đã bị thu hồi và không chứng minh được chữ ký có trước"},
	RevokedCANoPOE:            {"a CA certificate of the chain was revoked", "một chứng thư CA trong chuỗi đã bị thu hồi"},
	TryLater:                  {"the revocation status is not available", "chưa có thông tin thu hồi"},
	SignedDataNotFound:        {"the signed data could not be read", "không đọc được dữ liệu đã ký"},
}

var problemText = map[string]string{
	"the document has no signature": "tài liệu không có chữ ký",
	"bytes after the last %%EOF belong to no revision (an incremental update without a cross-reference section)": "có dữ liệu sau %%EOF cuối không thuộc phiên bản nào (cập nhật gia tăng không có bảng tham chiếu chéo)",
	"the catalog names a certification signature (/Perms /DocMDP) that is not a valid first signature":           "danh mục tài liệu trỏ tới chữ ký chứng nhận không phải chữ ký đầu tiên hợp lệ",
}

func (p phrase) in(lang string) string {
	if lang == LangEnglish {
		return p.en
	}
	return p.vi
}

// WriteText writes the report for people, in Vietnamese (LangVietnamese) or English.
func (r *Report) WriteText(w io.Writer, lang string) error {
	var b strings.Builder
	t := func(en, vi string) string { return phrase{en, vi}.in(lang) }
	tm := func(x *time.Time) string { return x.Format("2006-01-02T15:04:05-07:00") }
	if r.File != "" {
		fmt.Fprintf(&b, "%s: %s\n", t("File", "Tệp"), r.File)
	}
	if r.Revisions > 0 {
		fmt.Fprintf(&b, "%s: %d, %s: %d\n", t("Size", "Kích thước"), r.Size, t("revisions", "số phiên bản"), r.Revisions)
	}
	for _, p := range r.Problems {
		msg := p
		if lang != LangEnglish {
			if vi, ok := problemText[p]; ok {
				msg = vi
			}
		}
		fmt.Fprintf(&b, "%s: %s\n", t("Problem", "Vấn đề"), msg)
	}
	for _, s := range r.Signatures {
		fmt.Fprintf(&b, "\n%s %d", t("Signature", "Chữ ký"), s.Index+1)
		if s.Field != "" {
			fmt.Fprintf(&b, " (%s %q)", t("field", "trường"), s.Field)
		}
		fmt.Fprintf(&b, " [%s]: %s — %s", s.Type, indicationText[s.Indication].in(lang), s.Indication)
		if s.SubIndication != "" {
			fmt.Fprintf(&b, " / %s (%s)", s.SubIndication, subIndicationText[s.SubIndication].in(lang))
		}
		b.WriteString("\n")
		if s.Signer != nil {
			fmt.Fprintf(&b, "  %s: %s\n", t("Signer", "Người ký"), s.Signer.CommonName)
			if s.Signer.Organization != "" {
				fmt.Fprintf(&b, "  %s: %s\n", t("Organisation", "Tổ chức"), s.Signer.Organization)
			}
			fmt.Fprintf(&b, "  %s: %s\n", t("Certificate serial", "Số hiệu chứng thư"), s.Signer.Serial)
			fmt.Fprintf(&b, "  %s: %s\n", t("Issuer", "Tổ chức cấp"), s.Signer.Issuer)
		}
		if s.ClaimedSigningTime != nil {
			fmt.Fprintf(&b, "  %s: %s\n", t("Signing time (claimed)", "Thời gian ký (khai báo)"), tm(s.ClaimedSigningTime))
		}
		if s.TimestampTime != nil {
			fmt.Fprintf(&b, "  %s: %s\n", t("Timestamp", "Dấu thời gian"), tm(s.TimestampTime))
		}
		if s.Level != "" {
			fmt.Fprintf(&b, "  %s: %s\n", t("Level", "Mức"), s.Level)
		}
		if s.DocMDP > 0 {
			fmt.Fprintf(&b, "  %s: P=%d\n", t("Certification", "Chứng nhận"), s.DocMDP)
		}
		if c := s.Coverage; c != nil {
			whole := t("whole document", "toàn bộ tài liệu")
			if !c.WholeDocument {
				whole = fmt.Sprintf(t("revision %d; %d later revision(s)", "phiên bản %d; %d phiên bản sau"), c.SignedRevision+1, c.LaterRevisions)
			}
			fmt.Fprintf(&b, "  %s: %v, %s\n", t("Coverage", "Phạm vi ký"), c.ByteRange, whole)
		}
		for _, c := range s.Checks {
			if c.Status == OK || c.Status == Skipped {
				continue
			}
			title := c.ID
			if p, ok := checkTitles[c.ID]; ok {
				title = p.in(lang)
			}
			mark := t("FAILED", "KHÔNG ĐẠT")
			if c.Status == Warning {
				mark = t("warning", "cảnh báo")
			}
			fmt.Fprintf(&b, "  [%s] %s (%s): %s\n", mark, title, c.ID, c.Detail)
		}
		shown := 0
		for _, m := range s.Modifications {
			if m.Status == OK {
				continue
			}
			if shown == 20 {
				fmt.Fprintf(&b, "  ...\n")
				break
			}
			shown++
			reason := m.Reason
			if reason == m.Kind+" "+m.Action {
				reason = ""
			}
			fmt.Fprintf(&b, "  %s %d, %s %d: %s %s (%s) %s\n", t("revision", "phiên bản"), m.Revision+1,
				t("object", "đối tượng"), m.Object, m.Kind, m.Action, m.Status, reason)
		}
	}
	verdict := t("Result: every signature is valid and nothing disallowed changed after signing.",
		"Kết quả: mọi chữ ký hợp lệ và không có thay đổi trái phép sau khi ký.")
	if !r.Valid {
		verdict = t("Result: NOT VALID.", "Kết quả: KHÔNG HỢP LỆ.")
	}
	fmt.Fprintf(&b, "\n%s\n", verdict)
	_, err := io.WriteString(w, b.String())
	return err
}

// Summary is a one-line verdict for a clerk's screen or a log line: how many signatures, and for an
// invalid file the first reason (for example "signature 1 (Signature1): TOTAL_FAILED/FORMAT_FAILURE:
// 1 disallowed change(s) after this signature; ...").
func (r *Report) Summary(lang string) string {
	t := func(en, vi string) string { return phrase{en, vi}.in(lang) }
	if r.Valid {
		return fmt.Sprintf(t("%d valid signature(s)", "%d chữ ký hợp lệ"), len(r.Signatures))
	}
	if len(r.Problems) > 0 {
		p := r.Problems[0]
		if vi, ok := problemText[p]; ok && lang != LangEnglish {
			return vi
		}
		return p
	}
	for _, s := range r.Signatures {
		if s.Indication == TotalPassed {
			continue
		}
		reason := ""
		for _, c := range s.Checks {
			if c.Status == Failed {
				title := c.ID
				if ph, ok := checkTitles[c.ID]; ok {
					title = ph.in(lang)
				}
				reason = title + ": " + c.Detail
				break
			}
		}
		return fmt.Sprintf("%s %d (%s): %s/%s: %s", t("signature", "chữ ký"), s.Index+1, s.Field, s.Indication, s.SubIndication, reason)
	}
	return t("not valid", "không hợp lệ")
}
