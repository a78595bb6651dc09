// Package delivery moves packets between our database and the interchange axis with River jobs.
//
// Outbound: a document's issuing transaction writes one outbox row and one River job per (document,
// recipient) — the transactional outbox — so a job exists exactly when the document was issued. The job
// pushes the packet with a message id that is stable across retries (the axis answers a repeat with the
// first receipt) and records the receipt in the outbox row, which is what counts: River completes the
// job afterwards, and a rerun after a crash in between finds the row sent and does nothing. Retries
// back off exponentially with jitter up to a deadline set by urgency; 429/503 snooze for Retry-After;
// a packet the axis refuses is cancelled, not retried; after the last attempt the delivery lands in the
// failed-deliveries list (River's open-source edition has no dead-letter queue) from which a clerk can
// re-deliver it.
//
// Inbound: a periodic pull (and a push endpoint the axis may call) lists our inbox; each packet is
// parsed, validated, checked against its authenticated sender and the attachments' signatures, filed
// once per (sender, DocumentId) together with a status 01 reply in one transaction, and only then
// acknowledged to the axis. Status packets move the per-(document, recipient) state machine.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/lienthong/lienthong/exchange/axis"
	"github.com/lienthong/lienthong/exchange/blobs"
	"github.com/lienthong/lienthong/exchange/edxml"
)

// Queues.
const (
	QueueOutbound = "outbound"
	QueueStatus   = "status"
	QueueInbound  = "inbound"
)

// Incoming is a verified packet handed to the Filer.
type Incoming struct {
	To     string        // our organisation
	From   string        // the sender as the axis authenticated it
	Packet *edxml.Packet // parsed, validated
	SHA256 []byte        // of the raw packet
	Checks []Check       // signature and other checks done on the way in
}

// Check is the outcome of one verification of a received packet.
type Check struct {
	What   string `json:"what"` // e.g. "signature qd.pdf"
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
}

// Filer files a verified incoming document in the caller's transaction and returns its id. The
// workflow side implements it (WorkflowFiler); tests use smaller ones.
type Filer interface {
	FileTx(ctx context.Context, tx pgx.Tx, in Incoming) (docID string, err error)
}

// Recorder learns what happened to each outgoing delivery (sent, failed, expired, or a status code
// reported by the recipient) in the caller's transaction.
type Recorder interface {
	DeliveryStatusTx(ctx context.Context, tx pgx.Tx, docID, recipient, status, detail string) error
}

// Verifier checks one attachment (the PAdES signatures of a PDF). ok=false with a reason a clerk can
// read means the packet is refused with status 02; an error means the check could not run (retry).
type Verifier interface {
	Verify(ctx context.Context, name string, data []byte) (ok bool, detail string, err error)
}

// Backoff is the retry schedule: Base·2^(attempt-1), capped at Cap, with jitter.
type Backoff struct {
	Base time.Duration
	Cap  time.Duration
}

// Config configures a Node.
type Config struct {
	Org     string // our organisation code
	OrgName string
	Axis    axis.Axis
	// Directory resolves code aliases; a packet from a closed code is still accepted.
	Directory *axis.Directory
	Filer     Filer
	Recorder  Recorder
	Verifier  Verifier
	// Packets, if set, keeps the raw bytes of sent and received packets of blobs.Inline bytes or more in
	// segment files instead of in the outbox and inbound rows (which then keep the digest and a
	// reference): far cheaper for PostgreSQL at volume. Rows written before it was set stay readable.
	Packets *blobs.Store

	MaxAttempts int                      // per delivery; 10 by default
	Backoff     Backoff                  // 2 s … 15 min by default
	Deadlines   map[string]time.Duration // by urgency: normal 72 h, urgent 24 h, very_urgent 8 h, flash 2 h
	// PullInterval is how often the inbox is pulled; 0 means 1 minute, negative disables the periodic pull.
	PullInterval      time.Duration
	Workers           int // outbound MaxWorkers; 100 by default
	InWorkers         int // inbound and status MaxWorkers; 20 by default
	FetchCooldown     time.Duration
	FetchPollInterval time.Duration
	JobTimeout        time.Duration // per attempt; 2 min by default
	RescueAfter       time.Duration // RescueStuckJobsAfter; JobTimeout + 3 min by default
	SoftStop          time.Duration // graceful shutdown budget; 10 s by default
	Logger            *slog.Logger
	Now               func() time.Time
	// WorkersOnly: this client runs no leader duties (no maintenance, no periodic pull).
	WorkersOnly bool
}

// Metrics are counters since start.
type Metrics struct {
	Sent, DuplicateReceipts, Retries, Snoozed, Refused, Failed, Expired atomic.Int64
	Received, Duplicates, Rejected, StatusesIn, StatusesIgnored         atomic.Int64
}

// Node is one organisation's exchange: its River client, axis and collaborators.
type Node struct {
	cfg     Config
	pool    *pgxpool.Pool
	client  *river.Client[pgx.Tx]
	log     *slog.Logger
	now     func() time.Time
	Metrics Metrics

	pullEdoc, pullStatus   sync.Mutex
	againEdoc, againStatus atomic.Bool // a pull came while one of the kind ran (see pull)
	noBatchAck             atomic.Bool // the axis answered the batched acknowledgement with 404/405/501
}

var defaultDeadlines = map[string]time.Duration{
	"normal": 72 * time.Hour, "urgent": 24 * time.Hour, "very_urgent": 8 * time.Hour, "flash": 2 * time.Hour,
}

