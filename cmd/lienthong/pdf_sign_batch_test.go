package main

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/hsmtest"
	"github.com/lienthong/lienthong/signing/cms/cmstest"
	"github.com/lienthong/lienthong/signing/cms/tsp/tsptest"
	"github.com/lienthong/lienthong/signing/pades"
)

func TestPDFSignBatchSoftHSM(t *testing.T) {
	// Not parallel: SoftHSM aborts the process if a C_Initialize scans a token being deleted.
	seal := hsmtest.Issue(t, hsm.RSA2048, pkix.Name{CommonName: "UBND xã Test", Organization: []string{"UBND xã Test"}})
	dir := t.TempDir()
	broken := filepath.Join(dir, "hỏng.pdf")
	if err := os.WriteFile(broken, []byte("%PDF-1.7\nnot really a PDF\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var inputs []string
	for _, n := range []string{"classic.pdf", "objstm.pdf", "v20.pdf", "linearized.pdf", "hybrid.pdf"} {
		inputs = append(inputs, filepath.Join(pdfCorpus, n))
	}
	inputs = slices.Insert(inputs, 2, broken)
	before := map[string][32]byte{}
	for _, in := range inputs {
		before[in] = fileSum(t, in)
	}
	out := filepath.Join(dir, "đã ký")
	args := append([]string{"pdf", "sign-batch", "--key", seal.URI, "--out-dir", out, "--sessions", "1",
		"--stamp", "copy", "--copy-org", "UBND xã Test", "--json"}, inputs...)
	code, stdout, stderr := runPDF(t, args...)
	if code != exitNo {
		t.Fatalf("exit %d, want %d (one input is not a PDF): %s", code, exitNo, stderr)
	}
	var sum batchSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("stdout is not the JSON summary: %q", stdout)
	}
	if sum.Workers != 3 {
		t.Errorf("%d workers, want one session + 2", sum.Workers)
	}
	if sum.Signed != 5 || sum.Failed != 1 || sum.Skipped != 0 || len(sum.Files) != len(inputs) {
		t.Fatalf("summary %+v", sum)
	}
	for i, f := range sum.Files {
		if f.In != inputs[i] {
			t.Errorf("file %d reported as %s, want %s (input order)", i, f.In, inputs[i])
		}
		if f.In == broken {
			if f.Status != "failed" || f.Error == "" {
				t.Errorf("broken input: %+v", f)
			}
			continue
		}
		if f.Status != "signed" {
			t.Errorf("%s: %+v", f.In, f)
			continue
		}
		pdfsigValid(t, f.Out, 1)
	}
	// Nothing else in the output folder: no copy of the broken input, no temporary files.
	ents, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	slices.Sort(names)
	if want := []string{"classic.pdf", "hybrid.pdf", "linearized.pdf", "objstm.pdf", "v20.pdf"}; !slices.Equal(names, want) {
		t.Errorf("output folder holds %q, want %q", names, want)
	}
	for _, in := range inputs {
		if fileSum(t, in) != before[in] {
			t.Errorf("%s changed", in)
		}
	}

	t.Run("refused before signing", func(t *testing.T) {
		other := filepath.Join(dir, "other")
		if err := os.MkdirAll(other, 0o755); err != nil {
			t.Fatal(err)
		}
		dup := filepath.Join(other, "classic.pdf")
		if err := os.WriteFile(dup, []byte("%PDF-1.4\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		for name, tc := range map[string]struct {
			args []string
			want string
		}{
			"two inputs, one name":       {[]string{"--out-dir", filepath.Join(dir, "o1"), inputs[0], dup}, "would both be written"},
			"input in the output folder": {[]string{"--out-dir", other, dup}, "in the output folder"},
			"attachment stamps":          {[]string{"--out-dir", filepath.Join(dir, "o2"), "--stamp", "attachment", inputs[0]}, "use pdf sign"},
			"image without a place":      {[]string{"--out-dir", filepath.Join(dir, "o4"), "--image", "seal.png", inputs[0]}, "--image needs --page and --rect"},
			"no inputs":                  {[]string{"--out-dir", filepath.Join(dir, "o3")}, "at least one input"},
		} {
			code, _, stderr := runPDF(t, append([]string{"pdf", "sign-batch", "--key", seal.URI}, tc.args...)...)
			if code != exitUsage || !strings.Contains(stderr, tc.want) {
				t.Errorf("%s: exit %d, stderr %q; want %d and %q", name, code, stderr, exitUsage, tc.want)
			}
		}
		if _, err := os.Stat(filepath.Join(dir, "o1", "classic.pdf")); !os.IsNotExist(err) {
			t.Errorf("a refused batch wrote a file: %v", err)
		}
	})
}

// failAfter signs n times and then fails as a pulled-out token does.
type failAfter struct {
	crypto.Signer
	n atomic.Int32
}

func (f *failAfter) Sign(r io.Reader, d []byte, o crypto.SignerOpts) ([]byte, error) {
	if f.n.Add(-1) < 0 {
		return nil, hsm.ErrTokenRemoved
	}
	return f.Signer.Sign(r, d, o)
}

func TestSignBatchStopsOnATokenFailure(t *testing.T) {
	t.Parallel()
	root, err := cmstest.NewRoot(cmstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := root.Issue(cmstest.Options{CommonName: "Văn thư", Key: cmstest.P256})
	if err != nil {
		t.Fatal(err)
	}
	signer := &failAfter{Signer: leaf.Key}
	signer.n.Store(1)
	dir := t.TempDir()
	var inputs []string
	for _, n := range []string{"classic.pdf", "objstm.pdf", "v20.pdf", "hybrid.pdf"} {
		inputs = append(inputs, filepath.Join(pdfCorpus, n))
	}
	files, err := batchOutputs(inputs, dir)
	if err != nil {
		t.Fatal(err)
	}
	signBatch(t.Context(), files, pades.Options{Signer: signer, Chain: leaf.Full()}, 1)
	var got []string
	for _, f := range files {
		got = append(got, f.Status)
	}
	if want := []string{"signed", "failed", "", ""}; !slices.Equal(got, want) {
		t.Fatalf("statuses %q, want %q: a token failure must stop the batch", got, want)
	}
	if !strings.Contains(files[1].Error, "token") {
		t.Errorf("error %q does not say the token failed", files[1].Error)
	}
	if _, err := os.Stat(files[1].Out); !os.IsNotExist(err) {
		t.Errorf("the failed document left an output: %v", err)
	}
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestPDFSignBatchBLTFetchesRevocationOnce signs four documents at B-LT with one certificate: its OCSP
// responder is asked once for the batch, not once per document.
func TestPDFSignBatchBLTFetchesRevocationOnce(t *testing.T) {
	t.Parallel()
	root, err := cmstest.NewRoot(cmstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var hits atomic.Int64
	responder := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, _ := io.ReadAll(r.Body)
		req, err := ocsp.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		resp, err := root.OCSP(&x509.Certificate{SerialNumber: req.SerialNumber}, ocsp.Good, time.Time{}, time.Now())
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		_, _ = w.Write(resp)
	}))
	defer responder.Close()
	leaf, err := root.Issue(cmstest.Options{CommonName: "Văn thư", Key: cmstest.P256, OCSPServer: []string{responder.URL + "/ocsp"}})
	if err != nil {
		t.Fatal(err)
	}
	tsa, err := tsptest.New(tsptest.Options{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer tsa.Close()
	dir := t.TempDir()
	keyPEM, err := cmstest.KeyPEM(leaf.Key)
	if err != nil {
		t.Fatal(err)
	}
	key, cert := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(key, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cert, cmstest.PEM(leaf.Full()...), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(pdfCorpus, "classic.pdf"))
	if err != nil {
		t.Fatal(err)
	}
	var inputs []string
	for i := range 4 {
		p := filepath.Join(dir, fmt.Sprintf("cv%d.pdf", i))
		if err := os.WriteFile(p, src, 0o600); err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, p)
	}
	args := append([]string{"pdf", "sign-batch", "--key", "file:" + key, "--cert", cert, "--out-dir", filepath.Join(dir, "out"),
		"--level", "B-LT", "--tsa", tsa.URL, "--json"}, inputs...)
	code, stdout, stderr := runPDF(t, args...)
	var sum batchSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil || code != exitOK || sum.Signed != 4 {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
	if n := hits.Load(); n != 1 {
		t.Errorf("the OCSP responder was asked %d times for 4 documents, want 1", n)
	}
}
