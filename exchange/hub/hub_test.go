package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/exchange/axis"
	"github.com/lienthong/lienthong/exchange/blobs"
	"github.com/lienthong/lienthong/exchange/edxml"
	"github.com/lienthong/lienthong/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

type bundle struct {
	hub   *Hub
	pool  *pgxpool.Pool
	srv   *httptest.Server
	nodes map[string]*axis.Reference
}

func setup(t *testing.T, codes ...string) *bundle {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	h, err := Open(ctx, pool, Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	b := &bundle{hub: h, pool: pool, srv: srv, nodes: map[string]*axis.Reference{}}
	for _, c := range codes {
		tok := NewToken()
		if err := h.AddNode(ctx, c, "org "+c, tok, ""); err != nil {
			t.Fatal(err)
		}
		b.nodes[c] = &axis.Reference{BaseURL: srv.URL, Token: tok}
	}
	return b
}

func edoc(t *testing.T, from string, to ...string) []byte {
	t.Helper()
	var orgs []edxml.Organ
	for _, c := range to {
		orgs = append(orgs, edxml.Organ{OrganID: c})
	}
	p := edxml.NewEdoc(edxml.Document{From: edxml.Organ{OrganID: from}, To: orgs, Code: edxml.Code{CodeNumber: "1", CodeNotation: "UBND"},
		Date: time.Now(), TypeCode: "1", TypeName: "Công văn", Subject: "thử",
		Files: []edxml.Attachment{{Name: "a.pdf", ContentType: "application/pdf", Data: []byte("%PDF")}}})
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// largeEdoc is an edoc of some 60 KB, above blobs.Inline, so a hub with a store keeps it in a segment.
func largeEdoc(t *testing.T, from string, to ...string) []byte {
	return bytes.Replace(edoc(t, from, to...), []byte("thử"), bytes.Repeat([]byte("thử "), 10000), 1)
}

// useStore gives the hub a segment store for the rest of the test.
func (b *bundle) useStore(t *testing.T) *blobs.Store {
	t.Helper()
	store, err := blobs.Open(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	b.hub.blob = store
	return store
}

func TestSendListFetchAck(t *testing.T) {
	b := setup(t, "000.00.00.H53", "000.00.02.H53", "H53.01.01")
	ctx := context.Background()
	prov, dist, comm := b.nodes["000.00.00.H53"], b.nodes["000.00.02.H53"], b.nodes["H53.01.01"]
	pkt := edoc(t, "000.00.00.H53", "000.00.02.H53", "H53.01.01")

	rc, err := prov.Send(ctx, axis.Outgoing{MessageID: "doc1:all", Kind: edxml.KindEdoc, From: "000.00.00.H53", Body: pkt})
	if err != nil || rc.Duplicate || rc.ID == "" {
		t.Fatalf("send: %v %+v", err, rc)
	}
	again, err := prov.Send(ctx, axis.Outgoing{MessageID: "doc1:all", Kind: edxml.KindEdoc, From: "000.00.00.H53", Body: pkt})
	if err != nil || !again.Duplicate || again.ID != rc.ID {
		t.Fatalf("repeat must return the first receipt: %v %+v", err, again)
	}
	if _, err := prov.Send(ctx, axis.Outgoing{MessageID: "doc1:all", Kind: edxml.KindEdoc, From: "000.00.00.H53", Body: edoc(t, "000.00.00.H53", "H53.01.01")}); err == nil {
		t.Fatal("reusing a message id for other bytes must fail")
	}
	for _, n := range []*axis.Reference{dist, comm} {
		items, err := n.List(ctx, edxml.KindEdoc, 10)
		if err != nil || len(items) != 1 || items[0].From != "000.00.00.H53" || items[0].MessageID != "doc1:all" {
			t.Fatalf("inbox: %v %+v", err, items)
		}
		body, err := n.Fetch(ctx, items[0].ID)
		if err != nil || string(body) != string(pkt) {
			t.Fatalf("fetch: %v", err)
		}
		if err := n.Ack(ctx, items[0].ID, true, ""); err != nil {
			t.Fatal(err)
		}
		if items, _ := n.List(ctx, "", 10); len(items) != 0 {
			t.Fatalf("acked packet still in the inbox: %+v", items)
		}
	}
	if _, err := prov.Fetch(ctx, "00000000-0000-0000-0000-000000000000"); err == nil {
		t.Fatal("fetching another inbox's packet must fail")
	}
	var ae *axis.Error
	if _, err := prov.Fetch(ctx, "not-a-uuid"); !errors.As(err, &ae) || ae.Status != http.StatusNotFound {
		t.Fatalf("a malformed id must be a 404: %v", err)
	}
	st, err := prov.Sent(ctx, rc.ID)
	if err == nil {
		t.Fatalf("two recipients answer as a list, got one: %+v", st)
	}
	s, err := b.hub.Stats(ctx)
	if err != nil || s.Packets != 1 || s.Deliveries != 2 || s.Pending != 0 || s.Duplicates != 0 {
		t.Fatalf("stats %+v %v", s, err)
	}
}

func TestStatusRelayAndSentState(t *testing.T) {
	b := setup(t, "000.00.00.H53", "000.00.02.H53")
	ctx := context.Background()
	prov, dist := b.nodes["000.00.00.H53"], b.nodes["000.00.02.H53"]
	rc, err := prov.Send(ctx, axis.Outgoing{MessageID: "d2", Kind: edxml.KindEdoc, From: "000.00.00.H53", To: []string{"000.00.02.H53"},
		Body: edoc(t, "000.00.00.H53", "000.00.02.H53")})
	if err != nil {
		t.Fatal(err)
	}
	items, _ := dist.List(ctx, edxml.KindEdoc, 10)
	if err := dist.Ack(ctx, items[0].ID, true, ""); err != nil {
		t.Fatal(err)
	}
	st, err := prov.Sent(ctx, rc.ID)
	if err != nil || st.State != "done" || st.To != "000.00.02.H53" || st.AckedAt == nil {
		t.Fatalf("sent state %+v %v", st, err)
	}
	// The recipient answers 01; the hub routes the status by ResponseFor to the sender.
	status := edxml.NewStatus(edxml.StatusReport{From: edxml.Organ{OrganID: "000.00.02.H53"}, Code: edxml.StatusReceived,
		About: edxml.ResponseFor{OrganID: "000.00.00.H53", Code: "1/UBND", DocumentID: "x"}})
	raw, _ := status.Marshal()
	if _, err := dist.Send(ctx, axis.Outgoing{MessageID: "d2:01", Kind: edxml.KindStatus, From: "000.00.02.H53", Body: raw}); err != nil {
		t.Fatal(err)
	}
	got, err := prov.List(ctx, edxml.KindStatus, 10)
	if err != nil || len(got) != 1 || got[0].Kind != edxml.KindStatus {
		t.Fatalf("status inbox %+v %v", got, err)
	}
	if edocs, _ := prov.List(ctx, edxml.KindEdoc, 10); len(edocs) != 0 {
		t.Fatal("kind filter")
	}
}

func TestAuthAndRouting(t *testing.T) {
	b := setup(t, "000.00.00.H53", "000.00.02.H53")
	ctx := context.Background()
	prov := b.nodes["000.00.00.H53"]
	var ae *axis.Error
	// Not our code in From.
	_, err := prov.Send(ctx, axis.Outgoing{MessageID: "x1", Kind: edxml.KindEdoc, From: "000.00.02.H53", Body: edoc(t, "000.00.02.H53", "000.00.00.H53")})
	if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || ae.Temporary {
		t.Fatalf("sender mismatch: %v", err)
	}
	// Unknown recipient: permanent.
	_, err = prov.Send(ctx, axis.Outgoing{MessageID: "x2", Kind: edxml.KindEdoc, From: "000.00.00.H53", Body: edoc(t, "000.00.00.H53", "G99")})
	if !errors.As(err, &ae) || ae.Code != "unknown_recipient" || axis.IsTemporary(err) {
		t.Fatalf("unknown recipient: %v", err)
	}
	// Garbage: permanent.
	_, err = prov.Send(ctx, axis.Outgoing{MessageID: "x3", Kind: edxml.KindEdoc, From: "000.00.00.H53", Body: []byte("<html/>")})
	if !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity {
		t.Fatalf("garbage: %v", err)
	}
	bad := &axis.Reference{BaseURL: b.srv.URL, Token: "lt_not_a_token_at_all"}
	if _, err := bad.List(ctx, "", 1); !errors.As(err, &ae) || ae.Status != http.StatusUnauthorized {
		t.Fatalf("bad token: %v", err)
	}
	// A closed district code merged into a new one: packets to and from the old code still flow.
	merge := time.Now().Add(-time.Hour)
	if err := b.hub.AddAlias(ctx, axis.Alias{Old: "000.00.07.H53", New: "000.00.02.H53", Since: merge}); err != nil {
		t.Fatal(err)
	}
	if _, err := prov.Send(ctx, axis.Outgoing{MessageID: "x4", Kind: edxml.KindEdoc, From: "000.00.00.H53", Body: edoc(t, "000.00.00.H53", "000.00.07.H53")}); err != nil {
		t.Fatalf("send to an old code: %v", err)
	}
	dist := b.nodes["000.00.02.H53"]
	if _, err := dist.Send(ctx, axis.Outgoing{MessageID: "x5", Kind: edxml.KindEdoc, From: "000.00.07.H53", Body: edoc(t, "000.00.07.H53", "000.00.00.H53")}); err != nil {
		t.Fatalf("a packet from the closed code is accepted: %v", err)
	}
}

func TestRestartKeepsState(t *testing.T) {
	b := setup(t, "A01", "B01")
	ctx := context.Background()
	if _, err := b.nodes["A01"].Send(ctx, axis.Outgoing{MessageID: "r1", Kind: edxml.KindEdoc, From: "A01", Body: edoc(t, "A01", "B01")}); err != nil {
		t.Fatal(err)
	}
	b.srv.Close()
	b.hub.Close()
	h2, err := Open(ctx, b.pool, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer h2.Close()
	srv := httptest.NewServer(h2.Handler())
	defer srv.Close()
	n := b.nodes["B01"]
	n.BaseURL = srv.URL
	items, err := n.List(ctx, "", 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("after restart: %v %+v", err, items)
	}
}

func TestFaultsAreClassified(t *testing.T) {
	b := setup(t, "A01", "B01")
	f := NewFaults(1.0, 7)
	f.Delay = 2 * time.Second
	srv := httptest.NewServer(f.Wrap(b.hub.Handler()))
	defer srv.Close()
	n := &axis.Reference{BaseURL: srv.URL, Token: b.nodes["A01"].Token, Client: &http.Client{Timeout: 500 * time.Millisecond}}
	ctx := context.Background()
	pkt := edoc(t, "A01", "B01")
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[string]int{}
	for i := 0; i < 30; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := n.Send(ctx, axis.Outgoing{MessageID: "f", Kind: edxml.KindEdoc, From: "A01", Body: pkt})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				seen["ok"]++
				return
			}
			if !axis.IsTemporary(err) {
				t.Errorf("injected fault classified permanent: %v", err)
			}
			if axis.RetryAfter(err) == time.Second {
				seen["retry-after"]++
			}
			if strings.Contains(err.Error(), "reset") || strings.Contains(err.Error(), "EOF") {
				seen["reset"]++
			}
		}()
	}
	wg.Wait()
	if seen["retry-after"] == 0 || seen["reset"] == 0 || f.Injected() != 30 {
		t.Fatalf("faults seen %v, injected %d", seen, f.Injected())
	}
	// Whatever happened, the hub holds the packet at most once.
	s, _ := b.hub.Stats(ctx)
	if s.Packets > 1 || s.Duplicates != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// The listing carries small packets' bytes (no fetch needed) but not large ones, which stay in the
// packet store; many acknowledgements go in one call, and ids no longer waiting are skipped.
func TestInlineListingAndAckMany(t *testing.T) {
	b := setup(t, "A01", "B01")
	ctx := context.Background()
	b.useStore(t)
	a, r := b.nodes["A01"], b.nodes["B01"]
	small := edoc(t, "A01", "B01")
	large := largeEdoc(t, "A01", "B01")
	if len(large) < axis.InlineListing {
		t.Fatalf("large packet has %d bytes", len(large))
	}
	for i, pkt := range [][]byte{small, large} {
		if _, err := a.Send(ctx, axis.Outgoing{MessageID: "m" + strconv.Itoa(i), Kind: edxml.KindEdoc, From: "A01", Body: pkt}); err != nil {
			t.Fatal(err)
		}
	}
	items, err := r.List(ctx, edxml.KindEdoc, 10)
	if err != nil || len(items) != 2 {
		t.Fatalf("list: %v %+v", err, items)
	}
	if !bytes.Equal(items[0].Body, small) {
		t.Fatalf("the small packet's listed body is %d bytes, want the packet (%d)", len(items[0].Body), len(small))
	}
	if items[1].Body != nil {
		t.Fatalf("the large packet came inline (%d bytes)", len(items[1].Body))
	}
	if got, err := r.Fetch(ctx, items[1].ID); err != nil || !bytes.Equal(got, large) {
		t.Fatalf("fetching the stored packet: %d bytes, %v", len(got), err)
	}
	// Bad requests are refused whole.
	for _, acks := range [][]axis.Ack{nil, {{ID: "not-a-uuid", OK: true}}} {
		if err := r.AckMany(ctx, acks); acks != nil && err == nil {
			t.Fatalf("AckMany(%v) succeeded", acks)
		}
	}
	if n := countPending(t, b); n != 2 {
		t.Fatalf("%d pending after refused acks, want 2", n)
	}
	// A repeat and an id that is not waiting (someone else's) are skipped.
	other := "00000000-0000-0000-0000-000000000000"
	if err := r.AckMany(ctx, []axis.Ack{{ID: items[0].ID, OK: true}, {ID: items[1].ID, OK: false, Reason: "bad signature"}, {ID: items[0].ID, OK: true}, {ID: other, OK: true}}); err != nil {
		t.Fatal(err)
	}
	if left, err := r.List(ctx, "", 10); err != nil || len(left) != 0 {
		t.Fatalf("still waiting: %v %+v", err, left)
	}
	var reason string
	if err := b.pool.QueryRow(ctx, `SELECT reason FROM hub_delivery WHERE id = $1::uuid AND state = 'fail'`, items[1].ID).Scan(&reason); err != nil || reason != "bad signature" {
		t.Fatalf("failed ack: %q %v", reason, err)
	}
}

func countPending(t *testing.T, b *bundle) int {
	t.Helper()
	s, err := b.hub.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return int(s.Pending)
}

// FuzzIsUUID: the ids of an acknowledgement batch reach a ::uuid[] cast only if isUUID accepts them;
// it must accept exactly the canonical form (so the cast never fails on them).
func FuzzIsUUID(f *testing.F) {
	for _, s := range []string{"3f2504e0-4f89-11d3-9a0c-0305e82c3301", "00000000-0000-0000-0000-000000000000", "3F2504E0-4F89-11D3-9A0C-0305E82C3301",
		"3f2504e04f8911d39a0c0305e82c3301", "{3f2504e0-4f89-11d3-9a0c-0305e82c3301}", "3f2504e0-4f89-11d3-9a0c-0305e82c330g", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !isUUID(s) {
			return
		}
		if len(s) != 36 || strings.Count(s, "-") != 4 {
			t.Fatalf("isUUID accepted %q", s)
		}
		for i, c := range s {
			dash := i == 8 || i == 13 || i == 18 || i == 23
			if dash != (c == '-') || !dash && !strings.ContainsRune("0123456789abcdefABCDEF", c) {
				t.Fatalf("isUUID accepted %q", s)
			}
		}
	})
}

// A push whose declared digest (X-Sha256) does not match its bytes is refused for good; a matching one
// streamed from a reader is stored as sent.
func TestDeclaredDigest(t *testing.T) {
	b := setup(t, "A01", "B01")
	ctx := context.Background()
	a := b.nodes["A01"]
	pkt := edoc(t, "A01", "B01")
	good := sha256.Sum256(pkt)
	bad := sha256.Sum256([]byte("other bytes"))
	_, err := a.Send(ctx, axis.Outgoing{MessageID: "m1", Kind: edxml.KindEdoc, From: "A01", Stream: bytes.NewReader(pkt), Size: int64(len(pkt)), SHA256: bad[:]})
	var ae *axis.Error
	if !errors.As(err, &ae) || ae.Temporary || ae.Code != "digest_mismatch" {
		t.Fatalf("mismatched digest: %v", err)
	}
	if _, err := a.Send(ctx, axis.Outgoing{MessageID: "m1", Kind: edxml.KindEdoc, From: "A01", Stream: bytes.NewReader(pkt), Size: int64(len(pkt)), SHA256: good[:]}); err != nil {
		t.Fatal(err)
	}
	items, err := b.nodes["B01"].List(ctx, edxml.KindEdoc, 10)
	if err != nil || len(items) != 1 || items[0].Size != len(pkt) {
		t.Fatalf("inbox %v %+v", err, items)
	}
	if got, err := b.nodes["B01"].Fetch(ctx, items[0].ID); err != nil || !bytes.Equal(got, pkt) {
		t.Fatalf("fetch: %d bytes, %v", len(got), err)
	}
}

// A retried push (X-Retry) of a stored packet is answered from its row: the segment does not grow, and
// other bytes under the same message id are still refused.
func TestRetriedPushAppendsNothing(t *testing.T) {
	b := setup(t, "A01", "B01")
	ctx := context.Background()
	store := b.useStore(t)
	a := b.nodes["A01"]
	large := largeEdoc(t, "A01", "B01")
	first, err := a.Send(ctx, axis.Outgoing{MessageID: "m1", Kind: edxml.KindEdoc, From: "A01", Body: large})
	if err != nil || first.Duplicate {
		t.Fatalf("first push: %+v %v", first, err)
	}
	size := func() int64 {
		var total int64
		segs, _ := filepath.Glob(filepath.Join(store.Dir(), "seg-*"))
		for _, s := range segs {
			if st, err := os.Stat(s); err == nil {
				total += st.Size()
			}
		}
		return total
	}
	before := size()
	again, err := a.Send(ctx, axis.Outgoing{MessageID: "m1", Kind: edxml.KindEdoc, From: "A01", Body: large, Retry: true})
	if err != nil || !again.Duplicate || again.ID != first.ID {
		t.Fatalf("retried push: %+v %v", again, err)
	}
	other := bytes.Replace(large, []byte("thử"), []byte("khác"), 1)
	if _, err := a.Send(ctx, axis.Outgoing{MessageID: "m1", Kind: edxml.KindEdoc, From: "A01", Body: other, Retry: true}); err == nil {
		t.Fatal("other bytes under the same message id were accepted")
	}
	if after := size(); after != before {
		t.Fatalf("the store grew from %d to %d bytes on a retry", before, after)
	}
}

// Purge removes packets past the retention once every recipient acknowledged them, never one still
// waiting in an inbox, and the segment files nothing refers to any longer.
func TestPurge(t *testing.T) {
	b := setup(t, "A01", "B01", "C01")
	ctx := context.Background()
	store := b.useStore(t)
	a, bn, cn := b.nodes["A01"], b.nodes["B01"], b.nodes["C01"]
	shared := largeEdoc(t, "A01", "B01", "C01")
	for id, body := range map[string][]byte{"m1": shared, "m2": largeEdoc(t, "A01", "B01"), "m3": edoc(t, "A01", "B01")} {
		if _, err := a.Send(ctx, axis.Outgoing{MessageID: id, Kind: edxml.KindEdoc, From: "A01", Body: body}); err != nil {
			t.Fatal(err)
		}
	}
	ackAll := func(n *axis.Reference) {
		items, err := n.List(ctx, edxml.KindEdoc, 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			if err := n.Ack(ctx, it.ID, true, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	ackAll(bn) // C01 has not taken m1 yet
	// A segment left by some process long ago, which no packet refers to.
	stale := "seg-" + strconv.FormatInt(time.Now().Add(-40*24*time.Hour).UnixNano(), 10) + "-1-1-aa"
	if err := os.WriteFile(filepath.Join(store.Dir(), stale), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if res, err := b.hub.Purge(ctx, time.Now().Add(-time.Hour)); err != nil || res.Packets != 0 || res.Segments != 1 {
		t.Fatalf("no packet is past the retention yet, only the stale segment is unused: %+v %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(store.Dir(), stale)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stale segment: %v", err)
	}
	res, err := b.hub.Purge(ctx, time.Now().Add(time.Hour))
	if err != nil || res.Packets != 2 || res.Segments != 0 {
		t.Fatalf("purge: %+v %v; want the two packets B01 acknowledged (their segment is still written to)", res, err)
	}
	var packets, deliveries int
	if err := b.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM hub_packet), (SELECT count(*) FROM hub_delivery)`).Scan(&packets, &deliveries); err != nil {
		t.Fatal(err)
	}
	if packets != 1 || deliveries != 2 {
		t.Fatalf("%d packets and %d deliveries left; want m1 with its two", packets, deliveries)
	}
	// m1 still waits for C01, whole.
	items, err := cn.List(ctx, edxml.KindEdoc, 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("C01 inbox: %v %v", items, err)
	}
	got, err := cn.Fetch(ctx, items[0].ID)
	if err != nil || !bytes.Equal(got, shared) {
		t.Fatalf("m1 after the purge: %d bytes, %v", len(got), err)
	}
	ackAll(cn)
	if res, err := b.hub.Purge(ctx, time.Now().Add(time.Hour)); err != nil || res.Packets != 1 {
		t.Fatalf("after C01's acknowledgement: %+v %v", res, err)
	}
	resp, err := http.Get(b.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	metrics, _ := io.ReadAll(resp.Body)
	for _, want := range []string{"lienthong_axis_purged_packets_total 3\n", "lienthong_axis_purged_segments_total 1\n"} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %q:\n%s", want, metrics)
		}
	}
}

// A hub with a retention runs its purger and stops it on Close.
func TestRetentionPurgerStops(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	h, err := Open(ctx, pool, Config{Retention: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { h.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop the purger")
	}
}
