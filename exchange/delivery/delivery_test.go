package delivery

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/exchange/axis"
	"github.com/lienthong/lienthong/exchange/blobs"
	"github.com/lienthong/lienthong/exchange/edxml"
	"github.com/lienthong/lienthong/exchange/hub"
	"github.com/lienthong/lienthong/internal/pgtest"
)

func TestMain(m *testing.M) {
	if os.Getenv("DELIVERY_TEST_WORKER_DB") != "" {
		workerProcess() // never returns: the parent test kills it
	}
	pgtest.Main(m)
}

// workerProcess is a delivery worker in its own process, for the kill test.
func workerProcess() {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, os.Getenv("DELIVERY_TEST_WORKER_DB"))
	if err != nil {
		os.Exit(3)
	}
	n, err := New(ctx, pool, Config{Org: os.Getenv("DELIVERY_TEST_ORG"), PullInterval: -1, Workers: 4,
		Axis:          &axis.Reference{BaseURL: os.Getenv("DELIVERY_TEST_HUB"), Token: os.Getenv("DELIVERY_TEST_TOKEN")},
		Backoff:       Backoff{Base: 50 * time.Millisecond, Cap: 200 * time.Millisecond},
		FetchCooldown: 20 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond,
		JobTimeout: time.Second, RescueAfter: time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	if err := n.Start(ctx); err != nil {
		os.Exit(3)
	}
	select {}
}

type testFiler struct{}

func (testFiler) RecallIncomingTx(ctx context.Context, tx pgx.Tx, to, sender, documentID, reason string) (string, error) {
	_, err := tx.Exec(ctx, `UPDATE test_filed SET recalled = true WHERE recipient = $1 AND sender = $2 AND document_id = $3`, to, sender, documentID)
	return "", err
}

func (testFiler) FileTx(ctx context.Context, tx pgx.Tx, in Incoming) (string, error) {
	var id int64
	err := tx.QueryRow(ctx, `INSERT INTO test_filed (recipient, sender, document_id) VALUES ($1, $2, $3) RETURNING id`,
		in.To, in.Packet.Header.From.OrganID, in.Packet.Header.DocumentID).Scan(&id)
	return strconv.FormatInt(id, 10), err
}

type env struct {
	t      *testing.T
	hub    *hub.Hub
	srv    *httptest.Server
	faults *hub.Faults
	nodes  map[string]*Node
	pools  map[string]*pgxpool.Pool
	tokens map[string]string
	urls   map[string]string
	stores map[string]*blobs.Store // "hub" and node codes, with opts.packets
	attach int
}

type opts struct {
	faults  float64
	wrap    func(http.Handler) http.Handler
	mutate  func(code string, c *Config)
	noStart map[string]bool
	packets bool // hub and nodes keep packet bytes in segment stores
	attach  int  // attachment size of e.send's documents (default: a few bytes)
	push    bool // nodes serve the push endpoint and the hub notifies them
}

func newPool(t *testing.T, url string) *pgxpool.Pool {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 20
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

func setup(t *testing.T, o opts, codes ...string) *env {
	t.Helper()
	ctx := context.Background()
	hp := newPool(t, pgtest.NewDatabase(t))
	e := &env{t: t, nodes: map[string]*Node{}, pools: map[string]*pgxpool.Pool{}, tokens: map[string]string{}, urls: map[string]string{},
		stores: map[string]*blobs.Store{}, attach: o.attach}
	store := func(name string) *blobs.Store {
		if !o.packets {
			return nil
		}
		s, err := blobs.Open(filepath.Join(t.TempDir(), name), false)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		e.stores[name] = s
		return s
	}
	h, err := hub.Open(ctx, hp, hub.Config{Packets: store("hub")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	e.hub = h
	var handler http.Handler = h.Handler()
	if o.faults > 0 {
		e.faults = hub.NewFaults(o.faults, 42)
		e.faults.Delay = 1500 * time.Millisecond
		handler = e.faults.Wrap(handler)
	}
	if o.wrap != nil {
		handler = o.wrap(handler)
	}
	e.srv = httptest.NewServer(handler)
	t.Cleanup(e.srv.Close)
	for _, c := range codes {
		tok := hub.NewToken()
		pushURL := ""
		var pushed *Node
		if o.push {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if pushed == nil {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				pushed.PushHandler().ServeHTTP(w, r)
			}))
			t.Cleanup(srv.Close)
			pushURL = srv.URL
		}
		if err := h.AddNode(ctx, c, c, tok, pushURL); err != nil {
			t.Fatal(err)
		}
		e.tokens[c] = tok
		url := pgtest.NewDatabase(t)
		e.urls[c] = url
		pool := newPool(t, url)
		if err := Migrate(ctx, pool); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `CREATE TABLE test_filed (id bigserial PRIMARY KEY, recipient text, sender text, document_id text, recalled boolean NOT NULL DEFAULT false)`); err != nil {
			t.Fatal(err)
		}
		e.pools[c] = pool
		cfg := Config{Org: c, OrgName: "org " + c, Filer: testFiler{},
			Axis:         &axis.Reference{BaseURL: e.srv.URL, Token: tok, Client: &http.Client{Timeout: time.Second}},
			PullInterval: 150 * time.Millisecond, Backoff: Backoff{Base: 30 * time.Millisecond, Cap: 300 * time.Millisecond},
			MaxAttempts: 25, FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 50 * time.Millisecond, Workers: 20,
			JobTimeout: 3 * time.Second, SoftStop: 2 * time.Second, Packets: store(c)}
		if o.mutate != nil {
			o.mutate(c, &cfg)
		}
		n, err := New(ctx, pool, cfg)
		if err != nil {
			t.Fatal(err)
		}
		e.nodes[c] = n
		pushed = n
		if !o.noStart[c] {
			if err := n.Start(ctx); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = n.Stop(context.Background()) })
		}
	}
	return e
}

