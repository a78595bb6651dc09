package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/lienthong/lienthong/internal/apperr"
)

const corpus = "../../testdata/pdf"

func openFile(t testing.TB, name string) (*Reader, []byte) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, name))
	if err != nil {
		t.Fatal(err)
	}
	rd, err := Open(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return rd, b
}

var shapes = []struct {
	file  string
	kind  XRefKind
	pages int
	lin   bool
}{
	{"base.pdf", XRefTable, 2, false},
	{"classic.pdf", XRefTable, 2, false},
	{"objstm.pdf", XRefStream, 2, false},
	{"linearized.pdf", XRefTable, 2, true},
	{"linearized-objstm.pdf", XRefStream, 2, true},
	{"qdf.pdf", XRefTable, 2, false},
	{"v13.pdf", XRefTable, 2, false},
	{"v20.pdf", XRefStream, 2, false},
	{"cairo.pdf", XRefTable, 2, false},
	{"hybrid.pdf", XRefHybrid, 1, false},
	{"emptyfield.pdf", XRefTable, 1, false},
	{"emptyfield-objstm.pdf", XRefStream, 1, false},
	{"rotated90.pdf", XRefTable, 2, false},
	{"rotated270.pdf", XRefStream, 2, false},
}

func TestOpenShapes(t *testing.T) {
	t.Parallel()
	for _, s := range shapes {
		t.Run("ok/"+s.file, func(t *testing.T) {
			t.Parallel()
			rd, b := openFile(t, s.file)
			if got := rd.Last().Kind; got != s.kind {
				t.Errorf("kind = %v, want %v", got, s.kind)
			}
			if len(rd.Revisions()) != 1 {
				t.Errorf("revisions = %d, want 1", len(rd.Revisions()))
			}
			if rd.Linearized() != s.lin {
				t.Errorf("linearized = %v", rd.Linearized())
			}
			if end := rd.Last().End; end != int64(len(b)) {
				t.Errorf("revision end = %d, want %d", end, len(b))
			}
			pages, err := rd.Pages(0)
			if err != nil {
				t.Fatal(err)
			}
			if len(pages) != s.pages {
				t.Errorf("pages = %d, want %d", len(pages), s.pages)
			}
			for _, p := range pages {
				if p.MediaBox[2] != 595 || p.MediaBox[3] != 842 {
					t.Errorf("mediabox = %v", p.MediaBox)
				}
				if _, ok := p.Dict["Contents"]; !ok {
					t.Errorf("page %v has no contents", p.Ref)
				}
			}
			info, err := rd.Resolve(rd.Trailer()["Info"])
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := info.(Dict); d == nil || !strings.Contains(TextString(d["Producer"].(String)), "") {
				t.Errorf("info = %v", info)
			}
		})
	}
}

func TestEmptyField(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"emptyfield.pdf", "emptyfield-objstm.pdf"} {
		rd, _ := openFile(t, f)
		fl, err := rd.FieldByName("Sig1")
		if err != nil || fl == nil {
			t.Fatalf("%s: field Sig1: %v %v", f, fl, err)
		}
		if fl.Type != "Sig" || fl.Value != nil || len(fl.Widgets) != 1 {
			t.Errorf("%s: field = %+v", f, fl)
		}
		sigs, err := rd.Signatures(0)
		if err != nil || len(sigs) != 0 {
			t.Errorf("%s: signatures = %v, %v", f, sigs, err)
		}
	}
}

