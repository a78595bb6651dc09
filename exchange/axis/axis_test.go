package axis

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lienthong/lienthong/exchange/edxml"
)

// vdxpPeer is a national-axis stand-in that checks every request's HMAC signature and headers.
type vdxpPeer struct {
	secret []byte
	mu     sync.Mutex
	docs   map[string][]byte
	acked  map[string]string
	failed int // answer the next n calls with 503 + Retry-After
}

func (p *vdxpPeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failed > 0 {
		p.failed--
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	params, err := VerifySignedHeaders(r.Header, p.secret)
	if err != nil || r.Header.Get("XroadVnpt-version") != NationalVersion || params["systemid"] != "sys-1" {
		w.WriteHeader(http.StatusOK)
		_ = json.NewEncoder(w).Encode(map[string]any{"status": "FAIL", "ErrorCode": "-1", "ErrorDesc": "signature: " + errString(err)})
		return
	}
	if _, err := time.Parse("02012006T150405", strings.SplitN(params["timestamp"], "+", 2)[0]); err != nil {
		http.Error(w, "bad timestamp", 400)
		return
	}
	ok := func(extra map[string]any) {
		m := map[string]any{"status": "OK", "ErrorCode": "0", "ErrorDesc": ""}
		for k, v := range extra {
			m[k] = v
		}
		_ = json.NewEncoder(w).Encode(m)
	}
	switch r.URL.Path {
	case "/api/sendEdoc":
		body, _ := io.ReadAll(r.Body)
		if params["hash-file"] != HashFile(body, false) || params["from"] == "" || params["messagetype"] == "" {
			ok(map[string]any{"status": "FAIL", "ErrorCode": "2", "ErrorDesc": "hash-file mismatch"})
			return
		}
		var to []string
		if err := json.Unmarshal([]byte(params["to"]), &to); err != nil {
			ok(map[string]any{"status": "FAIL", "ErrorCode": "3", "ErrorDesc": "to is not a JSON array"})
			return
		}
		id := "doc-" + params["messageid"]
		p.docs[id] = body
		ok(map[string]any{"DocId": id})
	case "/api/getReceivedEdocList":
		var data []map[string]string
		for id := range p.docs {
			if _, done := p.acked[id]; !done {
				data = append(data, map[string]string{"docId": id, "from": "000.00.00.G22", "status": "initial"})
			}
		}
		ok(map[string]any{"data": data})
	case "/api/getEdoc":
		b, found := p.docs[params["docId"]]
		if !found {
			ok(map[string]any{"status": "FAIL", "ErrorCode": "404", "ErrorDesc": "no such document"})
			return
		}
		ok(map[string]any{"data": base64.StdEncoding.EncodeToString(b)})
	case "/api/updateStatus":
		p.acked[params["docid"]] = params["status"]
		ok(nil)
	default:
		http.NotFound(w, r)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestNationalAgainstPeer(t *testing.T) {
	peer := &vdxpPeer{secret: []byte("s3cret"), docs: map[string][]byte{}, acked: map[string]string{}}
	srv := httptest.NewServer(peer)
	defer srv.Close()
	n := &National{Endpoint: srv.URL + "/api", SystemID: "sys-1", Secret: []byte("s3cret"), From: "000.00.00.H53"}
	ctx := context.Background()
	body := []byte("<edXML>packet</edXML>")
	rc, err := n.Send(ctx, Outgoing{MessageID: "m1", Kind: edxml.KindEdoc, From: "000.00.00.H53", To: []string{"H53.02"}, Body: body})
	if err != nil || rc.ID != "doc-m1" {
		t.Fatalf("send: %v %+v", err, rc)
	}
	items, err := n.List(ctx, edxml.KindEdoc, 10)
	if err != nil || len(items) != 1 || items[0].ID != "doc-m1" {
		t.Fatalf("list: %v %+v", err, items)
	}
	got, err := n.Fetch(ctx, "doc-m1")
	if err != nil || string(got) != string(body) {
		t.Fatalf("fetch: %v %q", err, got)
	}
	if err := n.Ack(ctx, "doc-m1", true, ""); err != nil || peer.acked["doc-m1"] != "done" {
		t.Fatalf("ack: %v %v", err, peer.acked)
	}
	// A wrong secret is refused by the peer: a permanent error with the axis's code.
	bad := &National{Endpoint: srv.URL + "/api", SystemID: "sys-1", Secret: []byte("wrong"), From: "x"}
	_, err = bad.Send(ctx, Outgoing{MessageID: "m2", Kind: edxml.KindEdoc, From: "x", Body: body})
	var ae *Error
	if !errors.As(err, &ae) || ae.Code != "-1" || ae.Temporary {
		t.Fatalf("bad signature: %v", err)
	}
	// 503 with Retry-After is temporary and carries the wait.
	peer.failed = 1
	_, err = n.List(ctx, edxml.KindEdoc, 0)
	if !IsTemporary(err) || RetryAfter(err) != 7*time.Second {
		t.Fatalf("503: %v (temporary %v, retry after %v)", err, IsTemporary(err), RetryAfter(err))
	}
}

func TestHashFileCompat(t *testing.T) {
	b := []byte("abc") // sha256 starts ba 78 16 bf 8f 01 ...
	if h := HashFile(b, false); !strings.HasPrefix(h, "ba7816bf8f01") {
		t.Fatal(h)
	}
	if h := HashFile(b, true); !strings.HasPrefix(h, "ba7816bf8f1") {
		t.Fatalf("compat hash keeps the leading zero: %s", h)
	}
	ts := NationalTimestamp(time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC))
	if ts != "02012026T100405+0006" {
		t.Fatalf("timestamp %s", ts)
	}
}

// lgspPeer is a provincial platform stand-in: OAuth2 client credentials, then a per-unit secret.
type lgspPeer struct {
	mu       sync.Mutex
	issued   int
	valid    map[string]bool
	docs     map[string]map[string]any
	statuses map[string]string
}

func (p *lgspPeer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		id, sec, ok := r.BasicAuth()
		_ = r.ParseForm()
		if !ok || id != "client" || sec != "csecret" || r.Form.Get("grant_type") != "client_credentials" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		p.mu.Lock()
		p.issued++
		tok := "tok" + string(rune('0'+p.issued))
		p.valid[tok] = true
		p.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
	})
	auth := func(next http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			p.mu.Lock()
			ok := p.valid[strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")]
			p.mu.Unlock()
			if !ok {
				http.Error(w, "bad token", http.StatusUnauthorized)
				return
			}
			if r.Header.Get("X-Unit-Secret") != "unit-secret" {
				http.Error(w, "bad unit secret", http.StatusForbidden)
				return
			}
			p.mu.Lock()
			defer p.mu.Unlock()
			next(w, r)
		}
	}
	mux.HandleFunc("POST /v1/vanbans", auth(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]any
		_ = json.NewDecoder(r.Body).Decode(&m)
		id := "vb-" + m["messageid"].(string)
		p.docs[id] = m
		_ = json.NewEncoder(w).Encode(map[string]string{"docId": id})
	}))
	mux.HandleFunc("GET /v1/vanbans", auth(func(w http.ResponseWriter, r *http.Request) {
		rows := []map[string]any{}
		for id, m := range p.docs {
			if p.statuses[id] == "" && r.URL.Query().Get("status") == "INITIAL" {
				rows = append(rows, map[string]any{"docId": id, "from": m["from"], "messagetype": m["messagetype"]})
			}
		}
		_ = json.NewEncoder(w).Encode(rows)
	}))
	mux.HandleFunc("GET /v1/vanbans/{id}", auth(func(w http.ResponseWriter, r *http.Request) {
		m, ok := p.docs[r.PathValue("id")]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"docId": r.PathValue("id"), "content": m["content"]})
	}))
	mux.HandleFunc("PUT /v1/vanbans/{id}", auth(func(w http.ResponseWriter, r *http.Request) {
		var m map[string]string
		_ = json.NewDecoder(r.Body).Decode(&m)
		p.statuses[r.PathValue("id")] = m["status"]
		w.WriteHeader(http.StatusNoContent)
	}))
	return mux
}

