package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lienthong/lienthong/exchange/demo"
	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/signing/pades"
	"github.com/lienthong/lienthong/signing/verify"
)

func init() {
	register(command{
		name:    "pdf bench",
		summary: "measure PAdES signatures of a PDF against the token's own signing rate, in one run",
		run:     runPDFBench,
	})
}

const pdfBenchUsage = `usage: lienthong pdf bench --key URI [--in IN.pdf] [--sessions N] [--workers N] [--seconds S] [--json] [flags]

Measures how many complete PAdES signatures of a PDF the key makes per second, against the key's own
signing rate measured in the same run. Rounds of raw signatures alternate with rounds of PDF signatures
(read, prepare, sign, check the fresh signature, serialise; the output is discarded), so load from
elsewhere hits both alike. The token's rate is the better of two kinds of raw rounds: one caller per
session, and as many callers as PDF workers (the key's queue then keeps every session busy). A round lasts about twenty of the token's signatures, at least 0.1 s; signatures still running
when its time is up are finished and counted. The first PDF signature is verified before measuring.

Without --in, a generated one-page PDF of about 1 KB is signed; --in is read into memory (at most
64 MiB). Level and appearance flags are those of pdf sign; with --tsa every signature asks the TSA,
which is then measured too.

Exit status: 0 measured, 1 a signature failed, 2 usage or unreadable input.

flags:
`

// pdfBenchResult is what `pdf bench --json` prints.
type pdfBenchResult struct {
	TokenSignaturesPerSecond float64 `json:"token_signatures_per_second"`
	PDFSignaturesPerSecond   float64 `json:"pdf_signatures_per_second"`
	Ratio                    float64 `json:"ratio"` // pdf / token, wall clock
	// Process CPU (Go, cgo and a software token's module) per signature: on a software token the
	// token's work shares the host's cores with the PDF work, so these show where the time goes.
	TokenCPUMicros  float64 `json:"token_cpu_us_per_signature"`
	PDFCPUMicros    float64 `json:"pdf_cpu_us_per_signature"`
	TokenSignatures int64   `json:"token_signatures"`
	PDFSignatures   int64   `json:"pdf_signatures"`
	Rounds          int     `json:"rounds"`
	RoundSeconds    float64 `json:"round_seconds"`
	Seconds         float64 `json:"seconds"`
	Sessions        int     `json:"sessions"`      // token sessions (0 for a key in a file)
	TokenCallers    int     `json:"token_callers"` // callers of the raw rounds that gave the best rate
	// Every caller count tried in the raw rounds: the token's own rate is the best of them.
	TokenRates []tokenRate `json:"token_rates"`
	Workers    int         `json:"workers"` // documents in progress in the PDF rounds
	PDFBytes   int         `json:"pdf_bytes"`
	Level      string      `json:"level"`
	Key        string      `json:"key"`
	Token      string      `json:"token,omitempty"`
}

// tokenRate is the raw signing rate with one number of callers.
type tokenRate struct {
	Callers             int     `json:"callers"`
	SignaturesPerSecond float64 `json:"signatures_per_second"`

	n      int64
	t, cpu time.Duration
}

// pdfBenchMaxInput bounds --in: the benchmark signs from memory, and measures small documents.
const pdfBenchMaxInput = 64 << 20

