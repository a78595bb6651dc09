package delivery

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/lienthong/lienthong/exchange/axis"
	"github.com/lienthong/lienthong/exchange/edxml"
)

var (
	sqlLockStatusRow             = queries.Must("LockStatusRow")
	sqlListInboundFiledBefore    = queries.Must("ListInboundFiledBefore")
	sqlInsertInbound             = queries.Must("InsertInbound")
	sqlSetInboundFiledDoc        = queries.Must("SetInboundFiledDoc")
	sqlGetInboundCodeAndDate     = queries.Must("GetInboundCodeAndDate")
	sqlUpdateStatusState         = queries.Must("UpdateStatusState")
	sqlInsertOutgoingStatusEvent = queries.Must("InsertOutgoingStatusEvent")
	sqlInsertIncomingStatusEvent = queries.Must("InsertIncomingStatusEvent")
	sqlMarkStatusEventApplied    = queries.Must("MarkStatusEventApplied")
	sqlGetSentEdocDocID          = queries.Must("GetSentEdocDocID")
	sqlGetStatusState            = queries.Must("GetStatusState")
)

// PullArgs is the job that pulls one kind of packet from our inbox on the axis.
type PullArgs struct {
	PacketKind string `json:"kind" river:"unique"`
	// FollowUp marks the extra pull PullNow asks for when a notification finds a pull of its kind
	// already waiting or running.
	FollowUp bool `json:"follow_up,omitempty" river:"unique"`
}

// Kind is the River job kind.
func (PullArgs) Kind() string { return "exchange_pull" }

// pullOpts: at most one pull per kind and period. Uniqueness is by period, not by state alone, so a
// pull left "running" by a killed process (rescued only after its timeout) cannot block later pulls;
// two pulls overlapping is harmless because receiving is idempotent.
func pullOpts(period time.Duration) *river.InsertOpts {
	if period < time.Second {
		period = time.Second
	}
	return &river.InsertOpts{Queue: QueueInbound, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: period}}
}

// pullNowOpts: a pull asked for by the axis's notification is unique while one waits or runs, not per
// period: the periodic pull of this period may have finished just before the packet came, and a
// notification must not wait for the next period (a running pull keeps listing while packets come).
var pullNowOpts = &river.InsertOpts{Queue: QueueInbound, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true,
	ByState: []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled}}}

// followUpOpts: at most one follow-up pull per kind and second, runnable at once (a scheduled job
// would wait for River's scheduler, up to 5 s); one still running from an earlier second does not
// swallow the next.
var followUpOpts = &river.InsertOpts{Queue: QueueInbound, MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true,
	ByPeriod: time.Second,
	ByState:  []rivertype.JobState{rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled}}}

type pullWorker struct {
	river.WorkerDefaults[PullArgs]
	n *Node
}

func (w *pullWorker) Timeout(*river.Job[PullArgs]) time.Duration { return 2 * time.Minute }

// NextRetry: a failed pull is retried soon; the packets it could not take stay in the inbox anyway.
func (w *pullWorker) NextRetry(*river.Job[PullArgs]) time.Time { return w.n.now().Add(time.Second) }

func (w *pullWorker) Work(ctx context.Context, job *river.Job[PullArgs]) error {
	// A pull lingers a second after draining an inbox it received from, listing every 100 ms: periodic
	// pulls are unique per period (at least a second), and a notification that comes while a pull runs
	// is dropped as a duplicate, so one that quit at the first empty listing would leave the rest of a
	// stream of packets waiting.
	_, more, err := w.n.pull(ctx, edxml.Kind(job.Args.PacketKind), time.Second)
	if err == nil && more {
		// Pulls kept coming until the budget ran out: run again at once rather than loop into the
		// job's timeout (a snooze costs no attempt).
		return river.JobSnooze(0)
	}
	return err
}

// Pull lists our inbox and receives every packet of the kind, until the inbox is empty. Each listing
// is fetched, checked and verified with up to InWorkers packets in flight; the documents are then
// filed in transactions of up to fileBatch packets (statements pipelined), and every settled packet is
// acknowledged. It returns how many packets it handled. A packet that fails for a temporary reason
// stays in the inbox for the next pull.
func (n *Node) Pull(ctx context.Context, kind edxml.Kind) (int, error) {
	handled, _, err := n.pull(ctx, kind, 0)
	return handled, err
}

