package verify_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lienthong/lienthong/signing/verify"
	"github.com/lienthong/lienthong/signing/verify/corpus"
)

var (
	corpusOnce  sync.Once
	corpusEnv   *corpus.Env
	corpusCases []corpus.Case
	corpusErr   error
)

// loadCorpus builds the corpus once per test binary (key generation dominates).
func loadCorpus(t testing.TB) (*corpus.Env, []corpus.Case) {
	t.Helper()
	corpusOnce.Do(func() {
		corpusEnv, corpusErr = corpus.NewEnv()
		if corpusErr != nil {
			return
		}
		corpusCases, corpusErr = corpusEnv.Cases(context.Background())
	})
	if corpusErr != nil {
		t.Fatal(corpusErr)
	}
	return corpusEnv, corpusCases
}

func verifyBytes(t testing.TB, env *corpus.Env, data []byte, o verify.Options) *verify.Report {
	t.Helper()
	o.Roots = env.Roots()
	if o.Now == nil {
		o.Now = func() time.Time { return env.Now.Add(time.Minute) }
	}
	rep, err := verify.PDF(context.Background(), bytes.NewReader(data), int64(len(data)), o)
	if err != nil {
		t.Fatalf("verify.PDF: %v", err)
	}
	return rep
}

func TestCorpus(t *testing.T) {
	env, cases := loadCorpus(t)
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			rep := verifyBytes(t, env, c.Data, verify.Options{})
			if rep.Valid != c.Valid {
				t.Fatalf("valid = %v, want %v\n%s", rep.Valid, c.Valid, dump(rep))
			}
			if c.Valid {
				return
			}
			found := false
			for _, s := range rep.Signatures {
				if string(s.SubIndication) == c.Sub {
					found = true
				}
			}
			if c.Sub == "FORMAT_FAILURE" && len(rep.Signatures) == 0 && len(rep.Problems) > 0 {
				found = true
			}
			if !found {
				t.Fatalf("no signature with sub-indication %s\n%s", c.Sub, dump(rep))
			}
		})
	}
}

func dump(rep *verify.Report) string {
	var b bytes.Buffer
	rep.WriteText(&b, verify.LangEnglish)
	return b.String()
}

func TestSummary(t *testing.T) {
	env, cases := loadCorpus(t)
	for _, c := range cases {
		if c.Name != "genuine/two-signatures" && c.Name != "shadow/hide" {
			continue
		}
		rep := verifyBytes(t, env, c.Data, verify.Options{})
		en, vi := rep.Summary(verify.LangEnglish), rep.Summary(verify.LangVietnamese)
		switch c.Name {
		case "genuine/two-signatures":
			if en != "2 valid signature(s)" || vi != "2 chữ ký hợp lệ" {
				t.Fatalf("%q / %q", en, vi)
			}
		case "shadow/hide":
			if !strings.Contains(en, "FORMAT_FAILURE") || !strings.Contains(vi, "Thay đổi sau khi ký") {
				t.Fatalf("%q / %q", en, vi)
			}
		}
	}
}
