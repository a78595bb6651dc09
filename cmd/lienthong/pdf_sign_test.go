package main

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/hsmtest"
	"github.com/lienthong/lienthong/signing/cms/cmstest"
	"github.com/lienthong/lienthong/signing/cms/tsp/tsptest"
)

const pdfCorpus = "../../testdata/pdf"

func runPDF(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func pdfsigValid(t *testing.T, file string, n int) {
	t.Helper()
	if _, err := exec.LookPath("pdfsig"); err != nil {
		t.Skip("pdfsig not installed")
	}
	out, _ := exec.Command("pdfsig", file).CombinedOutput()
	if c := strings.Count(string(out), "Signature Validation: Signature is Valid."); c != n {
		t.Errorf("pdfsig: %d valid signatures, want %d:\n%s", c, n, out)
	}
	if !strings.Contains(string(out), "- Total document signed") {
		t.Errorf("pdfsig: last signature does not cover the document:\n%s", out)
	}
}

func writeTestPNG(t *testing.T, path string, c color.NRGBA) {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, 120, 60))
	for x := 5; x < 115; x++ {
		for y := 25; y < 35; y++ {
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

func TestPDFSignFileKey(t *testing.T) {
	t.Parallel()
	root, err := cmstest.NewRoot(cmstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := root.Issue(cmstest.Options{CommonName: "Chuyên viên", Key: cmstest.P256})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyPEM, err := cmstest.KeyPEM(leaf.Key)
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, "key.pem")
	cert := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cert, cmstest.PEM(leaf.Full()...), 0o600); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(pdfCorpus, "linearized-objstm.pdf")
	out := filepath.Join(dir, "out.pdf")
	code, stdout, stderr := runPDF(t, "pdf", "sign", "--key", "file:"+key, "--cert", cert, "--in", in, "--out", out,
		"--reason", "Ký phát hành", "--stamp", "attachment", "--number", "05/QĐ-UBND", "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("stdout is not JSON: %q", stdout)
	}
	if res["field"] != "Signature1" || res["level"] != "B-B" {
		t.Errorf("result = %v", res)
	}
	pdfsigValid(t, out, 1)
	if txt, err := exec.Command("pdftotext", out, "-").Output(); err == nil && !strings.Contains(string(txt), "Số: 05/QĐ-UBND") {
		t.Errorf("stamp text missing:\n%s", txt)
	}

	// B-T and B-LT against the in-process TSA.
	tsa, err := tsptest.New(tsptest.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer tsa.Close()
	for _, level := range []string{"B-T", "B-LT", "B-LTA"} {
		lo := filepath.Join(dir, level+".pdf")
		code, stdout, stderr := runPDF(t, "pdf", "sign", "--key", "file:"+key, "--cert", cert, "--in", in, "--out", lo,
			"--tsa", tsa.URL, "--level", level, "--json")
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", level, code, stderr)
		}
		if !strings.Contains(stdout, `"level":"`+level+`"`) || strings.Contains(stdout, `"doc_timestamp":"DocTimeStamp1"`) != (level == "B-LTA") {
			t.Errorf("%s: %s", level, stdout)
		}
		out, _ := exec.Command("pdfsig", lo).CombinedOutput()
		if !strings.Contains(string(out), "Signature Validation: Signature is Valid.") {
			t.Errorf("%s: pdfsig:\n%s", level, out)
		}
	}
	// B-LTA, plain and on a certified (DocMDP P=1 and P=2) first signature: our verifier passes the signature
	// and the document timestamp that covers the whole file (pdfsig does not validate document timestamps).
	rootPEM := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(rootPEM, cmstest.PEM(root.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, certify := range []string{"", "1", "2"} {
		lo := filepath.Join(dir, "B-LTA"+certify+".pdf")
		args := []string{"pdf", "sign", "--key", "file:" + key, "--cert", cert, "--in", in, "--out", lo, "--tsa", tsa.URL, "--level", "B-LTA"}
		if certify != "" {
			args = append(args, "--certify", certify)
		}
		if code, _, stderr := runPDF(t, args...); code != exitOK {
			t.Fatalf("B-LTA certify %q: exit %d: %s", certify, code, stderr)
		}
		code, stdout, stderr := runPDF(t, "pdf", "verify", "--json", "--trust", rootPEM, lo)
		var rep struct {
			Valid      bool
			Signatures []struct {
				Field, Type, Indication string
				Coverage                struct {
					WholeDocument bool `json:"whole_document"`
				}
			}
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
			t.Fatalf("B-LTA certify %q: verify exit %d: %v\n%s", certify, code, err, stderr)
		}
		if s := rep.Signatures; code != exitOK || !rep.Valid || len(s) != 2 || s[0].Indication != "TOTAL_PASSED" ||
			s[1].Type != "document-timestamp" || s[1].Field != "DocTimeStamp1" || s[1].Indication != "TOTAL_PASSED" || !s[1].Coverage.WholeDocument {
			t.Errorf("B-LTA certify %q: verify exit %d:\n%s", certify, code, stdout)
		}
		if certify != "" {
			continue
		}
		// The archive's renewal: a second document timestamp (with a DSS) over the B-LTA file.
		renewed := filepath.Join(dir, "renewed.pdf")
		code, stdout, stderr = runPDF(t, "pdf", "timestamp", "--tsa", tsa.URL, "--in", lo, "--out", renewed, "--dss", "--json")
		if code != exitOK || !strings.Contains(stdout, `"field":"DocTimeStamp2"`) || !strings.Contains(stdout, `"dss":true`) {
			t.Fatalf("pdf timestamp: exit %d: %s %s", code, stdout, stderr)
		}
		code, stdout, _ = runPDF(t, "pdf", "verify", "--json", "--trust", rootPEM, renewed)
		rep.Signatures = nil
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil || code != exitOK || !rep.Valid || len(rep.Signatures) != 3 ||
			rep.Signatures[2].Field != "DocTimeStamp2" || !rep.Signatures[2].Coverage.WholeDocument {
			t.Errorf("renewed: verify exit %d: %v\n%s", code, err, stdout)
		}
		// Usage errors exit 2 and write nothing.
		for _, args := range [][]string{{"--in", lo, "--out", filepath.Join(dir, "x.pdf")}, {"--tsa", tsa.URL, "--in", key, "--out", filepath.Join(dir, "x.pdf")}} {
			if code, _, stderr := runPDF(t, append([]string{"pdf", "timestamp"}, args...)...); code != exitUsage {
				t.Errorf("pdf timestamp %v: exit %d (%s), want %d", args, code, stderr, exitUsage)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "x.pdf")); err == nil {
			t.Error("pdf timestamp wrote an output on a usage error")
		}
	}

	// Usage and input errors exit 2 and leave no output.
	for name, args := range map[string][]string{
		"fail/no-key":       {"--in", in, "--out", filepath.Join(dir, "x.pdf")},
		"fail/junk-input":   {"--key", "file:" + key, "--cert", cert, "--in", key, "--out", filepath.Join(dir, "x.pdf")},
		"fail/bad-rect":     {"--key", "file:" + key, "--cert", cert, "--in", in, "--out", filepath.Join(dir, "x.pdf"), "--rect", "1,2,3"},
		"fail/same-file":    {"--key", "file:" + key, "--cert", cert, "--in", out, "--out", out},
		"fail/bad-level":    {"--key", "file:" + key, "--cert", cert, "--in", in, "--out", filepath.Join(dir, "x.pdf"), "--level", "B-X"},
		"fail/bt-no-tsa":    {"--key", "file:" + key, "--cert", cert, "--in", in, "--out", filepath.Join(dir, "x.pdf"), "--level", "B-T"},
		"fail/image-norect": {"--key", "file:" + key, "--cert", cert, "--in", in, "--out", filepath.Join(dir, "x.pdf"), "--image", key},
		"fail/copy-kind":    {"--key", "file:" + key, "--cert", cert, "--in", in, "--out", filepath.Join(dir, "x.pdf"), "--stamp", "copy", "--copy-org", "X", "--copy-kind", "BAN SAO"},
	} {
		code, _, stderr := runPDF(t, append([]string{"pdf", "sign"}, args...)...)
		if code != exitUsage {
			t.Errorf("%s: exit %d (%s), want %d", name, code, stderr, exitUsage)
		}
		if _, err := os.Stat(filepath.Join(dir, "x.pdf")); err == nil {
			t.Errorf("%s: output written", name)
		}
	}
}

// TestPDFSignSoftHSM is the README flow: a leader's key and the organisation's key on SoftHSM tokens;
// the leader signs with a blue image, the organisation with its seal over a third of it.
func TestPDFSignSoftHSM(t *testing.T) {
	// Not parallel: SoftHSM aborts the process if a C_Initialize scans a token being deleted.
	leader := hsmtest.Issue(t, hsm.RSA2048, pkix.Name{CommonName: "Nguyễn Văn A", Organization: []string{"UBND tỉnh Test"}})
	org := hsmtest.Issue(t, hsm.ECP256, pkix.Name{CommonName: "UBND tỉnh Test", Organization: []string{"UBND tỉnh Test"}})
	dir := t.TempDir()
	sigPNG, sealPNG := filepath.Join(dir, "sig.png"), filepath.Join(dir, "seal.png")
	writeTestPNG(t, sigPNG, color.NRGBA{B: 200, A: 255})
	writeTestPNG(t, sealPNG, color.NRGBA{R: 220, A: 200})
	one, two := filepath.Join(dir, "one.pdf"), filepath.Join(dir, "two.pdf")
	code, _, stderr := runPDF(t, "pdf", "sign", "--key", leader.URI, "--in", filepath.Join(pdfCorpus, "emptyfield.pdf"),
		"--out", one, "--field", "LanhDao", "--image", sigPNG, "--page", "1", "--rect", "300,200,450,260")
	if code != exitOK {
		t.Fatalf("leader: exit %d: %s", code, stderr)
	}
	code, _, stderr = runPDF(t, "pdf", "sign", "--key", org.URI, "--in", one, "--out", two,
		"--field", "CoQuan", "--image", sealPNG, "--seal-over", "LanhDao", "--size", "80,80", "--certify", "2")
	if code == exitOK || !strings.Contains(stderr, "first signature") {
		t.Errorf("certifying an already signed document: exit %d: %s", code, stderr)
	}
	code, _, stderr = runPDF(t, "pdf", "sign", "--key", org.URI, "--in", one, "--out", two,
		"--field", "CoQuan", "--image", sealPNG, "--seal-over", "LanhDao", "--size", "80,80")
	if code != exitOK {
		t.Fatalf("organisation: exit %d: %s", code, stderr)
	}
	pdfsigValid(t, two, 2)
	// The empty field Sig1 is still there and can be signed later.
	three := filepath.Join(dir, "three.pdf")
	code, _, stderr = runPDF(t, "pdf", "sign", "--key", leader.URI, "--in", two, "--out", three, "--field", "Sig1")
	if code != exitOK {
		t.Fatalf("Sig1: exit %d: %s", code, stderr)
	}
	pdfsigValid(t, three, 3)
}
