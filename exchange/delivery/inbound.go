package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/lienthong/lienthong/exchange/axis"
	"github.com/lienthong/lienthong/exchange/edxml"
)

// PullArgs is the job that pulls one kind of packet from our inbox on the axis.
type PullArgs struct {
	PacketKind string `json:"kind" river:"unique"`
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

type pullWorker struct {
	river.WorkerDefaults[PullArgs]
	n *Node
}

func (w *pullWorker) Timeout(*river.Job[PullArgs]) time.Duration { return 2 * time.Minute }

// NextRetry: a failed pull is retried soon; the packets it could not take stay in the inbox anyway.
func (w *pullWorker) NextRetry(*river.Job[PullArgs]) time.Time { return w.n.now().Add(time.Second) }

func (w *pullWorker) Work(ctx context.Context, job *river.Job[PullArgs]) error {
	_, err := w.n.Pull(ctx, edxml.Kind(job.Args.PacketKind))
	return err
}

// Pull lists our inbox and receives every packet of the kind, until the inbox is empty, with up to
// InWorkers packets in flight. It returns how many packets it handled. A packet that fails for a
// temporary reason stays in the inbox for the next pull.
func (n *Node) Pull(ctx context.Context, kind edxml.Kind) (int, error) {
	// One pull per kind at a time in this process: a second one would list the same packets and fetch
	// them twice (harmless, since receiving is idempotent, but wasted work).
	only := &n.pullEdoc
	if kind == edxml.KindStatus {
		only = &n.pullStatus
	}
	if !only.TryLock() {
		return 0, nil
	}
	defer only.Unlock()
	var handled atomic.Int64
	var mu sync.Mutex
	var firstErr error
	sem := make(chan struct{}, n.cfg.InWorkers)
	begin := n.now()
	for round := 0; round < 1000 && n.now().Sub(begin) < time.Minute; round++ {
		items, err := n.cfg.Axis.List(ctx, kind, 200)
		if err != nil {
			return int(handled.Load()), err
		}
		var progress atomic.Int64
		var wg sync.WaitGroup
		for _, it := range items {
			sem <- struct{}{}
			wg.Add(1)
			go func(it axis.Item) {
				defer func() { <-sem; wg.Done() }()
				if err := n.Receive(ctx, it); err != nil {
					n.log.WarnContext(ctx, "receiving a packet failed; it stays in the inbox", "id", it.ID, "err", err)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					return
				}
				progress.Add(1)
			}(it)
		}
		wg.Wait()
		handled.Add(progress.Load())
		// Keep going while the inbox yields packets: senders push while we pull, and waiting for the
		// next period would cap receiving at one listing per period.
		if len(items) == 0 || progress.Load() == 0 {
			break
		}
	}
	return int(handled.Load()), firstErr
}

// Receive handles one waiting packet: fetch, parse, validate, verify, file once with a status reply,
// then acknowledge to the axis. Packets that can never be accepted are acknowledged as failed.
func (n *Node) Receive(ctx context.Context, it axis.Item) error {
	raw, err := n.cfg.Axis.Fetch(ctx, it.ID)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	// An axis that lists a digest (ours does) lets damage on the way, or on its disk, show: the packet
	// then stays in the inbox for the next pull instead of being refused.
	if it.SHA256 != "" && !strings.EqualFold(it.SHA256, hex.EncodeToString(sum[:])) {
		return fmt.Errorf("packet %s does not match the digest the axis listed", it.ID)
	}
	p, err := edxml.ParseBytes(raw)
	if err != nil {
		n.Metrics.Rejected.Add(1)
		n.log.WarnContext(ctx, "unreadable packet refused", "id", it.ID, "from", it.From, "err", err)
		return n.cfg.Axis.Ack(ctx, it.ID, false, truncate("not an edXML packet: "+err.Error(), 500))
	}
	if p.Kind == edxml.KindStatus {
		return n.receiveStatus(ctx, it, p, sum[:])
	}
	return n.receiveEdoc(ctx, it, p, raw, sum[:])
}

func (n *Node) sameOrg(a, b string) bool {
	return n.cfg.Directory.Same(a, b, n.now())
}

func (n *Node) receiveEdoc(ctx context.Context, it axis.Item, p *edxml.Packet, raw, sum []byte) error {
	from := p.Header.From.OrganID
	verdict, detail := "accepted", ""
	var checks []Check
	if probs := edxml.Validate(p); len(probs) > 0 {
		verdict, detail = "invalid", fmt.Sprintf("%s at %s: %s", probs[0].Code, probs[0].Path, probs[0].Message)
	} else if it.From != "" && !n.sameOrg(it.From, from) {
		verdict, detail = "sender_mismatch", fmt.Sprintf("the axis authenticated %s but the packet says %s", it.From, from)
	} else if n.cfg.Verifier != nil {
		for _, a := range p.Attachments {
			files, err := a.Files()
			if err != nil {
				verdict, detail = "bad_attachment", err.Error()
				break
			}
			for _, f := range files {
				if !strings.HasSuffix(strings.ToLower(f.Name), ".pdf") && !strings.HasPrefix(string(f.Data), "%PDF") {
					continue
				}
				ok, why, err := n.cfg.Verifier.Verify(ctx, f.Name, f.Data)
				if err != nil {
					return fmt.Errorf("verifying %s: %w", f.Name, err) // could not check: retry on the next pull
				}
				checks = append(checks, Check{What: "signature " + f.Name, OK: ok, Detail: why})
				if !ok && verdict == "accepted" {
					verdict, detail = "bad_signature", f.Name+": "+why
				}
			}
		}
	}
	rejected := verdict != "accepted"
	kept, err := n.keepPacket(raw, sum, keptPacket{})
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, n.pool, func(tx pgx.Tx) error {
		var id int64
		code, date := "", ""
		if c := p.Header.Code; c != nil {
			code = c.String()
		}
		if pi := p.Header.PromulgationInfo; pi != nil {
			date = pi.PromulgationDate
		}
		err := tx.QueryRow(ctx, `INSERT INTO exchange_inbound (recipient, sender, document_id, code, promulgation, axis_id, sha256, packet,
				packet_ref, verdict, detail, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (recipient, sender, document_id) DO NOTHING RETURNING id`,
			n.cfg.Org, from, p.Header.DocumentID, code, date, it.ID, sum, kept.bytes, kept.ref, verdict, detail, n.now()).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			n.Metrics.Duplicates.Add(1) // already filed (a re-sent packet, or our ack was lost): just ack again
			return nil
		}
		if err != nil {
			return err
		}
		statusCode, desc := edxml.StatusReceived, "Đã nhận văn bản điện tử / received"
		if rejected {
			n.Metrics.Rejected.Add(1)
			statusCode, desc = edxml.StatusRejected, "Từ chối tiếp nhận / refused: "+detail
		} else {
			docID := ""
			if n.cfg.Filer != nil {
				docID, err = n.cfg.Filer.FileTx(ctx, tx, Incoming{To: n.cfg.Org, From: it.From, Packet: p, SHA256: sum, Checks: checks})
				if err != nil {
					return fmt.Errorf("filing: %w", err)
				}
				if _, err := tx.Exec(ctx, `UPDATE exchange_inbound SET filed_doc_id = $2 WHERE id = $1`, id, docID); err != nil {
					return err
				}
			}
			n.Metrics.Received.Add(1)
		}
		return n.sendStatusTx(ctx, tx, StatusOut{DocID: "", Sender: from, DocumentID: p.Header.DocumentID, Code: statusCode,
			Description: truncate(desc, 500), CodeText: code, Date: date})
	})
	if err != nil {
		return err
	}
	n.log.InfoContext(ctx, "packet received", "from", from, "document_id", p.Header.DocumentID, "verdict", verdict)
	// Transport acknowledgement after durable storage; a lost ack only makes the next pull see a duplicate.
	return n.cfg.Axis.Ack(ctx, it.ID, true, "")
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
	return n.sendStatusTx(ctx, tx, s)
}

