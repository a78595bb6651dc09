package edxml

import (
	"fmt"
	"strconv"
	"time"
)

// Document is what NewEdoc needs to build an envelope.
type Document struct {
	From       Organ
	To         []Organ
	DocumentID string // empty: {sender},{yyyy/MM/dd},{number}/{notation}
	Code       Code
	Place      string
	Date       time.Time // promulgation date
	TypeCode   string    // DocumentType/Type, e.g. "1"
	TypeName   string    // e.g. "Công văn"
	Subject    string
	Content    string
	Signer     SignerInfo
	DueDate    time.Time // zero: none
	Priority   int       // 0 normal, 1 urgent, 2 very urgent, 3 flash
	ToPlaces   []string
	Business   string // BusinessNew...BusinessReplace; empty means new
	Reason     string
	Staff      *StaffInfo
	Responds   []ResponseFor
	Replaces   []ReplacementInfo
	Files      []Attachment // ContentID may be empty: numbered from 1
	Now        time.Time    // trace timestamp; zero means time.Now()
}

// DocumentIDFor renders the conventional DocumentId "{sender},{yyyy/MM/dd},{number}/{notation}".
func DocumentIDFor(sender string, date time.Time, c Code) string {
	return fmt.Sprintf("%s,%s,%s", sender, FormatDate(date), c.String())
}

var businessReasons = map[string]string{
	BusinessNew: "Văn bản điện tử mới", BusinessRevoke: "Thu hồi văn bản điện tử",
	BusinessUpdate: "Cập nhật văn bản điện tử", BusinessReplace: "Văn bản thay thế",
}

// NewEdoc builds an edoc packet (not yet written; call Marshal).
func NewEdoc(d Document) *Packet {
	now := d.Now
	if now.IsZero() {
		now = time.Now()
	}
	bt := d.Business
	if bt == "" {
		bt = BusinessNew
	}
	reason := d.Reason
	if reason == "" {
		reason = businessReasons[bt]
	}
	id := d.DocumentID
	if id == "" {
		id = DocumentIDFor(d.From.OrganID, d.Date, d.Code)
	}
	code := d.Code
	p := &Packet{Kind: KindEdoc, ManifestVersion: "1.0"}
	h := &p.Header
	h.From = d.From
	h.To = d.To
	h.DocumentID = id
	h.Code = &code
	h.PromulgationInfo = &PromulgationInfo{Place: d.Place, PromulgationDate: FormatDate(d.Date)}
	h.DocumentType = &DocumentType{Type: d.TypeCode, TypeDetail: "0", TypeName: d.TypeName}
	h.Subject = d.Subject
	h.Content = d.Content
	signer := d.Signer
	h.SignerInfo = &signer
	if !d.DueDate.IsZero() {
		h.DueDate = FormatDate(d.DueDate)
	}
	h.OtherInfo = &OtherInfo{Priority: strconv.Itoa(d.Priority), PromulgationAmount: "1", PageAmount: "1"}
	h.ResponseFor = d.Responds
	h.ToPlaces = d.ToPlaces
	h.HasToPlaces = len(d.ToPlaces) > 0
	p.Trace = []TraceHeader{{OrganID: d.From.OrganID, Timestamp: FormatTimestamp(now)}}
	p.Business = &Business{DocType: bt, DocReason: reason, Paper: "0", StaffInfo: d.Staff,
		ReplacementInfo: d.Replaces, HasReplacement: len(d.Replaces) > 0}
	for i, f := range d.Files {
		if f.ContentID == "" {
			f.ContentID = "cid:" + strconv.Itoa(i+1)
		}
		p.Attachments = append(p.Attachments, f)
		p.References = append(p.References, Reference{ContentID: f.ContentID, ContentType: f.ContentType,
			Description: f.Description, AttachmentName: f.Name})
	}
	return p
}

// StatusReport is what NewStatus needs.
type StatusReport struct {
	From        Organ       // the reporter
	About       ResponseFor // OrganId = the counterpart, DocumentId = the original id
	Code        string      // 01-06, 13, 15, 16
	Description string
	Staff       *StaffInfo
	At          time.Time
}

// NewStatus builds a status packet.
func NewStatus(s StatusReport) *Packet {
	at := s.At
	if at.IsZero() {
		at = time.Now()
	}
	desc := s.Description
	if desc == "" {
		desc = StatusNames[s.Code]
	}
	p := &Packet{Kind: KindStatus}
	p.Header.From = s.From
	p.Header.ResponseFor = []ResponseFor{s.About}
	p.Header.StaffInfo = s.Staff
	p.Header.StatusCode = s.Code
	p.Header.Description = desc
	p.Header.Timestamp = FormatTimestamp(at)
	return p
}
