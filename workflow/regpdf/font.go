package regpdf

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ttf is the little of a TrueType font the printer needs: rune → glyph, advance widths and metrics.
type ttf struct {
	data       []byte
	unitsPerEm int
	ascent     int
	descent    int
	bbox       [4]int
	advances   []uint16
	cmap       map[rune]uint16
}

var errFont = errors.New("regpdf: unreadable TrueType font")

func u16(b []byte, off int) (int, error) {
	if off < 0 || off+2 > len(b) {
		return 0, errFont
	}
	return int(binary.BigEndian.Uint16(b[off:])), nil
}

func u32(b []byte, off int) (int, error) {
	if off < 0 || off+4 > len(b) {
		return 0, errFont
	}
	return int(binary.BigEndian.Uint32(b[off:])), nil
}

func parseTTF(data []byte) (*ttf, error) {
	n, err := u16(data, 4)
	if err != nil {
		return nil, err
	}
	tables := map[string][]byte{}
	for i := 0; i < n; i++ {
		rec := 12 + 16*i
		if rec+16 > len(data) {
			return nil, errFont
		}
		off, _ := u32(data, rec+8)
		ln, _ := u32(data, rec+12)
		if off+ln > len(data) || off < 0 || ln < 0 {
			return nil, errFont
		}
		tables[string(data[rec:rec+4])] = data[off : off+ln]
	}
	for _, t := range []string{"head", "hhea", "hmtx", "cmap"} {
		if tables[t] == nil {
			return nil, fmt.Errorf("regpdf: font has no %s table", t)
		}
	}
	f := &ttf{data: data, cmap: map[rune]uint16{}}
	head, hhea := tables["head"], tables["hhea"]
	if f.unitsPerEm, err = u16(head, 18); err != nil || f.unitsPerEm == 0 {
		return nil, errFont
	}
	for i := range 4 {
		v, err := u16(head, 36+2*i)
		if err != nil {
			return nil, err
		}
		f.bbox[i] = int(int16(v))
	}
	a, err1 := u16(hhea, 4)
	d, err2 := u16(hhea, 6)
	numH, err3 := u16(hhea, 34)
	if err1 != nil || err2 != nil || err3 != nil || numH == 0 {
		return nil, errFont
	}
	f.ascent, f.descent = int(int16(a)), int(int16(d))
	hmtx := tables["hmtx"]
	for i := 0; i < numH; i++ {
		w, err := u16(hmtx, 4*i)
		if err != nil {
			return nil, err
		}
		f.advances = append(f.advances, uint16(w))
	}
	if err := f.parseCmap(tables["cmap"]); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *ttf) parseCmap(c []byte) error {
	n, err := u16(c, 2)
	if err != nil {
		return err
	}
	best, bestFmt := -1, 0
	for i := 0; i < n; i++ {
		pid, _ := u16(c, 4+8*i)
		eid, _ := u16(c, 6+8*i)
		off, err := u32(c, 8+8*i)
		if err != nil {
			return err
		}
		format, err := u16(c, off)
		if err != nil {
			return err
		}
		if pid == 3 && (eid == 10 && format == 12 || eid == 1 && format == 4) || pid == 0 && (format == 4 || format == 12) {
			if format > bestFmt {
				best, bestFmt = off, format
			}
		}
	}
	switch bestFmt {
	case 12:
		groups, err := u32(c, best+12)
		if err != nil {
			return err
		}
		for g := 0; g < groups && g < 1<<16; g++ {
			start, e1 := u32(c, best+16+12*g)
			end, e2 := u32(c, best+20+12*g)
			gid, e3 := u32(c, best+24+12*g)
			if e1 != nil || e2 != nil || e3 != nil {
				return errFont
			}
			for r := start; r <= end && r <= 0x2FFFF; r++ {
				f.cmap[rune(r)] = uint16(gid + r - start)
			}
		}
	case 4:
		segX2, err := u16(c, best+6)
		if err != nil {
			return err
		}
		ends, starts := best+14, best+16+segX2
		deltas, ranges := starts+segX2, starts+2*segX2
		for s := 0; s < segX2/2; s++ {
			end, e1 := u16(c, ends+2*s)
			start, e2 := u16(c, starts+2*s)
			delta, e3 := u16(c, deltas+2*s)
			ro, e4 := u16(c, ranges+2*s)
			if e1 != nil || e2 != nil || e3 != nil || e4 != nil {
				return errFont
			}
			for r := start; r <= end && r != 0xFFFF; r++ {
				var g int
				if ro == 0 {
					g = (r + delta) & 0xFFFF
				} else {
					gi, err := u16(c, ranges+2*s+ro+2*(r-start))
					if err != nil {
						return err
					}
					if gi != 0 {
						g = (gi + delta) & 0xFFFF
					}
				}
				if g != 0 {
					f.cmap[rune(r)] = uint16(g)
				}
			}
		}
	default:
		return errors.New("regpdf: font has no Unicode cmap")
	}
	return nil
}

// glyph maps r to a glyph id (0, .notdef, when the font lacks it).
func (f *ttf) glyph(r rune) uint16 { return f.cmap[r] }

// advance is glyph g's width in thousandths of the font size (PDF glyph space).
func (f *ttf) advance(g uint16) int {
	i := int(g)
	if i >= len(f.advances) {
		i = len(f.advances) - 1
	}
	return int(f.advances[i]) * 1000 / f.unitsPerEm
}

func (f *ttf) scale(v int) int { return v * 1000 / f.unitsPerEm }
