package demo

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/lienthong/lienthong/exchange/delivery"
	"github.com/lienthong/lienthong/exchange/edxml"
)

// BenchmarkExchangeFloor measures the least work any implementation must do per packet in
// BenchmarkExchange's setting, written with the standard library alone, and River's no-op job rate
// with the same settings in the same run. It answers whether the second speed target (packets
// per second ≥ 50 % of the no-op job rate) can be met on this machine at all: the floor's rate is an
// upper bound for any design, since every real design does at least this much and more.
//
// The floor per packet: the sender POSTs the 162 KB packet from memory over loopback HTTP; the hub
// reads it and appends it to a file (store and forward: the hub must keep what it forwards); the
// recipient GETs it, hashes the raw bytes (the evidence digest), decodes the base64 attachment, hashes
// the PDF and verifies one ECDSA P-256 signature (every packet verified), and appends the raw bytes
// to its own file (the raw packet kept as evidence). Left out, so the floor stays a lower bound: any
// database (no outbox, inbox, receipt or status rows), River itself, the sender's copy of the packet,
// XML parsing, certificate-chain checks, status messages back, fsync, TLS and authentication.
// NOSTORE=1 also leaves out both file writes; FLOOR_PACKETS sets the number of packets (3,000).
//
//	go test -run '^$' -bench ExchangeFloor -benchtime 1x ./exchange/demo/
func BenchmarkExchangeFloor(b *testing.B) {
	packets := 3000 // enough for steady state on both sides (make bench's PACKETS is for BenchmarkExchange)
	if v, err := strconv.Atoi(os.Getenv("FLOOR_PACKETS")); err == nil && v > 0 {
		packets = v
	}
	pdf, _ := signedPDF(b, 100<<10) // the same signed PDF as BenchmarkExchange's packets carry
	pkt := edxml.NewEdoc(edxml.Document{From: edxml.Organ{OrganID: "000.00.00.H53", OrganName: "UBND tỉnh"},
		To: []edxml.Organ{{OrganID: "000.00.02.H53"}}, Code: edxml.Code{CodeNumber: "1", CodeNotation: "UBND"},
		Date: time.Now(), TypeCode: "1", TypeName: "Công văn", Subject: "Văn bản 1",
		Files: []edxml.Attachment{{Name: "vb.pdf", ContentType: "application/pdf", Data: pdf}}})
	raw, err := pkt.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	b64 := []byte(base64.StdEncoding.EncodeToString(pdf))
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	attrs := sha256.Sum256([]byte("signed attributes"))
	sig, err := ecdsa.SignASN1(rand.Reader, key, attrs[:])
	if err != nil {
		b.Fatal(err)
	}

	dir := b.TempDir()
	hubFile, err := os.Create(filepath.Join(dir, "hub"))
	if err != nil {
		b.Fatal(err)
	}
	defer hubFile.Close()
	evidence, err := os.Create(filepath.Join(dir, "evidence"))
	if err != nil {
		b.Fatal(err)
	}
	defer evidence.Close()
	var hubEnd, evEnd atomic.Int64
	// NOSTORE=1 drops both file writes, to show the bound does not hinge on storage.
	store := os.Getenv("NOSTORE") != "1"
	if !store {
		if _, err := hubFile.WriteAt(raw, 0); err != nil {
			b.Fatal(err)
		}
	}
	bufs := sync.Pool{New: func() any { b := make([]byte, len(raw)); return &b }}

	mux := http.NewServeMux()
	mux.HandleFunc("POST /p", func(w http.ResponseWriter, r *http.Request) {
		bp := bufs.Get().(*[]byte)
		defer bufs.Put(bp)
		buf := (*bp)[:r.ContentLength]
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		off := hubEnd.Add(int64(len(buf))) - int64(len(buf))
		if !store { // keep the bytes the recipient will fetch at offset 0
			off = 0
		} else if _, err := hubFile.WriteAt(buf, off); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Write(strconv.AppendInt(nil, off, 10))
	})
	mux.HandleFunc("GET /p/{off}", func(w http.ResponseWriter, r *http.Request) {
		off, _ := strconv.ParseInt(r.PathValue("off"), 10, 64)
		bp := bufs.Get().(*[]byte)
		defer bufs.Put(bp)
		buf := *bp
		if _, err := hubFile.ReadAt(buf, off); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(buf)))
		w.Write(buf)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

	one := func(dec []byte) error {
		resp, err := client.Post(srv.URL+"/p", "application/xml", bytes.NewReader(raw))
		if err != nil {
			return err
		}
		ref, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			return fmt.Errorf("push: %d %s %v", resp.StatusCode, ref, err)
		}
		resp, err = client.Get(srv.URL + "/p/" + string(ref))
		if err != nil {
			return err
		}
		bp := bufs.Get().(*[]byte)
		defer bufs.Put(bp)
		buf := *bp
		_, err = io.ReadFull(resp.Body, buf)
		resp.Body.Close()
		if err != nil {
			return err
		}
		digest := sha256.Sum256(buf)
		keep(digest[:])
		n, err := base64.StdEncoding.Decode(dec, b64)
		if err != nil {
			return err
		}
		md := sha256.Sum256(dec[:n])
		keep(md[:])
		if !ecdsa.VerifyASN1(&key.PublicKey, attrs[:], sig) {
			return fmt.Errorf("signature does not verify")
		}
		if !store {
			return nil
		}
		off := evEnd.Add(int64(len(buf))) - int64(len(buf))
		_, err = evidence.WriteAt(buf, off)
		return err
	}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}

	b.ResetTimer()
	start, c0 := time.Now(), cpu()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			dec := make([]byte, len(pdf)+3)
			for next.Add(1) <= int64(packets) {
				if err := one(dec); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed, used := time.Since(start), cpu()-c0
	// The timer keeps running through the no-op peer, so the run takes well over the default
	// -benchtime and the testing package does not call it again with a larger b.N.
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	floor := float64(packets) / elapsed.Seconds()

	np, _ := benchPool(b, 40)
	if err := delivery.Migrate(b.Context(), np); err != nil {
		b.Fatal(err)
	}
	noop := noopRate(b, np, 5*packets)
	b.ReportMetric(floor, "floor-packets/s")
	b.ReportMetric(float64(used.Microseconds())/float64(packets), "floor-cpu-µs/packet")
	b.ReportMetric(noop, "river_noop_jobs/s")
	b.ReportMetric(100*floor/noop, "max_%_of_noop")
	fmt.Fprintf(os.Stderr, "exchange floor: %d packets of %d bytes in %v: %.0f packets/s, %.0f µs CPU per packet; River no-op %.0f jobs/s; the floor reaches %.1f%% of it (target 50%%)\n",
		packets, len(raw), elapsed.Round(time.Millisecond), floor, float64(used.Microseconds())/float64(packets), noop, 100*floor/noop)
}

var keepSink byte

// keep stops the compiler from dropping a digest nobody reads.
func keep(p []byte) { keepSink ^= p[0] }