func TestLGSPAgainstPeer(t *testing.T) {
	peer := &lgspPeer{valid: map[string]bool{}, docs: map[string]map[string]any{}, statuses: map[string]string{}}
	srv := httptest.NewServer(peer.handler())
	defer srv.Close()
	l := &LGSP{TokenURL: srv.URL + "/token", ClientID: "client", ClientSecret: "csecret", Base: srv.URL + "/v1",
		Unit: "H53.02", UnitSecret: "unit-secret"}
	ctx := context.Background()
	body := []byte("<edXML>x</edXML>")
	rc, err := l.Send(ctx, Outgoing{MessageID: "m1", Kind: edxml.KindStatus, From: "H53.02", To: []string{"H53"}, Body: body})
	if err != nil || rc.ID != "vb-m1" {
		t.Fatalf("send: %v %+v", err, rc)
	}
	// The platform revokes our token: the adapter fetches a new one and carries on.
	peer.mu.Lock()
	peer.valid = map[string]bool{}
	peer.mu.Unlock()
	items, err := l.List(ctx, edxml.KindStatus, 0)
	if err != nil || len(items) != 1 || items[0].Kind != edxml.KindStatus {
		t.Fatalf("list: %v %+v", err, items)
	}
	if peer.issued != 2 {
		t.Fatalf("tokens issued %d, want 2", peer.issued)
	}
	got, err := l.Fetch(ctx, "vb-m1")
	if err != nil || string(got) != string(body) {
		t.Fatalf("fetch: %v", err)
	}
	if err := l.Ack(ctx, "vb-m1", false, "bad"); err != nil || peer.statuses["vb-m1"] != "FAIL" {
		t.Fatalf("ack: %v", err)
	}
	bad := &LGSP{TokenURL: srv.URL + "/token", ClientID: "client", ClientSecret: "nope", Base: srv.URL + "/v1"}
	if _, err := bad.List(ctx, "", 0); err == nil || IsTemporary(err) {
		t.Fatalf("wrong client secret must be a permanent error: %v", err)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	if d := parseRetryAfter("120", now); d != 2*time.Minute {
		t.Error(d)
	}
	if d := parseRetryAfter(now.Add(30*time.Second).Format(http.TimeFormat), now); d != 30*time.Second {
		t.Error(d)
	}
	if d := parseRetryAfter("junk", now); d != 0 {
		t.Error(d)
	}
}

func TestDirectoryAliases(t *testing.T) {
	var d Directory
	merge := time.Date(2025, 7, 1, 0, 0, 0, 0, edxml.Vietnam)
	d.AddAlias(Alias{Old: "000.00.00.h41", New: "H40", Since: merge})
	d.AddAlias(Alias{Old: "000.00.05.H41", New: "000.00.00.H41", Since: merge})
	if got := d.Resolve("000.00.05.H41", merge.AddDate(0, 1, 0)); got != "H40" {
		t.Fatalf("two hops: %s", got)
	}
	if got := d.Resolve("000.00.05.H41", merge.AddDate(0, -1, 0)); got != "000.00.05.H41" {
		t.Fatalf("before the merger: %s", got)
	}
	if !d.Same(" h40 ", "000.00.00.H41", merge) {
		t.Fatal("Same")
	}
}

func TestAppendBodyReusesTheBufferAndKeepsTheLimit(t *testing.T) {
	data := bytes.Repeat([]byte("gói tin "), 5000)
	buf := make([]byte, 0, 64<<10)
	for _, size := range []int64{int64(len(data)), 0, -1} { // announced, unknown
		got, err := AppendBody(buf, bytes.NewReader(data), size, MaxPacket)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("size %d: %d bytes, %v", size, len(got), err)
		}
	}
	small := make([]byte, 0, len(data)+1)
	got, err := AppendBody(small, bytes.NewReader(data), int64(len(data)), MaxPacket)
	if err != nil || &got[:1][0] != &small[:1][0] {
		t.Fatalf("a buffer large enough was not reused (%v)", err)
	}
	// One byte past the limit is read so that the caller can tell "too large".
	got, err = AppendBody(nil, bytes.NewReader(data), int64(len(data)), 100)
	if err != nil || len(got) != 101 {
		t.Fatalf("limit 100: read %d bytes, %v; want 101", len(got), err)
	}
}
