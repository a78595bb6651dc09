package workflow

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/internal/apperr"
)

var (
	sqlFindIncomingBySender   = queries.Must("FindIncomingBySender")
	sqlInsertReceivedIncoming = queries.Must("InsertReceivedIncoming")
	sqlSetRecipientStatus     = queries.Must("SetRecipientStatus")
	sqlGetOutgoingOrg         = queries.Must("GetOutgoingOrg")
)

// ReceivedDoc is a packet the exchange side received and verified, to be filed as an incoming document
// awaiting registration by a clerk.
type ReceivedDoc struct {
	ToOrgCode        string // our organisation (recipient); aliases resolve
	SenderCode       string
	SenderName       string
	SenderDocumentID string // edXML DocumentId; with SenderCode it makes filing idempotent
	CodeNumber       string
	CodeNotation     string
	PromulgationDate *time.Time
	DocumentType     string
	Subject          string
	Urgency          string // normal, urgent, very_urgent, flash
	Secrecy          string
	DueDate          *time.Time
	PacketSHA256     []byte // the raw packet's hash, kept as evidence
	Files            []FileIn
}

// Received is the result of ReceiveTx.
type Received struct {
	ID        string
	OrgID     int64
	Duplicate bool // the same (sender, DocumentId) was filed before; ID is that document
}

// ReceiveTx files a received packet in the caller's transaction (so the exchange side can commit it
// with its transport acknowledgement and status reply). Filing the same (sender, DocumentId) twice
// returns the first document with Duplicate set.
func (s *Service) ReceiveTx(ctx context.Context, tx pgx.Tx, in ReceivedDoc) (Received, error) {
	to, err := s.lookupOrg(ctx, tx, in.ToOrgCode)
	if err != nil {
		return Received{}, apperr.Wrap(apperr.NotFound, "unknown_recipient", "Cơ quan nhận không có trong danh mục / recipient organisation unknown", err)
	}
	sender, err := NormalizeOrgCode(in.SenderCode)
	if err != nil {
		return Received{}, err
	}
	docID := strings.TrimSpace(in.SenderDocumentID)
	if err := checkText("sender_document_id", docID, 1, 200); err != nil {
		return Received{}, err
	}
	v, err := s.validateIncoming(&IncomingIn{Sender: Party{sender, in.SenderName}, CodeNumber: in.CodeNumber,
		CodeNotation: in.CodeNotation, DocumentType: in.DocumentType, Subject: in.Subject, Urgency: in.Urgency,
		Secrecy: in.Secrecy, Files: in.Files})
	if err != nil {
		return Received{}, err
	}
	var existing string
	err = tx.QueryRow(ctx, sqlFindIncomingBySender, to.ID, sender, docID).Scan(&existing)
	if err == nil {
		return Received{ID: existing, OrgID: to.ID, Duplicate: true}, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return Received{}, dbErr(err)
	}
	files, err := s.storeFiles(ctx, tx, v.files)
	if err != nil {
		return Received{}, err
	}
	now := s.now()
	id := newID(now)
	tag, err := tx.Exec(ctx, sqlInsertReceivedIncoming,
		id, to.ID, sender, v.senderName, docID, v.number, v.notation, in.PromulgationDate, v.docType, v.subject,
		v.urgency, v.secrecy, in.DueDate, now, in.PacketSHA256, incomingSearch(v.subject, v.number, v.notation, v.senderName, sender))
	if err != nil {
		return Received{}, dbErr(err)
	}
	if tag.RowsAffected() == 0 { // filed concurrently by another transaction that has now committed
		if err := tx.QueryRow(ctx, sqlFindIncomingBySender, to.ID, sender, docID).Scan(&existing); err != nil {
			return Received{}, dbErr(err)
		}
		return Received{ID: existing, OrgID: to.ID, Duplicate: true}, nil
	}
	if err := insertFiles(ctx, tx, "incoming_file", id, files); err != nil {
		return Received{}, err
	}
	if err := s.audit(ctx, tx, Event{Actor: System("exchange"), Action: "incoming.receive", OrgID: to.ID, DocID: id,
		DocSHA256: in.PacketSHA256, Detail: map[string]any{"sender": sender, "document_id": docID,
			"packet_sha256": hex.EncodeToString(in.PacketSHA256)}}); err != nil {
		return Received{}, err
	}
	return Received{ID: id, OrgID: to.ID}, nil
}

// DeliveryStatusTx records what the exchange side learned about one recipient of an outgoing document
// (sent, delivered, failed, or an edXML status code such as "03").
func (s *Service) DeliveryStatusTx(ctx context.Context, tx pgx.Tx, docID, recipientCode, status, detail string) error {
	id, err := ParseID(docID)
	if err != nil {
		return err
	}
	if err := checkText("status", status, 1, 40); err != nil {
		return err
	}
	tag, err := tx.Exec(ctx, sqlSetRecipientStatus, id, strings.ToUpper(strings.TrimSpace(recipientCode)), status, detail, s.now())
	if err != nil {
		return dbErr(err)
	}
	if tag.RowsAffected() == 0 {
		return notFound("người nhận " + quote(recipientCode))
	}
	var org int64
	if err := tx.QueryRow(ctx, sqlGetOutgoingOrg, id).Scan(&org); err != nil {
		return dbErr(err)
	}
	return s.audit(ctx, tx, Event{Actor: System("exchange"), Action: "outgoing.delivery_status", OrgID: org, DocID: id,
		Detail: map[string]any{"recipient": recipientCode, "status": status, "detail": detail}})
}
