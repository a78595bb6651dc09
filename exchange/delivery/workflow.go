package delivery

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/exchange/edxml"
	"github.com/lienthong/lienthong/workflow"
)

// This file connects a Node to the document office: it is the workflow's Dispatcher (deliveries of an
// issued document enqueued in the issuing transaction) and StatusNotifier (statuses back to senders),
// and WorkflowFiler files what arrives as an incoming document awaiting registration.

var (
	_ workflow.Dispatcher     = (*Node)(nil)
	_ workflow.StatusNotifier = (*Node)(nil)
	_ workflow.Recaller       = (*Node)(nil)
	_ Recorder                = (*workflow.Service)(nil)
	_ IncomingRecaller        = WorkflowFiler{}
)

var (
	sqlGetSentEdocDocumentID = queries.Must("GetSentEdocDocumentID")
)

// IncomingRecaller is implemented by a Filer that can carry out a sender's recall (status 13) of a
// document we received; the node then answers 15 in the same transaction.
type IncomingRecaller interface {
	RecallIncomingTx(ctx context.Context, tx pgx.Tx, toOrgCode, senderCode, senderDocumentID, reason string) (string, error)
}

// RecallIncomingTx delegates to workflow.Service.RecallIncomingTx.
func (f WorkflowFiler) RecallIncomingTx(ctx context.Context, tx pgx.Tx, toOrgCode, senderCode, senderDocumentID, reason string) (string, error) {
	return f.Service.RecallIncomingTx(ctx, tx, toOrgCode, senderCode, senderDocumentID, reason)
}

// RecallTx is the workflow Recaller: a recall request (status 13) to each recipient, queued in tx.
func (n *Node) RecallTx(ctx context.Context, tx pgx.Tx, doc workflow.OutgoingDoc, recipients []workflow.Recipient, reason string) error {
	for _, r := range recipients {
		var documentID string
		err := tx.QueryRow(ctx, sqlGetSentEdocDocumentID, doc.ID, r.Code).Scan(&documentID)
		if err != nil {
			continue // never sent over the axis to this recipient: nothing to recall there
		}
		code := ""
		if doc.CodeNumber != nil && doc.CodeNotation != nil {
			code = fmt.Sprintf("%02d/%s", *doc.CodeNumber, *doc.CodeNotation)
		}
		if err := n.SendStatusTx(ctx, tx, StatusOut{DocID: doc.ID, Sender: n.cfg.Org, Recipient: r.Code, DocumentID: documentID,
			Code: edxml.StatusRecallRequest, Description: truncate(reason, 500), CodeText: code}); err != nil {
			return err
		}
	}
	return nil
}

// Priority ↔ urgency: edXML Priority 0 normal, 1 khẩn, 2 thượng khẩn, 3 hỏa tốc, 4 hỏa tốc hẹn giờ.
var urgencyPriority = map[string]int{"normal": 0, "urgent": 1, "very_urgent": 2, "flash": 3}

// UrgencyOf maps an edXML Priority to the contract's urgency.
func UrgencyOf(priority string) string {
	switch strings.TrimSpace(priority) {
	case "1":
		return "urgent"
	case "2":
		return "very_urgent"
	case "3", "4":
		return "flash"
	}
	return "normal"
}

// OutgoingPacket builds the edXML envelope of an issued document with its files (read in tx).
func OutgoingPacket(ctx context.Context, tx pgx.Tx, doc workflow.OutgoingDoc, recipients []workflow.Recipient, now time.Time) (*edxml.Packet, error) {
	if doc.CodeNumber == nil || doc.CodeNotation == nil || doc.IssuedAt == nil {
		return nil, fmt.Errorf("delivery: document %s is not issued (no number)", doc.ID)
	}
	var files []edxml.Attachment
	hasSigned := false
	for _, f := range doc.Files {
		if f.Role == "signed" {
			hasSigned = true
		}
	}
	for _, f := range doc.Files {
		if hasSigned && f.Role == "main" {
			continue // the signed PDF replaces the unsigned main file
		}
		data, err := workflow.FileBytesTx(ctx, tx, f.SHA256)
		if err != nil {
			return nil, fmt.Errorf("delivery: reading file %s: %w", f.Name, err)
		}
		files = append(files, edxml.Attachment{Name: f.Name, ContentType: f.ContentType, Data: data})
	}
	var to []edxml.Organ
	for _, r := range recipients {
		to = append(to, edxml.Organ{OrganID: r.Code, OrganName: r.Name})
	}
	code := edxml.Code{CodeNumber: fmt.Sprintf("%02d", *doc.CodeNumber), CodeNotation: *doc.CodeNotation}
	d := edxml.Document{
		From: edxml.Organ{OrganID: doc.OrgCode, OrganName: doc.OrgName}, To: to, Code: code,
		Date: *doc.IssuedAt, TypeCode: "1", TypeName: doc.DocumentType, Subject: doc.Subject,
		Signer:   edxml.SignerInfo{Competence: doc.Competence, Position: doc.SignerPosition, FullName: doc.SignerName},
		Priority: urgencyPriority[doc.Urgency], Files: files, Now: now,
	}
	if doc.DueDate != nil {
		if t, err := time.ParseInLocation("2006-01-02", *doc.DueDate, edxml.Vietnam); err == nil {
			d.DueDate = t
		}
	}
	if doc.Places != "" {
		d.ToPlaces = strings.Split(doc.Places, "\n")
	}
	return edxml.NewEdoc(d), nil
}

