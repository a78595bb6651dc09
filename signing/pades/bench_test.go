package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509/pkix"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/hsmtest"
	"github.com/lienthong/lienthong/signing/cms/tsp"
	"github.com/lienthong/lienthong/signing/cms/tsp/tsptest"
)

// The benchmarks compare signing a small PDF with the token's own signing rate, in the same run and
// with the same SoftHSM key and parallelism (go test -bench . -cpu 1,2 ./signing/pades/).

func benchKey(b *testing.B, opts ...hsm.Option) (*hsm.Key, Options) {
	iss := hsmtest.Issue(b, hsm.RSA2048, pkix.Name{CommonName: "Bench Signer"})
	k := hsmtest.Open(b, iss.URI, opts...)
	return k, Options{Signer: k, Chain: iss.Chain(), Now: time.Now}
}

func BenchmarkTokenSignRSA2048(b *testing.B) {
	k, _ := benchKey(b)
	d := sha256.Sum256([]byte("digest"))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := k.Sign(nil, d[:], crypto.SHA256); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sig/s")
}

func BenchmarkSignSmallPDFRSA2048(b *testing.B) {
	_, o := benchKey(b)
	in, err := os.ReadFile(filepath.Join(corpus, "classic.pdf"))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), io.Discard, o); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sig/s")
}

// BenchmarkSign40MiB signs a 40 MiB incompressible file into a file (in-memory key, so the figure is
// I/O and hashing); compare with sha256sum in docs/bench-signing.md.
func BenchmarkSign40MiB(b *testing.B) {
	p := setupPKI(&testing.T{})
	dir := b.TempDir()
	in := filepath.Join(dir, "large.pdf")
	size := writeLargePDF(b, in, 40)
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := SignFile(context.Background(), in, filepath.Join(dir, "out.pdf"), opts(p.leader)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSmallPDFVsToken alternates rounds of raw token signatures and small-PDF signatures with
// the same key and worker count, so load from other processes hits both alike; it reports both
// rates and their ratio (the target is pdf/token >= 0.9).
func BenchmarkSmallPDFVsToken(b *testing.B) {
	k, o := benchKey(b)
	w := max(1, k.PoolSize())
	vsToken(b, k, o, w, w)
}

// BenchmarkSmallPDFVsTokenOneSession is the same comparison for a token with one session, as a
// leader's USB token is configured (hsm.WithPoolSize(1)). The raw rounds are one caller signing back
// to back, which keeps the session busy all the time (the token's best rate); the PDF rounds have two
// workers, one preparing or finishing its PDF while the other's signature is on the token, which is
// how a batch of documents is signed with one token.
func BenchmarkSmallPDFVsTokenOneSession(b *testing.B) {
	k, o := benchKey(b, hsm.WithPoolSize(1))
	vsToken(b, k, o, 1, 2)
}

func vsToken(b *testing.B, k *hsm.Key, o Options, tokenWorkers, pdfWorkers int) {
	in, err := os.ReadFile(filepath.Join(corpus, "classic.pdf"))
	if err != nil {
		b.Fatal(err)
	}
	d := sha256.Sum256([]byte("digest"))
	const perRound = 100
	round := func(workers int, f func() error) time.Duration {
		start := time.Now()
		done := make(chan error, workers)
		for w := 0; w < workers; w++ {
			go func() {
				var err error
				for i := 0; i < perRound/workers && err == nil; i++ {
					err = f()
				}
				done <- err
			}()
		}
		for w := 0; w < workers; w++ {
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}
		// Each round pays for collecting its own garbage, rather than the next round (of the other
		// kind) paying for it.
		runtime.GC()
		return time.Since(start)
	}
	token := func() error { _, err := k.Sign(nil, d[:], crypto.SHA256); return err }
	pdfSign := func() error {
		_, err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), io.Discard, o)
		return err
	}
	// Process CPU time (user+sys, SoftHSM runs in-process) per round is steadier than wall time when
	// other processes load the machine: its ratio is the throughput ratio on a CPU-bound host.
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	var tTok, tPDF, cTok, cPDF time.Duration
	b.ResetTimer()
	tokenRound := func() {
		c0 := cpu()
		tTok += round(tokenWorkers, token)
		cTok += cpu() - c0
	}
	pdfRound := func() {
		c0 := cpu()
		tPDF += round(pdfWorkers, pdfSign)
		cPDF += cpu() - c0
	}
	for i := 0; i < b.N; i++ {
		// Alternate which kind goes first, so what a round leaves behind falls on both alike.
		if i%2 == 0 {
			tokenRound()
			pdfRound()
		} else {
			pdfRound()
			tokenRound()
		}
	}
	n := float64(b.N * perRound)
	b.ReportMetric(n/tTok.Seconds(), "token-sig/s")
	b.ReportMetric(n/tPDF.Seconds(), "pdf-sig/s")
	b.ReportMetric(tTok.Seconds()/tPDF.Seconds(), "pdf/token")
	b.ReportMetric(float64(cTok.Microseconds())/n, "token-cpu-µs/sig")
	b.ReportMetric(float64(cPDF.Microseconds())/n, "pdf-cpu-µs/sig")
	b.ReportMetric(cTok.Seconds()/cPDF.Seconds(), "pdf/token-cpu")
}

