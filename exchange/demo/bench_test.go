package demo

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/lienthong/lienthong/exchange/axis"
	"github.com/lienthong/lienthong/exchange/blobs"
	"github.com/lienthong/lienthong/exchange/delivery"
	"github.com/lienthong/lienthong/exchange/edxml"
	"github.com/lienthong/lienthong/exchange/hub"
	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/softhsm"
	"github.com/lienthong/lienthong/internal/pgtest"
	"github.com/lienthong/lienthong/signing/pades"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type countingFiler struct{ n atomic.Int64 }

func (f *countingFiler) FileTx(ctx context.Context, tx pgx.Tx, in delivery.Incoming) (string, error) {
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO bench_filed (sender, document_id) VALUES ($1, $2) RETURNING id`,
		in.Packet.Header.From.OrganID, in.Packet.Header.DocumentID).Scan(&id)
	if err == nil {
		f.n.Add(1)
	}
	return strconv.FormatInt(id, 10), err
}

func benchPool(tb testing.TB, max int32) (*pgxpool.Pool, string) {
	url := pgtest.NewDatabase(tb)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.MaxConns = max
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Close)
	return p, url
}

// signedPDF makes a ~100 KB PDF signed on a SoftHSM token, and the CA that verifies it.
func signedPDF(tb testing.TB, size int) ([]byte, *x509.CertPool) {
	ctx := context.Background()
	store, err := softhsm.Setup(tb.TempDir())
	if err != nil {
		tb.Skipf("SoftHSM: %v", err)
	}
	tok, err := store.NewToken(ctx, "bench")
	if err != nil {
		tb.Fatal(err)
	}
	ca, err := softhsm.NewCA("Bench CA")
	if err != nil {
		tb.Fatal(err)
	}
	iss, err := tok.IssueKey(ctx, "seal", []byte{1}, hsm.ECP256, ca, pkix.Name{CommonName: "UBND tỉnh"})
	if err != nil {
		tb.Fatal(err)
	}
	key, err := hsm.Open(ctx, iss.URI)
	if err != nil {
		tb.Fatal(err)
	}
	defer key.Close()
	pdf := MakePDF("bench", size)
	var out bytes.Buffer
	if _, err := pades.Sign(ctx, bytes.NewReader(pdf), int64(len(pdf)), &out, pades.Options{Signer: key, Chain: iss.Chain()}); err != nil {
		tb.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	return out.Bytes(), roots
}

// nodeSettings are the River settings shared by our nodes and the no-op baseline.
const (
	benchWorkers  = 100
	benchCooldown = 5 * time.Millisecond
	benchPoll     = 50 * time.Millisecond
)

// BenchmarkExchange measures, in one run: (1) packets per second end to end — 100 KB signed PDFs
// enqueued at node A, pushed through the reference axis over HTTP, pulled by node B, parsed, validated,
// signature-verified, filed once and answered with status 01 — and (2) River's no-op job rate with the
// same client settings on the same server. Run with: make bench, or
//
//	go test -run '^$' -bench Exchange -benchtime 1x ./exchange/demo/
//
// PACKETS (default 1000) sets the batch size.
func BenchmarkExchange(b *testing.B) {
	packets := 1000
	if v, err := strconv.Atoi(os.Getenv("PACKETS")); err == nil && v > 0 {
		packets = v
	}
	ctx := context.Background()
	pdf, roots := signedPDF(b, 100<<10)

	// Small pools: on 2 cores every extra PostgreSQL backend costs CPU (its own page faults on shared
	// buffers, scheduling), and the run is CPU-bound. 60 + 2×120 connections took 17 s for 300 packets,
	// 8 + 2×12 take 7 s on the same idle machine; workers wait for a connection instead.
	hp, _ := benchPool(b, 8)
	// Packet bytes go to file stores, as we recommend at volume. The test cluster runs with fsync off, so
	// the stores do not sync either unless SYNC=1 (then every stored packet is fsynced with its folder).
	sync := os.Getenv("SYNC") == "1"
	store := func() *blobs.Store {
		s, err := blobs.Open(b.TempDir(), sync)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	h, err := hub.Open(ctx, hp, hub.Config{Packets: store()})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewServer(h.Handler())
	defer srv.Close()
	filer := &countingFiler{}
	nodes := map[string]*delivery.Node{}
	pools := map[string]*pgxpool.Pool{}
	for _, code := range []string{"000.00.00.H53", "000.00.02.H53"} {
		tok := hub.NewToken()
		// Each node serves the push endpoint and the hub notifies it when packets wait, as a deployment
		// that wants low latency is configured (the periodic pull remains the safety net).
		var node *delivery.Node
		push := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if node == nil {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
			node.PushHandler().ServeHTTP(w, r)
		}))
		defer push.Close()
		if err := h.AddNode(ctx, code, code, tok, push.URL); err != nil {
			b.Fatal(err)
		}
		p, _ := benchPool(b, 12)
		if err := delivery.Migrate(ctx, p); err != nil {
			b.Fatal(err)
		}
		if _, err := p.Exec(ctx, `CREATE TABLE bench_filed (id bigserial PRIMARY KEY, sender text, document_id text)`); err != nil {
			b.Fatal(err)
		}
		tr := &http.Transport{MaxIdleConnsPerHost: 200}
		n, err := delivery.New(ctx, p, delivery.Config{Org: code, Filer: filer, Verifier: PDFVerifier{Roots: roots},
			Axis:         &axis.Reference{BaseURL: srv.URL, Token: tok, Client: &http.Client{Transport: tr, Timeout: 30 * time.Second}},
			PullInterval: 100 * time.Millisecond, Workers: benchWorkers, InWorkers: 64, Packets: store(),
			FetchCooldown: benchCooldown, FetchPollInterval: benchPoll})
		if err != nil {
			b.Fatal(err)
		}
		nodes[code], pools[code] = n, p
		node = n
	}
	a, rcv := nodes["000.00.00.H53"], nodes["000.00.02.H53"]
	// Packets are built before the clock starts (building is the issuing transaction's job).
	var ds []delivery.Delivery
	for i := 0; i < packets; i++ {
		p := edxml.NewEdoc(edxml.Document{From: edxml.Organ{OrganID: "000.00.00.H53", OrganName: "UBND tỉnh"},
			To: []edxml.Organ{{OrganID: "000.00.02.H53"}}, Code: edxml.Code{CodeNumber: strconv.Itoa(i + 1), CodeNotation: "UBND"},
			Date: time.Now(), TypeCode: "1", TypeName: "Công văn", Subject: "Văn bản " + strconv.Itoa(i+1),
			Files: []edxml.Attachment{{Name: "vb.pdf", ContentType: "application/pdf", Data: pdf}}})
		raw, err := p.Marshal()
		if err != nil {
			b.Fatal(err)
		}
		ds = append(ds, delivery.Delivery{MessageID: delivery.MessageID("000.00.00.H53", p.Header.DocumentID, "000.00.02.H53", "edoc:0"),
			Sender: "000.00.00.H53", Recipient: "000.00.02.H53", DocumentID: p.Header.DocumentID, Kind: edxml.KindEdoc, Packet: raw})
	}
	b.ResetTimer()
	start := time.Now()
	for _, n := range nodes {
		if err := n.Start(ctx); err != nil {
			b.Fatal(err)
		}
		defer n.Stop(context.Background())
	}
	for i := 0; i < len(ds); i += 100 {
		batch := ds[i:min(i+100, len(ds))]
		if err := pgx.BeginFunc(ctx, pools["000.00.00.H53"], func(tx pgx.Tx) error { return a.EnqueueTx(ctx, tx, batch) }); err != nil {
			b.Fatal(err)
		}
	}
	enqueued := time.Since(start)
	deadline := time.Now().Add(10 * time.Minute)
	var pushed time.Duration
	for filer.n.Load() < int64(packets) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if pushed == 0 {
			var sent int
			_ = pools["000.00.00.H53"].QueryRow(ctx, `SELECT count(*) FROM exchange_outbox WHERE state = 'sent' AND kind = 'edoc'`).Scan(&sent)
			if sent == packets {
				pushed = time.Since(start)
			}
		}
	}
	e2e := time.Since(start)
	b.StopTimer()
	if got := filer.n.Load(); got != int64(packets) {
		b.Fatalf("filed %d of %d", got, packets)
	}
	_ = rcv
	rate := float64(packets) / e2e.Seconds()

	if os.Getenv("NOOP") == "0" { // CPU accounting runs (docs/bench-exchange.md) skip the peer
		b.ReportMetric(rate, "packets/s")
		fmt.Fprintf(os.Stderr, "exchange: %d packets of %d bytes end to end in %v: %.1f packets/s\n", packets, len(ds[0].Packet), e2e.Round(time.Millisecond), rate)
		return
	}
	// River's no-op rate with the same settings, same server, measured right after.
	np, _ := benchPool(b, 40)
	if err := delivery.Migrate(ctx, np); err != nil {
		b.Fatal(err)
	}
	noop := noopRate(b, np, packets*5)
	b.ReportMetric(rate, "packets/s")
	b.ReportMetric(noop, "river_noop_jobs/s")
	b.ReportMetric(100*rate/noop, "%_of_noop")
	fmt.Fprintf(os.Stderr, "exchange: %d packets of %d bytes end to end in %v (all enqueued after %v, all accepted by the axis after %v): %.1f packets/s; River no-op: %.0f jobs/s; ratio %.1f%%\n",
		packets, len(ds[0].Packet), e2e.Round(time.Millisecond), enqueued.Round(time.Millisecond), pushed.Round(time.Millisecond), rate, noop, 100*rate/noop)
}

type noopArgs struct {
	N int `json:"n"`
}

func (noopArgs) Kind() string { return "bench_noop" }

func noopRate(b *testing.B, pool *pgxpool.Pool, jobs int) float64 {
	ctx := context.Background()
	var done atomic.Int64
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(func(ctx context.Context, j *river.Job[noopArgs]) error { done.Add(1); return nil }))
	c, err := river.NewClient(riverpgxv5.New(pool), &river.Config{Workers: workers,
		Queues:        map[string]river.QueueConfig{delivery.QueueOutbound: {MaxWorkers: benchWorkers}},
		FetchCooldown: benchCooldown, FetchPollInterval: benchPoll, CompletedJobRetentionPeriod: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	var params []river.InsertManyParams
	for i := 0; i < jobs; i++ {
		params = append(params, river.InsertManyParams{Args: noopArgs{N: i}, InsertOpts: &river.InsertOpts{Queue: delivery.QueueOutbound}})
	}
	for i := 0; i < len(params); i += 1000 {
		if _, err := c.InsertMany(ctx, params[i:min(i+1000, len(params))]); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	if err := c.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer c.Stop(context.Background())
	for done.Load() < int64(jobs) {
		time.Sleep(5 * time.Millisecond)
	}
	return float64(jobs) / time.Since(start).Seconds()
}
