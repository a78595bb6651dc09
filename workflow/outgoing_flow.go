package workflow

import (
	"context"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/internal/apperr"
)

var (
	sqlLockOutgoingDoc         = queries.Must("LockOutgoingDoc")
	sqlSetOutgoingState        = queries.Must("SetOutgoingState")
	sqlSendBackOutgoing        = queries.Must("SendBackOutgoing")
	sqlApproveOutgoing         = queries.Must("ApproveOutgoing")
	sqlSetOutgoingSigner       = queries.Must("SetOutgoingSigner")
	sqlGetOrgAbbr              = queries.Must("GetOrgAbbr")
	sqlSetOutgoingNumber       = queries.Must("SetOutgoingNumber")
	sqlLatestSignedFile        = queries.Must("LatestSignedFile")
	sqlInsertOutgoingRecipient = queries.Must("InsertOutgoingRecipient")
	sqlMarkOutgoingDispatched  = queries.Must("MarkOutgoingDispatched")
	sqlListOrgsBelow           = queries.Must("ListOrgsBelow")
)

// Review is a reviewer's decision on a draft.
type Review struct {
	Approve bool   `json:"approve"`
	Reason  string `json:"reason"` // required when sending back
}

// Signature is the leader's signed version of the main PDF (the signature itself is made by the
// signing side; workflow stores the signed bytes and who signed with which key).
type Signature struct {
	Signed   FileIn `json:"signed"`
	KeyLabel string `json:"key_label"`
}

// DispatchTo chooses recipients one by one (codes) and/or as a level or subtree of the directory
// (every organisation of level Level under Under, e.g. every commune of a province).
type DispatchTo struct {
	Codes []string `json:"codes"`
	Under string   `json:"under"`
	Level string   `json:"level"`
}

// ErrClassified is the refusal of electronic dispatch for mật, tối mật and tuyệt mật documents.
var ErrClassified = apperr.New(apperr.Conflict, "classified_no_electronic_dispatch",
	"Văn bản mật, tối mật, tuyệt mật không được gửi qua mạng; hãy chuyển bằng đường bưu chính mật hoặc trực tiếp / "+
		"confidential, secret and top secret documents may not be sent electronically; deliver them by hand or secure post")

type outMove struct {
	from  []string
	to    string
	roles []Role
}

var outgoingMoves = map[string]outMove{
	"submit":   {[]string{StDraft}, StInReview, []Role{RoleSpecialist, RoleClerk, RoleLeader}},
	"review":   {[]string{StInReview}, "", []Role{RoleClerk, RoleLeader}},
	"sign":     {[]string{StApproved}, StSigned, []Role{RoleLeader}},
	"issue":    {[]string{StSigned}, StIssued, []Role{RoleClerk}},
	"dispatch": {[]string{StIssued, StDispatched}, StDispatched, []Role{RoleClerk}},
}

type outStep func(ctx context.Context, tx pgx.Tx, d *OutgoingDoc, orgID int64, ev *Event) (to string, err error)

func (s *Service) moveOutgoing(ctx context.Context, p Principal, rawID, action string, step outStep) (OutgoingDoc, error) {
	id, err := ParseID(rawID)
	if err != nil {
		return OutgoingDoc{}, err
	}
	mv := outgoingMoves[action]
	if err := require(p, mv.roles...); err != nil {
		return OutgoingDoc{}, err
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
		if !contains(mv.from, d.State) {
			return apperr.New(apperr.Conflict, "wrong_state",
				"Không thể "+action+" văn bản đi đang ở trạng thái "+d.State+" (cần "+strings.Join(mv.from, "/")+") / cannot "+action+
					" an outgoing document in state "+d.State+" (needs "+strings.Join(mv.from, "/")+")")
		}
		if p.Role == RoleSpecialist && d.DraftedBy != p.UserID {
			return apperr.New(apperr.Forbidden, "not_drafter", "Chỉ người soạn thảo được trình dự thảo này / only the drafter may submit this draft")
		}
		ev := Event{Actor: p, Action: "outgoing." + action, OrgID: org, DocID: id, Detail: map[string]any{"from": d.State}}
		to, err := step(ctx, tx, &d, org, &ev)
		if err != nil {
			return err
		}
		if to == "" {
			to = mv.to
		}
		ev.Detail["to"] = to
		if _, err := tx.Exec(ctx, sqlSetOutgoingState, id, to, s.now()); err != nil {
			return dbErr(err)
		}
		d.State, d.UpdatedAt = to, s.now()
		if err := s.audit(ctx, tx, ev); err != nil {
			return err
		}
		return s.loadOutgoingDetails(ctx, tx, &d)
	})
	if err != nil {
		return OutgoingDoc{}, err
	}
	return d, nil
}

