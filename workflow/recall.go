package workflow

import (
	"context"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/internal/apperr"
)

var (
	sqlLockIncomingBySender = queries.Must("LockIncomingBySender")
	sqlDeleteIncomingFiles  = queries.Must("DeleteIncomingFiles")
	sqlRecallIncomingDoc    = queries.Must("RecallIncomingDoc")
	sqlRecallOutgoingDoc    = queries.Must("RecallOutgoingDoc")
)

// StRecalled is the state of a recalled document: incoming ones keep their metadata but lose their
// files (Decree 30: "delete"), outgoing ones are frozen.
const StRecalled = "recalled"

// Recaller is implemented by a Dispatcher that can also send recall requests (edXML type 1 / status 13)
// to the recipients of an outgoing document, inside the recalling transaction.
type Recaller interface {
	RecallTx(ctx context.Context, tx pgx.Tx, doc OutgoingDoc, recipients []Recipient, reason string) error
}

// RecallIncomingTx carries out a sender's recall of a document we received: its files are removed, its
// metadata and history kept, its state set to recalled. Recalling twice is harmless. The exchange side
// answers the sender (15) in the same transaction.
func (s *Service) RecallIncomingTx(ctx context.Context, tx pgx.Tx, toOrgCode, senderCode, senderDocumentID, reason string) (string, error) {
	to, err := s.lookupOrg(ctx, tx, toOrgCode)
	if err != nil {
		return "", err
	}
	sender := strings.ToUpper(strings.TrimSpace(senderCode))
	reason = strings.TrimSpace(reason)
	if err := checkText("reason", reason, 0, 1000); err != nil {
		return "", err
	}
	var id, state string
	err = tx.QueryRow(ctx, sqlLockIncomingBySender, to.ID, sender, strings.TrimSpace(senderDocumentID)).Scan(&id, &state)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", notFound("văn bản đến được thu hồi")
	}
	if err != nil {
		return "", dbErr(err)
	}
	if state == StRecalled {
		return id, nil
	}
	now := s.now()
	if _, err := tx.Exec(ctx, sqlDeleteIncomingFiles, id); err != nil {
		return "", dbErr(err)
	}
	if _, err := tx.Exec(ctx, sqlRecallIncomingDoc, id, reason, now); err != nil {
		return "", dbErr(err)
	}
	return id, s.audit(ctx, tx, Event{Actor: System("exchange"), Action: "incoming.recalled", OrgID: to.ID, DocID: id,
		Detail: map[string]any{"from": state, "reason": reason, "sender": sender, "document_id": senderDocumentID}})
}

// RecallOutgoing freezes an issued or dispatched document of the caller's organisation and, when the
// Dispatcher is also a Recaller, asks its recipients to take it back, in one transaction.
func (s *Service) RecallOutgoing(ctx context.Context, p Principal, rawID string, a Action) (OutgoingDoc, error) {
	id, err := ParseID(rawID)
	if err != nil {
		return OutgoingDoc{}, err
	}
	if err := require(p, RoleClerk, RoleLeader); err != nil {
		return OutgoingDoc{}, err
	}
	reason := strings.TrimSpace(a.Reason)
	if err := checkText("reason", reason, 1, 1000); err != nil {
		return OutgoingDoc{}, apperr.New(apperr.Invalid, "reason_required", "Thu hồi phải ghi lý do (reason) / a recall needs a reason")
	}
	var d OutgoingDoc
	err = s.withTx(ctx, func(tx pgx.Tx) error {
		var org int64
		var err error
		d, err = scanOutgoing(tx.QueryRow(ctx, sqlLockOutgoingDoc, id), &org)
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("văn bản đi")
		}
		if err != nil {
			return dbErr(err)
		}
		if org != p.OrgID {
			return errOtherOrg
		}
		if d.State != StIssued && d.State != StDispatched {
			return apperr.New(apperr.Conflict, "wrong_state",
				"Chỉ thu hồi được văn bản đã ban hành (issued/dispatched); văn bản đang ở trạng thái "+d.State+
					" / only issued or dispatched documents can be recalled; this one is "+d.State)
		}
		now := s.now()
		if _, err := tx.Exec(ctx, sqlRecallOutgoingDoc, id, reason, now); err != nil {
			return dbErr(err)
		}
		from := d.State
		d.State, d.Reason, d.UpdatedAt = StRecalled, reason, now
		if err := s.loadOutgoingDetails(ctx, tx, &d); err != nil {
			return err
		}
		if r, ok := s.disp.(Recaller); ok && len(d.Recipients) > 0 {
			if err := r.RecallTx(ctx, tx, d, d.Recipients, reason); err != nil {
				return err
			}
		}
		return s.audit(ctx, tx, Event{Actor: p, Action: "outgoing.recall", OrgID: org, DocID: id,
			Detail: map[string]any{"from": from, "to": StRecalled, "reason": reason, "recipients": len(d.Recipients)}})
	})
	if err != nil {
		return OutgoingDoc{}, err
	}
	return d, nil
}