// againFor is the kind's "list once more" word (see pull).
func (n *Node) againFor(kind edxml.Kind) *atomic.Bool {
	if kind == edxml.KindStatus {
		return &n.againStatus
	}
	return &n.againEdoc
}

// pullBudget bounds one pull, all its rounds together, well inside the pull job's timeout.
const pullBudget = time.Minute

// pull is Pull that, once it has received something, keeps listing for up to linger after the inbox
// ran dry (every tenth of it, at least every 50 ms) before it returns.
func (n *Node) pull(ctx context.Context, kind edxml.Kind, linger time.Duration) (int, bool, error) {
	// One pull per kind at a time in this process: a second one would list the same packets and fetch
	// them twice (harmless, since receiving is idempotent, but wasted work). A pull that finds another
	// running leaves word that it came: the running one may already be past its last listing, and a
	// packet announced in between would otherwise wait for the next periodic pull. The word is left
	// before trying the lock, so the holder, which reads it after unlocking, cannot miss it.
	only, again := &n.pullEdoc, n.againFor(kind)
	if kind == edxml.KindStatus {
		only = &n.pullStatus
	}
	total := 0
	var firstErr error
	begin := n.now()
	for {
		again.Store(true)
		if !only.TryLock() {
			return total, false, firstErr
		}
		again.Store(false)
		handled, err := n.pullLocked(ctx, kind, linger, begin)
		only.Unlock()
		total += handled
		if err != nil && firstErr == nil {
			firstErr = err
		}
		if !again.Load() || ctx.Err() != nil {
			return total, false, firstErr
		}
		if n.now().Sub(begin) >= pullBudget {
			return total, true, firstErr // the word stays set for whoever pulls next
		}
	}
}

// pullLocked is one pull; the caller holds the kind's pull lock.
func (n *Node) pullLocked(ctx context.Context, kind edxml.Kind, linger time.Duration, begin time.Time) (int, error) {
	handled := 0
	var firstErr error
	var dry time.Time // when the inbox was first found empty after packets came
	gap := max(linger/10, 50*time.Millisecond)
	for round := 0; round < 100000 && n.now().Sub(begin) < pullBudget; round++ {
		items, err := n.cfg.Axis.List(ctx, kind, 200)
		if err != nil {
			return handled, err
		}
		progress, err := n.receiveAll(ctx, items)
		if err != nil && firstErr == nil {
			firstErr = err
		}
		handled += progress
		// Keep going while the inbox yields packets: senders push while we pull, and waiting for the
		// next period would cap receiving at one listing per period.
		if len(items) > 0 && progress > 0 {
			dry = time.Time{}
			continue
		}
		if len(items) > 0 || handled == 0 || linger <= 0 { // no progress (errors), or nothing came at all
			break
		}
		if dry.IsZero() {
			dry = n.now()
		} else if n.now().Sub(dry) >= linger {
			break
		}
		select {
		case <-ctx.Done():
			return handled, firstErr
		case <-time.After(gap):
		}
	}
	return handled, firstErr
}

// fileBatch is how many received documents share one filing transaction: enough to spread the
// transaction's round trips thin, few enough that a retry after a failure redoes little.
const fileBatch = 50

// arrival is a fetched packet on its way in.
type arrival struct {
	it   axis.Item
	raw  []byte
	sum  []byte
	p    *edxml.Packet
	kept keptPacket

	verdict, detail string
	checks          []Check

	settled  bool   // nothing to store: only acknowledge, with ackOK and ackWhy
	ackOK    bool   // for a settled packet
	ackWhy   string // reason sent with a failed acknowledgement
	err      error  // temporary failure: leave it in the inbox
	dup      bool   // already filed before
	deferred bool   // not fetched: the window held enough bytes already; the next listing has it
}

// windowBytes bounds the packet bytes one window of a listing holds in memory at once (a listing may
// name 200 packets of up to axis.MaxPacket each); a packet of unknown size counts as unknownSize.
const (
	windowBytes = 64 << 20
	unknownSize = 1 << 20
)

