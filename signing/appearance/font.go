package appearance

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"golang.org/x/text/unicode/norm"
)

// FontPaths are the serif faces tried by DefaultFont, in order. Liberation Serif is metric-compatible
// with Times New Roman; Debian's fonts-liberation2 (2.1) covers Vietnamese, while fonts-liberation
// (1.07) lacks ơ, ư and the precomposed Vietnamese letters, so it is only used when the text does not
// need them. DejaVu Serif is the last resort.
var FontPaths = []string{
	"/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf",
	"/usr/share/fonts/truetype/liberation/LiberationSerif-Regular.ttf",
	"/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
}

// DefaultFontPath is the preferred face.
var DefaultFontPath = FontPaths[0]

// vietnameseProbe holds letters a font must have to set Vietnamese.
const vietnameseProbe = "ăâđêôơưẠạẢảẤấẦầẨẩẪẫẬậẮắẰằẲẳẴẵẶặẸẹẺẻẼẽẾếỀềỂểỄễỆệỈỉỊịỌọỎỏỐốỒồỔổỖỗỘộỚớỜờỞởỠỡỢợỤụỦủỨứỪừỬửỮữỰựỲỳỴỵỶỷỸỹ"

// DefaultFont returns the first face of FontPaths that can set every letter of text (Vietnamese
// included); with text empty, the first face that covers Vietnamese.
func DefaultFont(text string) (*Font, error) {
	if text == "" {
		text = vietnameseProbe
	}
	var firstErr error
	for _, p := range FontPaths {
		f, err := LoadFont(p)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if f.Covers(text) {
			return f, nil
		}
	}
	if firstErr == nil {
		firstErr = errors.New("no installed font covers the text")
	}
	return nil, fmt.Errorf("appearance: no serif font for Vietnamese text (install fonts-liberation2): %w", firstErr)
}

// Covers reports whether every non-space letter of s has a glyph.
func (f *Font) Covers(s string) bool {
	for _, r := range norm.NFC.String(s) {
		if r > ' ' && f.Glyph(r) == 0 {
			return false
		}
	}
	return true
}

// Font is a parsed TrueType font, enough to lay out text and embed a subset.
type Font struct {
	data       []byte
	tables     map[string][]byte
	unitsPerEm int
	numGlyphs  int
	longLoca   bool
	cmap       map[rune]uint16
	advances   []uint16
	ascent     int
	descent    int
	capHeight  int
	bbox       [4]int
	name       string
}

var errFont = errors.New("appearance: unreadable TrueType font")

// LoadFont reads a TrueType font file.
func LoadFont(path string) (*Font, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("appearance: font: %w", err)
	}
	f, err := ParseFont(b)
	if err != nil {
		return nil, err
	}
	f.name = strings.TrimSuffix(strings.TrimSuffix(filepath.Base(path), ".ttf"), "-Regular")
	return f, nil
}

// ParseFont parses a TrueType (glyf-outline) font.
func ParseFont(b []byte) (*Font, error) {
	if len(b) < 12 {
		return nil, errFont
	}
	n := int(binary.BigEndian.Uint16(b[4:]))
	if 12+16*n > len(b) {
		return nil, errFont
	}
	f := &Font{data: b, tables: map[string][]byte{}}
	for i := 0; i < n; i++ {
		rec := b[12+16*i:]
		tag := string(rec[:4])
		off := int(binary.BigEndian.Uint32(rec[8:]))
		ln := int(binary.BigEndian.Uint32(rec[12:]))
		if off < 0 || ln < 0 || off+ln > len(b) {
			return nil, errFont
		}
		f.tables[tag] = b[off : off+ln]
	}
	for _, t := range []string{"head", "hhea", "maxp", "hmtx", "loca", "glyf", "cmap"} {
		if f.tables[t] == nil {
			return nil, fmt.Errorf("appearance: font lacks the %s table", t)
		}
	}
	head := f.tables["head"]
	if len(head) < 54 {
		return nil, errFont
	}
	f.unitsPerEm = int(binary.BigEndian.Uint16(head[18:]))
	f.bbox = [4]int{int(int16(binary.BigEndian.Uint16(head[36:]))), int(int16(binary.BigEndian.Uint16(head[38:]))),
		int(int16(binary.BigEndian.Uint16(head[40:]))), int(int16(binary.BigEndian.Uint16(head[42:])))}
	f.longLoca = binary.BigEndian.Uint16(head[50:]) == 1
	maxp := f.tables["maxp"]
	if len(maxp) < 6 || f.unitsPerEm == 0 {
		return nil, errFont
	}
	f.numGlyphs = int(binary.BigEndian.Uint16(maxp[4:]))
	hhea := f.tables["hhea"]
	if len(hhea) < 36 {
		return nil, errFont
	}
	f.ascent = int(int16(binary.BigEndian.Uint16(hhea[4:])))
	f.descent = int(int16(binary.BigEndian.Uint16(hhea[6:])))
	f.capHeight = f.ascent
	if os2 := f.tables["OS/2"]; len(os2) >= 90 {
		f.capHeight = int(int16(binary.BigEndian.Uint16(os2[88:])))
	}
	nh := int(binary.BigEndian.Uint16(hhea[34:]))
	hmtx := f.tables["hmtx"]
	if nh == 0 || nh > f.numGlyphs || len(hmtx) < 4*nh {
		return nil, errFont
	}
	f.advances = make([]uint16, f.numGlyphs)
	for g := 0; g < f.numGlyphs; g++ {
		if g < nh {
			f.advances[g] = binary.BigEndian.Uint16(hmtx[4*g:])
		} else {
			f.advances[g] = f.advances[nh-1]
		}
	}
	if err := f.parseCmap(); err != nil {
		return nil, err
	}
	f.name = "Serif"
	return f, nil
}

