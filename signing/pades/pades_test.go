package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/signing/cms/cmstest"
	"github.com/lienthong/lienthong/signing/pdf"
)

const corpus = "../../testdata/pdf"

type testPKI struct {
	root        *cmstest.Cert
	leader, org *cmstest.Cert
	ecdsa       *cmstest.Cert
}

var (
	pkiOnce sync.Once
	pki     testPKI
)

func setupPKI(t *testing.T) testPKI {
	t.Helper()
	pkiOnce.Do(func() {
		root, err := cmstest.NewRoot(cmstest.Options{CommonName: "Lienthong Test Root CA"})
		if err != nil {
			panic(err)
		}
		sub, err := root.Issue(cmstest.Options{CommonName: "Lienthong Test Sub CA", CA: true, Key: cmstest.P256})
		if err != nil {
			panic(err)
		}
		leader, err := sub.Issue(cmstest.Options{CommonName: "Nguyễn Văn A", Organization: "UBND tỉnh Test", Key: cmstest.RSA2048})
		if err != nil {
			panic(err)
		}
		org, err := sub.Issue(cmstest.Options{CommonName: "UBND tỉnh Test", Organization: "UBND tỉnh Test", Key: cmstest.RSA2048})
		if err != nil {
			panic(err)
		}
		ec, err := sub.Issue(cmstest.Options{CommonName: "EC Signer", Key: cmstest.P256})
		if err != nil {
			panic(err)
		}
		pki = testPKI{root: root, leader: leader, org: org, ecdsa: ec}
	})
	return pki
}

var fixedNow = func() time.Time { return time.Date(2026, 11, 25, 9, 30, 0, 0, VietnamZone) }

func opts(c *cmstest.Cert) Options {
	return Options{Signer: c.Key, Chain: c.Full(), Now: fixedNow, Reason: "Phê duyệt", Location: "Hà Nội"}
}

func signBytes(t *testing.T, in []byte, o Options) ([]byte, *Result) {
	t.Helper()
	var out bytes.Buffer
	res, err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, o)
	if err != nil {
		t.Fatal(err)
	}
	b := out.Bytes()
	if !bytes.HasPrefix(b, in) {
		t.Fatal("the signed file does not start with the original bytes")
	}
	if int64(len(b)) != res.Size {
		t.Fatalf("size %d, result says %d", len(b), res.Size)
	}
	return b, res
}

func readCorpus(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpus, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var shapeFiles = []string{"base.pdf", "classic.pdf", "objstm.pdf", "linearized.pdf", "linearized-objstm.pdf",
	"qdf.pdf", "v13.pdf", "v20.pdf", "cairo.pdf", "hybrid.pdf", "emptyfield.pdf", "emptyfield-objstm.pdf",
	"rotated90.pdf", "rotated270.pdf"}

func TestSignShapes(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	for _, f := range shapeFiles {
		t.Run("ok/"+f, func(t *testing.T) {
			t.Parallel()
			in := readCorpus(t, f)
			signed, res := signBytes(t, in, opts(p.leader))
			if res.ByteRange[0] != 0 || res.ByteRange[2]+res.ByteRange[3] != res.Size {
				t.Errorf("ByteRange %v does not cover the file end %d", res.ByteRange, res.Size)
			}
			// The digest covers exactly the ByteRange bytes.
			d, err := DigestRanges(bytes.NewReader(signed), res.ByteRange[:], sha256.New())
			if err != nil || !bytes.Equal(d, res.Digest) {
				t.Errorf("digest mismatch")
			}
			rd, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)))
			if err != nil {
				t.Fatal(err)
			}
			orig, _ := pdf.Open(bytes.NewReader(in), int64(len(in)))
			want := orig.Last().Kind
			if want == pdf.XRefHybrid {
				want = pdf.XRefTable
			}
			if k := rd.Last().Kind; k != want {
				t.Errorf("new xref kind %v, want %v", k, want)
			}
			crossCheck(t, signed, 1, p.root)
		})
	}
}

func TestSignECDSA(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	signed, _ := signBytes(t, readCorpus(t, "objstm.pdf"), opts(p.ecdsa))
	crossCheck(t, signed, 1, p.root)
}

// TestSequential signs as the leader, then as the organisation: both signatures stay valid, the last
// covers the whole file.
func TestSequential(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	for _, f := range []string{"classic.pdf", "objstm.pdf", "linearized.pdf", "hybrid.pdf"} {
		t.Run("ok/"+f, func(t *testing.T) {
			t.Parallel()
			one, _ := signBytes(t, readCorpus(t, f), opts(p.leader))
			o := opts(p.org)
			o.Rect = [4]float64{100, 100, 200, 150}
			o.Page = 1
			two, res := signBytes(t, one, o)
			if res.Field != "Signature2" {
				t.Errorf("second field = %q", res.Field)
			}
			crossCheck(t, two, 2, p.root)
		})
	}
}

func TestEmptyField(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	for _, f := range []string{"emptyfield.pdf", "emptyfield-objstm.pdf"} {
		in := readCorpus(t, f)
		o := opts(p.leader)
		o.Field = "Sig1"
		signed, res := signBytes(t, in, o)
		if res.Field != "Sig1" {
			t.Errorf("field = %q", res.Field)
		}
		rd, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)))
		if err != nil {
			t.Fatal(err)
		}
		fields, err := rd.Fields(1)
		if err != nil {
			t.Fatal(err)
		}
		if len(fields) != 1 || fields[0].Name != "Sig1" || fields[0].Value == nil {
			t.Errorf("%s: fields after signing = %+v", f, fields)
		}
		crossCheck(t, signed, 1, p.root)
		// Signing the same field again is refused.
		var out bytes.Buffer
		_, err = Sign(context.Background(), bytes.NewReader(signed), int64(len(signed)), &out, o)
		if !apperr.IsKind(err, apperr.Conflict) {
			t.Errorf("re-signing Sig1: %v, want conflict", err)
		}
	}
}