// SubmitOutgoing sends a draft for review.
func (s *Service) SubmitOutgoing(ctx context.Context, p Principal, id string) (OutgoingDoc, error) {
	return s.moveOutgoing(ctx, p, id, "submit", func(context.Context, pgx.Tx, *OutgoingDoc, int64, *Event) (string, error) {
		return "", nil
	})
}

// ReviewOutgoing approves a draft for signature or sends it back to draft with a reason.
func (s *Service) ReviewOutgoing(ctx context.Context, p Principal, id string, r Review) (OutgoingDoc, error) {
	return s.moveOutgoing(ctx, p, id, "review", func(ctx context.Context, tx pgx.Tx, d *OutgoingDoc, _ int64, ev *Event) (string, error) {
		reason := strings.TrimSpace(r.Reason)
		if err := checkText("reason", reason, 0, 1000); err != nil {
			return "", err
		}
		ev.Detail["approve"] = r.Approve
		if !r.Approve {
			if reason == "" {
				return "", apperr.New(apperr.Invalid, "reason_required", "Trả lại dự thảo phải ghi lý do (reason) / sending a draft back needs a reason")
			}
			ev.Detail["reason"] = reason
			d.Reason = reason
			_, err := tx.Exec(ctx, sqlSendBackOutgoing, d.ID, reason, ev.Actor.UserID)
			return StDraft, dbErr(err)
		}
		_, err := tx.Exec(ctx, sqlApproveOutgoing, d.ID, ev.Actor.UserID)
		d.Reason = ""
		return StApproved, dbErr(err)
	})
}

// SignOutgoing stores the leader's signed PDF.
func (s *Service) SignOutgoing(ctx context.Context, p Principal, id string, sig Signature) (OutgoingDoc, error) {
	if sig.Signed.ContentType == "" {
		sig.Signed.ContentType = "application/pdf"
	}
	if len(sig.Signed.Data) == 0 {
		return OutgoingDoc{}, apperr.New(apperr.Invalid, "signed_required", "Cần tệp PDF đã ký (signed) / the signed PDF is required")
	}
	if err := s.checkFile(&sig.Signed); err != nil {
		return OutgoingDoc{}, err
	}
	if sig.Signed.ContentType != "application/pdf" {
		return OutgoingDoc{}, apperr.New(apperr.Invalid, "signed_not_pdf", "Tệp đã ký phải là PDF / the signed file must be a PDF")
	}
	if err := checkText("key_label", sig.KeyLabel, 0, 200); err != nil {
		return OutgoingDoc{}, err
	}
	return s.moveOutgoing(ctx, p, id, "sign", func(ctx context.Context, tx pgx.Tx, d *OutgoingDoc, _ int64, ev *Event) (string, error) {
		files, err := s.storeFiles(ctx, tx, []FileIn{sig.Signed})
		if err != nil {
			return "", err
		}
		files[0].Role = "signed"
		if err := insertFiles(ctx, tx, "outgoing_file", d.ID, files); err != nil {
			return "", err
		}
		now := s.now()
		if _, err := tx.Exec(ctx, sqlSetOutgoingSigner, d.ID, p.UserID, now); err != nil {
			return "", dbErr(err)
		}
		d.SignedAt = &now
		ev.DocSHA256, _ = hex.DecodeString(files[0].SHA256)
		ev.Key = sig.KeyLabel
		return "", nil
	})
}

// IssueOutgoing gives a signed document its number and notation (e.g. 05/QĐ-UBND, per organisation,
// series and year) and enters it in the outgoing register.
func (s *Service) IssueOutgoing(ctx context.Context, p Principal, id string) (OutgoingDoc, error) {
	return s.moveOutgoing(ctx, p, id, "issue", func(ctx context.Context, tx pgx.Tx, d *OutgoingDoc, orgID int64, ev *Event) (string, error) {
		var orgAbbr string
		if err := tx.QueryRow(ctx, sqlGetOrgAbbr, orgID).Scan(&orgAbbr); err != nil {
			return "", dbErr(err)
		}
		if orgAbbr == "" {
			return "", apperr.New(apperr.Conflict, "org_abbr_missing",
				"Cơ quan chưa có chữ viết tắt để ghi ký hiệu (vd. UBND) / the organisation has no abbreviation for notations (e.g. UBND)")
		}
		notation := Notation(d.TypeAbbr, orgAbbr, d.UnitAbbr)
		series := outgoingSeries(d.Secrecy, d.LegalNormative, d.TypeAbbr)
		now := s.now()
		year := now.In(Local).Year()
		var number int
		if err := tx.QueryRow(ctx, sqlNextRegisterNumber, orgID, series, year).Scan(&number); err != nil {
			return "", dbErr(err)
		}
		rendered := RenderNumber(number, notation)
		if _, err := tx.Exec(ctx, sqlSetOutgoingNumber, d.ID, series, year, number, notation, now, p.UserID,
			outgoingSearch(d.Subject, rendered, d.DocumentType, d.Places)); err != nil {
			return "", dbErr(err)
		}
		d.Series, d.IssueYear, d.CodeNumber, d.CodeNotation, d.IssuedAt, d.Number = &series, &year, &number, &notation, &now, rendered
		ev.Detail["number"], ev.Detail["series"], ev.Detail["year"] = rendered, series, year
		var signed []byte
		_ = tx.QueryRow(ctx, sqlLatestSignedFile, d.ID).Scan(&signed)
		ev.DocSHA256 = signed
		return "", nil
	})
}