func TestMalformed(t *testing.T) {
	t.Parallel()
	_, good := openFile(t, "classic.pdf")
	cases := map[string][]byte{
		"fail/empty":          nil,
		"fail/not-pdf":        []byte("hello world, this is not a PDF at all"),
		"fail/no-startxref":   bytes.ReplaceAll(good, []byte("startxref"), []byte("startxrex")),
		"fail/bad-offset":     append(append([]byte{}, good[:len(good)-20]...), []byte("startxref\n99\n%%EOF\n")...),
		"fail/truncated":      good[:len(good)/2],
		"fail/encrypted-like": bytes.Replace(good, []byte("/Root"), []byte("/Encrypt 1 0 R /Root"), 1),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Open(bytes.NewReader(b), int64(len(b)))
			if err == nil {
				t.Fatal("no error")
			}
			if !apperr.IsKind(err, apperr.Invalid) {
				t.Errorf("error kind = %v (%v), want invalid", apperr.KindOf(err), err)
			}
		})
	}
}

// TestUpdateRoundTrip appends an update of each shape and checks that the result keeps every
// original byte, reads back with two revisions of the right kind, and passes qpdf --check.
func TestUpdateRoundTrip(t *testing.T) {
	t.Parallel()
	for _, s := range shapes {
		t.Run("ok/"+s.file, func(t *testing.T) {
			t.Parallel()
			rd, b := openFile(t, s.file)
			u := rd.NewUpdate()
			cat, root, err := rd.Catalog(0)
			if err != nil {
				t.Fatal(err)
			}
			extra := u.Add(Dict{"Note": Text("Việt Nam"), "N": int64(42)})
			c := cat.Clone()
			c["LienthongTest"] = extra
			u.Set(root, c)
			inc, err := u.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			out := append(append([]byte{}, b...), inc.Data...)
			if !bytes.HasPrefix(out, b) {
				t.Fatal("original bytes changed")
			}
			rd2, err := Open(bytes.NewReader(out), int64(len(out)))
			if err != nil {
				t.Fatal(err)
			}
			revs := rd2.Revisions()
			if len(revs) != 2 {
				t.Fatalf("revisions = %d", len(revs))
			}
			wantKind := s.kind
			if wantKind == XRefHybrid {
				wantKind = XRefTable
			}
			if revs[1].Kind != wantKind {
				t.Errorf("new section kind = %v, want %v", revs[1].Kind, wantKind)
			}
			if revs[0].End != int64(len(b)) || revs[1].End != int64(len(out)) {
				t.Errorf("ends = %d %d", revs[0].End, revs[1].End)
			}
			o, err := rd2.Object(extra)
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := o.(Dict); d == nil || TextString(d["Note"].(String)) != "Việt Nam" {
				t.Errorf("new object = %v", o)
			}
			old, err := rd2.ObjectAt(0, root)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := old.(Dict)["LienthongTest"]; ok {
				t.Error("revision 0 sees the new catalog")
			}
			if p, err := rd2.Pages(1); err != nil || len(p) != s.pages {
				t.Errorf("pages after update: %d %v", len(p), err)
			}
			qpdfCheck(t, out)
		})
	}
}

func qpdfCheck(t *testing.T, b []byte) {
	t.Helper()
	if _, err := exec.LookPath("qpdf"); err != nil {
		t.Skip("qpdf not installed")
	}
	f := filepath.Join(t.TempDir(), "out.pdf")
	if err := os.WriteFile(f, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("qpdf", "--check", f).CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("No syntax or stream encoding errors")) {
		t.Errorf("qpdf --check: %v\n%s", err, out)
	}
}

func FuzzOpen(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(corpus, "*.pdf"))
	for _, fn := range files {
		b, err := os.ReadFile(fn)
		if err == nil {
			f.Add(b)
		}
	}
	for _, b := range craftedCases() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		rd, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		for i := range rd.Revisions() {
			_, _ = rd.Pages(i)
			_, _ = rd.Signatures(i)
			for _, n := range rd.ObjectNumbers(i) {
				_, _ = rd.ObjectAt(i, Ref{Num: n})
			}
		}
		_, _ = rd.DocMDP()
		u := rd.NewUpdate()
		u.Add(Dict{"A": int64(1)})
		_, _ = u.Bytes()
	})
}

