package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/signing/verify"
)

func init() {
	register(command{
		name:    "pdf verify",
		summary: "validate every signature of a PDF and every change made after it",
		run:     runPDFVerify,
	})
}

const pdfVerifyUsage = `usage: lienthong pdf verify [--trust ROOTS.pem] [--json] [--lang vi|en] FILE.pdf

Validates every signature (and document timestamp) of FILE.pdf: its structure, the integrity of the
signed bytes, the certificate chain to the trust anchors, revocation, and every change made in a
later revision. Exit status: 0 every signature passes and nothing disallowed changed after it;
1 a signature fails or is indeterminate, or there is no signature; 2 usage error or unreadable input.

Trust anchors come from --trust, or from the file named by LIENTHONG_TRUST when --trust is absent.

flags:
`

// verifyFlags are shared by pdf verify and cms verify.
type verifyFlags struct {
	trust             string
	jsonOut           bool
	lang              string
	allowAnnotations  bool
	requireRevocation bool
	fetchRevocation   bool
}

func (f *verifyFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.trust, "trust", "", "PEM file of trusted root certificates (default: $LIENTHONG_TRUST)")
	fs.BoolVar(&f.jsonOut, "json", false, "print one JSON document")
	fs.StringVar(&f.lang, "lang", verify.LangVietnamese, "language of the text report: vi or en")
	fs.BoolVar(&f.allowAnnotations, "allow-annotations", false, "report annotations added after a signature as warnings instead of failures")
	fs.BoolVar(&f.requireRevocation, "require-revocation", false, "a certificate without OCSP/CRL evidence makes the signature INDETERMINATE")
	fs.BoolVar(&f.fetchRevocation, "fetch-revocation", false, "fetch OCSP responses and CRLs the file does not embed (network)")
}

func (f *verifyFlags) options(file string) (verify.Options, error) {
	o := verify.Options{File: file, AllowAnnotations: f.allowAnnotations, RequireRevocation: f.requireRevocation}
	if f.lang != verify.LangVietnamese && f.lang != verify.LangEnglish {
		return o, fmt.Errorf("--lang must be vi or en")
	}
	trust := f.trust
	if trust == "" {
		trust = os.Getenv("LIENTHONG_TRUST")
	}
	if trust != "" {
		roots, err := verify.LoadRoots(trust)
		if err != nil {
			return o, err
		}
		o.Roots = roots
	}
	if f.fetchRevocation {
		o.Revocation = verify.NewHTTPFetcher(nil)
	}
	return o, nil
}

// printReport writes the report and returns the exit code its verdict means.
func (f *verifyFlags) printReport(e env, rep *verify.Report) int {
	if f.jsonOut {
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(e.Stderr, "lienthong:", err)
			return exitUsage
		}
	} else if err := rep.WriteText(e.Stdout, f.lang); err != nil {
		fmt.Fprintln(e.Stderr, "lienthong:", err)
		return exitUsage
	}
	if rep.Valid {
		return exitOK
	}
	return exitNo
}

func runPDFVerify(ctx context.Context, e env, args []string) int {
	f, pos, code, ok := verifyCommandArgs(e, "pdf verify", pdfVerifyUsage, 1, args)
	if !ok {
		return code
	}
	path := pos[0]
	o, err := f.options(path)
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong pdf verify:", err)
		return exitUsage
	}
	file, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong pdf verify: cannot open the file:", err)
		return exitUsage
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil || !st.Mode().IsRegular() {
		fmt.Fprintln(e.Stderr, "lienthong pdf verify: not a regular file:", path)
		return exitUsage
	}
	rep, err := verify.PDF(ctx, file, st.Size(), o)
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong pdf verify:", userMessage(err))
		return exitUsage
	}
	return f.printReport(e, rep)
}

// verifyParseArgs parses flags wherever they appear among the positional arguments
// ("pdf verify FILE.pdf --json" as well as "pdf verify --json FILE.pdf"); "--" ends the flags.
func verifyParseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if len(args) > 0 && len(rest) < len(args) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// userMessage prefers the clerk-safe detail of an apperr.
func userMessage(err error) string {
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Detail != "" {
		return ae.Detail
	}
	return err.Error()
}

// verifyCommandArgs parses the shared flags of `pdf verify` and `cms verify` and checks that exactly n
// file arguments remain. When ok is false the command returns code (0 for -h, 2 for a usage error).
func verifyCommandArgs(e env, name, usage string, n int, args []string) (f verifyFlags, pos []string, code int, ok bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() { fmt.Fprint(e.Stderr, usage); fs.PrintDefaults() }
	f.register(fs)
	pos, err := verifyParseArgs(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return f, nil, exitOK, false
		}
		return f, nil, exitUsage, false
	}
	if len(pos) != n {
		fs.Usage()
		return f, nil, exitUsage, false
	}
	return f, pos, exitOK, true
}