// receiveAll takes one listing through fetch, checks, filing and acknowledgement, in windows of at most
// fileBatch packets and about windowBytes.
func (n *Node) receiveAll(ctx context.Context, items []axis.Item) (int, error) {
	handled := 0
	var firstErr error
	for _, w := range windows(items) {
		done, err := n.receiveWindow(ctx, w)
		handled += done
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return handled, firstErr
}

// windows splits a listing into runs of at most fileBatch packets and about windowBytes (a single
// packet larger than that is a window of its own).
func windows(items []axis.Item) [][]axis.Item {
	var out [][]axis.Item
	for len(items) > 0 {
		k, total := 0, 0
		for k < len(items) && k < fileBatch {
			size := items[k].Size
			if size <= 0 {
				size = unknownSize
			}
			if k > 0 && total+size > windowBytes {
				break
			}
			total += size
			k++
		}
		out = append(out, items[:k])
		items = items[k:]
	}
	return out
}

// receiveWindow fetches and checks its packets in parallel, files them (one transaction for the
// documents, one for the statuses) and acknowledges them.
func (n *Node) receiveWindow(ctx context.Context, items []axis.Item) (int, error) {
	arrs := make([]*arrival, len(items))
	var held atomic.Int64 // packet bytes this window holds
	n.each(len(items), func(i int) { arrs[i] = n.arrive(ctx, items[i], &held, i == 0) })
	var edocs, statuses []*arrival
	for _, a := range arrs {
		switch {
		case a.err != nil || a.settled || a.deferred:
		case a.p.Kind == edxml.KindStatus:
			statuses = append(statuses, a)
		default:
			edocs = append(edocs, a)
		}
	}
	edocs = n.markFiled(ctx, edocs)
	n.each(len(edocs), func(i int) { n.examine(ctx, edocs[i]) })
	edocs = slices.DeleteFunc(edocs, func(a *arrival) bool { return a.err != nil })
	n.inBatches(ctx, statuses, n.receiveStatuses)
	n.inBatches(ctx, edocs, n.fileEdocs)
	var settled []*arrival
	for _, a := range arrs {
		if a.err == nil && !a.deferred {
			settled = append(settled, a)
		}
	}
	acked := make([]error, len(settled))
	oneByOne := true
	batch, many := n.cfg.Axis.(axis.BatchAcker)
	if many && !n.noBatchAck.Load() && len(settled) > 0 {
		acks := make([]axis.Ack, len(settled))
		for i, a := range settled {
			acks[i] = axis.Ack{ID: a.it.ID, OK: a.ackOK, Reason: a.ackWhy}
		}
		err := batch.AckMany(ctx, acks)
		var ae *axis.Error
		if errors.As(err, &ae) && (ae.Status == http.StatusNotFound || ae.Status == http.StatusMethodNotAllowed || ae.Status == http.StatusNotImplemented) {
			// An axis (or a proxy in front of it) without the batch route: acknowledge one by one,
			// from now on.
			n.noBatchAck.Store(true)
			n.log.InfoContext(ctx, "the axis takes no batched acknowledgements; acknowledging one by one", "status", ae.Status)
		} else {
			if err != nil {
				n.log.WarnContext(ctx, "acknowledging a listing failed; its packets stay in the inbox and come back as duplicates", "packets", len(acks), "err", err)
			}
			for i := range acked {
				acked[i] = err
			}
			oneByOne = false
		}
	}
	if oneByOne {
		n.each(len(settled), func(i int) {
			a := settled[i]
			acked[i] = n.cfg.Axis.Ack(ctx, a.it.ID, a.ackOK, a.ackWhy)
			if acked[i] != nil {
				n.log.WarnContext(ctx, "acknowledging a packet failed; it stays in the inbox", "id", a.it.ID, "err", acked[i])
			}
		})
	}
	var firstErr error
	progress := 0
	for _, a := range arrs {
		if a.err != nil {
			n.log.WarnContext(ctx, "receiving a packet failed; it stays in the inbox", "id", a.it.ID, "err", a.err)
			if firstErr == nil {
				firstErr = a.err
			}
		}
	}
	for _, err := range acked {
		if err == nil {
			progress++
		} else if firstErr == nil {
			firstErr = err
		}
	}
	return progress, firstErr
}

// inBatches runs store over arrivals in transactions of up to fileBatch; a batch that fails (one packet
// can spoil a shared transaction: a filer refusing it, a constraint) is redone one packet at a time so
// that the others still go in, and each packet that still fails keeps its error.
func (n *Node) inBatches(ctx context.Context, arrs []*arrival, store func(context.Context, []*arrival) error) {
	for i := 0; i < len(arrs); i += fileBatch {
		chunk := arrs[i:min(i+fileBatch, len(arrs))]
		err := store(ctx, chunk)
		if err == nil {
			continue
		}
		if len(chunk) == 1 {
			chunk[0].err = err
			continue
		}
		n.log.InfoContext(ctx, "storing a batch of received packets failed; storing them one by one", "packets", len(chunk), "err", err)
		for _, a := range chunk {
			a.err = store(ctx, []*arrival{a})
		}
	}
}

// each runs f(0..count-1) with up to InWorkers calls at a time.
func (n *Node) each(count int, f func(i int)) {
	sem := make(chan struct{}, n.cfg.InWorkers)
	var wg sync.WaitGroup
	for i := 0; i < count; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			f(i)
		}()
	}
	wg.Wait()
}

