package edxml

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits bound what Parse accepts, so that a hostile packet cannot exhaust memory or time.
type Limits struct {
	MaxBytes       int64 // whole packet
	MaxDepth       int   // element nesting
	MaxElements    int   // elements in total
	MaxAttachments int
	MaxRecipients  int // To elements
	MaxAttrs       int // attributes per element
}

// DefaultLimits fit the national rules (files up to 50 MB, a packet about 1.37 times its files).
var DefaultLimits = Limits{
	MaxBytes:       100 << 20,
	MaxDepth:       32,
	MaxElements:    50000,
	MaxAttachments: 200,
	MaxRecipients:  5000,
	MaxAttrs:       16,
}

// Problem is one validation finding: a stable Code (a letter for the kind of fault, then the field),
// the element Path, and a message a clerk can act on. Letters: N missing, R length or range, M malformed,
// T wrong format or value, D inconsistent, L over a limit, W warning.
type Problem struct {
	Code    string `json:"code"`
	Path    string `json:"path"`
	Message string `json:"message"`
}

// InvalidError is returned by Parse for a packet that is not well-formed edXML or breaks a limit.
type InvalidError struct{ Problems []Problem }

func (e *InvalidError) Error() string {
	if len(e.Problems) == 0 {
		return "edxml: invalid packet"
	}
	p := e.Problems[0]
	return fmt.Sprintf("edxml: %s at %s: %s", p.Code, p.Path, p.Message)
}

func invalid(code, path, format string, args ...any) *InvalidError {
	return &InvalidError{Problems: []Problem{{Code: code, Path: path, Message: fmt.Sprintf(format, args...)}}}
}

// Node is an element kept verbatim: unknown elements and the packet signature.
type Node struct {
	Space    string // namespace URI
	Local    string
	Attr     []xml.Attr // without namespace declarations
	Text     string
	Children []*Node
}

// Child returns the first child with the local name, or nil.
func (n *Node) Child(local string) *Node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.Local == local {
			return c
		}
	}
	return nil
}

// Parse reads a whole packet from r within DefaultLimits.
func Parse(r io.Reader) (*Packet, error) { return ParseLimits(r, DefaultLimits) }

