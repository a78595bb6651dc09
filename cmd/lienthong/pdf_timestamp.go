package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"

	"github.com/lienthong/lienthong/signing/cms/tsp"
	"github.com/lienthong/lienthong/signing/pades"
)

func init() {
	register(command{
		name:    "pdf timestamp",
		summary: "add a document timestamp to a PDF (PAdES B-LTA, or its renewal for the archive)",
		run:     runPDFTimestamp,
	})
}

const pdfTimestampUsage = `usage: lienthong pdf timestamp --tsa URL --in IN.pdf --out OUT.pdf [--dss] [--json]

Adds a document timestamp (ETSI.RFC3161) over the whole of IN.pdf as an incremental update and writes
OUT.pdf whole (temporary file + rename) or not at all; IN.pdf is never changed and every signature in
it stays valid. On a B-LT file this makes it B-LTA; on a B-LTA file it renews the archive timestamp
before the earlier TSA certificate expires. With --dss a DSS increment first records the certificates
of every signature and timestamp in the file and their OCSP responses or CRLs (fetched over the
network from the certificates' AIA and CRL URLs).

flags:
`

func runPDFTimestamp(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("pdf timestamp", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() { fmt.Fprint(e.Stderr, pdfTimestampUsage); fs.PrintDefaults() }
	var in, out, tsaURL string
	var withDSS, jsonOut bool
	fs.StringVar(&tsaURL, "tsa", "", "RFC 3161 timestamp authority URL")
	fs.StringVar(&in, "in", "", "input PDF")
	fs.StringVar(&out, "out", "", "output PDF (must differ from --in)")
	fs.BoolVar(&withDSS, "dss", false, "first add the validation material of the file's signatures and timestamps (network)")
	fs.BoolVar(&jsonOut, "json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.Stderr, "lienthong pdf timestamp: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if tsaURL == "" || in == "" || out == "" {
		fmt.Fprintln(e.Stderr, "lienthong pdf timestamp: --tsa, --in and --out are required")
		fs.Usage()
		return exitUsage
	}
	o := pades.TimestampOptions{TSA: (&tsp.Client{URL: tsaURL}).Timestamp}
	if withDSS {
		o.Revocation = pades.FetchRevocation(nil)
	}
	res, err := pades.TimestampFile(ctx, in, out, o)
	if err != nil {
		return pdfSignFail(e, "pdf timestamp", err)
	}
	if jsonOut {
		b, _ := json.Marshal(map[string]any{"out": out, "field": res.Field, "size": res.Size, "byte_range": res.ByteRange, "dss": res.DSSIncrement})
		fmt.Fprintln(e.Stdout, string(b))
	} else {
		fmt.Fprintf(e.Stdout, "timestamped %s: field %s, %d bytes\n", out, res.Field, res.Size)
	}
	return exitOK
}