// New builds a Node on pool. The schema must be current (Migrate); New refuses to start otherwise.
func New(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Node, error) {
	if cfg.Org == "" || cfg.Axis == nil {
		return nil, errors.New("delivery: Org and Axis are required")
	}
	if err := CheckSchema(ctx, pool); err != nil {
		return nil, err
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 10
	}
	if cfg.Backoff.Base <= 0 {
		cfg.Backoff.Base = 2 * time.Second
	}
	if cfg.Backoff.Cap <= 0 {
		cfg.Backoff.Cap = 15 * time.Minute
	}
	if cfg.Deadlines == nil {
		cfg.Deadlines = defaultDeadlines
	}
	if cfg.PullInterval == 0 {
		cfg.PullInterval = time.Minute
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 100
	}
	if cfg.InWorkers <= 0 {
		cfg.InWorkers = 20
	}
	if cfg.JobTimeout <= 0 {
		cfg.JobTimeout = 2 * time.Minute
	}
	if cfg.RescueAfter <= 0 {
		cfg.RescueAfter = cfg.JobTimeout + 3*time.Minute
	}
	if cfg.SoftStop <= 0 {
		cfg.SoftStop = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	n := &Node{cfg: cfg, pool: pool, log: cfg.Logger.With("org", cfg.Org), now: cfg.Now}
	workers := river.NewWorkers()
	river.AddWorker(workers, &deliverWorker{n: n})
	river.AddWorker(workers, &pullWorker{n: n})
	rc := &river.Config{
		Workers:                     workers,
		Logger:                      slog.New(slog.DiscardHandler),
		RetryPolicy:                 &retryPolicy{backoff: cfg.Backoff, now: cfg.Now},
		MaxAttempts:                 cfg.MaxAttempts,
		JobTimeout:                  cfg.JobTimeout,
		RescueStuckJobsAfter:        cfg.RescueAfter,
		CompletedJobRetentionPeriod: time.Hour, // our ledger keeps history; river_job stays small
		CancelledJobRetentionPeriod: 7 * 24 * time.Hour,
		DiscardedJobRetentionPeriod: 30 * 24 * time.Hour,
		FetchCooldown:               cfg.FetchCooldown,
		FetchPollInterval:           cfg.FetchPollInterval,
		SoftStopTimeout:             cfg.SoftStop,
		LeaderElectionDisabled:      cfg.WorkersOnly,
		Queues: map[string]river.QueueConfig{
			QueueOutbound: {MaxWorkers: cfg.Workers},
			QueueStatus:   {MaxWorkers: cfg.InWorkers},
			QueueInbound:  {MaxWorkers: cfg.InWorkers},
		},
	}
	if cfg.PullInterval > 0 && !cfg.WorkersOnly {
		// Every client carries the same periodic set (River only fires the leader's).
		for _, k := range []edxml.Kind{edxml.KindEdoc, edxml.KindStatus} {
			rc.PeriodicJobs = append(rc.PeriodicJobs, river.NewPeriodicJob(river.PeriodicInterval(cfg.PullInterval),
				func() (river.JobArgs, *river.InsertOpts) {
					return PullArgs{PacketKind: string(k)}, pullOpts(cfg.PullInterval)
				},
				&river.PeriodicJobOpts{ID: "pull_" + string(k), RunOnStart: true}))
		}
	}
	client, err := river.NewClient(riverpgxv5.New(pool), rc)
	if err != nil {
		return nil, fmt.Errorf("delivery: river client: %w", err)
	}
	n.client = client
	return n, nil
}

// Start starts the workers.
func (n *Node) Start(ctx context.Context) error { return n.client.Start(ctx) }

// Stop shuts down gracefully: running deliveries get SoftStop to finish, then are cancelled and retried
// later by whichever client runs next.
func (n *Node) Stop(ctx context.Context) error {
	sctx, cancel := context.WithTimeout(ctx, n.cfg.SoftStop)
	defer cancel()
	if err := n.client.Stop(sctx); err != nil {
		hctx, hcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer hcancel()
		return n.client.StopAndCancel(hctx)
	}
	return nil
}

// Client exposes the River client (for River UI, Subscribe and tests).
func (n *Node) Client() *river.Client[pgx.Tx] { return n.client }

// Org is the node's organisation code.
func (n *Node) Org() string { return n.cfg.Org }

// PullNow asks for an immediate pull of both inboxes (the push endpoint calls it).
func (n *Node) PullNow(ctx context.Context) error {
	for _, k := range []edxml.Kind{edxml.KindEdoc, edxml.KindStatus} {
		res, err := n.client.Insert(ctx, PullArgs{PacketKind: string(k)}, pullNowOpts)
		if err != nil {
			return err
		}
		if res.UniqueSkippedAsDuplicate {
			// A pull of this kind waits or runs. One that runs may be past its last listing, and the
			// packet would wait for the next periodic pull (a minute by default): one more pull now.
			fu, err := n.client.Insert(ctx, PullArgs{PacketKind: string(k), FollowUp: true}, followUpOpts)
			if err != nil {
				return err
			}
			if fu.UniqueSkippedAsDuplicate {
				// This second's follow-up may be finishing as well (River records completions a
				// little later): a pull running in this process lists once more.
				n.againFor(k).Store(true)
			}
		}
	}
	return nil
}

// PushHandler is the endpoint the axis may call when a packet waits for us (POST, any body): it
// schedules a pull at once instead of waiting for the next period.
func (n *Node) PushHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		if err := n.PullNow(r.Context()); err != nil {
			http.Error(w, "could not schedule a pull", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
}