// ParseLimits reads a whole packet from r. It returns *InvalidError when the input is not an edXML
// packet or breaks a limit, and other errors only when r fails.
func ParseLimits(r io.Reader, lim Limits) (*Packet, error) {
	raw, err := io.ReadAll(io.LimitReader(r, lim.MaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("edxml: reading packet: %w", err)
	}
	if int64(len(raw)) > lim.MaxBytes {
		return nil, invalid("L.Size", "/", "packet is larger than %d bytes", lim.MaxBytes)
	}
	return parseBytes(raw, lim, false)
}

// ParseBytes parses raw (kept as the packet's Raw, not copied) within DefaultLimits.
func ParseBytes(raw []byte) (*Packet, error) {
	if int64(len(raw)) > DefaultLimits.MaxBytes {
		return nil, invalid("L.Size", "/", "packet is larger than %d bytes", DefaultLimits.MaxBytes)
	}
	return parseBytes(raw, DefaultLimits, false)
}

// ParseHeader reads only the envelope header of raw (no manifest, no attachments): enough to route a
// packet and check its sender without decoding megabytes of base64.
func ParseHeader(raw []byte) (*Packet, error) {
	if int64(len(raw)) > DefaultLimits.MaxBytes {
		return nil, invalid("L.Size", "/", "packet is larger than %d bytes", DefaultLimits.MaxBytes)
	}
	return parseBytes(raw, DefaultLimits, true)
}

var errStop = errors.New("stop")

// noFastPath disables parseFast (tests compare both paths).
var noFastPath = false

func parseBytes(raw []byte, lim Limits, headerOnly bool) (*Packet, error) {
	p := &Packet{Raw: raw}
	body := bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	i := bytes.IndexByte(body, '<')
	if i < 0 {
		return nil, invalid("M.XML", "/", "not an XML document")
	}
	if lead := bytes.TrimSpace(body[:i]); len(lead) > 0 {
		// One published VPCP sample starts with stray digits before the declaration; accept and say so.
		p.Warnings = append(p.Warnings, Problem{Code: "W.LeadingGarbage", Path: "/",
			Message: fmt.Sprintf("%d bytes before the XML declaration were ignored", len(lead))})
	}
	root, err := parseFast(body[i:], lim, headerOnly)
	if err != nil {
		return nil, err
	}
	if err := p.fromTree(root, lim); err != nil {
		return nil, err
	}
	return p, nil
}

// buildTree tokenizes with encoding/xml (namespace-aware) and builds a tree, enforcing the limits.
func buildTree(b []byte, lim Limits, headerOnly bool) (*Node, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	d.CharsetReader = func(label string, input io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("encoding %q is not UTF-8", label)
	}
	var stack []*Node
	var root *Node
	var texts []*strings.Builder
	elements := 0
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			if err == errStop {
				break
			}
			return nil, invalid("M.XML", pathOf(stack), "malformed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			elements++
			if elements > lim.MaxElements {
				return nil, invalid("L.Elements", pathOf(stack), "more than %d elements", lim.MaxElements)
			}
			if len(stack) >= lim.MaxDepth {
				return nil, invalid("L.Depth", pathOf(stack), "elements nested deeper than %d", lim.MaxDepth)
			}
			if len(t.Attr) > lim.MaxAttrs {
				return nil, invalid("L.Attributes", pathOf(stack), "more than %d attributes on %s", lim.MaxAttrs, t.Name.Local)
			}
			n := &Node{Space: t.Name.Space, Local: t.Name.Local}
			for _, a := range t.Attr {
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					continue
				}
				n.Attr = append(n.Attr, a)
			}
			if len(stack) == 0 {
				if root != nil {
					return nil, invalid("M.XML", "/", "more than one root element")
				}
				root = n
			} else {
				parent := stack[len(stack)-1]
				parent.Children = append(parent.Children, n)
			}
			stack = append(stack, n)
			texts = append(texts, nil)
		case xml.EndElement:
			n := stack[len(stack)-1]
			if sb := texts[len(texts)-1]; sb != nil && len(n.Children) == 0 {
				n.Text = sb.String() // edXML has no mixed content: text beside child elements is layout
			}
			stack = stack[:len(stack)-1]
			texts = texts[:len(texts)-1]
			if headerOnly && n.Local == "edXMLHeader" {
				return root, nil
			}
		case xml.CharData:
			if len(stack) == 0 {
				if len(bytes.TrimSpace(t)) > 0 {
					return nil, invalid("M.XML", "/", "text outside the root element")
				}
				continue
			}
			if texts[len(texts)-1] == nil {
				texts[len(texts)-1] = &strings.Builder{}
			}
			texts[len(texts)-1].Write(t)
		case xml.Directive:
			return nil, invalid("M.Doctype", pathOf(stack), "DOCTYPE and other directives are not allowed")
		case xml.ProcInst, xml.Comment:
		}
	}
	if root == nil {
		return nil, invalid("M.XML", "/", "no root element")
	}
	if len(stack) != 0 {
		return nil, invalid("M.XML", pathOf(stack), "unexpected end of document")
	}
	return root, nil
}

func pathOf(stack []*Node) string {
	if len(stack) == 0 {
		return "/"
	}
	var sb strings.Builder
	for _, n := range stack {
		sb.WriteByte('/')
		sb.WriteString(n.Local)
	}
	return sb.String()
}

// ours reports whether n is an edXML element: in the namespace, or (leniently) in none.
func ours(n *Node) bool { return n.Space == NS || n.Space == "" }

