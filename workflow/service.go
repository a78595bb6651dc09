package workflow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/internal/apperr"
)

// Local is the time zone registers and dates are kept in (Asia/Ho_Chi_Minh, +07:00, no DST). A fixed
// zone avoids depending on the system tz database.
var Local = time.FixedZone("ICT", 7*3600)

// Dispatcher enqueues the deliveries of an issued document to its recipients inside the caller's
// transaction (a River InsertManyTx, for example): the document, its recipients and the jobs commit or
// roll back together. The exchange side implements it; cmd/lienthong wires it in.
type Dispatcher interface {
	DispatchTx(ctx context.Context, tx pgx.Tx, doc OutgoingDoc, recipients []Recipient) error
}

// StatusNotifier sends an edXML status (01 received, 02 returned, 03 registered, 04 assigned,
// 05 processing, 06 done) back to the sender of a document that came over the axis, inside the
// transaction that changed the document.
type StatusNotifier interface {
	NotifyStatusTx(ctx context.Context, tx pgx.Tx, ev StatusEvent) error
}

// StatusEvent is what a StatusNotifier gets.
type StatusEvent struct {
	DocID            string
	OrgCode          string // the organisation reporting (our side)
	SenderCode       string // where the status goes
	SenderDocumentID string // the sender's edXML DocumentId
	StatusCode       string // "01", "02", "03", ...
	Description      string // reason for 02, instruction for 04, ...
	ActorName        string
	At               time.Time
}

// Config holds the optional collaborators of a Service.
type Config struct {
	Logger     *slog.Logger
	Now        func() time.Time // injectable clock; time.Now when nil
	Dispatcher Dispatcher       // nil: recipients are recorded as queued and nothing is enqueued
	Status     StatusNotifier   // nil: no statuses are sent
	MaxFile    int64            // largest file accepted, bytes; 50 MB when zero
	// AuthCacheTTL is how long a verified token is remembered; 5 s when zero, off when negative.
	AuthCacheTTL time.Duration
}

// Service is the document office on one database.
type Service struct {
	pool    *pgxpool.Pool
	log     *slog.Logger
	now     func() time.Time
	disp    Dispatcher
	status  StatusNotifier
	maxFile int64
	auth    authCache
}

// New returns a Service on pool. Run the migrations first.
func New(pool *pgxpool.Pool, cfg Config) *Service {
	s := &Service{pool: pool, log: cfg.Logger, now: cfg.Now, disp: cfg.Dispatcher, status: cfg.Status, maxFile: cfg.MaxFile}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxFile <= 0 {
		s.maxFile = 50 << 20
	}
	s.auth.ttl = cfg.AuthCacheTTL
	if s.auth.ttl == 0 {
		s.auth.ttl = 5 * time.Second
	}
	return s
}

// SetDispatcher plugs in the delivery side after construction (serve hooks do this before listening).
func (s *Service) SetDispatcher(d Dispatcher) { s.disp = d }

// SetStatusNotifier plugs in the status sender after construction.
func (s *Service) SetStatusNotifier(n StatusNotifier) { s.status = n }

// Pool returns the database pool, for collaborators that share it.
func (s *Service) Pool() *pgxpool.Pool { return s.pool }

// Now is the service clock.
func (s *Service) Now() time.Time { return s.now() }

// Ping checks that the database answers.
func (s *Service) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// WithTx runs fn in a transaction: committed when fn returns nil, rolled back otherwise. The rollback
// runs on a context that outlives a cancelled request so a connection never goes back dirty.
func WithTx(ctx context.Context, db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, fn func(tx pgx.Tx) error,
) (err error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return unavailable(err)
	}
	defer func() {
		if err != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			_ = tx.Rollback(rctx)
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(ctx); err != nil {
		return dbErr(err)
	}
	return nil
}

func (s *Service) withTx(ctx context.Context, fn func(tx pgx.Tx) error) error {
	return WithTx(ctx, s.pool, fn)
}

func unavailable(err error) error {
	return apperr.Wrap(apperr.Unavailable, "database_unavailable",
		"Cơ sở dữ liệu tạm thời không trả lời, vui lòng thử lại / the database is not answering, try again", err)
}

// dbErr turns driver errors into apperr kinds at the edge of the store.
func dbErr(err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return apperr.Wrap(apperr.NotFound, "not_found", "Không tìm thấy / not found", err)
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return apperr.Wrap(apperr.Unavailable, "cancelled", "Yêu cầu bị huỷ hoặc quá thời gian / request cancelled or timed out", err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code[:2] {
		case "23": // integrity constraint violation
			if pgErr.Code == "23505" {
				return apperr.Wrap(apperr.Conflict, "duplicate", "Bản ghi đã tồn tại / the record already exists", err)
			}
			return apperr.Wrap(apperr.Invalid, "constraint", "Dữ liệu vi phạm ràng buộc / the data breaks a rule: "+pgErr.ConstraintName, err)
		case "22": // data exception: bad value that slipped through validation
			return apperr.Wrap(apperr.Invalid, "bad_value", "Giá trị không hợp lệ / invalid value", err)
		case "40", "53", "57", "08":
			return unavailable(err)
		}
	}
	var connErr *pgconn.ConnectError
	if errors.As(err, &connErr) {
		return unavailable(err)
	}
	return fmt.Errorf("workflow: %w", err)
}

func notFound(what string) error {
	return apperr.New(apperr.NotFound, "not_found", "Không tìm thấy "+what+" / "+what+" not found")
}