// BenchmarkSignSmallPDFOverhead signs with an in-memory P-256 key (~20 µs), so the figure is
// almost all PDF and CMS work: the per-signature overhead added to a token's own time.
func BenchmarkSignSmallPDFOverhead(b *testing.B) {
	signSmallPDF(b, opts(setupPKI(&testing.T{}).ecdsa))
}

// signSmallPDF signs classic.pdf b.N times with o, reporting allocations.
func signSmallPDF(b *testing.B, o Options) {
	in, err := os.ReadFile(filepath.Join(corpus, "classic.pdf"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := Sign(context.Background(), bytes.NewReader(in), int64(len(in)), io.Discard, o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTokenWithGoWork measures what any Go work between token calls costs in the setting of
// BenchmarkSmallPDFVsToken (same key, same workers): rounds of raw token signatures alternate with
// rounds where each signature is preceded by spin iterations of allocation-free arithmetic. The
// delta-cpu-µs metric is the extra process CPU per signature; compare it with the arithmetic's own
// time (spin-µs, measured alone) to see how much dearer work interleaved with the token is.
func BenchmarkTokenWithGoWork(b *testing.B) {
	for _, spin := range []int{25_000, 100_000} {
		b.Run(strconv.Itoa(spin), func(b *testing.B) { benchTokenWithGoWork(b, spin) })
	}
}

var spinSink uint64

func spinWork(n int) {
	x := uint64(1)
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	spinSink += x
}

func benchTokenWithGoWork(b *testing.B, spin int) {
	k, _ := benchKey(b)
	d := sha256.Sum256([]byte("digest"))
	workers := max(1, k.PoolSize())
	const perRound = 100
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	round := func(spin int) time.Duration {
		c0 := cpu()
		done := make(chan error, workers)
		for w := 0; w < workers; w++ {
			go func() {
				var err error
				for i := 0; i < perRound/workers && err == nil; i++ {
					spinWork(spin)
					_, err = k.Sign(nil, d[:], crypto.SHA256)
				}
				done <- err
			}()
		}
		for w := 0; w < workers; w++ {
			if err := <-done; err != nil {
				b.Fatal(err)
			}
		}
		return cpu() - c0
	}
	start := time.Now()
	for i := 0; i < 200; i++ {
		spinWork(spin)
	}
	spinAlone := time.Since(start) / 200
	var plain, with time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		plain += round(0)
		with += round(spin)
	}
	n := float64(b.N * (perRound / workers) * workers)
	b.ReportMetric(float64(spinAlone.Nanoseconds())/1e3, "spin-µs")
	b.ReportMetric(float64(plain.Microseconds())/n, "token-cpu-µs/sig")
	b.ReportMetric(float64((with-plain).Microseconds())/n, "delta-cpu-µs/sig")
}

// cannedSigner answers every request for the same digest with the signature it made the first time,
// so a benchmark with a fixed clock measures the PDF and CMS work around an RSA token and nothing of
// the RSA private-key operation itself.
type cannedSigner struct {
	crypto.Signer
	digest, sig []byte
}

func (c *cannedSigner) Sign(r io.Reader, digest []byte, o crypto.SignerOpts) ([]byte, error) {
	if c.sig != nil && bytes.Equal(digest, c.digest) {
		return c.sig, nil
	}
	sig, err := c.Signer.Sign(r, digest, o)
	c.digest, c.sig = append([]byte(nil), digest...), sig
	return sig, err
}

// BenchmarkSignSmallPDFOverheadRSA2048 is the per-signature work a small PDF adds to an RSA-2048
// token's own time (PDF, CMS, the check of the fresh signature), with the private-key operation
// taken out.
func BenchmarkSignSmallPDFOverheadRSA2048(b *testing.B) {
	p := setupPKI(&testing.T{})
	o := opts(p.leader)
	o.Signer = &cannedSigner{Signer: p.leader.Key}
	signSmallPDF(b, o)
}

// BenchmarkTimestamp40MiB adds a document timestamp (in-process TSA) to a 40 MiB file: the file is
// read twice (hashed for the token, then copied), never held in memory. Peer: sha256sum over the file
// (docs/bench-signing.md).
func BenchmarkTimestamp40MiB(b *testing.B) {
	p := setupPKI(&testing.T{})
	srv, err := tsptest.New(tsptest.Options{Root: p.root})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	dir := b.TempDir()
	in := filepath.Join(dir, "large.pdf")
	size := writeLargePDF(b, in, 40)
	o := TimestampOptions{TSA: (&tsp.Client{URL: srv.URL}).Timestamp}
	b.SetBytes(size)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := TimestampFile(context.Background(), in, filepath.Join(dir, "out.pdf"), o); err != nil {
			b.Fatal(err)
		}
	}
}
