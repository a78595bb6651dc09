// Package edxml reads, writes and validates QCVN 102:2016 edXML packets: document envelopes ("edoc",
// business types new, revoke, update, replace) and status packets. It keeps every element it reads,
// including ones it does not know (the 2022 amendment added some), so that a packet can be stored,
// shown and re-emitted without loss, and it keeps the raw bytes and their SHA-256 as evidence.
//
// The national axis rejects envelopes whose children are not written with the literal "edXML:" prefix,
// which encoding/xml cannot produce, so Write is a small template writer of its own.
package edxml

import (
	"crypto/sha256"
	"encoding/hex"
)

// NS is the QCVN 102:2016 namespace, default on the root and bound to the prefix "edXML" on the envelope.
const NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"

// Kind says what a packet carries.
type Kind string

const (
	KindEdoc   Kind = "edoc"   // a document envelope (any business type)
	KindStatus Kind = "status" // a status message about a document
)

// Business document types (Bussiness/BussinessDocType, sic).
const (
	BusinessNew     = "0"
	BusinessRevoke  = "1"
	BusinessUpdate  = "2"
	BusinessReplace = "3"
)

// Packet is one edXML packet. String fields hold the element text exactly as read (trimmed of
// surrounding white space), so nothing is lost; typed accessors and Validate interpret them.
type Packet struct {
	Kind   Kind
	Header MessageHeader
	Trace  []TraceHeader
	// Business is the Bussiness block of the trace list (edoc only).
	Business *Business
	// TraceExtra holds unknown children of TraceHeaderList.
	TraceExtra []*Node
	// Signature is the packet XMLDSig (unprefixed in the samples), kept verbatim.
	Signature *Node
	// HeaderExtra holds unknown children of edXMLHeader; BodyExtra of edXMLBody; Extra of the root.
	HeaderExtra []*Node
	BodyExtra   []*Node
	Extra       []*Node
	// ManifestVersion is the version attribute of edXMLManifest ("1.0").
	ManifestVersion string
	References      []Reference
	Attachments     []Attachment
	// Raw is the exact input of Parse (nil for packets built in memory until written).
	Raw []byte
	// Warnings are oddities that do not make the packet invalid (leading garbage, unknown status code).
	Warnings []Problem
}

// Organ identifies an organisation in From, To and similar blocks.
type Organ struct {
	OrganID              string
	OrganizationInCharge string
	OrganName            string
	OrganAdd             string
	Email                string
	Telephone            string
	Fax                  string
	Website              string
	Extra                []*Node
}

// Code is a document's number and notation (CodeNumber/CodeNotation, e.g. 7816 and VPCP-TTĐT).
type Code struct {
	CodeNumber   string
	CodeNotation string
}

// String renders "7816/VPCP-TTĐT".
func (c Code) String() string {
	if c.CodeNotation == "" {
		return c.CodeNumber
	}
	return c.CodeNumber + "/" + c.CodeNotation
}

// PromulgationInfo is where and when a document was issued.
type PromulgationInfo struct {
	Place            string
	PromulgationDate string // yyyy/MM/dd
}

// DocumentType is the document's type (Type, TypeDetail, TypeName).
type DocumentType struct {
	Type       string
	TypeDetail string
	TypeName   string
}

// SignerInfo names the competent signer.
type SignerInfo struct {
	Competence string
	Position   string
	FullName   string
}

// OtherInfo carries priority, sphere and counts.
type OtherInfo struct {
	Priority             string
	SphereOfPromulgation string
	TyperNotation        string
	PromulgationAmount   string
	PageAmount           string
	Direction            string
	HasAppendixes        bool
	Appendixes           []string
	ReferenceCodes       *Node
	Extra                []*Node
}

// ResponseFor names a document this one answers, revokes or reports on.
type ResponseFor struct {
	OrganID          string
	Code             string
	PromulgationDate string
	DocumentID       string
	Extra            []*Node
}