// arrive fetches a waiting packet and does everything that needs no database: digest, parsing,
// validation, the sender check and the attachments' signatures; a document's bytes go to the packet
// store here, in parallel, before its filing transaction.
func (n *Node) arrive(ctx context.Context, it axis.Item, held *atomic.Int64, first bool) *arrival {
	a := &arrival{it: it, verdict: "accepted"}
	// The window's bytes are bounded by what was fetched, not only by the sizes listed (some axes list
	// none): past windowBytes, packets wait for the next listing. The overshoot is at most the packets
	// already being fetched.
	if !first && held.Load() >= windowBytes {
		a.deferred = true
		return a
	}
	raw := it.Body // small packets may come with the listing
	if raw == nil {
		var err error
		if raw, err = n.cfg.Axis.Fetch(ctx, it.ID); err != nil {
			a.err = err
			return a
		}
	}
	held.Add(int64(len(raw)))
	sum := sha256.Sum256(raw)
	a.raw, a.sum = raw, sum[:]
	// An axis that lists a digest (ours does) lets damage on the way, or on its disk, show: the packet
	// then stays in the inbox for the next pull instead of being refused.
	if it.SHA256 != "" && !strings.EqualFold(it.SHA256, hex.EncodeToString(sum[:])) {
		a.err = fmt.Errorf("packet %s does not match the digest the axis listed", it.ID)
		return a
	}
	p, err := edxml.ParseBytes(raw)
	if err != nil {
		n.Metrics.Rejected.Add(1)
		n.log.WarnContext(ctx, "unreadable packet refused", "id", it.ID, "from", it.From, "err", err)
		a.settled, a.ackWhy = true, truncate("not an edXML packet: "+err.Error(), 500)
		return a
	}
	a.p = p
	return a
}

// examine checks a parsed document (validation, the sender, the attachments' signatures) and puts its
// bytes in the packet store; like arrive it needs no database and runs in parallel.
func (n *Node) examine(ctx context.Context, a *arrival) {
	p, it := a.p, a.it
	from := p.Header.From.OrganID
	if probs := edxml.Validate(p); len(probs) > 0 {
		a.verdict, a.detail = "invalid", fmt.Sprintf("%s at %s: %s", probs[0].Code, probs[0].Path, probs[0].Message)
	} else if it.From != "" && !n.sameOrg(it.From, from) {
		a.verdict, a.detail = "sender_mismatch", fmt.Sprintf("the axis authenticated %s but the packet says %s", it.From, from)
	} else if n.cfg.Verifier != nil {
	verify:
		for _, at := range p.Attachments {
			files, err := at.Files()
			if err != nil {
				a.verdict, a.detail = "bad_attachment", err.Error()
				break
			}
			for _, f := range files {
				if !strings.HasSuffix(strings.ToLower(f.Name), ".pdf") && !strings.HasPrefix(string(f.Data), "%PDF") {
					continue
				}
				ok, why, err := n.cfg.Verifier.Verify(ctx, f.Name, f.Data)
				if err != nil {
					a.err = fmt.Errorf("verifying %s: %w", f.Name, err) // could not check: retry on the next pull
					break verify
				}
				a.checks = append(a.checks, Check{What: "signature " + f.Name, OK: ok, Detail: why})
				if !ok && a.verdict == "accepted" {
					a.verdict, a.detail = "bad_signature", f.Name+": "+why
				}
			}
		}
	}
	if a.err == nil {
		a.kept, a.err = n.keepPacket(a.raw, a.sum, keptPacket{})
	}
}

