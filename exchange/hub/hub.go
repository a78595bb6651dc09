// Package hub is the reference interchange axis (`lienthong axis`): a store-and-forward hub with an
// inbox per organisation. Nodes authenticate with a bearer token bound to their organisation code; a
// push is idempotent on (sender, message id); a packet is routed to the inbox of each recipient (the
// X-To header, else the packet's To, or ResponseFor for a status) and stays there until that recipient
// acknowledges it; the acknowledgement is relayed to the sender (GET /v1/sent/{id}). State lives in
// PostgreSQL, so the hub survives restarts. The wire protocol is described in exchange/axis.
package hub

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/exchange/axis"
	"github.com/lienthong/lienthong/exchange/blobs"
)

var (
	sqlCreateHubTables          = queries.Must("CreateHubTables")
	sqlPurgeAcknowledgedPackets = queries.Must("PurgeAcknowledgedPackets")
	sqlListReferencedSegments   = queries.Must("ListReferencedSegments")
	sqlListNodes                = queries.Must("ListNodes")
	sqlListAliases              = queries.Must("ListAliases")
	sqlUpsertNode               = queries.Must("UpsertNode")
	sqlUpsertAlias              = queries.Must("UpsertAlias")
	sqlCountHubStats            = queries.Must("CountHubStats")
)

// Hub is the hub's state and HTTP handler.
type Hub struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	now  func() time.Time
	dir  *axis.Directory
	blob *blobs.Store

	mu     sync.RWMutex
	tokens map[[32]byte]string // token hash → node code
	push   map[string]string   // node code → push URL
	known  map[string]bool     // node codes

	purgedPackets, purgedSegments atomic.Int64 // by Purge, since start (metrics)

	notify   chan pushNote
	wg       sync.WaitGroup
	stop     chan struct{}
	stopOnce sync.Once
}

type pushNote struct{ url, id string }

// Config tunes a Hub.
type Config struct {
	Logger *slog.Logger
	Now    func() time.Time
	// Packets, if set, keeps packet bodies of blobs.Inline bytes or more in segment files instead of in
	// hub_packet (bodies stored before stay readable): far cheaper for PostgreSQL at volume.
	Packets *blobs.Store
	// Retention, if positive, is how long the hub keeps a packet once every recipient acknowledged it:
	// Purge runs a minute after start and then hourly. Packets still waiting for a recipient are kept
	// however old. Zero keeps everything.
	Retention time.Duration
}

// Open prepares the hub's tables on pool and loads nodes and aliases.
func Open(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Hub, error) {
	h := &Hub{pool: pool, log: cfg.Logger, now: cfg.Now, dir: &axis.Directory{}, blob: cfg.Packets,
		tokens: map[[32]byte]string{}, push: map[string]string{}, known: map[string]bool{},
		notify: make(chan pushNote, 1024), stop: make(chan struct{})}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if _, err := pool.Exec(ctx, sqlCreateHubTables); err != nil {
		return nil, fmt.Errorf("hub: creating tables: %w", err)
	}
	if err := h.reload(ctx); err != nil {
		return nil, err
	}
	h.wg.Add(1)
	go h.pusher()
	if cfg.Retention > 0 {
		h.wg.Add(1)
		go h.purger(cfg.Retention)
	}
	return h, nil
}

// purger applies the retention a minute after start (a hub restarted more often than hourly still
// purges), then hourly until Close.
func (h *Hub) purger(retention time.Duration) {
	defer h.wg.Done()
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			t.Reset(time.Hour)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
		res, err := h.Purge(ctx, h.now().Add(-retention))
		cancel()
		if err != nil {
			h.log.Error("applying the packet retention failed; the next hour tries again", "err", err)
		} else if res.Packets > 0 || res.Segments > 0 {
			h.log.Info("packets past the retention removed", "packets", res.Packets, "segment_files", res.Segments,
				"retention", retention.String())
		}
	}
}

// Purged is what one Purge removed.
type Purged struct {
	Packets  int // packets (with their acknowledged deliveries)
	Segments int // segment files no packet refers to any longer
}

