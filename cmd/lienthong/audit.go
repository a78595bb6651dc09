package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"

	"github.com/lienthong/lienthong/workflow"
)

func init() {
	register(command{name: "audit verify", summary: "check the hash-chained audit log is untouched [--json] [--expect-head HEX]", run: runAuditVerify})
}

func runAuditVerify(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("audit verify", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	expect := fs.String("expect-head", "", "a head hash recorded earlier: fail unless the chain still contains it as its tip or the tip has moved on from the same records")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(e.Stderr, "usage: lienthong audit verify [--json] [--expect-head HEX]")
		return exitUsage
	}
	var rep workflow.AuditReport
	code := withService(ctx, e, "audit verify", func(s *workflow.Service) error {
		var err error
		if rep, err = s.VerifyAudit(ctx); err != nil {
			return err
		}
		if rep.OK && *expect != "" {
			found, err := s.AuditContainsHash(ctx, strings.ToLower(strings.TrimSpace(*expect)))
			if err != nil {
				return err
			}
			if !found {
				rep.OK, rep.Problem = false, "the expected head hash is not in the chain: the log was rewritten"
			}
		}
		return nil
	})
	if code != exitOK {
		return code
	}
	if *asJSON {
		_ = json.NewEncoder(e.Stdout).Encode(rep)
	} else if rep.OK {
		fmt.Fprintf(e.Stdout, "ok: %d records, head %d %s\n", rep.Records, rep.HeadSeq, rep.HeadHash)
	} else {
		fmt.Fprintf(e.Stdout, "BROKEN at record %d: %s\n", rep.BadSeq, rep.Problem)
	}
	if !rep.OK {
		return exitNo
	}
	return exitOK
}