// markFiled settles the documents of a window that were filed before (a re-sent packet, or a lost
// acknowledgement) without checking or storing them again: one query for the whole window. If the query
// fails, nothing is marked and filing finds them instead (ON CONFLICT), at the cost of the checks and
// of their bytes stored once more.
func (n *Node) markFiled(ctx context.Context, edocs []*arrival) []*arrival {
	if len(edocs) == 0 {
		return edocs
	}
	senders, ids := make([]string, len(edocs)), make([]string, len(edocs))
	for i, a := range edocs {
		senders[i], ids[i] = a.p.Header.From.OrganID, a.p.Header.DocumentID
	}
	rows, err := n.pool.Query(ctx, sqlListInboundFiledBefore, n.cfg.Org, senders, ids)
	if err != nil {
		n.log.InfoContext(ctx, "looking up documents filed before failed; filing will find them", "err", err)
		return edocs
	}
	type key struct{ sender, id string }
	filed := map[key]bool{}
	var k key
	_, err = pgx.ForEachRow(rows, []any{&k.sender, &k.id}, func() error { filed[k] = true; return nil })
	if err != nil || len(filed) == 0 {
		return edocs
	}
	fresh := edocs[:0:0]
	for _, a := range edocs {
		if !filed[key{a.p.Header.From.OrganID, a.p.Header.DocumentID}] {
			fresh = append(fresh, a)
			continue
		}
		a.dup, a.settled, a.ackOK = true, true, true
		n.Metrics.Duplicates.Add(1)
		n.log.InfoContext(ctx, "packet received", "from", a.p.Header.From.OrganID, "document_id", a.p.Header.DocumentID,
			"verdict", "filed before", "duplicate", true)
	}
	return fresh
}

func (n *Node) sameOrg(a, b string) bool {
	return n.cfg.Directory.Same(a, b, n.now())
}

// fileEdocs files documents in one transaction: the inbound rows (a document already filed is only
// acknowledged again), each accepted one through the Filer, and a status reply for each (01, or 02
// with the reason), with the statements pipelined. Counters and the trail are updated only once the
// transaction committed.
func (n *Node) fileEdocs(ctx context.Context, arrs []*arrival) error {
	var replies []queuedJob // the status replies, sent at once after the commit (pushNow)
	err := pgx.BeginFunc(ctx, n.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, a := range arrs {
			code, date := codeAndDate(a.p)
			b.Queue(sqlInsertInbound, n.cfg.Org, a.p.Header.From.OrganID, a.p.Header.DocumentID, code, date, a.it.ID, a.sum,
				a.kept.bytes, a.kept.ref, a.verdict, a.detail, n.now())
		}
		ids := make([]int64, len(arrs))
		br := tx.SendBatch(ctx, b)
		for i := range arrs {
			err := br.QueryRow().Scan(&ids[i])
			if errors.Is(err, pgx.ErrNoRows) {
				continue // already filed (a re-sent packet, or our ack was lost): just ack again
			}
			if err != nil {
				_ = br.Close()
				return err
			}
		}
		if err := br.Close(); err != nil {
			return err
		}
		filed := &pgx.Batch{}
		var out []StatusOut
		for i, a := range arrs {
			a.dup = ids[i] == 0
			if a.dup {
				continue
			}
			code, date := codeAndDate(a.p)
			statusCode, desc := edxml.StatusReceived, "Đã nhận văn bản điện tử / received"
			if a.verdict != "accepted" {
				statusCode, desc = edxml.StatusRejected, "Từ chối tiếp nhận / refused: "+a.detail
			} else if n.cfg.Filer != nil {
				docID, err := n.cfg.Filer.FileTx(ctx, tx, Incoming{To: n.cfg.Org, From: a.it.From, Packet: a.p, SHA256: a.sum, Checks: a.checks})
				if err != nil {
					return fmt.Errorf("filing: %w", err)
				}
				filed.Queue(sqlSetInboundFiledDoc, ids[i], docID)
			}
			out = append(out, StatusOut{Sender: a.p.Header.From.OrganID, DocumentID: a.p.Header.DocumentID, Code: statusCode,
				Description: truncate(desc, 500), CodeText: code, Date: date})
		}
		if filed.Len() > 0 {
			if err := tx.SendBatch(ctx, filed).Close(); err != nil {
				return err
			}
		}
		var err error
		replies, err = n.queueStatusesTx(ctx, tx, out, n.now().Add(directGrace))
		return err
	})
	if err != nil {
		return err
	}
	n.pushNow(ctx, replies)
	for _, a := range arrs {
		a.settled, a.ackOK = true, true
		switch {
		case a.dup:
			n.Metrics.Duplicates.Add(1)
		case a.verdict != "accepted":
			n.Metrics.Rejected.Add(1)
		default:
			n.Metrics.Received.Add(1)
		}
		n.log.InfoContext(ctx, "packet received", "from", a.p.Header.From.OrganID, "document_id", a.p.Header.DocumentID,
			"verdict", a.verdict, "duplicate", a.dup)
	}
	return nil
}