// Purge removes the packets accepted before `before` that every recipient has acknowledged (done or
// failed), with their delivery rows, in batches; then the segment files that no remaining packet refers
// to and that no longer receive bytes. A packet still waiting in an inbox is never removed. Receipts of
// removed packets are no longer answered, and a sender retrying one of them (much later than any
// delivery deadline) would store it again; recipients file a document once whatever comes twice.
func (h *Hub) Purge(ctx context.Context, before time.Time) (Purged, error) {
	var res Purged
	for {
		tag, err := h.pool.Exec(ctx, sqlPurgeAcknowledgedPackets, before)
		if err != nil {
			return res, fmt.Errorf("hub: removing packets past the retention: %w", err)
		}
		res.Packets += int(tag.RowsAffected())
		h.purgedPackets.Add(tag.RowsAffected())
		if tag.RowsAffected() < 5000 {
			break
		}
	}
	if h.blob == nil {
		return res, nil
	}
	rows, err := h.pool.Query(ctx, sqlListReferencedSegments)
	if err != nil {
		return res, fmt.Errorf("hub: listing referenced segments: %w", err)
	}
	referenced := map[string]bool{}
	var name string
	if _, err := pgx.ForEachRow(rows, []any{&name}, func() error { referenced[name] = true; return nil }); err != nil {
		return res, fmt.Errorf("hub: listing referenced segments: %w", err)
	}
	removed, err := h.blob.Prune(referenced)
	res.Segments = len(removed)
	h.purgedSegments.Add(int64(res.Segments))
	return res, err
}

// Close stops the push notifier (the pool belongs to the caller).
func (h *Hub) Close() {
	h.stopOnce.Do(func() { close(h.stop) })
	h.wg.Wait()
}

func (h *Hub) reload(ctx context.Context) error {
	rows, err := h.pool.Query(ctx, sqlListNodes)
	if err != nil {
		return fmt.Errorf("hub: loading nodes: %w", err)
	}
	defer rows.Close()
	h.mu.Lock()
	defer h.mu.Unlock()
	for rows.Next() {
		var code, push string
		var sum []byte
		if err := rows.Scan(&code, &sum, &push); err != nil {
			return err
		}
		var k [32]byte
		copy(k[:], sum)
		h.tokens[k] = code
		h.push[code] = push
		h.known[code] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	arows, err := h.pool.Query(ctx, sqlListAliases)
	if err != nil {
		return err
	}
	defer arows.Close()
	for arows.Next() {
		var a axis.Alias
		if err := arows.Scan(&a.Old, &a.New, &a.Since); err != nil {
			return err
		}
		h.dir.AddAlias(a)
	}
	return arows.Err()
}

// NewToken returns a fresh random node token.
func NewToken() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return "lt_" + hex.EncodeToString(b[:])
}

// AddNode registers (or re-keys) an organisation's node with its token and optional push URL.
func (h *Hub) AddNode(ctx context.Context, code, name, token, pushURL string) error {
	code = axis.NormaliseCode(code)
	if code == "" || len(token) < 16 {
		return errors.New("hub: a node needs a code and a token of at least 16 characters")
	}
	sum := sha256.Sum256([]byte(token))
	if _, err := h.pool.Exec(ctx, sqlUpsertNode, code, name, sum[:], pushURL); err != nil {
		return fmt.Errorf("hub: adding node %s: %w", code, err)
	}
	h.mu.Lock()
	for k, c := range h.tokens {
		if c == code {
			delete(h.tokens, k)
		}
	}
	h.tokens[sum] = code
	h.push[code] = pushURL
	h.known[code] = true
	h.mu.Unlock()
	return nil
}

// AddAlias records a code change (old → new from since).
func (h *Hub) AddAlias(ctx context.Context, a axis.Alias) error {
	if _, err := h.pool.Exec(ctx, sqlUpsertAlias, axis.NormaliseCode(a.Old), axis.NormaliseCode(a.New), a.Since); err != nil {
		return err
	}
	h.dir.AddAlias(a)
	return nil
}

func (h *Hub) nodeFor(token string) (string, bool) {
	sum := sha256.Sum256([]byte(token))
	h.mu.RLock()
	defer h.mu.RUnlock()
	c, ok := h.tokens[sum]
	return c, ok
}

func (h *Hub) isNode(code string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.known[code]
}

// Stats counts packets and pending deliveries (for tests and the demo summary).
type Stats struct {
	Packets    int64
	Deliveries int64
	Pending    int64
	Duplicates int64 // recipients holding the same (sender, message id) twice: must be 0
	Edocs      int64 // deliveries of document packets (the rest are statuses)
}

// Stats reads the counters.
func (h *Hub) Stats(ctx context.Context) (Stats, error) {
	var s Stats
	err := h.pool.QueryRow(ctx, sqlCountHubStats).Scan(&s.Packets, &s.Deliveries, &s.Pending, &s.Duplicates, &s.Edocs)
	return s, err
}

func (h *Hub) pusher() {
	defer h.wg.Done()
	for {
		select {
		case <-h.stop:
			return
		case n := <-h.notify:
			// One notification per node for everything that arrived meanwhile: a node pulls its whole
			// inbox, so a burst of packets needs one wake-up, not one per packet.
			batch := map[string]pushNote{n.url: n}
		drain:
			for {
				select {
				case m := <-h.notify:
					batch[m.url] = m
				default:
					break drain
				}
			}
			for _, m := range batch {
				sendPush(m, h.log)
			}
		}
	}
}
