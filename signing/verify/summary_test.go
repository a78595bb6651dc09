package verify_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/lienthong/lienthong/signing/verify"
)

func TestCorpusSummary(t *testing.T) {
	if os.Getenv("CORPUS_SUMMARY") == "" {
		t.Skip("set CORPUS_SUMMARY=1")
	}
	env, cases := loadCorpus(t)
	for _, c := range cases {
		rep := verifyBytes(t, env, c.Data, verify.Options{})
		line := fmt.Sprintf("%-40s valid=%-5v", c.Name, rep.Valid)
		for _, s := range rep.Signatures {
			line += fmt.Sprintf(" [%s %s %s %s]", s.Indication, s.SubIndication, s.Level, s.Type)
		}
		for _, p := range rep.Problems {
			line += " {" + p + "}"
		}
		fmt.Println(line)
	}
}
