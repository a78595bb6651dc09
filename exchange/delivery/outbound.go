package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/lienthong/lienthong/exchange/axis"
	"github.com/lienthong/lienthong/exchange/blobs"
	"github.com/lienthong/lienthong/exchange/edxml"
)

var (
	sqlMarkOutboxSent         = queries.Must("MarkOutboxSent")
	sqlInsertOutbox           = queries.Must("InsertOutbox")
	sqlGetOutboxForDelivery   = queries.Must("GetOutboxForDelivery")
	sqlRecordFailedAttempt    = queries.Must("RecordFailedAttempt")
	sqlSetOutboxState         = queries.Must("SetOutboxState")
	sqlUpsertFailedDelivery   = queries.Must("UpsertFailedDelivery")
	sqlListFailedDeliveries   = queries.Must("ListFailedDeliveries")
	sqlRequeueFailedDelivery  = queries.Must("RequeueFailedDelivery")
	sqlSetOutboxDeadline      = queries.Must("SetOutboxDeadline")
	sqlResolveFailedDelivery  = queries.Must("ResolveFailedDelivery")
	sqlGetOutboxKind          = queries.Must("GetOutboxKind")
	sqlListDocumentDeliveries = queries.Must("ListDocumentDeliveries")
)

// DeliverArgs is the job of one packet to one recipient. MessageID is stable per (document, recipient,
// action); Redelivery counts manual re-deliveries so that River's uniqueness lets a clerk's re-delivery
// through while duplicates of the same attempt are skipped.
type DeliverArgs struct {
	MessageID  string    `json:"message_id" river:"unique"`
	Redelivery int       `json:"redelivery" river:"unique"`
	Deadline   time.Time `json:"deadline"`
}

// Kind is the River job kind.
func (DeliverArgs) Kind() string { return "exchange_deliver" }

// Delivery is one packet to queue: an edoc for one recipient, or a status.
type Delivery struct {
	MessageID  string
	DocID      string // our document id (workflow), for the Recorder
	Sender     string
	Recipient  string
	DocumentID string // edXML DocumentId of the document concerned
	Kind       edxml.Kind
	StatusCode string
	Packet     []byte
	Urgency    string // normal, urgent, very_urgent, flash
}

// MessageID derives the stable id of a delivery: sender, document, recipient and action.
func MessageID(sender, documentID, recipient, action string) string {
	s := sha256.Sum256([]byte(sender + "\x00" + documentID + "\x00" + recipient + "\x00" + action))
	return fmt.Sprintf("%x", s[:16])
}

func (n *Node) deadline(urgency string) time.Time {
	d, ok := n.cfg.Deadlines[urgency]
	if !ok {
		d = n.cfg.Deadlines["normal"]
	}
	if d <= 0 {
		d = 72 * time.Hour
	}
	return n.now().Add(d)
}