func (p *Packet) fromTree(root *Node, lim Limits) error {
	if root.Local != "edXML" || !ours(root) {
		return invalid("M.Root", "/"+root.Local, "root element is %s, not edXML", root.Local)
	}
	var env *Node
	for _, c := range root.Children {
		switch {
		case c.Local == "edXMLEnvelope" && ours(c) && env == nil:
			env = c
		case c.Local == "AttachmentEncoded" && ours(c):
			for i, a := range c.Children {
				if a.Local != "Attachment" {
					continue
				}
				if len(p.Attachments) >= lim.MaxAttachments {
					return invalid("L.Attachments", "/edXML/AttachmentEncoded", "more than %d attachments", lim.MaxAttachments)
				}
				att, err := attachmentFrom(a, fmt.Sprintf("/edXML/AttachmentEncoded/Attachment[%d]", i+1))
				if err != nil {
					return err
				}
				p.Attachments = append(p.Attachments, att)
			}
		default:
			p.Extra = append(p.Extra, c)
		}
	}
	if env == nil {
		return invalid("N.Envelope", "/edXML", "edXMLEnvelope is missing")
	}
	var hdr *Node
	for _, c := range env.Children {
		switch {
		case c.Local == "edXMLHeader" && hdr == nil:
			hdr = c
		case c.Local == "edXMLBody":
			for _, b := range c.Children {
				if b.Local != "edXMLManifest" {
					p.BodyExtra = append(p.BodyExtra, b)
					continue
				}
				p.ManifestVersion = attr(b, "version")
				for _, r := range b.Children {
					if r.Local != "Reference" {
						continue
					}
					p.References = append(p.References, Reference{
						ContentID: leaf(r, "ContentId"), ContentType: leaf(r, "ContentType"),
						Description: leaf(r, "Description"), AttachmentName: leaf(r, "AttachmentName"),
					})
				}
			}
		}
	}
	if hdr == nil {
		return invalid("N.Header", "/edXML/edXMLEnvelope", "edXMLHeader is missing")
	}
	var mh *Node
	for _, c := range hdr.Children {
		switch {
		case c.Local == "MessageHeader" && mh == nil:
			mh = c
		case c.Local == "TraceHeaderList":
			p.traceFrom(c)
		case c.Local == "Signature" && p.Signature == nil:
			p.Signature = c
		default:
			p.HeaderExtra = append(p.HeaderExtra, c)
		}
	}
	if mh == nil {
		return invalid("N.MessageHeader", "/edXML/edXMLEnvelope/edXMLHeader", "MessageHeader is missing")
	}
	if err := p.headerFrom(mh, lim); err != nil {
		return err
	}
	p.Kind = KindEdoc
	if mh.Child("StatusCode") != nil {
		p.Kind = KindStatus
	}
	return nil
}