// DispatchOutgoing records the recipients of an issued document and hands them to the Dispatcher in the
// same transaction. Classified documents are refused (and the refusal is audited).
func (s *Service) DispatchOutgoing(ctx context.Context, p Principal, id string, to DispatchTo) (OutgoingDoc, error) {
	if len(to.Codes) > 5000 {
		return OutgoingDoc{}, apperr.New(apperr.TooLarge, "too_many_recipients", "Tối đa 5000 mã người nhận / at most 5000 recipient codes")
	}
	d, err := s.moveOutgoing(ctx, p, id, "dispatch", func(ctx context.Context, tx pgx.Tx, d *OutgoingDoc, orgID int64, ev *Event) (string, error) {
		if IsClassified(d.Secrecy) {
			return "", ErrClassified
		}
		recips, err := s.resolveRecipients(ctx, tx, orgID, to)
		if err != nil {
			return "", err
		}
		now := s.now()
		var fresh []Recipient
		for _, r := range recips {
			tag, err := tx.Exec(ctx, sqlInsertOutgoingRecipient, d.ID, r.OrgID, r.Code, r.Name, now)
			if err != nil {
				return "", dbErr(err)
			}
			if tag.RowsAffected() == 1 {
				r.Status, r.UpdatedAt = "queued", now
				fresh = append(fresh, r)
			}
		}
		if len(fresh) == 0 {
			return "", apperr.New(apperr.Conflict, "already_dispatched", "Văn bản đã gửi tới tất cả người nhận này / already dispatched to every one of these recipients")
		}
		if _, err := tx.Exec(ctx, sqlMarkOutgoingDispatched, d.ID, now); err != nil {
			return "", dbErr(err)
		}
		if d.DispatchedAt == nil {
			d.DispatchedAt = &now
		}
		codes := make([]string, len(fresh))
		for i, r := range fresh {
			codes[i] = r.Code
		}
		ev.Detail["recipients"] = codes
		if err := s.loadOutgoingDetails(ctx, tx, d); err != nil {
			return "", err
		}
		if s.disp != nil {
			if err := s.disp.DispatchTx(ctx, tx, *d, fresh); err != nil {
				return "", err
			}
		}
		return "", nil
	})
	if apperr.IsKind(err, apperr.Conflict) && errors.Is(err, ErrClassified) {
		if idc, perr := ParseID(id); perr == nil {
			_ = s.Audit(ctx, Event{Actor: p, Action: "outgoing.dispatch_refused", OrgID: p.OrgID, DocID: idc,
				Detail: map[string]any{"reason": "classified"}})
		}
	}
	return d, err
}

func (s *Service) resolveRecipients(ctx context.Context, tx pgx.Tx, self int64, to DispatchTo) ([]Recipient, error) {
	seen := map[int64]bool{self: true}
	var out []Recipient
	add := func(o Org) {
		if !seen[o.ID] && o.Active {
			seen[o.ID] = true
			out = append(out, Recipient{OrgID: o.ID, Code: o.Code, Name: o.Name})
		}
	}
	for _, c := range to.Codes {
		o, err := s.lookupOrg(ctx, tx, c)
		if err != nil {
			return nil, apperr.Wrap(apperr.Invalid, "unknown_recipient", "Không có cơ quan "+quote(c)+" trong danh mục / unknown recipient", err)
		}
		add(o)
	}
	if to.Under != "" || to.Level != "" {
		if to.Under == "" {
			return nil, apperr.New(apperr.Invalid, "under_required", "Chọn theo cấp cần cơ quan gốc (under) / choosing by level needs 'under'")
		}
		root, err := s.lookupOrg(ctx, tx, to.Under)
		if err != nil {
			return nil, apperr.Wrap(apperr.Invalid, "unknown_recipient", "Không có cơ quan "+quote(to.Under)+" trong danh mục / unknown organisation", err)
		}
		rows, err := tx.Query(ctx, sqlListOrgsBelow, root.ID, to.Level)
		if err != nil {
			return nil, dbErr(err)
		}
		orgs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Org, error) { return scanOrg(r) })
		if err != nil {
			return nil, dbErr(err)
		}
		for _, o := range orgs {
			add(o)
		}
	}
	if len(out) == 0 {
		return nil, apperr.New(apperr.Invalid, "no_recipients", "Chưa chọn cơ quan nhận nào / no recipients chosen")
	}
	return out, nil
}