func (n *Node) sendStatusTx(ctx context.Context, tx pgx.Tx, s StatusOut) error {
	if s.CodeText == "" {
		// The code is required in ResponseFor: take it from what we received, or from the DocumentId.
		_ = tx.QueryRow(ctx, `SELECT code, promulgation FROM exchange_inbound WHERE recipient = $1 AND sender = $2 AND document_id = $3`,
			n.cfg.Org, s.Sender, s.DocumentID).Scan(&s.CodeText, &s.Date)
		if s.CodeText == "" {
			parts := strings.SplitN(s.DocumentID, ",", 3)
			s.CodeText = parts[len(parts)-1]
		}
	}
	to := s.Sender
	docSender, recipient := s.Sender, n.cfg.Org
	if s.Code == edxml.StatusRecallRequest {
		to, docSender, recipient = s.Recipient, n.cfg.Org, s.Recipient
	}
	// Our own side of the state machine moves first: a status we may not send (15 without a 13, 03 after
	// a 02) is refused here, before anything leaves.
	if err := n.applyStatusTx(ctx, tx, docSender, s.DocumentID, recipient, s.Code); err != nil {
		return err
	}
	at := n.now()
	pkt := edxml.NewStatus(edxml.StatusReport{From: edxml.Organ{OrganID: n.cfg.Org, OrganName: n.cfg.OrgName}, Code: s.Code,
		Description: s.Description, At: at,
		About: edxml.ResponseFor{OrganID: to, Code: s.CodeText, PromulgationDate: s.Date, DocumentID: s.DocumentID}})
	raw, err := pkt.Marshal()
	if err != nil {
		return err
	}
	sum := sha256.Sum256(raw)
	if _, err := tx.Exec(ctx, `INSERT INTO exchange_status_event (direction, sender, document_id, recipient, code, description, applied, sha256, at)
		VALUES ('out', $1, $2, $3, $4, $5, true, $6, $7) ON CONFLICT DO NOTHING`, docSender, s.DocumentID, recipient, s.Code, s.Description, sum[:], at); err != nil {
		return err
	}
	return n.EnqueueTx(ctx, tx, []Delivery{{MessageID: MessageID(n.cfg.Org, s.DocumentID, to, "status:"+s.Code), DocID: s.DocID,
		Sender: n.cfg.Org, Recipient: to, DocumentID: s.DocumentID, Kind: edxml.KindStatus, StatusCode: s.Code, Packet: raw}})
}