// DispatchTx is the workflow Dispatcher: one outbox row and one River job per recipient, in tx.
func (n *Node) DispatchTx(ctx context.Context, tx pgx.Tx, doc workflow.OutgoingDoc, recipients []workflow.Recipient) error {
	if len(recipients) == 0 {
		return nil
	}
	all := doc.Recipients
	if len(all) == 0 {
		all = recipients
	}
	p, err := OutgoingPacket(ctx, tx, doc, all, n.now())
	if err != nil {
		return err
	}
	if probs := edxml.Validate(p); len(probs) > 0 {
		return fmt.Errorf("delivery: the packet for %s would be invalid: %s at %s: %s", doc.ID, probs[0].Code, probs[0].Path, probs[0].Message)
	}
	raw, err := p.Marshal()
	if err != nil {
		return err
	}
	ds := make([]Delivery, 0, len(recipients))
	for _, r := range recipients {
		ds = append(ds, Delivery{MessageID: MessageID(doc.OrgCode, p.Header.DocumentID, r.Code, "edoc:0"), DocID: doc.ID,
			Sender: doc.OrgCode, Recipient: r.Code, DocumentID: p.Header.DocumentID, Kind: edxml.KindEdoc, Packet: raw, Urgency: doc.Urgency})
	}
	return n.EnqueueTx(ctx, tx, ds)
}

// NotifyStatusTx is the workflow StatusNotifier: the status packet is queued in tx.
func (n *Node) NotifyStatusTx(ctx context.Context, tx pgx.Tx, ev workflow.StatusEvent) error {
	return n.SendStatusTx(ctx, tx, StatusOut{DocID: ev.DocID, Sender: ev.SenderCode, DocumentID: ev.SenderDocumentID,
		Code: ev.StatusCode, Description: ev.Description})
}

// WorkflowFiler files verified packets with workflow.Service.ReceiveTx.
type WorkflowFiler struct{ Service *workflow.Service }

// FileTx maps the packet to a workflow.ReceivedDoc.
func (f WorkflowFiler) FileTx(ctx context.Context, tx pgx.Tx, in Incoming) (string, error) {
	h := in.Packet.Header
	rd := workflow.ReceivedDoc{ToOrgCode: in.To, SenderCode: h.From.OrganID, SenderName: h.From.OrganName,
		SenderDocumentID: h.DocumentID, Subject: h.Subject, Secrecy: "normal", PacketSHA256: in.SHA256}
	if h.Code != nil {
		rd.CodeNumber, rd.CodeNotation = h.Code.CodeNumber, h.Code.CodeNotation
	}
	if h.PromulgationInfo != nil {
		if t, err := edxml.ParseDate(h.PromulgationInfo.PromulgationDate); err == nil {
			rd.PromulgationDate = &t
		}
	}
	if h.DocumentType != nil {
		rd.DocumentType = h.DocumentType.TypeName
	}
	if h.OtherInfo != nil {
		rd.Urgency = UrgencyOf(h.OtherInfo.Priority)
	} else {
		rd.Urgency = "normal"
	}
	if h.DueDate != "" {
		if t, err := edxml.ParseDate(h.DueDate); err == nil {
			rd.DueDate = &t
		}
	}
	for _, a := range in.Packet.Attachments {
		files, err := a.Files()
		if err != nil {
			return "", err
		}
		for _, fl := range files {
			ct := a.ContentType
			if edxml.IsZip(a.Data) {
				ct = contentTypeFor(fl.Name)
			}
			rd.Files = append(rd.Files, workflow.FileIn{Name: fl.Name, ContentType: ct, Data: fl.Data})
		}
	}
	r, err := f.Service.ReceiveTx(ctx, tx, rd)
	if err != nil {
		return "", err
	}
	return r.ID, nil
}

func contentTypeFor(name string) string {
	switch strings.ToLower(name[strings.LastIndexByte(name, '.')+1:]) {
	case "pdf":
		return "application/pdf"
	case "doc":
		return "application/msword"
	case "docx":
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	}
	return "application/octet-stream"
}

var _ = strconv.Itoa