func codeAndDate(p *edxml.Packet) (code, date string) {
	if c := p.Header.Code; c != nil {
		code = c.String()
	}
	if pi := p.Header.PromulgationInfo; pi != nil {
		date = pi.PromulgationDate
	}
	return code, date
}

// StatusOut is a status we send about a document.
type StatusOut struct {
	DocID       string // our document id, for the ledger (may be empty)
	Sender      string // the organisation the status goes to
	DocumentID  string // the document's edXML DocumentId
	Code        string
	Description string
	CodeText    string // "number/notation" of the document (ResponseFor/Code)
	Date        string // its promulgation date yyyy/MM/dd
	Recipient   string // for 13 (recall request, we are the sender): the recipient asked
}

// SendStatusTx queues a status packet in the caller's transaction.
func (n *Node) SendStatusTx(ctx context.Context, tx pgx.Tx, s StatusOut) error {
	return n.sendStatusesTx(ctx, tx, []StatusOut{s})
}

// statusKey is one (document, recipient) pair of the status state machine.
type statusKey struct{ sender, documentID, recipient string }

// queueLocks queues the lock of every distinct pair in b, in lockOrder, and returns that order.
func queueLocks(b *pgx.Batch, keys []statusKey, now time.Time) []statusKey {
	order := lockOrder(keys)
	for _, k := range order {
		b.Queue(sqlLockStatusRow, k.sender, k.documentID, k.recipient, now)
	}
	return order
}

// readStates reads the states the locks queued by queueLocks returned.
func readStates(br pgx.BatchResults, order []statusKey) (map[statusKey]edxml.State, error) {
	states := make(map[statusKey]edxml.State, len(order))
	for _, k := range order {
		var st edxml.State
		if err := br.QueryRow().Scan(&st.Progress, &st.Recall); err != nil {
			return nil, err
		}
		states[k] = st
	}
	return states, nil
}

// lockOrder returns the distinct keys sorted: every transaction locks status rows in the same order,
// so two processes applying overlapping batches wait for each other instead of deadlocking.
func lockOrder(keys []statusKey) []statusKey {
	out := slices.Clone(keys)
	slices.SortFunc(out, func(a, b statusKey) int {
		return cmp.Or(strings.Compare(a.sender, b.sender), strings.Compare(a.documentID, b.documentID), strings.Compare(a.recipient, b.recipient))
	})
	return slices.Compact(out)
}

// sendStatusesTx queues status packets in the caller's transaction, in order, with the statements of
// all of them pipelined: lock and read every pair's state, move our side of each state machine, then
// write the ledger rows and the outbox. Our own side moves first: a status we may not send (15 without
// a 13, 03 after a 02) fails the whole call before anything leaves.
func (n *Node) sendStatusesTx(ctx context.Context, tx pgx.Tx, ss []StatusOut) error {
	_, err := n.queueStatusesTx(ctx, tx, ss, time.Time{})
	return err
}