func (f *Font) parseCmap() error {
	c := f.tables["cmap"]
	if len(c) < 4 {
		return errFont
	}
	n := int(binary.BigEndian.Uint16(c[2:]))
	best, bestScore := -1, 0
	for i := 0; i < n && 4+8*i+8 <= len(c); i++ {
		pid := binary.BigEndian.Uint16(c[4+8*i:])
		eid := binary.BigEndian.Uint16(c[6+8*i:])
		off := int(binary.BigEndian.Uint32(c[8+8*i:]))
		if off+2 > len(c) {
			continue
		}
		format := binary.BigEndian.Uint16(c[off:])
		score := 0
		switch {
		case format == 12 && (pid == 3 && eid == 10 || pid == 0):
			score = 3
		case format == 4 && (pid == 3 && eid == 1 || pid == 0):
			score = 2
		}
		if score > bestScore {
			best, bestScore = off, score
		}
	}
	if best < 0 {
		return errors.New("appearance: font has no Unicode cmap")
	}
	f.cmap = map[rune]uint16{}
	t := c[best:]
	switch binary.BigEndian.Uint16(t) {
	case 4:
		if len(t) < 14 {
			return errFont
		}
		segX2 := int(binary.BigEndian.Uint16(t[6:]))
		if 16+4*segX2 > len(t) {
			return errFont
		}
		ends := t[14:]
		starts := t[16+segX2:]
		deltas := t[16+2*segX2:]
		ranges := t[16+3*segX2:]
		for s := 0; s < segX2/2; s++ {
			end := int(binary.BigEndian.Uint16(ends[2*s:]))
			start := int(binary.BigEndian.Uint16(starts[2*s:]))
			delta := int(binary.BigEndian.Uint16(deltas[2*s:]))
			ro := int(binary.BigEndian.Uint16(ranges[2*s:]))
			for ch := start; ch <= end && ch != 0xFFFF; ch++ {
				var g int
				if ro == 0 {
					g = (ch + delta) & 0xFFFF
				} else {
					p := 16 + 3*segX2 + 2*s + ro + 2*(ch-start)
					if p+2 > len(t) {
						continue
					}
					g = int(binary.BigEndian.Uint16(t[p:]))
					if g != 0 {
						g = (g + delta) & 0xFFFF
					}
				}
				if g != 0 && g < f.numGlyphs {
					f.cmap[rune(ch)] = uint16(g)
				}
			}
		}
	case 12:
		if len(t) < 16 {
			return errFont
		}
		ng := int(binary.BigEndian.Uint32(t[12:]))
		for i := 0; i < ng && 16+12*i+12 <= len(t); i++ {
			g := t[16+12*i:]
			s, e, gid := binary.BigEndian.Uint32(g), binary.BigEndian.Uint32(g[4:]), binary.BigEndian.Uint32(g[8:])
			for ch := s; ch <= e && ch-s < 0x10000; ch++ {
				if id := gid + (ch - s); id < uint32(f.numGlyphs) {
					f.cmap[rune(ch)] = uint16(id)
				}
			}
		}
	}
	return nil
}

// Glyph returns the glyph of r (0, .notdef, when missing).
func (f *Font) Glyph(r rune) uint16 { return f.cmap[r] }

// Width returns the advance of the string in text space units (1/1000 em) for the given runes.
func (f *Font) Width(s string, size float64) float64 {
	var w int
	for _, r := range s {
		w += int(f.advances[f.Glyph(r)])
	}
	return float64(w) * size / float64(f.unitsPerEm)
}

func (f *Font) pdfUnits(v int) int64 { return int64(v * 1000 / f.unitsPerEm) }

func (f *Font) glyphRange(g int) (int, int, bool) {
	loca := f.tables["loca"]
	if g+1 > f.numGlyphs {
		return 0, 0, false
	}
	var a, b int
	if f.longLoca {
		if 4*g+8 > len(loca) {
			return 0, 0, false
		}
		a, b = int(binary.BigEndian.Uint32(loca[4*g:])), int(binary.BigEndian.Uint32(loca[4*g+4:]))
	} else {
		if 2*g+4 > len(loca) {
			return 0, 0, false
		}
		a, b = 2*int(binary.BigEndian.Uint16(loca[2*g:])), 2*int(binary.BigEndian.Uint16(loca[2*g+2:]))
	}
	if a > b || b > len(f.tables["glyf"]) {
		return 0, 0, false
	}
	return a, b, true
}