// send issues one document from `from` to recipients: the outbox rows and River jobs commit together.
func (e *env) send(from string, i int, to ...string) string {
	e.t.Helper()
	ctx := context.Background()
	var orgs []edxml.Organ
	for _, c := range to {
		orgs = append(orgs, edxml.Organ{OrganID: c, OrganName: c})
	}
	p := edxml.NewEdoc(edxml.Document{From: edxml.Organ{OrganID: from, OrganName: from}, To: orgs,
		Code: edxml.Code{CodeNumber: strconv.Itoa(i), CodeNotation: "UBND"}, Date: time.Now(), TypeCode: "1", TypeName: "Công văn",
		Subject: "Văn bản thử " + strconv.Itoa(i), Files: []edxml.Attachment{{Name: "vb.pdf", ContentType: "application/pdf", Data: e.attachment(i)}}})
	raw, err := p.Marshal()
	if err != nil {
		e.t.Fatal(err)
	}
	var ds []Delivery
	for _, c := range to {
		ds = append(ds, Delivery{MessageID: MessageID(from, p.Header.DocumentID, c, "edoc:0"), DocID: "doc-" + strconv.Itoa(i), Sender: from,
			Recipient: c, DocumentID: p.Header.DocumentID, Kind: edxml.KindEdoc, Packet: raw})
	}
	n := e.nodes[from]
	if err := pgx.BeginFunc(ctx, n.pool, func(tx pgx.Tx) error { return n.EnqueueTx(ctx, tx, ds) }); err != nil {
		e.t.Fatal(err)
	}
	return p.Header.DocumentID
}

// waitingEdocs is how many documents wait in code's inbox at the hub (status replies, which go out as
// soon as a document is filed, are not counted).
func (e *env) waitingEdocs(code string) int {
	e.t.Helper()
	items, err := e.nodes[code].cfg.Axis.List(context.Background(), edxml.KindEdoc, 200)
	if err != nil {
		e.t.Fatal(err)
	}
	return len(items)
}

// sendAll issues documents 1..n from `from` to `to` and waits until the axis holds all of them.
func (e *env) sendAll(from, to string, n int) {
	e.t.Helper()
	for i := 1; i <= n; i++ {
		e.send(from, i, to)
	}
	waitFor(e.t, 60*time.Second, "the documents at the hub", func() bool {
		return count(e.t, e.pools[from], `SELECT count(*) FROM exchange_outbox WHERE state = 'sent' AND kind = 'edoc' AND recipient = $1`, to) == n
	})
}

func (e *env) attachment(i int) []byte {
	b := []byte("%PDF-1.7 " + strconv.Itoa(i) + "\n")
	for len(b) < e.attach {
		b = append(b, "% padding line of the test attachment\n"...)
	}
	return b
}