func FuzzObject(f *testing.F) {
	for _, s := range []string{
		"<< /Type /Sig /ByteRange [0 10 20 30] /Contents <3082> /M (D:20261125093000+07'00') >>",
		"[1 0 R 2.5 -3 /N#41me (str\\)ing\\n) <AB CD> true false null]",
		"(nested (parens) \\101\\12 end)", "<</A<</B[[[]]]>>>>", "12 0 R", "-.5", "/",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l := newLexer(bytes.NewReader(b), int64(len(b)), 0, true)
		o, err := l.object(0)
		if err != nil {
			return
		}
		// What parses must serialise and parse back to an equal object.
		out := AppendObject(nil, o)
		l2 := newLexer(bytes.NewReader(out), int64(len(out)), 0, false)
		o2, err := l2.object(0)
		if err != nil {
			t.Fatalf("re-parse of %q: %v", out, err)
		}
		if !Equal(o, o2) {
			t.Fatalf("round trip changed %#v into %#v (%q)", o, o2, out)
		}
	})
}

func TestRevisionEndingAt(t *testing.T) {
	t.Parallel()
	rd, b := openFile(t, "classic.pdf")
	if rd.RevisionEndingAt(int64(len(b))) != 0 || rd.RevisionEndingAt(5) != -1 {
		t.Error("RevisionEndingAt")
	}
}

func TestSetContentsNeverTruncates(t *testing.T) {
	t.Parallel()
	rd, b := openFile(t, "classic.pdf")
	u := rd.NewUpdate()
	u.Add(Dict{"Type": Name("Sig"), "ByteRange": ByteRangePlaceholder{}, "Contents": ContentsPlaceholder{Size: 16}})
	inc, err := u.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	before := append([]byte(nil), inc.Data...)
	var ts *TooSmallError
	if err := inc.SetContents(make([]byte, 17)); !errors.As(err, &ts) || ts.Need != 17 || ts.Room != 16 {
		t.Fatalf("17 bytes into 16: %v", err)
	}
	if !bytes.Equal(before, inc.Data) {
		t.Error("a failed SetContents changed the increment")
	}
	if err := inc.SetContents([]byte{0x30, 0x01, 0xff}); err != nil {
		t.Fatal(err)
	}
	br := inc.ByteRange()
	out := append(append([]byte{}, b...), inc.Data...)
	if string(out[br[1]:br[2]]) != "<3001ff"+strings.Repeat("0", 26)+">" {
		t.Errorf("contents = %q", out[br[1]:br[2]])
	}
	if br[2]+br[3] != int64(len(out)) || br[0] != 0 {
		t.Errorf("byte range %v for %d bytes", br, len(out))
	}
	if !bytes.Contains(out, []byte(fmt.Sprintf("/ByteRange [0 %10d %10d %10d]", br[1], br[2], br[3]))) {
		t.Error("ByteRange not filled in")
	}
}

// TestLinearizedPrevToMain reads a linearized file updated by a writer that pointed /Prev at the main
// cross-reference section instead of the first-page one.
func TestLinearizedPrevToMain(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"linearized.pdf", "linearized-objstm.pdf"} {
		rd, b := openFile(t, f)
		var main int64 = -1
		for _, off := range rd.Last().Sections {
			if off > main {
				main = off
			}
		}
		cat, root, err := rd.Catalog(0)
		if err != nil {
			t.Fatal(err)
		}
		// A hand-made table update rewriting the catalog, /Prev to the main section.
		c := cat.Clone()
		c["Marker"] = Name("x")
		var up bytes.Buffer
		up.WriteString("\n")
		objOff := len(b) + up.Len()
		fmt.Fprintf(&up, "%d 0 obj\n%s\nendobj\n", root.Num, AppendObject(nil, c))
		xref := len(b) + up.Len()
		size, _ := AsInt(rd.Trailer()["Size"])
		fmt.Fprintf(&up, "xref\n%d 1\n%010d 00000 n\r\ntrailer\n<< /Size %d /Root %d 0 R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n",
			root.Num, objOff, size, root.Num, main, xref)
		out := append(append([]byte{}, b...), up.Bytes()...)
		rd2, err := Open(bytes.NewReader(out), int64(len(out)))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if n := len(rd2.Revisions()); n != 2 {
			t.Fatalf("%s: revisions = %d", f, n)
		}
		pages, err := rd2.Pages(1)
		if err != nil || len(pages) != 2 {
			t.Errorf("%s: pages after update: %d %v", f, len(pages), err)
		}
		if p0, err := rd2.Pages(0); err != nil || len(p0) != 2 {
			t.Errorf("%s: pages of the original: %d %v", f, len(p0), err)
		}
	}
}