func (n *Node) receiveStatus(ctx context.Context, it axis.Item, p *edxml.Packet, sum []byte) error {
	if probs := edxml.Validate(p); len(probs) > 0 {
		n.Metrics.StatusesIgnored.Add(1)
		return n.cfg.Axis.Ack(ctx, it.ID, false, truncate(probs[0].Code+": "+probs[0].Message, 500))
	}
	if it.From != "" && !n.sameOrg(it.From, p.Header.From.OrganID) {
		n.Metrics.StatusesIgnored.Add(1)
		return n.cfg.Axis.Ack(ctx, it.ID, false, "sender mismatch")
	}
	doc, recipient := p.StatusSubject()
	code := strings.TrimSpace(p.Header.StatusCode)
	err := pgx.BeginFunc(ctx, n.pool, func(tx pgx.Tx) error {
		st, err := lockStatus(ctx, tx, doc.Sender, doc.DocumentID, recipient, n.now())
		if err != nil {
			return err
		}
		next, changed, aerr := st.Apply(code)
		tag, err := tx.Exec(ctx, `INSERT INTO exchange_status_event (direction, sender, document_id, recipient, code, description, applied, sha256, at)
			VALUES ('in', $1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`, doc.Sender, doc.DocumentID, recipient, code,
			truncate(p.Header.Description, 500), changed, sum, n.now())
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 || !changed {
			if aerr != nil {
				n.log.InfoContext(ctx, "status not applied", "document_id", doc.DocumentID, "recipient", recipient, "code", code, "err", aerr)
			}
			n.Metrics.StatusesIgnored.Add(1)
			return nil
		}
		if _, err := tx.Exec(ctx, `INSERT INTO exchange_status (sender, document_id, recipient, progress, recall, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (sender, document_id, recipient) DO UPDATE SET progress = EXCLUDED.progress, recall = EXCLUDED.recall, updated_at = EXCLUDED.updated_at`,
			doc.Sender, doc.DocumentID, recipient, next.Progress, next.Recall, n.now()); err != nil {
			return err
		}
		n.Metrics.StatusesIn.Add(1)
		// A sender recalls a document we received: carry it out and answer 15 in this transaction.
		if code == edxml.StatusRecallRequest && n.sameOrg(recipient, n.cfg.Org) {
			if rc, ok := n.cfg.Filer.(IncomingRecaller); ok {
				if _, err := rc.RecallIncomingTx(ctx, tx, n.cfg.Org, doc.Sender, doc.DocumentID, truncate(p.Header.Description, 500)); err != nil {
					return fmt.Errorf("recalling: %w", err)
				}
				if err := n.sendStatusTx(ctx, tx, StatusOut{Sender: doc.Sender, DocumentID: doc.DocumentID, Code: edxml.StatusRecallAccepted,
					Description: "Đã thu hồi văn bản / document recalled"}); err != nil {
					return err
				}
			}
		}
		if n.cfg.Recorder != nil && doc.Sender == n.cfg.Org {
			var docID string
			_ = tx.QueryRow(ctx, `SELECT doc_id FROM exchange_outbox WHERE sender = $1 AND document_id = $2 AND recipient = $3 AND kind = 'edoc' LIMIT 1`,
				doc.Sender, doc.DocumentID, recipient).Scan(&docID)
			if docID != "" {
				if err := n.cfg.Recorder.DeliveryStatusTx(ctx, tx, docID, recipient, code, truncate(p.Header.Description, 200)); err != nil {
					n.log.WarnContext(ctx, "recording a status failed", "doc", docID, "err", err)
				}
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return n.cfg.Axis.Ack(ctx, it.ID, true, "")
}

// StatusOf returns the state of one (document, recipient) pair as our ledger knows it.
func (n *Node) StatusOf(ctx context.Context, sender, documentID, recipient string) (edxml.State, error) {
	var st edxml.State
	err := n.pool.QueryRow(ctx, `SELECT progress, recall FROM exchange_status WHERE sender = $1 AND document_id = $2 AND recipient = $3`,
		sender, documentID, recipient).Scan(&st.Progress, &st.Recall)
	if errors.Is(err, pgx.ErrNoRows) {
		return edxml.State{}, nil
	}
	return st, err
}

// ErrStatusNotAllowed wraps edxml.ErrTransition for a status our side may not send now.
var ErrStatusNotAllowed = errors.New("delivery: status not allowed")

func (n *Node) applyStatusTx(ctx context.Context, tx pgx.Tx, sender, documentID, recipient, code string) error {
	st, err := lockStatus(ctx, tx, sender, documentID, recipient, n.now())
	if err != nil {
		return err
	}
	next, changed, aerr := st.Apply(code)
	if aerr != nil {
		return fmt.Errorf("%w: %v", ErrStatusNotAllowed, aerr)
	}
	if !changed {
		return nil
	}
	_, err = tx.Exec(ctx, `INSERT INTO exchange_status (sender, document_id, recipient, progress, recall, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (sender, document_id, recipient) DO UPDATE SET progress = EXCLUDED.progress, recall = EXCLUDED.recall, updated_at = EXCLUDED.updated_at`,
		sender, documentID, recipient, next.Progress, next.Recall, n.now())
	return err
}

// lockStatus returns the pair's state with its row locked until the transaction ends, creating the row
// if needed, in one statement: two statuses for a new pair arriving together serialise on the row
// instead of both starting from an empty state.
func lockStatus(ctx context.Context, tx pgx.Tx, sender, documentID, recipient string, now time.Time) (edxml.State, error) {
	var st edxml.State
	err := tx.QueryRow(ctx, `INSERT INTO exchange_status (sender, document_id, recipient, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (sender, document_id, recipient) DO UPDATE SET sender = EXCLUDED.sender RETURNING progress, recall`,
		sender, documentID, recipient, now).Scan(&st.Progress, &st.Recall)
	return st, err
}
