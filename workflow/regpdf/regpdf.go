// Package regpdf prints a register (the Decree 30 Appendix IV columns for a period) as a PDF: A4
// landscape, a TrueType font embedded whole (Liberation Serif, metric-compatible with Times New Roman)
// so Vietnamese text renders and extracts, cells wrapped, the header row repeated on every page.
package regpdf

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// Table is what is printed.
type Table struct {
	Title    string
	Subtitle string
	Headers  []string
	Weights  []float64 // relative column widths; equal when nil
	Rows     [][]string
}

// FontPaths are tried in order when no font is given.
// Liberation 1.x (Debian's fonts-liberation) lacks most Vietnamese letters, so it comes after
// Liberation 2 and DejaVu and is used only if it covers them.
var FontPaths = []string{
	"/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf",
	"/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
	"/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
}

// LoadFont reads the first font of FontPaths that exists and has the Vietnamese letters.
func LoadFont() ([]byte, error) {
	for _, p := range FontPaths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		if f, err := parseTTF(b); err == nil && coversVietnamese(f) {
			return b, nil
		}
	}
	return nil, fmt.Errorf("regpdf: no TrueType font with Vietnamese letters (install fonts-liberation2 or fonts-dejavu-core); tried %s",
		strings.Join(FontPaths, ", "))
}

func coversVietnamese(f *ttf) bool {
	for _, r := range "ĐđƠơƯưẠảẤầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ" {
		if f.glyph(r) == 0 {
			return false
		}
	}
	return true
}

const (
	pageW, pageH = 842.0, 595.0 // A4 landscape, points
	margin       = 36.0
	cellSize     = 9.0
	headSize     = 9.5
	titleSize    = 14.0
	pad          = 3.0
)

type page struct{ buf bytes.Buffer }

type printer struct {
	f     *ttf
	used  map[uint16]rune
	pages []*page
	cur   *page
	y     float64
}

// Render writes t as a PDF to w using the TrueType font fontData.
func Render(w io.Writer, fontData []byte, t Table) error {
	f, err := parseTTF(fontData)
	if err != nil {
		return err
	}
	if len(t.Headers) == 0 {
		return fmt.Errorf("regpdf: a table needs columns")
	}
	p := &printer{f: f, used: map[uint16]rune{}}
	widths := columnWidths(t)
	p.newPage()
	p.text(margin, p.y-titleSize, titleSize, t.Title, pageW-2*margin, true)
	p.y -= titleSize * 1.6
	if t.Subtitle != "" {
		p.text(margin, p.y-cellSize-1, cellSize+1, t.Subtitle, pageW-2*margin, true)
		p.y -= (cellSize + 1) * 1.8
	}
	p.row(t.Headers, widths, headSize)
	for _, r := range t.Rows {
		cells := make([]string, len(t.Headers))
		copy(cells, r)
		h := p.rowHeight(cells, widths, cellSize)
		if p.y-h < margin {
			p.newPage()
			p.row(t.Headers, widths, headSize)
		}
		p.row(cells, widths, cellSize)
	}
	for i, pg := range p.pages {
		p.cur = pg
		p.text(margin, margin/2, 8, fmt.Sprintf("Trang %d/%d", i+1, len(p.pages)), pageW-2*margin, true)
	}
	return p.write(w)
}

func columnWidths(t Table) []float64 {
	ws := t.Weights
	if len(ws) != len(t.Headers) {
		ws = make([]float64, len(t.Headers))
		for i := range ws {
			ws[i] = 1
		}
	}
	var sum float64
	for _, w := range ws {
		sum += w
	}
	out := make([]float64, len(ws))
	for i, w := range ws {
		out[i] = (pageW - 2*margin) * w / sum
	}
	return out
}

func (p *printer) newPage() {
	p.cur = &page{}
	p.pages = append(p.pages, p.cur)
	p.y = pageH - margin
	p.cur.buf.WriteString("0.5 w\n")
}

func (p *printer) width(s string, size float64) float64 {
	var w int
	for _, r := range s {
		w += p.f.advance(p.f.glyph(r))
	}
	return float64(w) * size / 1000
}

// wrap breaks s into lines no wider than max.
func (p *printer) wrap(s string, size, max float64) []string {
	var lines []string
	for _, para := range strings.Split(norm.NFC.String(s), "\n") {
		line := ""
		for _, word := range strings.Fields(para) {
			cand := word
			if line != "" {
				cand = line + " " + word
			}
			if p.width(cand, size) <= max {
				line = cand
				continue
			}
			if line != "" {
				lines = append(lines, line)
				line = ""
			}
			for p.width(word, size) > max { // a word wider than the column: cut it
				rs := []rune(word)
				n := len(rs)
				for n > 1 && p.width(string(rs[:n]), size) > max {
					n--
				}
				lines = append(lines, string(rs[:n]))
				word = string(rs[n:])
			}
			line = word
		}
		lines = append(lines, line)
	}
	return lines
}

func (p *printer) rowHeight(cells []string, widths []float64, size float64) float64 {
	n := 1
	for i, c := range cells {
		if l := len(p.wrap(c, size, widths[i]-2*pad)); l > n {
			n = l
		}
	}
	return float64(n)*size*1.2 + 2*pad
}