func count(t *testing.T, pool *pgxpool.Pool, q string, args ...any) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDeliverReceiveAndStatuses(t *testing.T) {
	t.Parallel()
	e := setup(t, opts{}, "000.00.00.H53", "000.00.02.H53", "H53.01.05")
	ctx := context.Background()
	prov := e.nodes["000.00.00.H53"]

	// A rolled-back issue enqueues nothing.
	_ = pgx.BeginFunc(ctx, prov.pool, func(tx pgx.Tx) error {
		_ = prov.EnqueueTx(ctx, tx, []Delivery{{MessageID: "rolled-back", Sender: "000.00.00.H53", Recipient: "000.00.02.H53", DocumentID: "x", Kind: edxml.KindEdoc, Packet: []byte("<x/>")}})
		return fmt.Errorf("roll back")
	})
	if c := count(t, prov.pool, `SELECT count(*) FROM river_job WHERE args->>'message_id' = 'rolled-back'`); c != 0 {
		t.Fatalf("a rolled-back transaction left %d jobs", c)
	}

	docID := e.send("000.00.00.H53", 1, "000.00.02.H53", "H53.01.05")
	for _, c := range []string{"000.00.02.H53", "H53.01.05"} {
		waitFor(t, 60*time.Second, "filing at "+c, func() bool {
			return count(t, e.pools[c], `SELECT count(*) FROM test_filed`) == 1
		})
	}
	// Each recipient's 01 comes back and moves the sender's state machine.
	for _, c := range []string{"000.00.02.H53", "H53.01.05"} {
		waitFor(t, 60*time.Second, "status 01 from "+c, func() bool {
			st, _ := prov.StatusOf(ctx, "000.00.00.H53", docID, c)
			return st.Progress == edxml.StatusReceived
		})
	}
	// The district registers (03) and asks nothing more; the sender sees 03.
	dist := e.nodes["000.00.02.H53"]
	if err := pgx.BeginFunc(ctx, dist.pool, func(tx pgx.Tx) error {
		return dist.SendStatusTx(ctx, tx, StatusOut{Sender: "000.00.00.H53", DocumentID: docID, Code: edxml.StatusRegistered, Description: "Đã vào sổ"})
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "status 03", func() bool {
		st, _ := prov.StatusOf(ctx, "000.00.00.H53", docID, "000.00.02.H53")
		return st.Progress == edxml.StatusRegistered
	})
	// Recall: the sender asks (13), the commune accepts (15).
	if err := pgx.BeginFunc(ctx, prov.pool, func(tx pgx.Tx) error {
		return prov.SendStatusTx(ctx, tx, StatusOut{Sender: "000.00.00.H53", Recipient: "H53.01.05", DocumentID: docID, Code: edxml.StatusRecallRequest, Description: "Thu hồi do sai sót"})
	}); err != nil {
		t.Fatal(err)
	}
	// The commune carries the recall out (its filer drops the document) and answers 15 by itself.
	comm := e.nodes["H53.01.05"]
	waitFor(t, 60*time.Second, "the recall carried out at the commune", func() bool {
		return count(t, comm.pool, `SELECT count(*) FROM test_filed WHERE recalled`) == 1
	})
	waitFor(t, 60*time.Second, "recall accepted at the sender", func() bool {
		st, _ := prov.StatusOf(ctx, "000.00.00.H53", docID, "H53.01.05")
		return st.Recall == edxml.StatusRecallAccepted
	})
	// Sending the same document again (same message ids) enqueues nothing new.
	e.send("000.00.00.H53", 1, "000.00.02.H53", "H53.01.05")
	if c := count(t, prov.pool, `SELECT count(*) FROM exchange_outbox WHERE kind = 'edoc'`); c != 2 {
		t.Fatalf("outbox has %d edoc rows, want 2", c)
	}
}

func TestFaultyAxisDeliversEverythingOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, opts{faults: 0.3}, "A01", "B01", "C01")
	const docs = 25
	for i := 0; i < docs; i++ {
		e.send("A01", i, "B01", "C01")
	}
	for _, c := range []string{"B01", "C01"} {
		waitFor(t, 60*time.Second, "all documents at "+c, func() bool {
			return count(t, e.pools[c], `SELECT count(DISTINCT document_id) FROM test_filed`) == docs
		})
		if n := count(t, e.pools[c], `SELECT count(*) FROM test_filed`); n != docs {
			t.Fatalf("%s filed %d documents for %d distinct: duplicates", c, n, docs)
		}
	}
	waitFor(t, 60*time.Second, "every delivery marked sent", func() bool {
		return count(t, e.pools["A01"], `SELECT count(*) FROM exchange_outbox WHERE kind = 'edoc' AND state = 'sent'`) == 2*docs
	})
	s, err := e.hub.Stats(context.Background())
	if err != nil || s.Duplicates != 0 {
		t.Fatalf("hub stats %+v %v", s, err)
	}
	if e.faults.Injected() == 0 {
		t.Fatal("no faults were injected")
	}
	t.Logf("faults injected: %d; sender retries %d, snoozes %d, duplicate receipts %d", e.faults.Injected(),
		e.nodes["A01"].Metrics.Retries.Load(), e.nodes["A01"].Metrics.Snoozed.Load(), e.nodes["A01"].Metrics.DuplicateReceipts.Load())
}

// With segment stores, no document packet's bytes go to PostgreSQL (rows keep the digest and a
// reference; small status packets stay inline), everything still arrives once, and the bytes read back.
func TestPacketsInSegmentStores(t *testing.T) {
	t.Parallel()
	e := setup(t, opts{packets: true, attach: 40 << 10}, "A01", "B01", "C01")
	ctx := context.Background()
	const docs = 5
	for i := 0; i < docs; i++ {
		e.send("A01", i, "B01", "C01")
	}
	for _, c := range []string{"B01", "C01"} {
		waitFor(t, 60*time.Second, "all documents at "+c, func() bool {
			return count(t, e.pools[c], `SELECT count(*) FROM test_filed`) == docs
		})
	}
	waitFor(t, 60*time.Second, "statuses back at the sender", func() bool {
		return count(t, e.pools["A01"], `SELECT count(*) FROM exchange_status WHERE progress = '01'`) == 2*docs
	})
	if n := count(t, e.pools["A01"], `SELECT count(*) FROM exchange_outbox WHERE kind = 'edoc' AND (packet IS NOT NULL OR packet_ref IS NULL)`); n != 0 {
		t.Errorf("%d outbox rows of documents hold packet bytes", n)
	}
	for _, c := range []string{"B01", "C01"} {
		if n := count(t, e.pools[c], `SELECT count(*) FROM exchange_inbound WHERE packet IS NOT NULL OR packet_ref IS NULL`); n != 0 {
			t.Errorf("%s: %d inbound rows hold packet bytes", c, n)
		}
		if n := count(t, e.pools[c], `SELECT count(*) FROM exchange_outbox WHERE kind = 'status' AND packet IS NULL`); n != 0 {
			t.Errorf("%s: %d small status packets went to the store", c, n)
		}
	}
	// Every packet of B01's inbound ledger reads back from its store as the bytes the sender queued.
	rows, err := e.pools["B01"].Query(ctx, `SELECT packet_ref, sha256 FROM exchange_inbound`)
	if err != nil {
		t.Fatal(err)
	}
	type kept struct {
		Ref string
		Sum []byte
	}
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[kept])
	if err != nil || len(got) != docs {
		t.Fatalf("inbound rows %d, %v", len(got), err)
	}
	for _, k := range got {
		raw, err := e.stores["B01"].Get(blobs.Ref(k.Ref), k.Sum)
		if err != nil || len(raw) < 40<<10 {
			t.Fatalf("%s: %d bytes, %v", k.Ref, len(raw), err)
		}
		var queued int
		if err := e.pools["A01"].QueryRow(ctx, `SELECT count(*) FROM exchange_outbox WHERE sha256 = $1 AND recipient = 'B01'`, k.Sum).Scan(&queued); err != nil || queued != 1 {
			t.Fatalf("the packet B01 kept matches %d outbox rows at A01, %v", queued, err)
		}
	}
}