func runPDFBench(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("pdf bench", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() { fmt.Fprint(e.Stderr, pdfBenchUsage); fs.PrintDefaults() }
	var f pdfSignFlags
	pdfSignCommonFlags(fs, &f)
	fs.StringVar(&f.in, "in", "", "PDF to sign (default: a generated one-page PDF of about 1 KB)")
	sessions := fs.Int("sessions", 0, "token sessions (default: the hsm default; 1 for a USB token)")
	workers := fs.Int("workers", 0, "documents in progress in the PDF rounds (default: sessions + 1, so one is prepared while each session signs)")
	callers := fs.Int("token-callers", 0, "callers in the raw rounds (default: the better of one per session and as many as --workers)")
	seconds := fs.Float64("seconds", 10, "how long to measure, both kinds of rounds together")
	fs.BoolVar(&f.jsonOut, "json", false, `print {"token_signatures_per_second": X, "pdf_signatures_per_second": Y, "ratio": Y/X, ...}`)
	rest, err := parseInterspersed(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	fail := func(msg string) int {
		fmt.Fprintf(e.Stderr, "lienthong pdf bench: %s\n", msg)
		return exitUsage
	}
	switch {
	case len(rest) > 0:
		return fail(fmt.Sprintf("unexpected argument %q", rest[0]))
	case f.key == "":
		fs.Usage()
		return fail("--key is required")
	case *workers < 0 || *sessions < 0 || *callers < 0:
		return fail("--workers, --sessions and --token-callers must not be negative")
	case !(*seconds > 0):
		return fail("--seconds must be positive")
	case f.image != "" && f.rect == "":
		return fail("--image needs --page and --rect x1,y1,x2,y2")
	}
	in, err := readBenchInput(f.in)
	if err != nil {
		return pdfSignFail(e, "pdf bench", err)
	}
	var keyOpts []hsm.Option
	if *sessions > 0 {
		keyOpts = append(keyOpts, hsm.WithPoolSize(*sessions))
	}
	o, closeKey, err := pdfSignOptions(ctx, f, keyOpts...)
	if err != nil {
		return pdfSignFail(e, "pdf bench", err)
	}
	defer closeKey()
	if o.Revocation != nil {
		// As in pdf sign-batch: one signer, one chain, so the CA is asked once, not per signature.
		o.Revocation = pades.CachedRevocation(o.Revocation, 10*time.Minute, nil)
	}
	res := pdfBenchResult{PDFBytes: len(in), Level: string(o.Level), Key: keyName(o.Signer.Public())}
	signers := runtime.GOMAXPROCS(0) // a key in a file signs on the CPUs
	if k, ok := o.Signer.(*hsm.Key); ok {
		res.Sessions, res.Token, signers = k.PoolSize(), k.TokenLabel(), k.PoolSize()
	}
	res.Workers = *workers
	if res.Workers == 0 {
		res.Workers = signers + 1
	}
	// The token's own rate is the better of one caller per session (nothing queues) and as many callers
	// as PDF workers (the key's queue keeps every session busy); which is better depends on the token
	// and the machine, so both are measured in the same rounds.
	raw := []*tokenRate{{Callers: signers}}
	if res.Workers != signers {
		raw = append(raw, &tokenRate{Callers: res.Workers})
	}
	if *callers > 0 {
		raw = []*tokenRate{{Callers: *callers}}
	}

	if err := benchPreflight(ctx, in, o); err != nil {
		return pdfSignFail(e, "pdf bench", err)
	}
	digest := sha256.Sum256([]byte("lienthong pdf bench"))
	tokenSign := func() error {
		_, err := o.Signer.Sign(rand.Reader, digest[:], crypto.SHA256)
		return err
	}
	pdfSign := func() error {
		_, err := pades.Sign(ctx, bytes.NewReader(in), int64(len(in)), io.Discard, o)
		return err
	}
	round, err := benchRoundLength(tokenSign)
	if err != nil {
		return pdfSignFail(e, "pdf bench", err)
	}
	res.RoundSeconds = round.Seconds()

	var tPDF, cPDF time.Duration
	tokenRound := func(reverse bool) error {
		for i := range raw {
			r := raw[i]
			if reverse {
				r = raw[len(raw)-1-i]
			}
			c0 := cpuTime()
			n, d, err := benchRound(r.Callers, round, tokenSign)
			r.n, r.t, r.cpu = r.n+n, r.t+d, r.cpu+cpuTime()-c0
			if err != nil {
				return err
			}
		}
		return nil
	}
	pdfRound := func() error {
		c0 := cpuTime()
		n, d, err := benchRound(res.Workers, round, pdfSign)
		res.PDFSignatures, tPDF, cPDF = res.PDFSignatures+n, tPDF+d, cPDF+cpuTime()-c0
		return err
	}
	total := time.Duration(*seconds * float64(time.Second))
	start := time.Now()
	for res.Rounds == 0 || time.Since(start) < total {
		if ctx.Err() != nil {
			return pdfSignFail(e, "pdf bench", apperr.Wrap(apperr.Unavailable, "interrupted", "interrupted", ctx.Err()))
		}
		// Raw rounds then PDF in even rounds, the mirror order in odd ones, so whatever one round
		// leaves to the next (caches, the scheduler's state) falls on every kind alike.
		var err error
		if res.Rounds%2 == 0 {
			if err = tokenRound(false); err == nil {
				err = pdfRound()
			}
		} else {
			if err = pdfRound(); err == nil {
				err = tokenRound(true)
			}
		}
		if err != nil {
			return pdfSignFail(e, "pdf bench", err)
		}
		res.Rounds++
	}
	res.Seconds = time.Since(start).Seconds()
	if res.PDFSignatures == 0 || tPDF <= 0 {
		return pdfSignFail(e, "pdf bench", apperr.New(apperr.Internal, "bench_empty", "no signature was measured"))
	}
	var best *tokenRate
	for _, r := range raw {
		if r.n == 0 || r.t <= 0 {
			return pdfSignFail(e, "pdf bench", apperr.New(apperr.Internal, "bench_empty", "no signature was measured"))
		}
		r.SignaturesPerSecond = float64(r.n) / r.t.Seconds()
		res.TokenRates = append(res.TokenRates, *r)
		if best == nil || r.SignaturesPerSecond > best.SignaturesPerSecond {
			best = r
		}
	}
	res.TokenCallers, res.TokenSignatures, res.TokenSignaturesPerSecond = best.Callers, best.n, best.SignaturesPerSecond
	res.TokenCPUMicros = float64(best.cpu.Microseconds()) / float64(best.n)
	res.PDFSignaturesPerSecond = float64(res.PDFSignatures) / tPDF.Seconds()
	res.Ratio = res.PDFSignaturesPerSecond / res.TokenSignaturesPerSecond
	res.PDFCPUMicros = float64(cPDF.Microseconds()) / float64(res.PDFSignatures)

	if f.jsonOut {
		b, err := json.Marshal(res)
		if err != nil {
			return pdfSignFail(e, "pdf bench", err)
		}
		fmt.Fprintln(e.Stdout, string(b))
		return exitOK
	}
	on := "in a file"
	if res.Token != "" {
		on = fmt.Sprintf("on token %q, %d session(s)", res.Token, res.Sessions)
	}
	fmt.Fprintf(e.Stdout, "key %s %s: %.1f signatures/s with %d caller(s), %.0f µs CPU each\n",
		res.Key, on, res.TokenSignaturesPerSecond, res.TokenCallers, res.TokenCPUMicros)
	fmt.Fprintf(e.Stdout, "PDF of %d bytes, %s: %.1f signatures/s with %d worker(s), %.0f µs CPU each\n",
		res.PDFBytes, res.Level, res.PDFSignaturesPerSecond, res.Workers, res.PDFCPUMicros)
	fmt.Fprintf(e.Stdout, "pdf/token %.3f (%d rounds of %.2f s each way, %.1f s)\n",
		res.Ratio, res.Rounds, res.RoundSeconds, res.Seconds)
	return exitOK
}

// readBenchInput reads --in, or makes the default one-page PDF.
func readBenchInput(path string) ([]byte, error) {
	if path == "" {
		return demo.MakePDF("lienthong pdf bench", 0), nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, "pades_input", "cannot read the input PDF "+path, err)
	}
	if st.Size() > pdfBenchMaxInput {
		return nil, apperr.New(apperr.Invalid, "pades_input", fmt.Sprintf("%s has %d bytes; pdf bench signs from memory and takes at most %d (pdf sign streams any size)", path, st.Size(), pdfBenchMaxInput))
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, "pades_input", "cannot read the input PDF "+path, err)
	}
	return b, nil
}

