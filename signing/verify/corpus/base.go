package corpus

import (
	"bytes"
	"fmt"
)

// BasePDF writes a small one-page PDF with a classic cross-reference table. The page shows a line of
// text (font F1) through two content streams: the text and a white "cover" rectangle that is empty
// here but lets the shadow cases hide or reveal content. Object 9 is a shadow: an unreferenced content
// stream stored under the number of the page's text stream (4), after the real one, that no
// cross-reference entry points to. A later update that only redirects the xref entry of object 4 to
// it swaps what the page shows (hide-and-replace).
func BasePDF(text string) []byte {
	var b bytes.Buffer
	offs := map[int]int{}
	obj := func(n int, body string) {
		offs[n] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", n, body)
	}
	stream := func(n int, data string) {
		offs[n] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n", n, len(data), data)
	}
	b.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	obj(1, "<< /Type /Catalog /Pages 2 0 R >>")
	obj(2, "<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
	obj(3, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents [4 0 R 6 0 R] >>")
	stream(4, fmt.Sprintf("BT /F1 20 Tf 72 760 Td (%s) Tj ET", text))
	obj(5, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
	stream(6, "q 1 1 1 rg 0 0 0 0 re f Q")
	obj(7, "<< /Producer (lienthong attack corpus) >>")
	// The shadow: same number as the text stream, never listed in the table below.
	shadow := b.Len()
	data := "BT /F1 20 Tf 72 760 Td (SO TIEN: 999.000.000 VND) Tj ET"
	fmt.Fprintf(&b, "4 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n", len(data), data)
	_ = shadow
	xref := b.Len()
	b.WriteString("xref\n0 8\n0000000000 65535 f \n")
	for n := 1; n <= 7; n++ {
		fmt.Fprintf(&b, "%010d 00000 n \n", offs[n])
	}
	fmt.Fprintf(&b, "trailer\n<< /Size 8 /Root 1 0 R /Info 7 0 R /ID [<0123456789abcdef0123456789abcdef> <0123456789abcdef0123456789abcdef>] >>\nstartxref\n%d\n%%%%EOF\n", xref)
	return b.Bytes()
}

// shadowOffset returns the offset of the shadow "4 0 obj" (the second one) in a BasePDF output.
func shadowOffset(base []byte) int {
	first := bytes.Index(base, []byte("\n4 0 obj"))
	second := bytes.Index(base[first+1:], []byte("\n4 0 obj"))
	return first + 1 + second + 1
}