func (p *printer) row(cells []string, widths []float64, size float64) {
	h := p.rowHeight(cells, widths, size)
	x := margin
	for i, c := range cells {
		fmt.Fprintf(&p.cur.buf, "%.2f %.2f %.2f %.2f re S\n", x, p.y-h, widths[i], h)
		y := p.y - pad - size
		for _, line := range p.wrap(c, size, widths[i]-2*pad) {
			p.text(x+pad, y, size, line, widths[i]-2*pad, false)
			y -= size * 1.2
		}
		x += widths[i]
	}
	p.y -= h
}

// text draws one line at (x, y); centred within width when centre is set.
func (p *printer) text(x, y, size float64, s string, width float64, centre bool) {
	s = norm.NFC.String(s)
	if centre {
		x += (width - p.width(s, size)) / 2
	}
	var hex strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) {
			continue
		}
		g := p.f.glyph(r)
		if g != 0 {
			p.used[g] = r
		}
		fmt.Fprintf(&hex, "%04X", g)
	}
	fmt.Fprintf(&p.cur.buf, "BT /F1 %.1f Tf %.2f %.2f Td <%s> Tj ET\n", size, x, y, hex.String())
}

func deflate(b []byte) []byte {
	var out bytes.Buffer
	zw := zlib.NewWriter(&out)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return out.Bytes()
}

// write assembles the objects: 1 catalog, 2 pages, 3 Type0 font, 4 CIDFont, 5 descriptor, 6 font file,
// 7 ToUnicode, then a page and a content stream per page.
func (p *printer) write(w io.Writer) error {
	var out bytes.Buffer
	var offsets []int
	obj := func(body string) {
		offsets = append(offsets, out.Len())
		fmt.Fprintf(&out, "%d 0 obj\n%s\nendobj\n", len(offsets), body)
	}
	stream := func(dict string, data []byte) {
		offsets = append(offsets, out.Len())
		fmt.Fprintf(&out, "%d 0 obj\n<< %s /Length %d /Filter /FlateDecode >>\nstream\n", len(offsets), dict, len(data))
		out.Write(data)
		out.WriteString("\nendstream\nendobj\n")
	}
	out.WriteString("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	first := 8
	kids := make([]string, len(p.pages))
	for i := range p.pages {
		kids[i] = fmt.Sprintf("%d 0 R", first+2*i)
	}
	obj("<< /Type /Catalog /Pages 2 0 R >>")
	obj(fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), len(p.pages)))
	obj("<< /Type /Font /Subtype /Type0 /BaseFont /LiberationSerif /Encoding /Identity-H /DescendantFonts [4 0 R] /ToUnicode 7 0 R >>")
	gids := make([]int, 0, len(p.used))
	for g := range p.used {
		gids = append(gids, int(g))
	}
	sort.Ints(gids)
	var wArr strings.Builder
	for _, g := range gids {
		fmt.Fprintf(&wArr, "%d [%d] ", g, p.f.advance(uint16(g)))
	}
	obj(fmt.Sprintf("<< /Type /Font /Subtype /CIDFontType2 /BaseFont /LiberationSerif /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor 5 0 R /DW 500 /W [%s] /CIDToGIDMap /Identity >>", wArr.String()))
	b := p.f.bbox
	obj(fmt.Sprintf("<< /Type /FontDescriptor /FontName /LiberationSerif /Flags 34 /FontBBox [%d %d %d %d] /ItalicAngle 0 /Ascent %d /Descent %d /CapHeight %d /StemV 80 /FontFile2 6 0 R >>",
		p.f.scale(b[0]), p.f.scale(b[1]), p.f.scale(b[2]), p.f.scale(b[3]), p.f.scale(p.f.ascent), p.f.scale(p.f.descent), p.f.scale(p.f.ascent)))
	stream(fmt.Sprintf("/Length1 %d", len(p.f.data)), deflate(p.f.data))
	var cm strings.Builder
	cm.WriteString("/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def /CMapName /Adobe-Identity-UCS def /CMapType 2 def 1 begincodespacerange <0000> <FFFF> endcodespacerange\n")
	for i := 0; i < len(gids); i += 100 {
		chunk := gids[i:min(i+100, len(gids))]
		fmt.Fprintf(&cm, "%d beginbfchar\n", len(chunk))
		for _, g := range chunk {
			var u strings.Builder
			for _, c := range utf16(p.used[uint16(g)]) {
				fmt.Fprintf(&u, "%04X", c)
			}
			fmt.Fprintf(&cm, "<%04X> <%s>\n", g, u.String())
		}
		cm.WriteString("endbfchar\n")
	}
	cm.WriteString("endcmap CMapName currentdict /CMap defineresource pop end end\n")
	stream("", deflate([]byte(cm.String())))
	for i, pg := range p.pages {
		obj(fmt.Sprintf("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.0f %.0f] /Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>", pageW, pageH, first+2*i+1))
		stream("", deflate(pg.buf.Bytes()))
	}
	xref := out.Len()
	fmt.Fprintf(&out, "xref\n0 %d\n0000000000 65535 f \n", len(offsets)+1)
	for _, o := range offsets {
		fmt.Fprintf(&out, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&out, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offsets)+1, xref)
	_, err := w.Write(out.Bytes())
	return err
}

func utf16(r rune) []uint16 {
	if r < 0x10000 {
		return []uint16{uint16(r)}
	}
	r -= 0x10000
	return []uint16{uint16(0xD800 + (r >> 10)), uint16(0xDC00 + (r & 0x3FF))}
}
