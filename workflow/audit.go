package workflow

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/internal/apperr"
)

var (
	sqlAppendAuditRecord   = queries.Must("AppendAuditRecord")
	sqlGetAuditHead        = queries.Must("GetAuditHead")
	sqlListAuditChain      = queries.Must("ListAuditChain")
	sqlListDocumentHistory = queries.Must("ListDocumentHistory")
	sqlAuditHasHash        = queries.Must("AuditHasHash")
)

// Event is one audit record: who did what, when, to which document (and its hash), with which key.
type Event struct {
	Actor     Principal
	Action    string // e.g. "incoming.register", "outgoing.issue", "outgoing.dispatch_refused"
	OrgID     int64
	DocID     string
	DocSHA256 []byte // hash of the document's main file, when there is one
	Key       string // label of the key used (signatures), when there is one
	Detail    map[string]any
}

// auditPayload is the canonical record hashed into the chain. Field order is fixed by the struct and
// map keys are sorted by encoding/json, but verification only relies on the stored bytes.
type auditPayload struct {
	V         int            `json:"v"`
	At        string         `json:"at"`
	Actor     string         `json:"actor"`
	ActorID   int64          `json:"actor_id,omitempty"`
	Action    string         `json:"action"`
	OrgID     int64          `json:"org_id,omitempty"`
	DocID     string         `json:"doc_id,omitempty"`
	DocSHA256 string         `json:"doc_sha256,omitempty"`
	Key       string         `json:"key,omitempty"`
	Detail    map[string]any `json:"detail,omitempty"`
}

func (s *Service) audit(ctx context.Context, tx pgx.Tx, ev Event) error {
	at := s.now().UTC().Truncate(time.Microsecond)
	p := auditPayload{V: 1, At: at.Format(time.RFC3339Nano), Actor: ev.Actor.actor(), ActorID: ev.Actor.UserID,
		Action: ev.Action, OrgID: ev.OrgID, DocID: ev.DocID, Key: ev.Key, Detail: ev.Detail}
	if len(ev.DocSHA256) > 0 {
		p.DocSHA256 = hex.EncodeToString(ev.DocSHA256)
	}
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("workflow: audit payload: %w", err)
	}
	var org *int64
	if ev.OrgID != 0 {
		org = &ev.OrgID
	}
	var doc *string
	if ev.DocID != "" {
		doc = &ev.DocID
	}
	if _, err := tx.Exec(ctx, sqlAppendAuditRecord, b, at, p.Actor, ev.Action, org, doc); err != nil {
		return dbErr(err)
	}
	return nil
}

// AuditTx appends a record to the audit log inside the caller's transaction (the exchange side records
// sends, receipts and key use this way).
func (s *Service) AuditTx(ctx context.Context, tx pgx.Tx, ev Event) error {
	return s.audit(ctx, tx, ev)
}

// Audit appends a record in its own transaction.
func (s *Service) Audit(ctx context.Context, ev Event) error {
	return s.withTx(ctx, func(tx pgx.Tx) error { return s.audit(ctx, tx, ev) })
}

// ChainHash is the link function: SHA-256(prev || seq as 8 big-endian bytes || payload).
func ChainHash(prev []byte, seq int64, payload []byte) []byte {
	h := sha256.New()
	h.Write(prev)
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(seq))
	h.Write(b[:])
	h.Write(payload)
	return h.Sum(nil)
}

// AuditReport is the result of VerifyAudit.
type AuditReport struct {
	OK       bool   `json:"ok"`
	Records  int64  `json:"records"`
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash"`
	BadSeq   int64  `json:"bad_seq,omitempty"`
	Problem  string `json:"problem,omitempty"`
}

// VerifyAudit walks the whole chain and checks every link, that the indexed columns agree with the
// hashed payload, and that the tip in audit_head is the last record. Keep HeadHash somewhere else
// (printed, mailed) to detect a rewrite of the whole chain by someone with database superuser rights.
func (s *Service) VerifyAudit(ctx context.Context) (AuditReport, error) {
	var r AuditReport
	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return r, unavailable(err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var headHash, headPrev []byte
	if err := tx.QueryRow(ctx, sqlGetAuditHead).Scan(&r.HeadSeq, &headHash, &headPrev); err != nil {
		return r, dbErr(err)
	}
	r.HeadHash = hex.EncodeToString(headHash)
	rows, err := tx.Query(ctx, sqlListAuditChain)
	if err != nil {
		return r, dbErr(err)
	}
	defer rows.Close()
	prev := make([]byte, 32)
	var expect int64 = 1
	fail := func(seq int64, format string, a ...any) (AuditReport, error) {
		r.BadSeq, r.Problem = seq, fmt.Sprintf(format, a...)
		return r, nil
	}
	for rows.Next() {
		var (
			seq, org                int64
			at                      time.Time
			actor, action, doc      string
			payload, prevHash, hash []byte
		)
		if err := rows.Scan(&seq, &at, &actor, &action, &org, &doc, &payload, &prevHash, &hash); err != nil {
			return r, dbErr(err)
		}
		if seq != expect {
			return fail(expect, "record %d is missing (next is %d)", expect, seq)
		}
		if !bytes.Equal(prevHash, prev) {
			return fail(seq, "record %d does not link to record %d", seq, seq-1)
		}
		if !bytes.Equal(ChainHash(prev, seq, payload), hash) {
			return fail(seq, "record %d: hash does not match its content", seq)
		}
		var p auditPayload
		if err := json.Unmarshal(payload, &p); err != nil {
			return fail(seq, "record %d: payload is not JSON", seq)
		}
		pat, err := time.Parse(time.RFC3339Nano, p.At)
		if err != nil || p.Actor != actor || p.Action != action || p.OrgID != org || p.DocID != doc || !pat.Equal(at) {
			return fail(seq, "record %d: columns differ from the hashed payload", seq)
		}
		prev = hash
		expect++
		r.Records++
	}
	if err := rows.Err(); err != nil {
		return r, dbErr(err)
	}
	if r.HeadSeq != r.Records || !bytes.Equal(headHash, prev) {
		return fail(r.HeadSeq, "the chain tip (seq %d) does not match the last record (seq %d)", r.HeadSeq, r.Records)
	}
	r.OK = true
	return r, nil
}

// AuditEntry is one record as shown in a document's history.
type AuditEntry struct {
	Seq    int64           `json:"seq"`
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	Action string          `json:"action"`
	Record json.RawMessage `json:"record"`
}

// History returns the audit records of one document of the caller's organisation (clerks and leaders).
func (s *Service) History(ctx context.Context, p Principal, docID string) ([]AuditEntry, error) {
	docID, err := ParseID(docID)
	if err != nil {
		return nil, err
	}
	if err := require(p, RoleClerk, RoleLeader); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, sqlListDocumentHistory, docID, p.OrgID)
	if err != nil {
		return nil, dbErr(err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		var p []byte
		err := r.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &p)
		e.Record = p
		return e, err
	})
}

// AuditContainsHash reports whether some record of the chain has this hash (hex), i.e. whether a head
// noted earlier is still part of the history.
func (s *Service) AuditContainsHash(ctx context.Context, hexHash string) (bool, error) {
	h, err := hex.DecodeString(hexHash)
	if err != nil || len(h) != 32 {
		return false, apperr.New(apperr.Invalid, "bad_hash", "--expect-head phải là 64 ký tự hex / --expect-head must be 64 hex digits")
	}
	var ok bool
	err = s.pool.QueryRow(ctx, sqlAuditHasHash, h).Scan(&ok)
	return ok, dbErr(err)
}
