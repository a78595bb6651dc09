package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lienthong/lienthong/signing/verify"
	"github.com/lienthong/lienthong/signing/verify/corpus"
)

func runVerifyCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

var (
	verifyCorpusOnce sync.Once
	verifyCorpusEnv  *corpus.Env
	verifyCorpus     map[string]corpus.Case
	verifyCorpusErr  error
)

func verifyFixtures(t *testing.T) (*corpus.Env, map[string]corpus.Case) {
	t.Helper()
	verifyCorpusOnce.Do(func() {
		verifyCorpusEnv, verifyCorpusErr = corpus.NewEnv()
		if verifyCorpusErr != nil {
			return
		}
		var cs []corpus.Case
		cs, verifyCorpusErr = verifyCorpusEnv.Cases(context.Background())
		verifyCorpus = map[string]corpus.Case{}
		for _, c := range cs {
			verifyCorpus[c.Name] = c
		}
	})
	if verifyCorpusErr != nil {
		t.Fatal(verifyCorpusErr)
	}
	return verifyCorpusEnv, verifyCorpus
}

func TestPDFVerifyCLI(t *testing.T) {
	env, cases := verifyFixtures(t)
	dir := t.TempDir()
	roots := filepath.Join(dir, "roots.pem")
	os.WriteFile(roots, env.RootsPEM(), 0o600)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".pdf")
		os.WriteFile(p, data, 0o600)
		return p
	}
	genuine := write("genuine", cases["genuine/bt"].Data)
	forged := write("forged", cases["shadow/hide-and-replace"].Data)

	// ok: exit 0, Vietnamese by default, English on request, one JSON document with --json.
	code, out, errs := runVerifyCLI(t, "pdf", "verify", "--trust", roots, genuine)
	if code != 0 || !strings.Contains(out, "HỢP LỆ") || !strings.Contains(out, "Nguyễn Văn A") {
		t.Fatalf("genuine: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ = runVerifyCLI(t, "pdf", "verify", "--trust", roots, "--lang", "en", genuine)
	if code != 0 || !strings.Contains(out, "VALID") || !strings.Contains(out, "B-T") {
		t.Fatalf("genuine en: exit %d\n%s", code, out)
	}
	code, out, _ = runVerifyCLI(t, "pdf", "verify", "--trust", roots, "--json", genuine)
	var rep verify.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 || !rep.Valid || rep.Signatures[0].Level != "B-T" {
		t.Fatalf("json: exit %d err %v\n%s", code, err, out)
	}
	// Flags after the file name work too.
	if code, out, _ = runVerifyCLI(t, "pdf", "verify", genuine, "--trust", roots, "--json"); code != 0 || !strings.HasPrefix(out, "{") {
		t.Fatalf("flags after the file: exit %d\n%s", code, out)
	}
	// LIENTHONG_TRUST stands in for --trust.
	t.Setenv("LIENTHONG_TRUST", roots)
	if code, out, _ = runVerifyCLI(t, "pdf", "verify", genuine); code != 0 {
		t.Fatalf("LIENTHONG_TRUST: exit %d\n%s", code, out)
	}
	t.Setenv("LIENTHONG_TRUST", "")

	// fail: a forgery, an untrusted chain, a document without signature: exit 1.
	code, out, _ = runVerifyCLI(t, "pdf", "verify", "--trust", roots, "--json", forged)
	if code != 1 || json.Unmarshal([]byte(out), &rep) != nil || rep.Signatures[0].Indication != verify.TotalFailed {
		t.Fatalf("forged: exit %d\n%s", code, out)
	}
	if code, out, _ = runVerifyCLI(t, "pdf", "verify", genuine); code != 1 || !strings.Contains(out, "NO_CERTIFICATE_CHAIN_FOUND") {
		t.Fatalf("no trust anchors: exit %d\n%s", code, out)
	}
	unsigned := write("unsigned", corpus.BasePDF("x"))
	if code, out, _ = runVerifyCLI(t, "pdf", "verify", "--trust", roots, unsigned); code != 1 || !strings.Contains(out, "không có chữ ký") {
		t.Fatalf("unsigned: exit %d\n%s", code, out)
	}
	// Annotations: failure by default, warning with --allow-annotations.
	annot := write("annot", cases["isa/annotation-added"].Data)
	if code, _, _ = runVerifyCLI(t, "pdf", "verify", "--trust", roots, annot); code != 1 {
		t.Fatalf("annotation: exit %d", code)
	}
	if code, out, _ = runVerifyCLI(t, "pdf", "verify", "--trust", roots, "--allow-annotations", "--lang", "en", annot); code != 0 || !strings.Contains(out, "warning") {
		t.Fatalf("annotation relaxed: exit %d\n%s", code, out)
	}

	// usage or unreadable input: exit 2, with a message and no panic.
	junk := write("junk", []byte("this is not a PDF at all, just text"))
	for _, args := range [][]string{
		{"pdf", "verify"},
		{"pdf", "verify", "--trust", roots, filepath.Join(dir, "missing.pdf")},
		{"pdf", "verify", "--trust", roots, junk},
		{"pdf", "verify", "--trust", filepath.Join(dir, "missing.pem"), genuine},
		{"pdf", "verify", "--lang", "fr", genuine},
		{"pdf", "verify", "--bogus", genuine},
	} {
		if code, _, errs := runVerifyCLI(t, args...); code != 2 || errs == "" {
			t.Errorf("%v: exit %d, stderr %q", args, code, errs)
		}
	}
}