// Subset returns a TrueType font with the same glyph numbering in which only the used glyphs (and the
// components of composite glyphs, and .notdef) keep their outlines: glyph ids stay valid, so the PDF
// can use CIDToGIDMap /Identity, and the file shrinks to the outlines actually drawn.
func (f *Font) Subset(used map[uint16]bool) ([]byte, error) {
	keep := map[int]bool{0: true}
	var queue []int
	for g := range used {
		queue = append(queue, int(g))
	}
	glyf := f.tables["glyf"]
	for len(queue) > 0 {
		g := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if keep[g] && g != 0 {
			continue
		}
		keep[g] = true
		a, b, ok := f.glyphRange(g)
		if !ok || b-a < 10 {
			continue
		}
		gd := glyf[a:b]
		if int16(binary.BigEndian.Uint16(gd)) >= 0 {
			continue
		}
		// Composite glyph: walk the components.
		p := 10
		for p+4 <= len(gd) {
			flags := binary.BigEndian.Uint16(gd[p:])
			comp := int(binary.BigEndian.Uint16(gd[p+2:]))
			if !keep[comp] {
				queue = append(queue, comp)
			}
			p += 4
			if flags&0x0001 != 0 {
				p += 4
			} else {
				p += 2
			}
			switch {
			case flags&0x0008 != 0:
				p += 2
			case flags&0x0040 != 0:
				p += 4
			case flags&0x0080 != 0:
				p += 8
			}
			if flags&0x0020 == 0 {
				break
			}
		}
	}
	var newGlyf []byte
	loca := make([]byte, 4*(f.numGlyphs+1))
	for g := 0; g < f.numGlyphs; g++ {
		binary.BigEndian.PutUint32(loca[4*g:], uint32(len(newGlyf)))
		if keep[g] {
			if a, b, ok := f.glyphRange(g); ok {
				newGlyf = append(newGlyf, glyf[a:b]...)
				for len(newGlyf)%4 != 0 {
					newGlyf = append(newGlyf, 0)
				}
			}
		}
	}
	binary.BigEndian.PutUint32(loca[4*f.numGlyphs:], uint32(len(newGlyf)))
	head := append([]byte(nil), f.tables["head"]...)
	binary.BigEndian.PutUint16(head[50:], 1) // long loca
	binary.BigEndian.PutUint32(head[8:], 0)  // checkSumAdjustment, fixed below
	tables := map[string][]byte{"head": head, "loca": loca, "glyf": newGlyf}
	for _, t := range []string{"hhea", "maxp", "hmtx", "cvt ", "fpgm", "prep", "OS/2", "post", "name", "cmap"} {
		if d := f.tables[t]; d != nil {
			tables[t] = d
		}
	}
	out := writeSFNT(tables)
	// checkSumAdjustment = 0xB1B0AFBA - checksum(whole font)
	adj := 0xB1B0AFBA - checksum(out)
	for tag, off := range tableOffsets(out) {
		if tag == "head" {
			binary.BigEndian.PutUint32(out[off+8:], adj)
		}
	}
	return out, nil
}

func checksum(b []byte) uint32 {
	var s uint32
	for i := 0; i < len(b); i += 4 {
		var w [4]byte
		copy(w[:], b[i:])
		s += binary.BigEndian.Uint32(w[:])
	}
	return s
}

func writeSFNT(tables map[string][]byte) []byte {
	tags := make([]string, 0, len(tables))
	for t := range tables {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	n := len(tags)
	es, sr := 0, 1
	for sr*2 <= n {
		sr *= 2
		es++
	}
	hdr := make([]byte, 12+16*n)
	binary.BigEndian.PutUint32(hdr, 0x00010000)
	binary.BigEndian.PutUint16(hdr[4:], uint16(n))
	binary.BigEndian.PutUint16(hdr[6:], uint16(sr*16))
	binary.BigEndian.PutUint16(hdr[8:], uint16(es))
	binary.BigEndian.PutUint16(hdr[10:], uint16(n*16-sr*16))
	body := []byte{}
	off := len(hdr)
	for i, t := range tags {
		d := tables[t]
		rec := hdr[12+16*i:]
		copy(rec, t)
		binary.BigEndian.PutUint32(rec[4:], checksum(d))
		binary.BigEndian.PutUint32(rec[8:], uint32(off+len(body)))
		binary.BigEndian.PutUint32(rec[12:], uint32(len(d)))
		body = append(body, d...)
		for len(body)%4 != 0 {
			body = append(body, 0)
		}
	}
	return append(hdr, body...)
}

func tableOffsets(b []byte) map[string]int {
	n := int(binary.BigEndian.Uint16(b[4:]))
	m := map[string]int{}
	for i := 0; i < n; i++ {
		rec := b[12+16*i:]
		m[string(rec[:4])] = int(binary.BigEndian.Uint32(rec[8:]))
	}
	return m
}
