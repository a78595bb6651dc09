package pades

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
)

// writeLargePDF writes a PDF of about mib MiB whose bulk is incompressible image data on 4 pages,
// streaming it so the test itself stays small in memory. Same shape as testdata/pdf/raw.py large.
func writeLargePDF(t testing.TB, path string, mib int) int64 {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	var pos int64
	put := func(s string) { n, _ := w.WriteString(s); pos += int64(n) }
	offs := map[int]int64{}
	const pages = 4
	put("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
	offs[1] = pos
	put("1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
	kids := ""
	for i := 0; i < pages; i++ {
		kids += fmt.Sprintf("%d 0 R ", 3+3*i)
	}
	offs[2] = pos
	put(fmt.Sprintf("2 0 obj\n<< /Type /Pages /Kids [%s] /Count %d >>\nendobj\n", kids, pages))
	side := 1
	for (side+1)*(side+1)*3 <= (mib<<20)/pages {
		side++
	}
	rng := rand.NewChaCha8([32]byte{1, 2, 3})
	buf := make([]byte, 1<<20)
	for i := 0; i < pages; i++ {
		p, c, im := 3+3*i, 4+3*i, 5+3*i
		offs[p] = pos
		put(fmt.Sprintf("%d 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>\nendobj\n", p, im, c))
		cs := "q 500 0 0 500 47 171 cm /Im0 Do Q\n"
		offs[c] = pos
		put(fmt.Sprintf("%d 0 obj\n<< /Length %d >>\nstream\n%s\nendstream\nendobj\n", c, len(cs), cs))
		n := side * side * 3
		offs[im] = pos
		put(fmt.Sprintf("%d 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length %d >>\nstream\n", im, side, side, n))
		for left := n; left > 0; {
			k := min(left, len(buf))
			_, _ = rng.Read(buf[:k])
			_, _ = w.Write(buf[:k])
			pos += int64(k)
			left -= k
		}
		put("\nendstream\nendobj\n")
	}
	total := 2 + 3*pages
	x := pos
	put(fmt.Sprintf("xref\n0 %d\n0000000000 65535 f\r\n", total+1))
	for n := 1; n <= total; n++ {
		put(fmt.Sprintf("%010d 00000 n\r\n", offs[n]))
	}
	put(fmt.Sprintf("trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", total+1, x))
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return pos
}

// countingReaderAt counts the bytes read, to show the signer reads the document once and the parser
// only its structure.
type countingReaderAt struct {
	r io.ReaderAt
	n atomic.Int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n.Add(int64(n))
	return n, err
}

func TestLargeFileStreams(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "large.pdf")
	size := writeLargePDF(t, in, 8)
	f, err := os.Open(in)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cr := &countingReaderAt{r: f}
	out, err := os.Create(filepath.Join(dir, "signed.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := Sign(context.Background(), cr, size, out, opts(p.leader))
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	// The whole document is read exactly once for copy+hash; structure reads add little.
	if extra := cr.n.Load() - size; extra < 0 || extra > 256<<10 {
		t.Errorf("read %d bytes of a %d-byte file (%d beyond one pass)", cr.n.Load(), size, extra)
	}
	signed, err := os.ReadFile(out.Name())
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(signed)) != res.Size || !bytes.HasPrefix(signed, []byte("%PDF-1.7\n")) {
		t.Fatal("bad output")
	}
	crossCheck(t, signed, 1, p.root)
}
