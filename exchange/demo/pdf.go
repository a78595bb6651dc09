package demo

import (
	"bytes"
	"fmt"
	"strings"
)

// MakePDF writes a small one-page PDF 1.7 (Helvetica text) of at least minSize bytes: the text is
// repeated in the content stream to reach the size, so benchmarks can move realistic 100 KB files.
func MakePDF(title string, minSize int) []byte {
	var content bytes.Buffer
	content.WriteString("BT /F1 14 Tf 72 770 Td (" + pdfEscape(title) + ") Tj ET\n")
	line := 0
	for content.Len() < minSize-900 {
		fmt.Fprintf(&content, "BT /F1 6 Tf 72 %d Td (lienthong demo line %06d - van ban dien tu) Tj ET\n", 740-(line%120)*6, line)
		line++
	}
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()),
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

func pdfEscape(s string) string {
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r == '(' || r == ')' || r == '\\':
			sb.WriteByte('\\')
			sb.WriteRune(r)
		case r < 128:
			sb.WriteRune(r)
		default:
			sb.WriteByte('?') // Helvetica (WinAnsi) has no Vietnamese letters; the demo title is ASCII anyway
		}
	}
	return sb.String()
}