// A document whose acknowledgement was lost comes back with the next listing: it is acknowledged
// again without being checked or stored a second time (the store does not grow) and filed once.
func TestDuplicateNotStoredAgain(t *testing.T) {
	t.Parallel()
	var failAcks atomic.Int32
	failAcks.Store(1)
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/ack") && failAcks.Add(-1) >= 0 {
				http.Error(w, "lost", http.StatusBadGateway)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	e := setup(t, opts{packets: true, attach: 40 << 10, wrap: wrap}, "A01", "B01")
	e.send("A01", 1, "B01")
	b := e.nodes["B01"]
	waitFor(t, 60*time.Second, "the document again after the lost acknowledgement", func() bool {
		return b.Metrics.Duplicates.Load() == 1 && count(t, e.pools["B01"], `SELECT count(*) FROM exchange_inbound`) == 1
	})
	segs, _ := filepath.Glob(filepath.Join(e.stores["B01"].Dir(), "seg-*"))
	var stored int64
	for _, s := range segs {
		fi, err := os.Stat(s)
		if err != nil {
			t.Fatal(err)
		}
		stored += fi.Size()
	}
	var size int64 // the packet's length, the last part of its reference (segment:offset:length)
	if err := e.pools["A01"].QueryRow(context.Background(), `SELECT split_part(packet_ref, ':', 3)::bigint FROM exchange_outbox WHERE kind = 'edoc'`).Scan(&size); err != nil {
		t.Fatal(err)
	}
	if size < 40<<10 || stored < size || stored >= 2*size {
		t.Fatalf("B01 stored %d bytes of packets; the one document is %d", stored, size)
	}
	if n := count(t, e.pools["B01"], `SELECT count(*) FROM test_filed`); n != 1 {
		t.Fatalf("filed %d times", n)
	}
}

// A packet damaged on the hub's disk does not match the digest the hub listed: the recipient neither
// files nor refuses it, it stays in the inbox, and the next pull after the repair files it.
func TestDamagedPacketStaysInInbox(t *testing.T) {
	t.Parallel()
	e := setup(t, opts{packets: true, attach: 40 << 10, noStart: map[string]bool{"B01": true}}, "A01", "B01")
	ctx := context.Background()
	docID := e.send("A01", 1, "B01")
	waitFor(t, 60*time.Second, "the packet at the hub", func() bool {
		return count(t, e.pools["A01"], `SELECT count(*) FROM exchange_outbox WHERE state = 'sent'`) == 1
	})
	segs, _ := filepath.Glob(filepath.Join(e.stores["hub"].Dir(), "seg-*"))
	if len(segs) != 1 {
		t.Fatalf("hub segments %v, want one", segs)
	}
	good, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), good...)
	bad[len(bad)/2] ^= 1
	if err := os.WriteFile(segs[0], bad, 0o600); err != nil {
		t.Fatal(err)
	}
	b := e.nodes["B01"]
	if n, err := b.Pull(ctx, edxml.KindEdoc); err == nil || n != 0 {
		t.Fatalf("pulling a damaged packet: %d handled, err %v; want 0 and an error", n, err)
	}
	if n := count(t, e.pools["B01"], `SELECT count(*) FROM exchange_inbound`); n != 0 {
		t.Fatalf("the damaged packet left %d inbound rows", n)
	}
	if s, err := e.hub.Stats(ctx); err != nil || s.Pending != 1 {
		t.Fatalf("hub: %+v, %v; want the packet still pending", s, err)
	}
	if err := os.WriteFile(segs[0], good, 0o600); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Pull(ctx, edxml.KindEdoc); err != nil || n != 1 {
		t.Fatalf("pulling the repaired packet: %d handled, %v", n, err)
	}
	if n := count(t, e.pools["B01"], `SELECT count(*) FROM test_filed WHERE document_id = $1`, docID); n != 1 {
		t.Fatalf("the repaired packet was filed %d times", n)
	}
}

// pickyFiler refuses to file one document until told otherwise, as a workflow might (a full disk, a
// constraint); the error rolls back its filing transaction.
type pickyFiler struct {
	testFiler
	refuse atomic.Value // the Subject refused
}

func (f *pickyFiler) FileTx(ctx context.Context, tx pgx.Tx, in Incoming) (string, error) {
	if in.Packet.Header.Subject == f.refuse.Load() {
		return "", errors.New("filing refused for the test")
	}
	return f.testFiler.FileTx(ctx, tx, in)
}