func attr(n *Node, name string) string {
	for _, a := range n.Attr {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

func leaf(n *Node, local string) string {
	if c := n.Child(local); c != nil {
		return c.Text
	}
	return ""
}

func organFrom(n *Node) Organ {
	o := Organ{}
	for _, c := range n.Children {
		switch c.Local {
		case "OrganId":
			o.OrganID = c.Text
		case "OrganizationInCharge":
			o.OrganizationInCharge = c.Text
		case "OrganName":
			o.OrganName = c.Text
		case "OrganAdd":
			o.OrganAdd = c.Text
		case "Email":
			o.Email = c.Text
		case "Telephone":
			o.Telephone = c.Text
		case "Fax":
			o.Fax = c.Text
		case "Website":
			o.Website = c.Text
		default:
			o.Extra = append(o.Extra, c)
		}
	}
	return o
}

func staffFrom(n *Node) *StaffInfo {
	return &StaffInfo{Department: leaf(n, "Department"), Staff: leaf(n, "Staff"), Mobile: leaf(n, "Mobile"), Email: leaf(n, "Email")}
}

func (p *Packet) headerFrom(mh *Node, lim Limits) error {
	h := &p.Header
	for _, c := range mh.Children {
		switch c.Local {
		case "From":
			h.From = organFrom(c)
		case "To":
			if len(h.To) >= lim.MaxRecipients {
				return invalid("L.Recipients", "/edXML/edXMLEnvelope/edXMLHeader/MessageHeader", "more than %d recipients", lim.MaxRecipients)
			}
			h.To = append(h.To, organFrom(c))
		case "DocumentId":
			h.DocumentID = c.Text
		case "Code":
			h.Code = &Code{CodeNumber: leaf(c, "CodeNumber"), CodeNotation: leaf(c, "CodeNotation")}
		case "PromulgationInfo":
			h.PromulgationInfo = &PromulgationInfo{Place: leaf(c, "Place"), PromulgationDate: leaf(c, "PromulgationDate")}
		case "DocumentType":
			h.DocumentType = &DocumentType{Type: leaf(c, "Type"), TypeDetail: leaf(c, "TypeDetail"), TypeName: leaf(c, "TypeName")}
		case "Subject":
			h.Subject = c.Text
		case "Content":
			h.Content = c.Text
		case "SignerInfo":
			h.SignerInfo = &SignerInfo{Competence: leaf(c, "Competence"), Position: leaf(c, "Position"), FullName: leaf(c, "FullName")}
		case "DueDate":
			h.DueDate = c.Text
		case "ToPlaces":
			h.HasToPlaces = true
			for _, pl := range c.Children {
				if pl.Local == "Place" {
					h.ToPlaces = append(h.ToPlaces, pl.Text)
				}
			}
		case "OtherInfo":
			h.OtherInfo = otherFrom(c)
		case "ResponseFor":
			rf := ResponseFor{}
			for _, x := range c.Children {
				switch x.Local {
				case "OrganId":
					rf.OrganID = x.Text
				case "Code":
					rf.Code = x.Text
				case "PromulgationDate":
					rf.PromulgationDate = x.Text
				case "DocumentId":
					rf.DocumentID = x.Text
				default:
					rf.Extra = append(rf.Extra, x)
				}
			}
			h.ResponseFor = append(h.ResponseFor, rf)
		case "SteeringType":
			h.SteeringType = c.Text
		case "StaffInfo":
			h.StaffInfo = staffFrom(c)
		case "StatusCode":
			h.StatusCode = c.Text
		case "Description":
			h.Description = c.Text
		case "Timestamp":
			h.Timestamp = c.Text
		default:
			h.Extra = append(h.Extra, c)
		}
	}
	return nil
}

func otherFrom(n *Node) *OtherInfo {
	o := &OtherInfo{}
	for _, c := range n.Children {
		switch c.Local {
		case "Priority":
			o.Priority = c.Text
		case "SphereOfPromulgation":
			o.SphereOfPromulgation = c.Text
		case "TyperNotation":
			o.TyperNotation = c.Text
		case "PromulgationAmount":
			o.PromulgationAmount = c.Text
		case "PageAmount":
			o.PageAmount = c.Text
		case "Direction":
			o.Direction = c.Text
		case "Appendixes":
			o.HasAppendixes = true
			for _, a := range c.Children {
				if a.Local == "Appendix" {
					o.Appendixes = append(o.Appendixes, a.Text)
				}
			}
		case "ReferenceCodes":
			o.ReferenceCodes = c
		default:
			o.Extra = append(o.Extra, c)
		}
	}
	return o
}

func (p *Packet) traceFrom(n *Node) {
	for _, c := range n.Children {
		switch c.Local {
		case "TraceHeader":
			th := TraceHeader{}
			for _, x := range c.Children {
				switch x.Local {
				case "OrganId":
					th.OrganID = x.Text
				case "Timestamp":
					th.Timestamp = x.Text
				default:
					th.Extra = append(th.Extra, x)
				}
			}
			p.Trace = append(p.Trace, th)
		case "Bussiness", "Business":
			if p.Business != nil {
				p.TraceExtra = append(p.TraceExtra, c)
				continue
			}
			b := &Business{}
			for _, x := range c.Children {
				switch x.Local {
				case "DocumentId":
					b.DocumentID = x.Text
				case "BussinessDocType":
					b.DocType = x.Text
				case "BussinessDocReason":
					b.DocReason = x.Text
				case "Paper":
					b.Paper = x.Text
				case "StaffInfo":
					b.StaffInfo = staffFrom(x)
				case "BussinessDocumentInfo":
					bi := BusinessDocumentInfo{DocumentInfo: leaf(x, "DocumentInfo"), DocumentReceiver: leaf(x, "DocumentReceiver")}
					if rl := x.Child("ReceiverList"); rl != nil {
						bi.HasReceiverList = true
						for _, r := range rl.Children {
							if r.Local == "Receiver" {
								bi.Receivers = append(bi.Receivers, Receiver{OrganID: leaf(r, "OrganId"), ReceiverType: leaf(r, "ReceiverType")})
							}
						}
					}
					b.DocumentInfo = append(b.DocumentInfo, bi)
				case "ReplacementInfoList":
					b.HasReplacement = true
					for _, ri := range x.Children {
						if ri.Local != "ReplacementInfo" {
							continue
						}
						r := ReplacementInfo{DocumentID: leaf(ri, "DocumentId")}
						if ol := ri.Child("OrganIdList"); ol != nil {
							for _, o := range ol.Children {
								if o.Local == "OrganId" {
									r.OrganIDs = append(r.OrganIDs, o.Text)
								}
							}
						}
						b.ReplacementInfo = append(b.ReplacementInfo, r)
					}
				default:
					b.Extra = append(b.Extra, x)
				}
			}
			p.Business = b
		default:
			p.TraceExtra = append(p.TraceExtra, c)
		}
	}
}

func attachmentFrom(n *Node, path string) (Attachment, error) {
	a := Attachment{}
	var enc string
	for _, c := range n.Children {
		switch c.Local {
		case "ContentId":
			a.ContentID = c.Text
		case "AttachmentName":
			a.Name = c.Text
		case "Description":
			a.Description = c.Text
		case "ContentType":
			a.ContentType = c.Text
		case "ContentTransferEncoded":
			enc = c.Text
		}
	}
	data, err := decodeBase64(enc)
	if err != nil {
		return a, invalid("M.Attachment.ContentTransferEncoded", path+"/ContentTransferEncoded", "attachment %q is not valid base64: %v", a.Name, err)
	}
	a.Data = data
	return a, nil
}

// decodeBase64 accepts standard base64 with or without padding and with line breaks.
func decodeBase64(s string) ([]byte, error) {
	// The common case in one pass: no blanks or tabs (the decoder skips line breaks itself) and padded.
	// IndexByte is vectorised; ContainsAny walked the 130 KB of a typical attachment byte by byte.
	if strings.IndexByte(s, ' ') < 0 && strings.IndexByte(s, '\t') < 0 {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil {
			return b, nil
		}
	}
	clean := strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	if m := len(clean) % 4; m != 0 {
		return base64.RawStdEncoding.DecodeString(clean)
	}
	return base64.StdEncoding.DecodeString(clean)
}

// parseFast lifts the base64 of each ContentTransferEncoded element out of the input before
// tokenizing — encoding/xml reads character data a byte at a time, which dominated the cost of a
// 100 KB packet — and puts it back into the tree. Base64 text contains no markup, so the bytes are
// the character data; when a region holds '&' or '<', or the element count does not match, the packet
// is parsed the ordinary way.
func parseFast(b []byte, lim Limits, headerOnly bool) (*Node, error) {
	if headerOnly || noFastPath {
		return buildTree(b, lim, headerOnly)
	}
	var regions [][]byte
	var stripped []byte
	rest, last := b, 0
	const tag = "ContentTransferEncoded"
	for {
		i := bytes.Index(rest[last:], []byte(tag))
		if i < 0 {
			break
		}
		start := last + i
		// Must be an opening tag: '<' or '<prefix:' right before the name.
		lt := bytes.LastIndexByte(rest[:start], '<')
		if lt < 0 || rest[lt+1] == '/' || bytes.ContainsAny(rest[lt+1:start], " \t\r\n>") {
			last = start + len(tag)
			continue
		}
		gt := bytes.IndexByte(rest[start:], '>')
		if gt < 0 {
			break
		}
		open := start + gt + 1
		if rest[open-2] == '/' { // empty element
			last = open
			continue
		}
		end := bytes.IndexByte(rest[open:], '<')
		if end < 0 {
			break
		}
		text := rest[open : open+end]
		if bytes.IndexByte(text, '&') >= 0 {
			return buildTree(b, lim, false)
		}
		if stripped == nil {
			stripped = make([]byte, 0, len(b)/4)
		}
		regions = append(regions, text)
		stripped = append(stripped, rest[:open]...)
		rest = rest[open+end:]
		last = 0
	}
	if len(regions) == 0 {
		return buildTree(b, lim, false)
	}
	stripped = append(stripped, rest...)
	root, err := buildTree(stripped, lim, false)
	if err != nil {
		return nil, err
	}
	var nodes []*Node
	var walk func(n *Node)
	walk = func(n *Node) {
		if n.Local == tag && len(n.Children) == 0 {
			nodes = append(nodes, n)
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(root)
	if len(nodes) != len(regions) {
		return buildTree(b, lim, false)
	}
	for i, n := range nodes {
		n.Text = string(regions[i])
	}
	return root, nil
}