// queueStatusesTx is sendStatusesTx whose delivery jobs become runnable at `at` (see pushNow); it
// returns the packets it queued.
func (n *Node) queueStatusesTx(ctx context.Context, tx pgx.Tx, ss []StatusOut, at time.Time) ([]queuedJob, error) {
	if len(ss) == 0 {
		return nil, nil
	}
	keys := make([]statusKey, len(ss))
	tos := make([]string, len(ss))
	for i := range ss {
		s := &ss[i]
		if s.CodeText == "" {
			// The code is required in ResponseFor: take it from what we received, or from the DocumentId.
			_ = tx.QueryRow(ctx, sqlGetInboundCodeAndDate, n.cfg.Org, s.Sender, s.DocumentID).Scan(&s.CodeText, &s.Date)
			if s.CodeText == "" {
				parts := strings.SplitN(s.DocumentID, ",", 3)
				s.CodeText = parts[len(parts)-1]
			}
		}
		tos[i], keys[i] = s.Sender, statusKey{s.Sender, s.DocumentID, n.cfg.Org}
		if s.Code == edxml.StatusRecallRequest {
			tos[i], keys[i] = s.Recipient, statusKey{n.cfg.Org, s.DocumentID, s.Recipient}
		}
	}
	now := n.now()
	lock := &pgx.Batch{}
	order := queueLocks(lock, keys, now)
	br := tx.SendBatch(ctx, lock)
	states, err := readStates(br, order)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	write := &pgx.Batch{}
	ds := make([]Delivery, 0, len(ss))
	for i, s := range ss {
		k := keys[i]
		next, changed, aerr := states[k].Apply(s.Code)
		if aerr != nil {
			return nil, fmt.Errorf("%w: %v", ErrStatusNotAllowed, aerr)
		}
		if changed {
			states[k] = next
			write.Queue(sqlUpdateStatusState, k.sender, k.documentID, k.recipient, next.Progress, next.Recall, now)
		}
		pkt := edxml.NewStatus(edxml.StatusReport{From: edxml.Organ{OrganID: n.cfg.Org, OrganName: n.cfg.OrgName}, Code: s.Code,
			Description: s.Description, At: now,
			About: edxml.ResponseFor{OrganID: tos[i], Code: s.CodeText, PromulgationDate: s.Date, DocumentID: s.DocumentID}})
		raw, err := pkt.Marshal()
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(raw)
		write.Queue(sqlInsertOutgoingStatusEvent, k.sender, s.DocumentID, k.recipient, s.Code, s.Description, sum[:], now)
		ds = append(ds, Delivery{MessageID: MessageID(n.cfg.Org, s.DocumentID, tos[i], "status:"+s.Code), DocID: s.DocID,
			Sender: n.cfg.Org, Recipient: tos[i], DocumentID: s.DocumentID, Kind: edxml.KindStatus, StatusCode: s.Code, Packet: raw})
	}
	if err := tx.SendBatch(ctx, write).Close(); err != nil {
		return nil, err
	}
	return n.enqueueTx(ctx, tx, ds, at)
}

