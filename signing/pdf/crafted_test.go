package pdf

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// buildPDF writes objects 1..n with an exact xref table; trailer extra entries are appended.
func buildPDF(objs []string, trailerExtra string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f\r\n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n\r\n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R %s>>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, trailerExtra, x)
	return b.Bytes()
}

// craftedCases are hostile structures; they also seed FuzzOpen.
func craftedCases() map[string][]byte {
	return map[string][]byte{
		"length-cycle": buildPDF([]string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
			"<< /Length 5 0 R >>\nstream\nabc\nendstream",
			"<< /Length 4 0 R >>\nstream\nabc\nendstream",
		}, ""),
		"page-cycle": buildPDF([]string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
			"<< /Type /Pages /Kids [2 0 R] /Count 1 >>",
		}, ""),
		"field-cycle": buildPDF([]string{
			"<< /Type /Catalog /Pages 2 0 R /AcroForm << /Fields [3 0 R] >> >>",
			"<< /Type /Pages /Kids [] /Count 0 >>",
			"<< /T (a) /Kids [4 0 R] >>",
			"<< /T (b) /Kids [3 0 R] >>",
		}, ""),
		"self-objstm": buildPDF([]string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [] /Count 0 >>",
			"<< /Type /ObjStm /N 1 /First 4 /Length 10 >>\nstream\n3 0 3 0 R\nendstream",
		}, ""),
		"deep-nesting": buildPDF([]string{
			"<< /Type /Catalog /Pages 2 0 R /X " + strings.Repeat("[", 10000) + " >>",
			"<< /Type /Pages /Kids [] /Count 0 >>",
		}, ""),
		"ref-chain": buildPDF([]string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"3 0 R", "2 0 R",
		}, ""),
		"prev-self": bytes.Replace(buildPDF([]string{
			"<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>",
		}, "/Prev 0000000 "), []byte("/Prev 0000000"), []byte("/Prev 0"), 1),
		"huge-xref-count": []byte("%PDF-1.4\nxref\n0 999999999\ntrailer\n<< /Root 1 0 R >>\nstartxref\n9\n%%EOF\n"),
		"bad-predictor": buildPDF([]string{
			"<< /Type /Catalog /Pages 2 0 R >>",
			"<< /Type /Pages /Kids [] /Count 0 >>",
			"<< /Type /XRef /W [1 2 1] /Size 3 /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 1048576 /Colors 32 /BitsPerComponent 16 >> /Length 8 >>\nstream\nx\x9c\x03\x00\x00\x00\x00\x01\nendstream",
		}, ""),
	}
}

// TestCrafted feeds hostile structures: each must end in an error or a value, never a hang or panic.
func TestCrafted(t *testing.T) {
	t.Parallel()
	for name, b := range craftedCases() {
		t.Run("fail/"+name, func(t *testing.T) {
			t.Parallel()
			rd, err := Open(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				return
			}
			for i := range rd.Revisions() {
				_, _ = rd.Pages(i)
				_, _ = rd.Fields(i)
				_, _ = rd.Signatures(i)
				for n := 0; n < 8; n++ {
					_, _ = rd.ObjectAt(i, Ref{Num: n})
				}
			}
			_, _ = rd.DocMDP()
		})
	}
}