func TestCertify(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	for _, level := range []int{1, 2, 3} {
		o := opts(p.org)
		o.Certify = level
		signed, _ := signBytes(t, readCorpus(t, "classic.pdf"), o)
		rd, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := rd.DocMDP(); err != nil || got != level {
			t.Errorf("DocMDP = %d %v, want %d", got, err, level)
		}
		crossCheck(t, signed, 1, p.root)
		var out bytes.Buffer
		_, err = Sign(context.Background(), bytes.NewReader(signed), int64(len(signed)), &out, opts(p.leader))
		if level == 1 {
			if !apperr.IsKind(err, apperr.Conflict) {
				t.Errorf("P=1: a second signature gave %v, want conflict", err)
			}
			continue
		}
		if level == 2 {
			if !apperr.IsKind(err, apperr.Conflict) {
				t.Errorf("P=2: a new signature field gave %v, want conflict", err)
			}
			continue
		}
		if err != nil {
			t.Errorf("P=%d: second signature: %v", level, err)
			continue
		}
		crossCheck(t, out.Bytes(), 2, p.root)
		// Certifying an already signed document is refused.
		o2 := opts(p.leader)
		o2.Certify = 2
		_, err = Sign(context.Background(), bytes.NewReader(signed), int64(len(signed)), &bytes.Buffer{}, o2)
		if !apperr.IsKind(err, apperr.Conflict) {
			t.Errorf("certify after a signature: %v, want conflict", err)
		}
	}
}

// TestCertifyP2EmptyField certifies a form with P=2, then signs its pre-existing empty field.
func TestCertifyP2EmptyField(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	o := opts(p.org)
	o.Certify = 2
	certified, _ := signBytes(t, readCorpus(t, "emptyfield.pdf"), o)
	o2 := opts(p.leader)
	o2.Field = "Sig1"
	signed, _ := signBytes(t, certified, o2)
	crossCheck(t, signed, 2, p.root)
}

func TestSignFile(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pdf")
	orig := readCorpus(t, "classic.pdf")
	if err := os.WriteFile(in, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.pdf")
	if _, err := SignFile(context.Background(), in, out, opts(p.leader)); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(in); !bytes.Equal(b, orig) {
		t.Error("the input changed")
	}
	signed, _ := os.ReadFile(out)
	crossCheck(t, signed, 1, p.root)
	// Same path for input and output is refused; a failing signature leaves no output.
	if _, err := SignFile(context.Background(), in, in, opts(p.leader)); !apperr.IsKind(err, apperr.Invalid) {
		t.Errorf("in == out: %v", err)
	}
	bad := filepath.Join(dir, "bad.pdf")
	if err := os.WriteFile(bad, []byte("not a pdf at all, sorry"), 0o600); err != nil {
		t.Fatal(err)
	}
	out2 := filepath.Join(dir, "out2.pdf")
	if _, err := SignFile(context.Background(), bad, out2, opts(p.leader)); !apperr.IsKind(err, apperr.Invalid) {
		t.Errorf("junk input: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() == "out2.pdf" || filepath.Ext(e.Name()) == ".tmp" {
			t.Errorf("left behind %s", e.Name())
		}
	}
}

func TestWrongKey(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	o := opts(p.leader)
	o.Signer = p.org.Key
	in := readCorpus(t, "classic.pdf")
	_, err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &bytes.Buffer{}, o)
	if err == nil || apperr.KindOf(err) != apperr.Invalid {
		t.Errorf("mismatched key: %v", err)
	}
}

var _ = crypto.SHA256
var _ = x509.Certificate{}

// TestNoFinalEOL signs a file that ends right after %%EOF (no end-of-line), and one with trailing
// whitespace after it.
func TestNoFinalEOL(t *testing.T) {
	t.Parallel()
	p := setupPKI(t)
	in := readCorpus(t, "classic.pdf")
	for name, b := range map[string][]byte{
		"ok/no-eol":   bytes.TrimRight(in, "\r\n"),
		"ok/trailing": append(append([]byte{}, in...), "\r\n  \r\n"...),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			signed, _ := signBytes(t, b, opts(p.leader))
			crossCheck(t, signed, 1, p.root)
		})
	}
}

func TestPDFDateZones(t *testing.T) {
	base := time.Date(2026, 3, 12, 12, 0, 5, 0, time.UTC)
	for _, c := range []struct {
		off  int
		want string
	}{
		{0, "D:20260312120005Z"},
		{7 * 3600, "D:20260312190005+07'00'"},
		{-(3*3600 + 30*60), "D:20260312083005-03'30'"},
		{5*3600 + 45*60, "D:20260312174505+05'45'"},
		{14 * 3600, "D:20260313020005+14'00'"},
	} {
		if got := PDFDate(base.In(time.FixedZone("z", c.off))); got != c.want {
			t.Errorf("offset %d: %s, want %s", c.off, got, c.want)
		}
	}
}