func insertOpts(d Delivery, maxAttempts int) *river.InsertOpts {
	q, prio := QueueOutbound, 2
	if d.Kind == edxml.KindStatus {
		q = QueueStatus
	}
	if d.Urgency == "urgent" || d.Urgency == "very_urgent" || d.Urgency == "flash" {
		prio = 1
	}
	return &river.InsertOpts{Queue: q, Priority: prio, MaxAttempts: maxAttempts,
		UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// EnqueueTx writes the outbox rows and their River jobs in the caller's transaction. A delivery whose
// message id is already in the outbox is skipped (the same document issued twice enqueues once).
func (n *Node) EnqueueTx(ctx context.Context, tx pgx.Tx, ds []Delivery) error {
	_, err := n.enqueueTx(ctx, tx, ds, time.Time{})
	return err
}

// queuedJob is a delivery enqueued by enqueueTx with the id of its River job.
type queuedJob struct {
	d     *Delivery
	jobID int64
}

// enqueueTx is EnqueueTx whose jobs become runnable at `at` (zero: at once); it returns the deliveries
// it queued (not those already in the outbox) with their jobs.
func (n *Node) enqueueTx(ctx context.Context, tx pgx.Tx, ds []Delivery, at time.Time) ([]queuedJob, error) {
	// One round trip for all outbox rows (a document to many recipients, or a benchmark batch).
	batch := &pgx.Batch{}
	deadlines := make([]time.Time, len(ds))
	var kept keptPacket // a document to many recipients is the same packet: store it once
	for i, d := range ds {
		if d.MessageID == "" || len(d.Packet) == 0 {
			return nil, errors.New("delivery: a delivery needs a message id and a packet")
		}
		deadlines[i] = n.deadline(d.Urgency)
		k, err := n.keepPacket(d.Packet, nil, kept)
		if err != nil {
			return nil, err
		}
		kept = k
		batch.Queue(sqlInsertOutbox, d.MessageID, d.DocID, d.Sender, d.Recipient, d.DocumentID, string(d.Kind), d.StatusCode,
			k.bytes, k.ref, k.sum, urgencyOr(d.Urgency), deadlines[i], n.now())
	}
	br := tx.SendBatch(ctx, batch)
	var params []river.InsertManyParams
	var queued []queuedJob
	for i, d := range ds {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return nil, fmt.Errorf("delivery: outbox: %w", err)
		}
		if tag.RowsAffected() == 0 {
			continue // already queued: the same document issued twice enqueues once
		}
		opts := insertOpts(d, n.cfg.MaxAttempts)
		opts.ScheduledAt = at
		params = append(params, river.InsertManyParams{Args: DeliverArgs{MessageID: d.MessageID, Deadline: deadlines[i]}, InsertOpts: opts})
		queued = append(queued, queuedJob{d: &ds[i]})
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("delivery: outbox: %w", err)
	}
	if len(params) == 0 {
		return nil, nil
	}
	res, err := n.client.InsertManyTx(ctx, tx, params)
	if err != nil {
		return nil, fmt.Errorf("delivery: enqueueing: %w", err)
	}
	for i, r := range res {
		if r != nil && r.Job != nil && !r.UniqueSkippedAsDuplicate {
			queued[i].jobID = r.Job.ID
		}
	}
	return queued, nil
}

// pushNow sends status packets that a transaction which has just committed queued with their River
// jobs a little in the future (directGrace): the common case then costs no job run at all. Each packet
// that the axis accepted is marked sent and its job deleted, in one round trip each for the whole set;
// anything else (an axis error, a crash before this runs) is left to the job, with its retries,
// snoozes and failed list. A job that starts anyway finds its row sent and does nothing, and the axis
// answers a repeated message id with its first receipt.
func (n *Node) pushNow(ctx context.Context, qs []queuedJob) {
	type sent struct {
		rc  axis.Receipt
		job int64
	}
	res := make([]*sent, len(qs))
	n.each(len(qs), func(i int) {
		d := qs[i].d
		rc, err := n.cfg.Axis.Send(ctx, axis.Outgoing{MessageID: d.MessageID, Kind: d.Kind, From: d.Sender, To: []string{d.Recipient}, Body: d.Packet})
		if err != nil {
			n.log.DebugContext(ctx, "a status could not go out at once; its job will send it", "message_id", d.MessageID, "err", err)
			return
		}
		res[i] = &sent{rc: rc, job: qs[i].jobID}
	})
	b := &pgx.Batch{}
	var jobs []int64
	for i, r := range res {
		if r == nil {
			continue
		}
		b.Queue(sqlMarkOutboxSent, qs[i].d.MessageID, r.rc.ID, r.rc.At, r.rc.Raw, n.now())
		if r.job != 0 {
			jobs = append(jobs, r.job)
		}
		if r.rc.Duplicate {
			n.Metrics.DuplicateReceipts.Add(1)
		}
		n.Metrics.Sent.Add(1)
	}
	if b.Len() == 0 {
		return
	}
	if err := n.pool.SendBatch(ctx, b).Close(); err != nil {
		n.log.WarnContext(ctx, "recording statuses sent at once failed; their jobs will send them again", "err", err)
		return
	}
	if len(jobs) > 0 {
		if _, err := n.client.JobDeleteMany(ctx, river.NewJobDeleteManyParams().IDs(jobs...).First(len(jobs))); err != nil {
			n.log.InfoContext(ctx, "deleting the jobs of statuses already sent failed; they will find them sent", "err", err)
		}
	}
}

// directGrace is how long the job of a status sent at once waits before it may run: far longer than a
// push takes, short enough that a status whose direct push failed is retried soon.
const directGrace = 5 * time.Second

// keptPacket is what a row keeps of a packet: its digest and either the bytes or a store reference.
type keptPacket struct {
	raw   []byte // the packet (to recognise a repeat)
	sum   []byte
	bytes []byte
	ref   *string
}

// keepPacket stores a packet of Inline size or more in the segment store, if one is configured; prev
// is returned when it holds the same packet, and sum, if not nil, is the packet's SHA-256 already
// computed by the caller.
func (n *Node) keepPacket(raw, sum []byte, prev keptPacket) (keptPacket, error) {
	if prev.raw != nil && len(prev.raw) == len(raw) && &prev.raw[0] == &raw[0] {
		return prev, nil
	}
	if sum == nil {
		s := sha256.Sum256(raw)
		sum = s[:]
	}
	if n.cfg.Packets == nil || len(raw) < blobs.Inline {
		return keptPacket{raw: raw, sum: sum, bytes: raw}, nil
	}
	ref, err := n.cfg.Packets.PutDigest(raw, sum)
	if err != nil {
		return keptPacket{}, fmt.Errorf("delivery: keeping the packet: %w", err)
	}
	s := string(ref)
	return keptPacket{raw: raw, sum: sum, ref: &s}, nil
}

// storedPacket reads a packet kept in the segment store.
func (n *Node) storedPacket(ref string, sum []byte) ([]byte, error) {
	if n.cfg.Packets == nil {
		return nil, fmt.Errorf("delivery: packet %x is kept in a packet store but none is configured", sum)
	}
	return n.cfg.Packets.Get(blobs.Ref(ref), sum)
}

func urgencyOr(u string) string {
	if u == "" {
		return "normal"
	}
	return u
}

// retryPolicy: capped exponential backoff with jitter, never past the delivery's deadline (the job then
// runs once more at the deadline and expires).
type retryPolicy struct {
	backoff Backoff
	now     func() time.Time
}

// Delay is the wait before retry number attempt (1-based), with jitter in [d/2, d].
func (b Backoff) Delay(attempt int) time.Duration {
	d := b.Base
	for i := 1; i < attempt && d < b.Cap; i++ {
		d *= 2
	}
	if d > b.Cap {
		d = b.Cap
	}
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

func (p *retryPolicy) NextRetry(job *rivertype.JobRow) time.Time {
	next := p.now().Add(p.backoff.Delay(job.Attempt))
	var a DeliverArgs
	if job.Kind == (DeliverArgs{}).Kind() && json.Unmarshal(job.EncodedArgs, &a) == nil && !a.Deadline.IsZero() && a.Deadline.Before(next) {
		return a.Deadline
	}
	return next
}

type deliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	n *Node
}

type outboxRow struct {
	docID, sender, recipient, documentID, kind, code, state string
	packet                                                  []byte
	deadline                                                time.Time
	attempts                                                int // pushes tried so far, over every job and re-delivery
}

var errExpired = errors.New("delivery deadline passed")

func (w *deliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	n := w.n
	var r outboxRow
	var sum []byte
	var ref *string
	err := n.pool.QueryRow(ctx, sqlGetOutboxForDelivery, job.Args.MessageID).Scan(&r.docID, &r.sender, &r.recipient, &r.documentID,
		&r.kind, &r.code, &r.state, &r.packet, &ref, &sum, &r.deadline, &r.attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return river.JobCancel(fmt.Errorf("no outbox row for message %s", job.Args.MessageID))
	}
	if err != nil {
		return err
	}
	if r.state != "queued" {
		return nil // already sent (a rerun after a lost completion), failed or cancelled
	}
	if n.now().After(r.deadline) {
		n.Metrics.Expired.Add(1)
		if err := n.fail(ctx, job, r, "expired", errExpired.Error(), "expired"); err != nil {
			return err
		}
		return river.JobCancel(errExpired)
	}
	out := axis.Outgoing{MessageID: job.Args.MessageID, Kind: edxml.Kind(r.kind), From: r.sender, To: []string{r.recipient}, Body: r.packet,
		Retry: job.Attempt > 1 || r.attempts > 0}
	if r.packet == nil && ref != nil {
		if sa, ok := n.cfg.Axis.(axis.StreamingAxis); ok && sa.StreamsPackets() && n.cfg.Packets != nil {
			// Sent straight from the store with its digest declared: the axis refuses damaged bytes.
			sec, size, err := n.cfg.Packets.Section(blobs.Ref(*ref))
			if err != nil {
				return err
			}
			defer sec.Close()
			out.Stream, out.Size, out.SHA256 = sec, size, sum
		} else if out.Body, err = n.storedPacket(*ref, sum); err != nil {
			return err
		}
	}
	rc, err := n.cfg.Axis.Send(ctx, out)
	if err != nil {
		msg := err.Error()
		_, _ = n.pool.Exec(ctx, sqlRecordFailedAttempt, job.Args.MessageID, truncate(msg, 1000), n.now())
		switch {
		case !axis.IsTemporary(err):
			n.Metrics.Refused.Add(1)
			n.log.WarnContext(ctx, "axis refused a packet; not retrying", "message_id", job.Args.MessageID, "recipient", r.recipient, "err", err)
			if ferr := n.fail(ctx, job, r, "refused", msg, "failed"); ferr != nil {
				return ferr
			}
			return river.JobCancel(err)
		case axis.RetryAfter(err) > 0:
			n.Metrics.Snoozed.Add(1)
			return river.JobSnooze(axis.RetryAfter(err))
		case job.Attempt >= job.MaxAttempts:
			n.Metrics.Failed.Add(1)
			if ferr := n.fail(ctx, job, r, "attempts_exhausted", msg, "failed"); ferr != nil {
				return ferr
			}
			return err
		default:
			n.Metrics.Retries.Add(1)
			return err
		}
	}
	if rc.Duplicate {
		n.Metrics.DuplicateReceipts.Add(1)
	}
	// The outbox row is what says "sent"; River completes the job afterwards in its batched completer.
	// If the process dies in between, the job runs again, finds the row sent and does nothing, so the
	// job's completion need not share this transaction (completing inside it cost one more round trip
	// and one unbatched update of river_job per packet).
	if r.kind == string(edxml.KindEdoc) && n.cfg.Recorder != nil && r.docID != "" {
		err = pgx.BeginFunc(ctx, n.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, sqlMarkOutboxSent, job.Args.MessageID, rc.ID, rc.At, rc.Raw, n.now()); err != nil {
				return err
			}
			if err := n.cfg.Recorder.DeliveryStatusTx(ctx, tx, r.docID, r.recipient, "sent", "axis id "+rc.ID); err != nil {
				n.log.WarnContext(ctx, "recording the delivery status failed", "doc", r.docID, "err", err)
			}
			return nil
		})
	} else {
		_, err = n.pool.Exec(ctx, sqlMarkOutboxSent, job.Args.MessageID, rc.ID, rc.At, rc.Raw, n.now())
	}
	if err != nil {
		return err
	}
	n.Metrics.Sent.Add(1)
	return nil
}

