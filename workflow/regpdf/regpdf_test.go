package regpdf

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestRenderExtractsVietnamese(t *testing.T) {
	t.Parallel()
	font, err := LoadFont()
	if err != nil {
		t.Skip(err)
	}
	tab := Table{Title: "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN", Subtitle: "UBND tỉnh Tây Ninh — từ ngày 01/01/2026 đến ngày 25/11/2026",
		Headers: []string{"Ngày đến", "Số đến", "Tác giả", "Số, ký hiệu", "Tên loại và trích yếu nội dung", "Ghi chú"},
		Weights: []float64{1, 0.6, 2, 1.2, 4, 1.5}}
	for i := 1; i <= 120; i++ {
		tab.Rows = append(tab.Rows, []string{"2026-11-25", fmt.Sprint(i), "Bộ Thông tin và Truyền thông", "123/BTTTT-VP",
			"Công văn: Về việc triển khai chữ ký số chuyên dùng công vụ trong các cơ quan nhà nước, đợt " + fmt.Sprint(i), ""})
	}
	var buf bytes.Buffer
	if err := Render(&buf, font, tab); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-1.7")) || !bytes.HasSuffix(buf.Bytes(), []byte("%%EOF\n")) {
		t.Fatal("not a PDF")
	}
	path := filepath.Join(t.TempDir(), "reg.pdf")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	if q, err := exec.LookPath("qpdf"); err == nil {
		if out, err := exec.Command(q, "--check", path).CombinedOutput(); err != nil {
			t.Fatalf("qpdf --check: %v\n%s", err, out)
		}
	}
	pt, err := exec.LookPath("pdftotext")
	if err != nil {
		t.Skip("pdftotext not installed")
	}
	out, err := exec.Command(pt, "-layout", path, "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{"SỔ ĐĂNG KÝ VĂN BẢN ĐẾN", "Tây Ninh", "Bộ Thông tin", "123/BTTTT-VP", "Trang 1/", "đợt 120"} {
		if !strings.Contains(text, want) {
			t.Errorf("extracted text lacks %q", want)
		}
	}
	if pages := strings.Count(text, "\f"); pages < 3 {
		t.Errorf("120 rows on %d pages; the table should continue over pages", pages)
	}
}

func FuzzParseTTF(f *testing.F) {
	if font, err := LoadFont(); err == nil {
		f.Add(font[:min(len(font), 4096)])
	}
	f.Add([]byte("\x00\x01\x00\x00\x00\x04"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ft, err := parseTTF(b)
		if err == nil {
			_ = ft.advance(ft.glyph('a'))
		}
	})
}
