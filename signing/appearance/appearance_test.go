package appearance

import (
	"bytes"
	"context"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lienthong/lienthong/signing/cms/cmstest"
	"github.com/lienthong/lienthong/signing/pades"
	"github.com/lienthong/lienthong/signing/pdf"
)

// SignatureImage draws a blue handwriting-like stroke on a transparent background.
func SignatureImage() image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, 300, 120))
	for x := 10; x < 290; x++ {
		y := 60 + int(35*math.Sin(float64(x)/18))
		for d := -3; d <= 3; d++ {
			img.SetNRGBA(x, y+d, color.NRGBA{R: 10, G: 40, B: 200, A: 255})
		}
	}
	return img
}

// SealImage draws a red ring with a star, transparent elsewhere.
func SealImage() image.Image {
	img := image.NewNRGBA(image.Rect(0, 0, 200, 200))
	for y := 0; y < 200; y++ {
		for x := 0; x < 200; x++ {
			r := math.Hypot(float64(x-100), float64(y-100))
			if (r > 80 && r < 96) || r < 20 {
				img.SetNRGBA(x, y, color.NRGBA{R: 220, G: 20, B: 20, A: 230})
			}
		}
	}
	return img
}

func TestFontSubset(t *testing.T) {
	t.Parallel()
	f, err := DefaultFont("")
	if err != nil {
		t.Skipf("no Vietnamese serif font installed: %v", err)
	}
	for _, r := range "Số: Thời gian ký SAO Y TRÍCH SAO LỤC Ủy ban nhân dân tỉnh Đắk Lắk ữ ỹ ặ" {
		if r != ' ' && f.Glyph(r) == 0 {
			t.Errorf("no glyph for %q", r)
		}
	}
	used := map[uint16]bool{f.Glyph('A'): true, f.Glyph('ố'): true}
	sub, err := f.Subset(used)
	if err != nil {
		t.Fatal(err)
	}
	if len(sub) >= len(f.data)/2 {
		t.Errorf("subset is %d bytes, full font %d", len(sub), len(f.data))
	}
	g, err := ParseFont(sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := g.glyphRange(int(f.Glyph('A'))); !ok {
		t.Error("glyph A lost")
	}
	if a, b, _ := g.glyphRange(int(f.Glyph('Z'))); b != a {
		t.Error("unused glyph Z kept its outline")
	}
}

func TestSealRect(t *testing.T) {
	t.Parallel()
	r := SealRect([4]float64{300, 100, 450, 160}, 100, 100)
	if r[2] != 350 || r[0] != 250 || r[1] != 80 || r[3] != 180 {
		t.Errorf("seal rect = %v", r)
	}
}

// TestVisibleSignatures signs a leader image, then the organisation's seal over a third of it, then
// renders the page with pdftoppm and checks the colours where they should be; and a copy stamp whose
// Vietnamese text pdftotext extracts through the ToUnicode map.
func TestVisibleSignatures(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"pdftoppm", "pdftotext", "pdfsig"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	font, err := DefaultFont("")
	if err != nil {
		t.Skipf("no Vietnamese serif font installed: %v", err)
	}
	root, err := cmstest.NewRoot(cmstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	leader, err := root.Issue(cmstest.Options{CommonName: "Lãnh đạo"})
	if err != nil {
		t.Fatal(err)
	}
	org, err := root.Issue(cmstest.Options{CommonName: "Cơ quan"})
	if err != nil {
		t.Fatal(err)
	}
	in, err := os.ReadFile("../../testdata/pdf/classic.pdf")
	if err != nil {
		t.Fatal(err)
	}
	now := func() time.Time { return time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC) }
	sign := func(in []byte, o pades.Options) []byte {
		t.Helper()
		var out bytes.Buffer
		if _, err := pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, o); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	person := [4]float64{300, 300, 450, 360}
	one := sign(in, pades.Options{Signer: leader.Key, Chain: leader.Full(), Now: now, Field: "LanhDao",
		Rect: person, Appearance: &Image{Img: SignatureImage()}})
	two := sign(one, pades.Options{Signer: org.Key, Chain: org.Full(), Now: now, Field: "CoQuan",
		Rect: SealRect(person, 100, 100), Appearance: &Image{Img: SealImage()}})
	three := sign(two, pades.Options{Signer: org.Key, Chain: org.Full(), Now: now, Field: "SaoY",
		Appearance: CopyStamp(font, CopyExact, "Văn phòng UBND tỉnh Đắk Lắk", now())})

	dir := t.TempDir()
	file := filepath.Join(dir, "signed.pdf")
	if err := os.WriteFile(file, three, 0o600); err != nil {
		t.Fatal(err)
	}
	// Text stamp: extractable Vietnamese text.
	txt, err := exec.Command("pdftotext", "-f", "1", "-l", "1", file, "-").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"SAO Y", "Văn phòng UBND tỉnh Đắk Lắk", "2026-11-25T16:30:00+07:00"} {
		if !strings.Contains(string(txt), want) {
			t.Errorf("pdftotext lacks %q:\n%s", want, txt)
		}
	}
	// Render at 72 dpi (1 px = 1 pt) and look at colours.
	if out, err := exec.Command("pdftoppm", "-f", "1", "-l", "1", "-r", "72", "-png", file, filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, out)
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "page*.png"))
	if len(matches) != 1 {
		t.Fatalf("rendered pages: %v", matches)
	}
	pf, err := os.Open(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	page, err := png.Decode(pf)
	if err != nil {
		t.Fatal(err)
	}
	H := page.Bounds().Dy() // 842
	count := func(x1, y1, x2, y2 float64, pred func(r, g, b uint32) bool) int {
		n := 0
		for y := int(float64(H) - y2); y < int(float64(H)-y1); y++ {
			for x := int(x1); x < int(x2); x++ {
				r, g, b, _ := page.At(x, y).RGBA()
				if pred(r>>8, g>>8, b>>8) {
					n++
				}
			}
		}
		return n
	}
	blue := func(r, g, b uint32) bool { return b > 150 && r < 100 && g < 120 }
	red := func(r, g, b uint32) bool { return r > 150 && g < 100 && b < 100 }
	black := func(r, g, b uint32) bool { return r < 80 && g < 80 && b < 80 }
	if n := count(350, 300, 450, 360, blue); n < 50 {
		t.Errorf("blue signature pixels right of the seal: %d", n)
	}
	if n := count(250, 280, 350, 380, red); n < 200 {
		t.Errorf("red seal pixels: %d", n)
	}
	if n := count(400, 780, 595, 842, black); n < 50 {
		t.Errorf("black stamp pixels at the top right: %d", n)
	}
	if n := count(0, 780, 300, 842, black); n > 0 {
		t.Errorf("stamp pixels on the left: %d", n)
	}
	// Transparency: the page's blue rule under the seal stays visible between seal rings.
	rd, err := pdf.Open(bytes.NewReader(three), int64(len(three)))
	if err != nil {
		t.Fatal(err)
	}
	sigs, _ := rd.Signatures(len(rd.Revisions()) - 1)
	if len(sigs) != 3 {
		t.Errorf("signatures = %d", len(sigs))
	}
	out, _ := exec.Command("pdfsig", file).CombinedOutput()
	if c := strings.Count(string(out), "Signature Validation: Signature is Valid."); c != 3 {
		t.Errorf("pdfsig valid signatures = %d:\n%s", c, out)
	}
	if os.Getenv("LIENTHONG_KEEP_APPEARANCE") != "" {
		_ = os.WriteFile(os.Getenv("LIENTHONG_KEEP_APPEARANCE"), three, 0o644)
	}
}

