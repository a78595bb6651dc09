// Package appearance draws the visible parts of signatures as Decree 30/2020/NĐ-CP (Appendix I) asks:
//
//   - a competent person's signature: their handwriting image, a transparent PNG (blue ink), drawn with
//     its alpha channel as a soft mask (SMask) so the page shows through;
//   - an organisation's signature on a main document: its red seal image, real size, placed over about
//     one third of the person's image, on its left (SealRect computes that rectangle);
//   - an organisation's signature on an attachment in a separate file, or on an electronic copy: no
//     image but a black Times New Roman 10 pt upright text stamp at the top right of page 1, with the
//     number and notation or the copy type and copying organisation, and the signing time in ISO 8601
//     with the +07:00 zone.
//
// Text is set in Liberation Serif (metric-compatible with Times New Roman), embedded as a subset in an
// Identity-H CID font with a ToUnicode map, so Vietnamese text renders and can be copied out.
// Appearances implement pades.Appearance (Build adds a Form XObject to an update); the text stamp also
// has a natural size, so pades places it at the top right of the page.
package appearance

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"sort"
	"strings"
	"time"

	"golang.org/x/text/unicode/norm"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/signing/pdf"
)

// maxImagePixels bounds a signature or seal image (a real-size seal at 300 dpi is ~450×450).
const maxImagePixels = 2048 * 2048

// LoadPNG reads a PNG image (signature or seal).
func LoadPNG(path string) (image.Image, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, "appearance_image", "cannot read the signature image", err)
	}
	return DecodePNG(b)
}

// DecodePNG decodes a PNG, refusing oversized images.
func DecodePNG(b []byte) (image.Image, error) {
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, "appearance_image", "the signature image is not a PNG", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxImagePixels {
		return nil, apperr.New(apperr.Invalid, "appearance_image", "the signature image is empty or too large (at most 2048×2048 pixels)")
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, "appearance_image", "the signature image is not a readable PNG", err)
	}
	return img, nil
}

// Image is an appearance showing one image, scaled to fit the widget with its aspect ratio kept and
// centred.
type Image struct {
	Img image.Image
}

// Build implements pades.Appearance.
func (a *Image) Build(u *pdf.Update, w, h float64) (pdf.Ref, error) {
	im, err := AddImage(u, a.Img)
	if err != nil {
		return pdf.Ref{}, err
	}
	b := a.Img.Bounds()
	iw, ih := float64(b.Dx()), float64(b.Dy())
	s := min(w/iw, h/ih)
	dw, dh := iw*s, ih*s
	content := fmt.Sprintf("q %s 0 0 %s %s %s cm /Im1 Do Q\n", num(dw), num(dh), num((w-dw)/2), num((h-dh)/2))
	return addForm(u, w, h, content, pdf.Dict{"XObject": pdf.Dict{"Im1": im}}), nil
}

// AddImage adds an image XObject (DeviceRGB, 8 bits) with its alpha channel as an SMask when the image
// is not opaque.
func AddImage(u *pdf.Update, img image.Image) (pdf.Ref, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 || w*h > maxImagePixels {
		return pdf.Ref{}, apperr.New(apperr.Invalid, "appearance_image", "the image is empty or too large")
	}
	rgb := make([]byte, 0, 3*w*h)
	alpha := make([]byte, 0, w*h)
	opaque := true
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, a := img.At(x, y).RGBA()
			// Un-premultiply: PDF soft masks expect straight colour.
			if a > 0 && a < 0xffff {
				r, g, bl = r*0xffff/a, g*0xffff/a, bl*0xffff/a
			}
			rgb = append(rgb, byte(r>>8), byte(g>>8), byte(bl>>8))
			alpha = append(alpha, byte(a>>8))
			if a>>8 != 0xff {
				opaque = false
			}
		}
	}
	d := pdf.Dict{
		"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Image"),
		"Width": int64(w), "Height": int64(h),
		"ColorSpace": pdf.Name("DeviceRGB"), "BitsPerComponent": int64(8),
	}
	if !opaque {
		d["SMask"] = u.Add(pdf.NewStream(pdf.Dict{
			"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Image"),
			"Width": int64(w), "Height": int64(h),
			"ColorSpace": pdf.Name("DeviceGray"), "BitsPerComponent": int64(8),
		}, alpha))
	}
	return u.Add(pdf.NewStream(d, rgb)), nil
}