func TestBytesBadType(t *testing.T) {
	t.Parallel()
	rd, _ := openFile(t, "classic.pdf")
	u := rd.NewUpdate()
	u.Add(Dict{"X": struct{}{}})
	if _, err := u.Bytes(); err == nil {
		t.Error("an unserialisable value gave no error")
	}
}

// TestXRefEntryForms checks that the fixed-form fast path and the token path read a table alike: the
// same entries written in the standard 20-byte form and in irregular forms (extra blanks, tabs, a
// comment) must give the same locations, including free entries and in-use entries at offset 0.
func TestXRefEntryForms(t *testing.T) {
	objs := "%PDF-1.4\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n2 0 obj\n<< /Type /Pages /Kids [] /Count 0 >>\nendobj\n"
	o1 := strings.Index(objs, "1 0 obj")
	o2 := strings.Index(objs, "2 0 obj")
	build := func(entry func(off, gen int, kind string) string) []byte {
		x := "xref\n0 5\n" + entry(0, 65535, "f") + entry(o1, 0, "n") + entry(o2, 0, "n") +
			entry(0, 0, "n") + entry(0, 7, "f")
		tr := "trailer\n<< /Size 5 /Root 1 0 R >>\nstartxref\n" + strconv.Itoa(len(objs)) + "\n%%EOF\n"
		return []byte(objs + x + tr)
	}
	std := build(func(off, gen int, kind string) string { return fmt.Sprintf("%010d %05d %s\r\n", off, gen, kind) })
	odd := build(func(off, gen int, kind string) string { return fmt.Sprintf("%d\t%d  %s %% c\n", off, gen, kind) })
	var got [2][]Location
	for i, b := range [][]byte{std, odd} {
		rd, err := Open(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatalf("form %d: %v", i, err)
		}
		for n := 0; n < 5; n++ {
			got[i] = append(got[i], rd.Locate(0, n))
		}
	}
	if !reflect.DeepEqual(got[0], got[1]) {
		t.Fatalf("the two forms differ:\n%+v\n%+v", got[0], got[1])
	}
	if got[0][1].Offset != int64(o1) || got[0][2].Offset != int64(o2) || !got[0][3].Free || !got[0][4].Free {
		t.Fatalf("unexpected locations %+v", got[0])
	}
}

// TestSetContentsAgainShorter checks that a second, shorter value leaves no digits of the first.
func TestSetContentsAgainShorter(t *testing.T) {
	rd, _ := openFile(t, "classic.pdf")
	u := rd.NewUpdate()
	u.Add(Dict{"Type": Name("Sig"), "ByteRange": ByteRangePlaceholder{}, "Contents": ContentsPlaceholder{Size: 16}})
	inc, err := u.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range [][]byte{bytes.Repeat([]byte{0xff}, 10), {0x30, 0x01, 0xff}, {0xaa}} {
		if err := inc.SetContents(v); err != nil {
			t.Fatal(err)
		}
		a, c := inc.ContentsPos-inc.Base, inc.ContentsEnd-inc.Base
		want := "<" + fmt.Sprintf("%x", v) + strings.Repeat("0", 32-2*len(v)) + ">"
		if got := string(inc.Data[a:c]); got != want {
			t.Fatalf("contents = %q, want %q", got, want)
		}
	}
}