// TestStampRotatedPages puts the attachment stamp on pages shown rotated: it must land at the top
// right as the reader sees the page, upright (pdftotext reads it in order).
func TestStampRotatedPages(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"pdftoppm", "pdftotext"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	font, err := DefaultFont("")
	if err != nil {
		t.Skipf("no Vietnamese serif font installed: %v", err)
	}
	root, err := cmstest.NewRoot(cmstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	org, err := root.Issue(cmstest.Options{CommonName: "Cơ quan", Key: cmstest.P256})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)
	for _, f := range []string{"rotated90.pdf", "rotated270.pdf", "classic.pdf"} {
		t.Run("ok/"+f, func(t *testing.T) {
			t.Parallel()
			in, err := os.ReadFile("../../testdata/pdf/" + f)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			if _, err := pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, pades.Options{
				Signer: org.Key, Chain: org.Full(), Now: func() time.Time { return now },
				Appearance: AttachmentStamp(font, "05/QĐ-UBND", now)}); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			file := filepath.Join(dir, "s.pdf")
			if err := os.WriteFile(file, out.Bytes(), 0o600); err != nil {
				t.Fatal(err)
			}
			txt, err := exec.Command("pdftotext", "-f", "1", "-l", "1", file, "-").Output()
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(txt), "Số: 05/QĐ-UBND") || !strings.Contains(string(txt), "Thời gian ký: 2026-11-25T16:30:00+07:00") {
				t.Errorf("pdftotext:\n%s", txt)
			}
			if out, err := exec.Command("pdftoppm", "-f", "1", "-l", "1", "-r", "72", "-png", file, filepath.Join(dir, "p")).CombinedOutput(); err != nil {
				t.Fatalf("pdftoppm: %v %s", err, out)
			}
			m, _ := filepath.Glob(filepath.Join(dir, "p*.png"))
			pf, err := os.Open(m[0])
			if err != nil {
				t.Fatal(err)
			}
			defer pf.Close()
			img, err := png.Decode(pf)
			if err != nil {
				t.Fatal(err)
			}
			b := img.Bounds()
			dark := func(x1, y1, x2, y2 int) int {
				n := 0
				for y := y1; y < y2; y++ {
					for x := x1; x < x2; x++ {
						r, g, bl, _ := img.At(x, y).RGBA()
						if r>>8 < 80 && g>>8 < 80 && bl>>8 < 80 {
							n++
						}
					}
				}
				return n
			}
			// Display orientation: the stamp's box is within 20 pt of the top and right edges.
			if n := dark(b.Max.X-220, 0, b.Max.X, 60); n < 50 {
				t.Errorf("dark pixels at the displayed top right: %d (page %dx%d)", n, b.Dx(), b.Dy())
			}
			if n := dark(0, 0, b.Max.X/2, 60); n > 0 {
				t.Errorf("dark pixels at the displayed top left: %d", n)
			}
		})
	}
}