func addForm(u *pdf.Update, w, h float64, content string, res pdf.Dict) pdf.Ref {
	return u.Add(pdf.NewStream(pdf.Dict{
		"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Form"),
		"BBox":      pdf.Array{int64(0), int64(0), pdf.Real(w), pdf.Real(h)},
		"Resources": res,
	}, []byte(content)))
}

func num(f float64) string {
	s := fmt.Sprintf("%.3f", f)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	if s == "-0" || s == "" {
		return "0"
	}
	return s
}

// SealRect returns where an organisation's seal of size w×h (points) goes relative to the person's
// signature image at rect: over the left third of the image, vertically centred on it, extending to
// its left.
func SealRect(person [4]float64, w, h float64) [4]float64 {
	pw := person[2] - person[0]
	cy := (person[1] + person[3]) / 2
	x2 := person[0] + pw/3
	return [4]float64{x2 - w, cy - h/2, x2, cy + h/2}
}

// Stamp is the Decree 30 text stamp: black Times-like 10 pt upright lines at the top right of page 1.
type Stamp struct {
	Lines []string
	Font  *Font
	Size  float64 // points; default 10
}

// ISOTime renders a signing time as ISO 8601 in Vietnam's zone, e.g. 2019-03-12T12:00:00+07:00.
func ISOTime(t time.Time) string {
	return t.In(time.FixedZone("ICT", 7*3600)).Format("2006-01-02T15:04:05-07:00")
}

// AttachmentStamp is the stamp of an attachment signed by the organisation in a separate file: the
// main document's number and notation and the signing time.
func AttachmentStamp(f *Font, numberNotation string, t time.Time) *Stamp {
	return &Stamp{Font: f, Lines: []string{"Số: " + numberNotation, "Thời gian ký: " + ISOTime(t)}}
}

// CopyKind is the kind of an electronic copy (Decree 30 Art. 25–27).
type CopyKind string

const (
	CopyExact   CopyKind = "SAO Y"
	CopyExtract CopyKind = "TRÍCH SAO"
	CopyTransc  CopyKind = "SAO LỤC"
)

// CopyStamp is the stamp of an electronic copy: the copy type, the copying organisation and the time.
func CopyStamp(f *Font, kind CopyKind, organisation string, t time.Time) *Stamp {
	return &Stamp{Font: f, Lines: []string{string(kind), organisation, ISOTime(t)}}
}

const stampPad = 2.0

func (s *Stamp) size() float64 {
	if s.Size <= 0 {
		return 10
	}
	return s.Size
}

func (s *Stamp) lines() []string {
	out := make([]string, len(s.Lines))
	for i, l := range s.Lines {
		out[i] = norm.NFC.String(l)
	}
	return out
}

// NaturalSize is the box the lines need: the widest line plus padding, 1.2 leading.
func (s *Stamp) NaturalSize() (w, h float64) {
	sz := s.size()
	for _, l := range s.lines() {
		w = max(w, s.Font.Width(l, sz))
	}
	return w + 2*stampPad, float64(len(s.Lines))*sz*1.2 + 2*stampPad
}

// Build implements pades.Appearance: the lines left-aligned from the top of the box.
func (s *Stamp) Build(u *pdf.Update, w, h float64) (pdf.Ref, error) {
	if s.Font == nil {
		return pdf.Ref{}, apperr.New(apperr.Internal, "appearance_font", "no font for the text stamp")
	}
	sz := s.size()
	used := map[uint16]bool{}
	runes := map[uint16]rune{}
	var c strings.Builder
	c.WriteString("q BT 0 g /F1 " + num(sz) + " Tf\n")
	asc := float64(s.Font.ascent) * sz / float64(s.Font.unitsPerEm)
	y := h - stampPad - asc
	for i, l := range s.lines() {
		if i == 0 {
			fmt.Fprintf(&c, "%s %s Td\n", num(stampPad), num(y))
		} else {
			fmt.Fprintf(&c, "0 %s Td\n", num(-sz*1.2))
		}
		c.WriteString("<")
		for _, r := range l {
			g := s.Font.Glyph(r)
			if g == 0 {
				return pdf.Ref{}, apperr.New(apperr.Invalid, "appearance_glyph", fmt.Sprintf("the stamp font cannot show the character %q", r))
			}
			used[g] = true
			if _, ok := runes[g]; !ok {
				runes[g] = r
			}
			fmt.Fprintf(&c, "%04X", g)
		}
		c.WriteString("> Tj\n")
	}
	c.WriteString("ET Q\n")
	font, err := s.Font.addType0(u, used, runes)
	if err != nil {
		return pdf.Ref{}, err
	}
	return addForm(u, w, h, c.String(), pdf.Dict{"Font": pdf.Dict{"F1": font}}), nil
}