// StaffInfo names the clerk who handled a packet.
type StaffInfo struct {
	Department string
	Staff      string
	Mobile     string
	Email      string
}

// MessageHeader is edXML:MessageHeader. Edoc packets use the document fields, status packets From,
// ResponseFor, StaffInfo, StatusCode, Description and Timestamp.
type MessageHeader struct {
	From             Organ
	To               []Organ
	DocumentID       string
	Code             *Code
	PromulgationInfo *PromulgationInfo
	DocumentType     *DocumentType
	Subject          string
	Content          string
	SignerInfo       *SignerInfo
	DueDate          string
	ToPlaces         []string
	HasToPlaces      bool
	OtherInfo        *OtherInfo
	ResponseFor      []ResponseFor
	SteeringType     string
	// Status packets.
	StaffInfo   *StaffInfo
	StatusCode  string
	Description string
	Timestamp   string // yyyy/MM/dd HH:mm:ss, Vietnam time
	// Extra holds unknown children (ApplicationType, ResponseForTask, ...), in order.
	Extra []*Node
}

// TraceHeader is one hop of the trace list.
type TraceHeader struct {
	OrganID   string
	Timestamp string
	Extra     []*Node
}

// Business is the Bussiness block (sic): the business type and its details.
type Business struct {
	DocumentID      string
	DocType         string // BussinessDocType 0-3
	DocReason       string
	Paper           string
	StaffInfo       *StaffInfo
	DocumentInfo    []BusinessDocumentInfo
	ReplacementInfo []ReplacementInfo
	HasReplacement  bool
	Extra           []*Node
}

// BusinessDocumentInfo details an update (type 2).
type BusinessDocumentInfo struct {
	DocumentInfo     string
	DocumentReceiver string
	Receivers        []Receiver
	HasReceiverList  bool
}

// Receiver is one entry of ReceiverList.
type Receiver struct {
	OrganID      string
	ReceiverType string
}

// ReplacementInfo names a replaced document and the organisations concerned (type 3).
type ReplacementInfo struct {
	DocumentID string
	OrganIDs   []string
}

// Reference is a manifest entry.
type Reference struct {
	ContentID      string
	ContentType    string
	Description    string
	AttachmentName string
}

// Attachment is one AttachmentEncoded/Attachment with its content decoded from base64.
type Attachment struct {
	ContentID   string
	Name        string
	Description string
	ContentType string
	Data        []byte
}

// SHA256 returns the hex SHA-256 of the decoded attachment bytes.
func (a Attachment) SHA256() string {
	s := sha256.Sum256(a.Data)
	return hex.EncodeToString(s[:])
}

// Key identifies a document across the exchange: the sender's organisation code and its DocumentId.
type Key struct {
	Sender     string
	DocumentID string
}

// Key returns the identity of the document an edoc packet carries.
func (p *Packet) Key() Key {
	return Key{Sender: p.Header.From.OrganID, DocumentID: p.Header.DocumentID}
}

// StatusSubject returns, for a status packet, the document it is about and the recipient whose
// state it changes. A recall request (13) comes from the sender about a recipient; every other status
// comes from a recipient about the sender's document.
func (p *Packet) StatusSubject() (doc Key, recipient string) {
	var rf ResponseFor
	if len(p.Header.ResponseFor) > 0 {
		rf = p.Header.ResponseFor[0]
	}
	if p.Header.StatusCode == StatusRecallRequest {
		return Key{Sender: p.Header.From.OrganID, DocumentID: rf.DocumentID}, rf.OrganID
	}
	return Key{Sender: rf.OrganID, DocumentID: rf.DocumentID}, p.Header.From.OrganID
}

// Evidence is the hash of the exact bytes received or sent.
func (p *Packet) Evidence() string {
	s := sha256.Sum256(p.Raw)
	return hex.EncodeToString(s[:])
}