// Documents of one listing share a filing transaction; one the filer refuses must not keep the others
// out: they are filed, it stays in the inbox and goes in once the filer accepts it.
func TestOneRefusedFilingDoesNotBlockTheBatch(t *testing.T) {
	t.Parallel()
	filer := &pickyFiler{}
	filer.refuse.Store("Văn bản thử 3")
	e := setup(t, opts{noStart: map[string]bool{"B01": true}, mutate: func(code string, c *Config) {
		if code == "B01" {
			c.Filer = filer
		}
	}}, "A01", "B01")
	ctx := context.Background()
	e.sendAll("A01", "B01", 6)
	b := e.nodes["B01"]
	n, err := b.Pull(ctx, edxml.KindEdoc)
	if err == nil || n != 5 {
		t.Fatalf("first pull handled %d, err %v; want 5 and the refusal", n, err)
	}
	if got := count(t, e.pools["B01"], `SELECT count(*) FROM test_filed`); got != 5 {
		t.Fatalf("%d filed, want 5", got)
	}
	if got := count(t, e.pools["B01"], `SELECT count(*) FROM exchange_outbox WHERE kind = 'status'`); got != 5 {
		t.Fatalf("%d status replies queued, want 5 (none for the refused filing)", got)
	}
	if n := e.waitingEdocs("B01"); n != 1 {
		t.Fatalf("%d documents wait for B01 at the hub; want the refused one", n)
	}
	filer.refuse.Store("")
	if n, err := b.Pull(ctx, edxml.KindEdoc); err != nil || n != 1 {
		t.Fatalf("second pull handled %d, %v", n, err)
	}
	if got := count(t, e.pools["B01"], `SELECT count(DISTINCT document_id) FROM test_filed`); got != 6 {
		t.Fatalf("%d distinct filed, want 6", got)
	}
	if got := count(t, e.pools["B01"], `SELECT count(*) FROM test_filed`); got != 6 {
		t.Fatalf("%d filed rows for 6 documents: duplicates", got)
	}
}

// A hub (or proxy) without the batched acknowledgement route: the node notices the 405 and
// acknowledges one by one, so the inbox drains and nothing is filed twice.
func TestAckFallsBackWithoutTheBatchRoute(t *testing.T) {
	t.Parallel()
	var batchCalls atomic.Int64
	var bearer atomic.Value // B01's: A01 acknowledges its status packets through the same hub
	bearer.Store("")
	old := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/v1/inbox/ack" {
				if r.Header.Get("Authorization") == bearer.Load().(string) {
					batchCalls.Add(1)
				}
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	e := setup(t, opts{wrap: old, noStart: map[string]bool{"B01": true}}, "A01", "B01")
	bearer.Store("Bearer " + e.tokens["B01"])
	ctx := context.Background()
	e.sendAll("A01", "B01", 3)
	b := e.nodes["B01"]
	if n, err := b.Pull(ctx, edxml.KindEdoc); err != nil || n != 3 {
		t.Fatalf("pull: handled %d, %v; want 3", n, err)
	}
	if n := e.waitingEdocs("B01"); n != 0 {
		t.Fatalf("%d documents wait for B01 at the hub: the inbox must drain", n)
	}
	e.send("A01", 4, "B01")
	waitFor(t, 60*time.Second, "the fourth packet at the hub", func() bool {
		return count(t, e.pools["A01"], `SELECT count(*) FROM exchange_outbox WHERE state = 'sent'`) == 4
	})
	if n, err := b.Pull(ctx, edxml.KindEdoc); err != nil || n != 1 {
		t.Fatalf("second pull: handled %d, %v", n, err)
	}
	if c := batchCalls.Load(); c != 1 {
		t.Fatalf("B01 tried the batch route %d times; once is enough", c)
	}
	if d := b.Metrics.Duplicates.Load(); d != 0 || count(t, e.pools["B01"], `SELECT count(*) FROM test_filed`) != 4 {
		t.Fatalf("duplicates %d, filed %d", d, count(t, e.pools["B01"], `SELECT count(*) FROM test_filed`))
	}
}

// With the periodic pull an hour away, the hub's notifications alone bring packets in, and a second
// notification right after a finished pull is not swallowed by the first one's uniqueness.
func TestPushNotificationsTriggerPulls(t *testing.T) {
	t.Parallel()
	e := setup(t, opts{push: true, mutate: func(code string, c *Config) { c.PullInterval = time.Hour }}, "A01", "B01")
	for i := 1; i <= 2; i++ {
		e.send("A01", i, "B01")
		waitFor(t, 20*time.Second, "document "+strconv.Itoa(i)+" filed through a notification", func() bool {
			return count(t, e.pools["B01"], `SELECT count(*) FROM test_filed`) == i
		})
	}
	// The statuses came back the same way (A01's periodic pull is an hour away too).
	waitFor(t, 20*time.Second, "statuses at the sender", func() bool {
		return count(t, e.pools["A01"], `SELECT count(*) FROM exchange_status WHERE progress = '01'`) == 2
	})
}

// The status reply to a filed document goes out as soon as the filing commits, without waiting for a
// River worker: here B01's River client never runs, yet A01 learns the 01s, and the jobs that would have
// sent them are gone.
func TestStatusRepliesGoOutAtOnce(t *testing.T) {
	t.Parallel()
	e := setup(t, opts{noStart: map[string]bool{"B01": true}}, "A01", "B01")
	e.sendAll("A01", "B01", 3)
	if n, err := e.nodes["B01"].Pull(context.Background(), edxml.KindEdoc); err != nil || n != 3 {
		t.Fatalf("pull: %d, %v", n, err)
	}
	if n := count(t, e.pools["B01"], `SELECT count(*) FROM exchange_outbox WHERE kind = 'status' AND state = 'sent'`); n != 3 {
		t.Fatalf("%d status replies sent at once, want 3", n)
	}
	if n := count(t, e.pools["B01"], `SELECT count(*) FROM river_job WHERE kind = 'exchange_deliver'`); n != 0 {
		t.Fatalf("%d delivery jobs left for statuses already sent", n)
	}
	waitFor(t, 30*time.Second, "the 01s at the sender", func() bool {
		return count(t, e.pools["A01"], `SELECT count(*) FROM exchange_status WHERE progress = '01'`) == 3
	})
}