// addType0 embeds the subset as a Type0 / CIDFontType2 font with Identity-H encoding.
func (f *Font) addType0(u *pdf.Update, used map[uint16]bool, runes map[uint16]rune) (pdf.Ref, error) {
	sub, err := f.Subset(used)
	if err != nil {
		return pdf.Ref{}, err
	}
	tag := subsetTag(used)
	base := pdf.Name(tag + "+" + f.name)
	file := u.Add(pdf.NewStream(pdf.Dict{"Length1": int64(len(sub))}, sub))
	desc := u.Add(pdf.Dict{
		"Type": pdf.Name("FontDescriptor"), "FontName": base, "Flags": int64(34), // serif, nonsymbolic
		"FontBBox":    pdf.Array{f.pdfUnits(f.bbox[0]), f.pdfUnits(f.bbox[1]), f.pdfUnits(f.bbox[2]), f.pdfUnits(f.bbox[3])},
		"ItalicAngle": int64(0), "Ascent": f.pdfUnits(f.ascent), "Descent": f.pdfUnits(f.descent),
		"CapHeight": f.pdfUnits(f.capHeight), "StemV": int64(80), "FontFile2": file,
	})
	gids := make([]int, 0, len(used))
	for g := range used {
		gids = append(gids, int(g))
	}
	sortInts(gids)
	var widths pdf.Array
	for _, g := range gids {
		widths = append(widths, int64(g), pdf.Array{f.pdfUnits(int(f.advances[g]))})
	}
	cid := u.Add(pdf.Dict{
		"Type": pdf.Name("Font"), "Subtype": pdf.Name("CIDFontType2"), "BaseFont": base,
		"CIDSystemInfo":  pdf.Dict{"Registry": pdf.Str("Adobe"), "Ordering": pdf.Str("Identity"), "Supplement": int64(0)},
		"FontDescriptor": desc, "W": widths, "CIDToGIDMap": pdf.Name("Identity"), "DW": int64(1000),
	})
	var cm strings.Builder
	cm.WriteString("/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n")
	cm.WriteString("/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n")
	cm.WriteString("/CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n")
	cm.WriteString("1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n")
	for i := 0; i < len(gids); i += 100 {
		chunk := gids[i:min(i+100, len(gids))]
		fmt.Fprintf(&cm, "%d beginbfchar\n", len(chunk))
		for _, g := range chunk {
			r := runes[uint16(g)]
			fmt.Fprintf(&cm, "<%04X> <%s>\n", g, utf16Hex(r))
		}
		cm.WriteString("endbfchar\n")
	}
	cm.WriteString("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n")
	toUni := u.Add(pdf.NewStream(nil, []byte(cm.String())))
	return u.Add(pdf.Dict{
		"Type": pdf.Name("Font"), "Subtype": pdf.Name("Type0"), "BaseFont": base,
		"Encoding": pdf.Name("Identity-H"), "DescendantFonts": pdf.Array{cid}, "ToUnicode": toUni,
	}), nil
}

func utf16Hex(r rune) string {
	if r >= 0x10000 {
		r -= 0x10000
		return fmt.Sprintf("%04X%04X", 0xD800+(r>>10), 0xDC00+(r&0x3FF))
	}
	return fmt.Sprintf("%04X", r)
}

// subsetTag derives the six-letter subset prefix from the glyph set, so equal subsets get equal names.
func subsetTag(used map[uint16]bool) string {
	var h uint32 = 2166136261
	gids := make([]int, 0, len(used))
	for g := range used {
		gids = append(gids, int(g))
	}
	sortInts(gids)
	for _, g := range gids {
		h = (h ^ uint32(g)) * 16777619
	}
	b := make([]byte, 6)
	for i := range b {
		b[i] = byte('A' + h%26)
		h /= 26
	}
	return string(b)
}

func sortInts(a []int) { sort.Ints(a) }
