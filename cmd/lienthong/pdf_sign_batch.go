package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/signing/pades"
)

func init() {
	register(command{
		name:    "pdf sign-batch",
		summary: "sign many PDFs with one key, one login and the token kept busy",
		run:     runPDFSignBatch,
	})
}

const pdfSignBatchUsage = `usage: lienthong pdf sign-batch --key URI --out-dir DIR [flags] IN.pdf...

Signs every IN.pdf into DIR under the same name, each as pdf sign does: an incremental update written
whole or not at all, the input never changed. The key is opened once (one login, one PIN) and
--workers documents are read, prepared and written while the token signs others, so a batch runs close
to the token's own signing rate. The appearance and level flags apply to every document; per-document
flags (--field, --seal-over, --stamp attachment) belong to pdf sign.

A document that cannot be signed (not a PDF, unreadable, output not writable) is reported and the
others go on. A failure of the token or key (removed, PIN locked, session lost) stops the batch: the
documents not yet signed are reported as skipped. Signed files wait hidden in DIR until the batch
ends, are made durable with one flush of the file system and then renamed into place. Exit status:
0 every document signed, 1 some failed or were skipped, 2 usage.

flags:
`

// batchFile is the outcome for one input, in input order.
type batchFile struct {
	In     string `json:"in"`
	Out    string `json:"out,omitempty"`
	Status string `json:"status"` // signed, failed, skipped
	Error  string `json:"error,omitempty"`

	pending *pades.Pending // signed, not yet durable nor in place
}

type batchSummary struct {
	Signed             int         `json:"signed"`
	Failed             int         `json:"failed"`
	Skipped            int         `json:"skipped"`
	Seconds            float64     `json:"seconds"`
	DocumentsPerSecond float64     `json:"documents_per_second"`
	Workers            int         `json:"workers"`
	Files              []batchFile `json:"files"`
}

func runPDFSignBatch(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("pdf sign-batch", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() { fmt.Fprint(e.Stderr, pdfSignBatchUsage); fs.PrintDefaults() }
	var f pdfSignFlags
	pdfSignCommonFlags(fs, &f)
	outDir := fs.String("out-dir", "", "folder for the signed files (created if missing); must not hold the inputs")
	workers := fs.Int("workers", 0, "documents in progress at once (default: the token's sessions + 2, so two are read, prepared or written while each session signs)")
	sessions := fs.Int("sessions", 0, "token sessions to sign with (default: the hsm default; 1 for a USB token)")
	fs.BoolVar(&f.jsonOut, "json", false, "print the summary as JSON")
	inputs, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	fail := func(msg string) int {
		fmt.Fprintf(e.Stderr, "lienthong pdf sign-batch: %s\n", msg)
		return exitUsage
	}
	switch {
	case f.key == "" || *outDir == "" || len(inputs) == 0:
		fs.Usage()
		return fail("--key, --out-dir and at least one input PDF are required")
	case *workers < 0 || *sessions < 0:
		return fail("--workers and --sessions must not be negative")
	case f.stamp == "attachment":
		return fail("--stamp attachment carries each document's own number: use pdf sign per document")
	case f.image != "" && f.rect == "":
		return fail("--image needs --page and --rect x1,y1,x2,y2: every document gets its image there")
	}
	files, err := batchOutputs(inputs, *outDir)
	if err != nil {
		return fail(pdfSignMessage(err))
	}
	var keyOpts []hsm.Option
	if *sessions > 0 {
		keyOpts = append(keyOpts, hsm.WithPoolSize(*sessions))
	}
	o, closeKey, err := pdfSignOptions(ctx, f, keyOpts...)
	if err != nil {
		return pdfSignFail(e, "pdf sign-batch", err)
	}
	defer closeKey()
	if o.Revocation != nil {
		// B-LT/B-LTA: every document of the batch has the same signer chain and TSA, so their OCSP
		// responses and CRLs are fetched once (kept 10 minutes), not once per document.
		o.Revocation = pades.CachedRevocation(o.Revocation, 10*time.Minute, nil)
	}
	if *workers == 0 {
		*workers = runtime.GOMAXPROCS(0) + 1
		if k, ok := o.Signer.(*hsm.Key); ok {
			*workers = k.PoolSize() + 2
		}
	}
	start := time.Now()
	signBatch(ctx, files, o, *workers)
	sum := batchSummary{Seconds: time.Since(start).Seconds(), Workers: *workers, Files: files}
	for i, bf := range files {
		switch bf.Status {
		case "signed":
			sum.Signed++
		case "failed":
			sum.Failed++
		default:
			sum.Skipped++
			files[i].Status = "skipped"
		}
	}
	if sum.Seconds > 0 {
		sum.DocumentsPerSecond = float64(sum.Signed) / sum.Seconds
	}
	if f.jsonOut {
		b, _ := json.Marshal(sum)
		fmt.Fprintln(e.Stdout, string(b))
	} else {
		for _, bf := range files {
			switch bf.Status {
			case "signed":
				fmt.Fprintf(e.Stdout, "signed  %s\n", bf.Out)
			case "failed":
				fmt.Fprintf(e.Stdout, "FAILED  %s: %s\n", bf.In, bf.Error)
			default:
				fmt.Fprintf(e.Stdout, "skipped %s\n", bf.In)
			}
		}
		fmt.Fprintf(e.Stdout, "%d signed, %d failed, %d skipped in %.2f s (%.1f documents/s)\n",
			sum.Signed, sum.Failed, sum.Skipped, sum.Seconds, sum.DocumentsPerSecond)
	}
	if sum.Signed != len(files) {
		return exitNo
	}
	return exitOK
}

// batchOutputs names each output DIR/<input's name> and refuses a batch that would write two
// documents to one file or over an input.
func batchOutputs(inputs []string, outDir string) ([]batchFile, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, apperr.Wrap(apperr.Invalid, "pades_output", "cannot create the output folder", err)
	}
	absOut, err := filepath.Abs(outDir)
	if err != nil {
		return nil, err
	}
	seen := map[string]string{}
	files := make([]batchFile, len(inputs))
	for i, in := range inputs {
		out := filepath.Join(outDir, filepath.Base(in))
		if prev, ok := seen[filepath.Base(in)]; ok {
			return nil, apperr.New(apperr.Invalid, "batch_duplicate_name", fmt.Sprintf("%s and %s would both be written to %s", prev, in, out))
		}
		seen[filepath.Base(in)] = in
		if absIn, err := filepath.Abs(in); err == nil && filepath.Dir(absIn) == absOut {
			return nil, apperr.New(apperr.Invalid, "batch_same_folder", fmt.Sprintf("%s is in the output folder: its signed copy would replace it", in))
		}
		files[i] = batchFile{In: in, Out: out}
	}
	return files, nil
}