// fail writes the failed-deliveries row and moves the outbox row to state (failed or expired).
func (n *Node) fail(ctx context.Context, job *river.Job[DeliverArgs], r outboxRow, reason, lastErr, state string) error {
	return pgx.BeginFunc(ctx, n.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlSetOutboxState, job.Args.MessageID, state, n.now()); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlUpsertFailedDelivery, job.Args.MessageID, reason, truncate(lastErr, 1000), job.Attempt, n.now()); err != nil {
			return err
		}
		if r.kind == string(edxml.KindEdoc) && n.cfg.Recorder != nil && r.docID != "" {
			if err := n.cfg.Recorder.DeliveryStatusTx(ctx, tx, r.docID, r.recipient, state, reason+": "+truncate(lastErr, 200)); err != nil {
				n.log.WarnContext(ctx, "recording the delivery failure failed", "doc", r.docID, "err", err)
			}
		}
		return nil
	})
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Failed is one entry of the failed-deliveries list.
type Failed struct {
	MessageID  string    `json:"message_id"`
	DocID      string    `json:"doc_id"`
	Recipient  string    `json:"recipient"`
	DocumentID string    `json:"document_id"`
	Kind       string    `json:"kind"`
	Reason     string    `json:"reason"`
	LastError  string    `json:"last_error"`
	Attempts   int       `json:"attempts"`
	FailedAt   time.Time `json:"failed_at"`
}

