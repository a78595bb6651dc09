package verify_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lienthong/lienthong/signing/verify"
	"github.com/lienthong/lienthong/signing/verify/corpus"
)

// TestShapes signs files of other shapes (xref streams with object streams, linearized, written by
// qpdf, a tool we did not write) with our signer, twice, and checks they pass and that a content
// change after the signatures fails.
func TestShapes(t *testing.T) {
	if _, err := exec.LookPath("qpdf"); err != nil {
		t.Skip("qpdf not installed")
	}
	env, _ := loadCorpus(t)
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.pdf")
	os.WriteFile(plain, corpus.BasePDF("SHAPES"), 0o600)
	for name, args := range map[string][]string{
		"objstm":     {"--object-streams=generate"},
		"linearized": {"--linearize"},
		"lin-objstm": {"--linearize", "--object-streams=generate"},
	} {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(dir, name+".pdf")
			cmd := exec.Command("qpdf", append(args, plain, out)...)
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("qpdf: %v %s", err, b)
			}
			in, _ := os.ReadFile(out)
			one, err := corpus.Sign(context.Background(), in, env.Options(env.RSA))
			if err != nil {
				t.Fatal(err)
			}
			o := env.Options(env.EC)
			o.Field = "Second"
			two, err := corpus.Sign(context.Background(), one, o)
			if err != nil {
				t.Fatal(err)
			}
			for _, f := range [][]byte{one, two} {
				if rep := verifyBytes(t, env, f, verify.Options{}); !rep.Valid {
					t.Fatalf("genuine %s rejected\n%s", name, dump(rep))
				}
			}
			forged, err := corpus.Update(two, replaceFirstContent)
			if err != nil {
				t.Fatal(err)
			}
			rep := verifyBytes(t, env, forged, verify.Options{})
			if rep.Valid {
				t.Fatalf("content change accepted on %s\n%s", name, dump(rep))
			}
			for _, s := range rep.Signatures {
				if s.Indication != verify.TotalFailed {
					t.Fatalf("%s: signature %d not failed after a content change\n%s", name, s.Index, dump(rep))
				}
			}
		})
	}
}