// receiveStatuses applies received status packets in one transaction, in listing order, with the
// statements pipelined: record every event (a repeat of a recorded packet changes nothing), lock and
// read the state of every pair, move each state machine, write the new states, then run the side
// effects (a recall request carried out and answered with 15; the Recorder told). A packet that can
// never apply (invalid, from the wrong sender) is settled with a failed acknowledgement. If the shared
// transaction fails, the caller retries the packets one by one.
func (n *Node) receiveStatuses(ctx context.Context, arrs []*arrival) error {
	type incoming struct {
		a       *arrival
		key     statusKey
		code    string
		desc    string
		applied bool
	}
	var ins []*incoming
	for _, a := range arrs {
		p := a.p
		if a.settled { // refused already (this is the one-by-one retry of a failed batch)
			continue
		}
		if probs := edxml.Validate(p); len(probs) > 0 {
			a.settled, a.ackOK, a.ackWhy = true, false, truncate(probs[0].Code+": "+probs[0].Message, 500)
			n.Metrics.StatusesIgnored.Add(1)
			continue
		}
		if a.it.From != "" && !n.sameOrg(a.it.From, p.Header.From.OrganID) {
			a.settled, a.ackOK, a.ackWhy = true, false, "sender mismatch"
			n.Metrics.StatusesIgnored.Add(1)
			continue
		}
		doc, recipient := p.StatusSubject()
		ins = append(ins, &incoming{a: a, key: statusKey{doc.Sender, doc.DocumentID, recipient},
			code: strings.TrimSpace(p.Header.StatusCode), desc: truncate(p.Header.Description, 500)})
	}
	if len(ins) == 0 {
		return nil
	}
	now := n.now()
	err := pgx.BeginFunc(ctx, n.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, in := range ins {
			b.Queue(sqlInsertIncomingStatusEvent, in.key.sender, in.key.documentID, in.key.recipient, in.code, in.desc, in.a.sum, now)
		}
		keys := make([]statusKey, len(ins))
		for i, in := range ins {
			keys[i] = in.key
		}
		order := queueLocks(b, keys, now)
		br := tx.SendBatch(ctx, b)
		fresh := make([]bool, len(ins))
		events := make([]int64, len(ins))
		for i := range ins {
			err := br.QueryRow().Scan(&events[i])
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				_ = br.Close()
				return err
			}
			fresh[i] = err == nil
		}
		states, err := readStates(br, order)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		w := &pgx.Batch{}
		changedKeys := map[statusKey]bool{}
		for i, in := range ins {
			if !fresh[i] {
				continue // this very packet was applied before (a re-sent status, or our ack was lost)
			}
			next, changed, aerr := states[in.key].Apply(in.code)
			if !changed {
				if aerr != nil {
					n.log.InfoContext(ctx, "status not applied", "document_id", in.key.documentID, "recipient", in.key.recipient, "code", in.code, "err", aerr)
				}
				continue
			}
			states[in.key], changedKeys[in.key], in.applied = next, true, true
			w.Queue(sqlMarkStatusEventApplied, events[i])
		}
		for k := range changedKeys {
			st := states[k]
			w.Queue(sqlUpdateStatusState, k.sender, k.documentID, k.recipient, st.Progress, st.Recall, now)
		}
		if w.Len() > 0 {
			if err := tx.SendBatch(ctx, w).Close(); err != nil {
				return err
			}
		}
		for _, in := range ins {
			if !in.applied {
				continue
			}
			k := in.key
			// A sender recalls a document we received: carry it out and answer 15 in this transaction.
			if in.code == edxml.StatusRecallRequest && n.sameOrg(k.recipient, n.cfg.Org) {
				if rc, ok := n.cfg.Filer.(IncomingRecaller); ok {
					if _, err := rc.RecallIncomingTx(ctx, tx, n.cfg.Org, k.sender, k.documentID, in.desc); err != nil {
						return fmt.Errorf("recalling: %w", err)
					}
					if err := n.SendStatusTx(ctx, tx, StatusOut{Sender: k.sender, DocumentID: k.documentID, Code: edxml.StatusRecallAccepted,
						Description: "Đã thu hồi văn bản / document recalled"}); err != nil {
						return err
					}
				}
			}
			if n.cfg.Recorder != nil && k.sender == n.cfg.Org {
				var docID string
				_ = tx.QueryRow(ctx, sqlGetSentEdocDocID, k.sender, k.documentID, k.recipient).Scan(&docID)
				if docID != "" {
					if err := n.cfg.Recorder.DeliveryStatusTx(ctx, tx, docID, k.recipient, in.code, truncate(in.desc, 200)); err != nil {
						n.log.WarnContext(ctx, "recording a status failed", "doc", docID, "err", err)
					}
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, in := range ins {
		in.a.settled, in.a.ackOK = true, true
		if in.applied {
			n.Metrics.StatusesIn.Add(1)
		} else {
			n.Metrics.StatusesIgnored.Add(1)
		}
	}
	return nil
}

// StatusOf returns the state of one (document, recipient) pair as our ledger knows it.
func (n *Node) StatusOf(ctx context.Context, sender, documentID, recipient string) (edxml.State, error) {
	var st edxml.State
	err := n.pool.QueryRow(ctx, sqlGetStatusState, sender, documentID, recipient).Scan(&st.Progress, &st.Recall)
	if errors.Is(err, pgx.ErrNoRows) {
		return edxml.State{}, nil
	}
	return st, err
}

// ErrStatusNotAllowed wraps edxml.ErrTransition for a status our side may not send now.
var ErrStatusNotAllowed = errors.New("delivery: status not allowed")