// A status reply the axis does not take at once is sent by its job a little later.
func TestStatusReplyFallsBackToItsJob(t *testing.T) {
	t.Parallel()
	var bearer atomic.Value
	bearer.Store("")
	var failures atomic.Int32
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/v1/packets" && r.Header.Get("Authorization") == bearer.Load().(string) &&
				failures.Add(1) == 1 {
				http.Error(w, "busy", http.StatusServiceUnavailable)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	e := setup(t, opts{wrap: wrap}, "A01", "B01")
	bearer.Store("Bearer " + e.tokens["B01"])
	e.send("A01", 1, "B01")
	waitFor(t, 60*time.Second, "the 01 at the sender after the job's retry", func() bool {
		return count(t, e.pools["A01"], `SELECT count(*) FROM exchange_status WHERE progress = '01'`) == 1
	})
	if f := failures.Load(); f < 2 {
		t.Fatalf("the status was pushed %d times; the first push failed on purpose, so it took a second", f)
	}
}

// heldAxis holds the first edoc listing made while hold is set, after the listing itself: the pull
// that made it is then past its last listing but still running.
type heldAxis struct {
	axis.Axis
	hold    atomic.Bool
	listed  chan struct{}
	release chan struct{}
}

func (a *heldAxis) List(ctx context.Context, kind edxml.Kind, limit int) ([]axis.Item, error) {
	items, err := a.Axis.List(ctx, kind, limit)
	if kind == edxml.KindEdoc && a.hold.CompareAndSwap(true, false) {
		a.listed <- struct{}{}
		<-a.release
	}
	return items, err
}

// A notification that comes while a pull is past its last listing but still running (so River
// counts the new pull as a duplicate of it) still brings the packet in at once, not at the next
// periodic pull an hour later.
func TestNotificationAsAPullEnds(t *testing.T) {
	t.Parallel()
	held := &heldAxis{listed: make(chan struct{}, 1), release: make(chan struct{})}
	e := setup(t, opts{mutate: func(code string, c *Config) {
		c.PullInterval = time.Hour
		if code == "B01" {
			held.Axis = c.Axis
			c.Axis = held
		}
	}}, "A01", "B01")
	ctx := context.Background()
	b := e.nodes["B01"]
	// First the periodic pulls River runs at start (edoc and status) go by.
	waitFor(t, 30*time.Second, "the pulls at start", func() bool {
		return count(t, e.pools["B01"], `SELECT count(*) FROM river_job WHERE kind = 'exchange_pull' AND state = 'completed'`) == 2
	})
	held.hold.Store(true)
	if err := b.PullNow(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held.listed: // a pull found the inbox empty and is about to return
	case <-time.After(30 * time.Second):
		t.Fatal("no pull listed the inbox")
	}
	e.send("A01", 1, "B01")
	waitFor(t, 30*time.Second, "the packet at the hub", func() bool {
		return count(t, e.pools["A01"], `SELECT count(*) FROM exchange_outbox WHERE state = 'sent'`) == 1
	})
	if err := b.PullNow(ctx); err != nil { // what the hub's notification does
		t.Fatal(err)
	}
	// Let the follow-up pull run while the held pull still holds the lock: it must leave word
	// (again) rather than pull itself.
	waitFor(t, 30*time.Second, "the follow-up pull to find the running one", func() bool {
		return count(t, e.pools["B01"], `SELECT count(*) FROM river_job WHERE kind = 'exchange_pull' AND args->>'kind' = 'edoc'
			AND (args->>'follow_up')::bool AND state = 'completed'`) >= 1
	})
	close(held.release)
	waitFor(t, 15*time.Second, "the document filed after the notification", func() bool {
		return count(t, e.pools["B01"], `SELECT count(*) FROM test_filed`) == 1
	})
}

// The metrics endpoint counts what happened and shows the queues, in the Prometheus text format.
func TestMetricsEndpoint(t *testing.T) {
	t.Parallel()
	e := setup(t, opts{}, "A01", "B01")
	e.send("A01", 1, "B01")
	get := func(h http.Handler, path string) string {
		srv := httptest.NewServer(h)
		defer srv.Close()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("metrics %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	want := map[string][]string{
		"A01": {`lienthong_exchange_sent_total{org="A01"} 1`, `lienthong_exchange_statuses_in_total{org="A01"} 1`,
			`lienthong_exchange_outbox{org="A01",kind="edoc",state="sent"} 1`, `lienthong_exchange_failed_unresolved{org="A01"} 0`,
			`# TYPE lienthong_exchange_river_jobs gauge`, `lienthong_exchange_river_jobs{org="A01",queue="` + QueueOutbound + `",state=`},
		"B01": {`lienthong_exchange_received_total{org="B01"} 1`, `lienthong_exchange_outbox{org="B01",kind="status",state="sent"} 1`},
		"hub": {"lienthong_axis_packets 2", "lienthong_axis_pending 0", "lienthong_axis_duplicate_deliveries 0"},
	}
	var last map[string]string
	waitFor(t, 60*time.Second, "the metrics of a delivered document and its status", func() bool {
		last = map[string]string{"A01": get(e.nodes["A01"].MetricsHandler(), ""), "B01": get(e.nodes["B01"].MetricsHandler(), ""),
			"hub": get(e.hub.Handler(), "/metrics")}
		for who, lines := range want {
			for _, l := range lines {
				if !strings.Contains(last[who], l) {
					return false
				}
			}
		}
		return true
	})
	srv := httptest.NewServer(e.nodes["A01"].MetricsHandler())
	defer srv.Close()
	if post, err := http.Post(srv.URL, "text/plain", nil); err != nil || post.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST to metrics: %v %v", post, err)
	}
}

func TestRefusedThenRedelivered(t *testing.T) {
	t.Parallel()
	e := setup(t, opts{}, "A01", "B01")
	ctx := context.Background()
	e.send("A01", 1, "Z99") // no such node on the hub: permanent refusal, not retried
	a := e.nodes["A01"]
	var failed []Failed
	waitFor(t, 60*time.Second, "the failed-deliveries list", func() bool {
		failed, _ = a.FailedDeliveries(ctx, 10)
		return len(failed) == 1
	})
	if failed[0].Reason != "refused" || failed[0].Recipient != "Z99" || failed[0].Attempts != 1 {
		t.Fatalf("failed %+v", failed[0])
	}
	waitFor(t, 30*time.Second, "the job cancelled", func() bool {
		return count(t, a.pool, `SELECT count(*) FROM river_job WHERE state = 'cancelled'`) == 1
	})
	// The clerk fixes the directory (the node registers) and re-delivers.
	if err := e.hub.AddNode(ctx, "Z99", "Z99", hub.NewToken(), ""); err != nil {
		t.Fatal(err)
	}
	if err := a.Redeliver(ctx, failed[0].MessageID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "re-delivery", func() bool {
		return count(t, a.pool, `SELECT count(*) FROM exchange_outbox WHERE state = 'sent' AND recipient = 'Z99'`) == 1
	})
	if err := a.Redeliver(ctx, failed[0].MessageID); err != ErrNotFailed {
		t.Fatalf("second re-delivery: %v", err)
	}
}

func TestAttemptsExhaustedAndSnooze(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	down := atomic.Bool{}
	down.Store(true)
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/v1/packets" {
				n := calls.Add(1)
				if down.Load() {
					http.Error(w, "broken", http.StatusInternalServerError)
					return
				}
				if n%2 == 0 {
					w.Header().Set("Retry-After", "1")
					http.Error(w, "slow down", http.StatusTooManyRequests)
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
	e := setup(t, opts{wrap: wrap, mutate: func(c string, cfg *Config) { cfg.MaxAttempts = 3 }}, "A01", "B01")
	ctx := context.Background()
	a := e.nodes["A01"]
	e.send("A01", 1, "B01")
	waitFor(t, 60*time.Second, "attempts exhausted", func() bool {
		f, _ := a.FailedDeliveries(ctx, 10)
		return len(f) == 1 && f[0].Reason == "attempts_exhausted"
	})
	if c := calls.Load(); c != 3 {
		t.Fatalf("%d calls for 3 attempts", c)
	}
	waitFor(t, 30*time.Second, "the job discarded", func() bool {
		return count(t, a.pool, `SELECT count(*) FROM river_job WHERE state = 'discarded'`) == 1
	})
	down.Store(false)
	f, _ := a.FailedDeliveries(ctx, 10)
	calls.Store(1) // next call is even: 429 + Retry-After, then success
	if err := a.Redeliver(ctx, f[0].MessageID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "delivery after a snooze", func() bool {
		return count(t, a.pool, `SELECT count(*) FROM exchange_outbox WHERE state = 'sent'`) == 1
	})
	if a.Metrics.Snoozed.Load() == 0 {
		t.Fatal("429 did not snooze")
	}
}

func TestDeadlineExpires(t *testing.T) {
	t.Parallel()
	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/packets" {
				http.Error(w, "down", http.StatusBadGateway)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	e := setup(t, opts{wrap: wrap, mutate: func(c string, cfg *Config) {
		cfg.Deadlines = map[string]time.Duration{"normal": 400 * time.Millisecond}
		cfg.Backoff = Backoff{Base: 100 * time.Millisecond, Cap: 5 * time.Second}
	}}, "A01", "B01")
	e.send("A01", 1, "B01")
	a := e.nodes["A01"]
	waitFor(t, 60*time.Second, "expiry", func() bool {
		f, _ := a.FailedDeliveries(context.Background(), 10)
		return len(f) == 1 && f[0].Reason == "expired"
	})
	if c := count(t, a.pool, `SELECT count(*) FROM exchange_outbox WHERE state = 'expired'`); c != 1 {
		t.Fatal("outbox not expired")
	}
}

func TestInvalidAndDuplicatePackets(t *testing.T) {
	t.Parallel()
	e := setup(t, opts{}, "A01", "B01")
	ctx := context.Background()
	a, b := e.nodes["A01"], e.nodes["B01"]
	// An invalid packet (no subject) is refused with 02 and never filed.
	p := edxml.NewEdoc(edxml.Document{From: edxml.Organ{OrganID: "A01"}, To: []edxml.Organ{{OrganID: "B01"}},
		Code: edxml.Code{CodeNumber: "9", CodeNotation: "X"}, Date: time.Now(), TypeCode: "1", TypeName: "CV"})
	raw, _ := p.Marshal()
	if err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		return a.EnqueueTx(ctx, tx, []Delivery{{MessageID: "bad", Sender: "A01", Recipient: "B01", DocumentID: p.Header.DocumentID, Kind: edxml.KindEdoc, Packet: raw}})
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "status 02 at the sender", func() bool {
		st, _ := a.StatusOf(ctx, "A01", p.Header.DocumentID, "B01")
		return st.Progress == edxml.StatusRejected
	})
	if c := count(t, b.pool, `SELECT count(*) FROM test_filed`); c != 0 {
		t.Fatal("an invalid packet was filed")
	}
	// The same document sent twice under two message ids (a re-issue) is filed once.
	docID := e.send("A01", 5, "B01")
	waitFor(t, 60*time.Second, "first copy", func() bool { return count(t, b.pool, `SELECT count(*) FROM test_filed`) == 1 })
	row := a.pool.QueryRow(ctx, `SELECT packet FROM exchange_outbox WHERE document_id = $1 AND kind = 'edoc'`, docID)
	var pkt []byte
	if err := row.Scan(&pkt); err != nil {
		t.Fatal(err)
	}
	if err := pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		return a.EnqueueTx(ctx, tx, []Delivery{{MessageID: "again", Sender: "A01", Recipient: "B01", DocumentID: docID, Kind: edxml.KindEdoc, Packet: pkt}})
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the duplicate seen", func() bool { return b.Metrics.Duplicates.Load() == 1 })
	if c := count(t, b.pool, `SELECT count(*) FROM test_filed`); c != 1 {
		t.Fatalf("filed %d times", c)
	}
}

func TestBackoffDelay(t *testing.T) {
	t.Parallel()
	b := Backoff{Base: time.Second, Cap: 10 * time.Second}
	for attempt, max := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 9: 10 * time.Second} {
		for i := 0; i < 50; i++ {
			d := b.Delay(attempt)
			if d < max/2 || d > max {
				t.Fatalf("attempt %d: %v outside [%v, %v]", attempt, d, max/2, max)
			}
		}
	}
	p := &retryPolicy{backoff: b, now: time.Now}
	_ = p
}

