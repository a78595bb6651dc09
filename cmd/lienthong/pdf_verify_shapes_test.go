package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func verifyTestPNG(t *testing.T, path string, c color.NRGBA) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 90, 45))
	for x := 0; x < 90; x++ {
		for y := 10; y < 35; y++ {
			img.SetNRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestPDFVerifyAfterVisibleSignatures signs every PDF shape of testdata/pdf three times with `pdf
// sign` (the leader's image, the organisation's seal over it, an attachment text stamp, each in its
// own revision with images, soft masks and an embedded font) and checks `pdf verify` accepts every
// stage: what a further signature adds must never be mistaken for a forgery.
func TestPDFVerifyAfterVisibleSignatures(t *testing.T) {
	env, _ := verifyFixtures(t)
	shapes, _ := filepath.Glob("../../testdata/pdf/*.pdf")
	if len(shapes) == 0 {
		t.Skip("no PDF shape corpus in testdata/pdf")
	}
	dir := t.TempDir()
	p := func(n string) string { return filepath.Join(dir, n) }
	os.WriteFile(p("roots.pem"), env.RootsPEM(), 0o600)
	if err := env.RSA.WriteFiles(p("leader")); err != nil {
		t.Fatal(err)
	}
	if err := env.EC.WriteFiles(p("org")); err != nil {
		t.Fatal(err)
	}
	verifyTestPNG(t, p("sig.png"), color.NRGBA{B: 200, A: 255})
	verifyTestPNG(t, p("seal.png"), color.NRGBA{R: 220, A: 180})
	for _, in := range shapes {
		name := strings.TrimSuffix(filepath.Base(in), ".pdf")
		steps := [][]string{
			{"--key", "file:" + p("leader.key"), "--cert", p("leader.pem"), "--image", p("sig.png"), "--page", "1", "--rect", "300,200,450,260", "--field", "LanhDao"},
			{"--key", "file:" + p("org.key"), "--cert", p("org.pem"), "--image", p("seal.png"), "--seal-over", "LanhDao", "--size", "80,80", "--field", "CoQuan"},
			{"--key", "file:" + p("org.key"), "--cert", p("org.pem"), "--stamp", "attachment", "--number", "05/QĐ-UBND", "--field", "DauThoiGian"},
		}
		cur := in
		for i, s := range steps {
			out := p(name + "-" + string(rune('1'+i)) + ".pdf")
			if code, o, e := runVerifyCLI(t, append([]string{"pdf", "sign", "--in", cur, "--out", out}, s...)...); code != 0 {
				t.Logf("%s step %d: pdf sign refused (exit %d): %s%s", name, i+1, code, o, e)
				break
			}
			if code, o, _ := runVerifyCLI(t, "pdf", "verify", "--trust", p("roots.pem"), "--lang", "en", out); code != 0 {
				t.Fatalf("%s after signature %d: exit %d\n%s", name, i+1, code, o)
			}
			cur = out
		}
	}
}