// signBatch signs files[i].In into files[i].Out with workers goroutines, filling in Status and Error.
// A failure that is not the document's own (the token, the key, the context) stops handing out new
// documents; the ones never started keep an empty Status. Outputs go to temporary files, then one
// flush of the file system makes them all durable before they are renamed into place: a sync per
// file held a batch to about 500 documents/s on the test VM's disk, a third of the token's rate.
func signBatch(ctx context.Context, files []batchFile, o pades.Options, workers int) {
	var next atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range min(workers, len(files)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() && ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= len(files) {
					return
				}
				bf := &files[i]
				p, err := pades.SignPending(ctx, bf.In, bf.Out, o, false)
				if err != nil {
					bf.Status, bf.Error = "failed", pdfSignMessage(err)
					if apperr.KindOf(err) != apperr.Invalid {
						stop.Store(true)
					}
					continue
				}
				bf.pending = p
			}
		}()
	}
	wg.Wait()
	commitBatch(files)
}

// commitBatch flushes the output folder's file system once, renames every signed temporary file into
// place and syncs the folder, so a document reported signed survives a crash. A crash before the
// flush leaves only hidden temporary files, never a partial output under its final name.
func commitBatch(files []batchFile) {
	var flushErr error
	if d, err := os.Open(filepath.Dir(files[0].Out)); err != nil {
		flushErr = err
	} else {
		flushErr = syncFS(d)
		d.Close()
	}
	for i := range files {
		bf := &files[i]
		if bf.pending == nil {
			continue
		}
		err := flushErr
		if err != nil {
			bf.pending.Discard()
		} else {
			err = bf.pending.Commit()
		}
		bf.pending = nil
		if err != nil {
			bf.Status, bf.Error = "failed", "the signed file could not be saved: "+err.Error()
			continue
		}
		bf.Status = "signed"
	}
	pades.SyncDir(filepath.Dir(files[0].Out))
}