// benchPreflight signs once and verifies the result, so the rounds measure signatures that hold: an
// input the signer refuses is reported before anything is timed.
func benchPreflight(ctx context.Context, in []byte, o pades.Options) error {
	var out bytes.Buffer
	if _, err := pades.Sign(ctx, bytes.NewReader(in), int64(len(in)), &out, o); err != nil {
		return err
	}
	rep, err := verify.PDF(ctx, bytes.NewReader(out.Bytes()), int64(out.Len()), verify.Options{})
	if err != nil {
		return apperr.Wrap(apperr.Internal, "bench_verify", "the signed PDF cannot be read back", err)
	}
	if len(rep.Signatures) == 0 {
		return apperr.New(apperr.Internal, "bench_verify", "the signed PDF shows no signature")
	}
	// No trust anchors are given, so the chain stays INDETERMINATE; a failure is the signature itself.
	if s := rep.Signatures[len(rep.Signatures)-1]; s.Indication == verify.TotalFailed {
		return apperr.New(apperr.Internal, "bench_verify", fmt.Sprintf("the PDF signature made by this key fails verification (%s)", s.SubIndication))
	}
	return nil
}

// benchRoundLength times a few of the key's own signatures and makes a round about twenty of them
// long, at least 0.1 s: long enough that a round's start and end are small against it, short enough
// that both kinds of rounds see the same load.
func benchRoundLength(sign func() error) (time.Duration, error) {
	var ds []time.Duration
	for range 3 {
		t0 := time.Now()
		if err := sign(); err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(t0))
	}
	slices.Sort(ds)
	return max(100*time.Millisecond, 20*ds[1]), nil
}

// benchRound runs f in workers goroutines, each starting calls until d has passed since the round
// began; calls running at that moment finish and count, and the round's time runs until the last
// one ends. A garbage collection at the end is part of the round, so each kind of round pays for the
// garbage it made instead of leaving it to the next round. The first error stops the round.
func benchRound(workers int, d time.Duration, f func() error) (int64, time.Duration, error) {
	var (
		n        atomic.Int64
		stop     atomic.Bool
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() && time.Since(start) < d {
				if err := f(); err != nil {
					once.Do(func() { firstErr = err })
					stop.Store(true)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	runtime.GC()
	return n.Load(), time.Since(start), firstErr
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	u, s := cpuTimes()
	return u + s
}