// TestKillWorkerProcess: a worker process is SIGKILLed in the middle of a batch; another client picks
// the interrupted jobs up (River's rescuer) and nothing is lost or delivered twice.
func TestKillWorkerProcess(t *testing.T) {
	t.Parallel()
	slow := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/v1/packets" {
				time.Sleep(60 * time.Millisecond)
			}
			next.ServeHTTP(w, r)
		})
	}
	e := setup(t, opts{wrap: slow, noStart: map[string]bool{"A01": true}}, "A01", "B01")
	const docs = 60
	for i := 0; i < docs; i++ {
		e.send("A01", i, "B01")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DELIVERY_TEST_WORKER_DB="+e.urls["A01"], "DELIVERY_TEST_ORG=A01",
		"DELIVERY_TEST_HUB="+e.srv.URL, "DELIVERY_TEST_TOKEN="+e.tokens["A01"])
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	a := e.nodes["A01"]
	waitFor(t, 30*time.Second, "the worker process to deliver some", func() bool {
		return count(t, a.pool, `SELECT count(*) FROM exchange_outbox WHERE state = 'sent'`) >= 10
	})
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	sent := count(t, a.pool, `SELECT count(*) FROM exchange_outbox WHERE state = 'sent'`)
	running := count(t, a.pool, `SELECT count(*) FROM river_job WHERE state = 'running'`)
	t.Logf("killed the worker with %d/%d sent and %d jobs running", sent, docs, running)
	if sent == docs {
		t.Fatal("the worker finished before it was killed; the test proves nothing")
	}
	time.Sleep(1200 * time.Millisecond) // past RescueAfter
	n2, err := New(context.Background(), a.pool, Config{Org: "A01", PullInterval: -1, Axis: &axis.Reference{BaseURL: e.srv.URL, Token: e.tokens["A01"]},
		Backoff: Backoff{Base: 30 * time.Millisecond, Cap: 200 * time.Millisecond}, FetchCooldown: 10 * time.Millisecond,
		FetchPollInterval: 50 * time.Millisecond, JobTimeout: time.Second, RescueAfter: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := n2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer n2.Stop(context.Background())
	waitFor(t, 150*time.Second, "every delivery after the restart", func() bool {
		return count(t, a.pool, `SELECT count(*) FROM exchange_outbox WHERE state = 'sent'`) == docs
	})
	b := e.pools["B01"]
	waitFor(t, 120*time.Second, "every document filed", func() bool {
		return count(t, b, `SELECT count(DISTINCT document_id) FROM test_filed`) == docs
	})
	if n := count(t, b, `SELECT count(*) FROM test_filed`); n != docs {
		t.Fatalf("filed %d for %d documents", n, docs)
	}
	s, _ := e.hub.Stats(context.Background())
	if s.Duplicates != 0 || s.Edocs != docs {
		t.Fatalf("hub %+v", s)
	}
}

// A packet damaged in the sender's store is refused by the hub (its declared digest does not match)
// and lands in the failed-deliveries list instead of reaching the recipient.
func TestDamagedOutboxPacketIsRefused(t *testing.T) {
	t.Parallel()
	e := setup(t, opts{packets: true, attach: 40 << 10, noStart: map[string]bool{"A01": true}}, "A01", "B01")
	ctx := context.Background()
	e.send("A01", 1, "B01")
	segs, _ := filepath.Glob(filepath.Join(e.stores["A01"].Dir(), "seg-*"))
	if len(segs) != 1 {
		t.Fatalf("sender segments %v, want one", segs)
	}
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(segs[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	a := e.nodes["A01"]
	if err := a.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Stop(context.Background()) })
	waitFor(t, 60*time.Second, "the delivery in the failed list", func() bool {
		fs, err := a.FailedDeliveries(ctx, 10)
		return err == nil && len(fs) == 1 && strings.Contains(fs[0].LastError, "digest")
	})
	if s, err := e.hub.Stats(ctx); err != nil || s.Packets != 0 {
		t.Fatalf("hub %+v %v: the damaged packet must not be stored", s, err)
	}
}