// FailedDeliveries lists unresolved failed deliveries, oldest first.
func (n *Node) FailedDeliveries(ctx context.Context, limit int) ([]Failed, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := n.pool.Query(ctx, sqlListFailedDeliveries, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Failed, error) {
		var f Failed
		err := r.Scan(&f.MessageID, &f.DocID, &f.Recipient, &f.DocumentID, &f.Kind, &f.Reason, &f.LastError, &f.Attempts, &f.FailedAt)
		return f, err
	})
}

// ErrNotFailed is returned by Redeliver for a delivery that is not in the failed list.
var ErrNotFailed = errors.New("delivery: no unresolved failed delivery with this message id")

// Redeliver puts a failed delivery back in the queue with the same message id (the recipient's axis
// still deduplicates) and a fresh deadline.
func (n *Node) Redeliver(ctx context.Context, messageID string) error {
	return pgx.BeginFunc(ctx, n.pool, func(tx pgx.Tx) error {
		var urgency string
		var redeliveries int
		err := tx.QueryRow(ctx, sqlRequeueFailedDelivery, messageID, n.now()).Scan(&urgency, &redeliveries)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFailed
		}
		if err != nil {
			return err
		}
		deadline := n.deadline(urgency)
		if _, err := tx.Exec(ctx, sqlSetOutboxDeadline, messageID, deadline); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, sqlResolveFailedDelivery, messageID, n.now()); err != nil {
			return err
		}
		var kind string
		_ = tx.QueryRow(ctx, sqlGetOutboxKind, messageID).Scan(&kind)
		_, err = n.client.InsertTx(ctx, tx, DeliverArgs{MessageID: messageID, Redelivery: redeliveries, Deadline: deadline},
			insertOpts(Delivery{Kind: edxml.Kind(kind), Urgency: urgency}, n.cfg.MaxAttempts))
		return err
	})
}

// DeliveryState is the outbox view of one delivery.
type DeliveryState struct {
	MessageID string
	Recipient string
	Kind      string
	State     string
	AxisID    string
	Attempts  int
}

// Deliveries lists the outbox rows of one of our documents.
func (n *Node) Deliveries(ctx context.Context, docID string) ([]DeliveryState, error) {
	rows, err := n.pool.Query(ctx, sqlListDocumentDeliveries, docID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (DeliveryState, error) {
		var d DeliveryState
		err := r.Scan(&d.MessageID, &d.Recipient, &d.Kind, &d.State, &d.AxisID, &d.Attempts)
		return d, err
	})
}
