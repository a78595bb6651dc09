package edxml

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"io"
	"strings"
)

// Marshal writes the packet and returns the bytes (also kept as p.Raw).
func (p *Packet) Marshal() ([]byte, error) {
	var b bytes.Buffer
	b.Grow(1024 + len(p.Attachments)*64 + attachmentsSize(p)*4/3)
	if err := p.Write(&b); err != nil {
		return nil, err
	}
	p.Raw = b.Bytes()
	return p.Raw, nil
}

func attachmentsSize(p *Packet) int {
	n := 0
	for _, a := range p.Attachments {
		n += len(a.Data)
	}
	return n
}

// Write emits the packet in the shape of the VPCP samples: default namespace on the root, the literal
// edXML: prefix on the envelope and every descendant, the packet signature unprefixed, and the
// AttachmentEncoded block unprefixed except for ContentTransferEncoded.
func (p *Packet) Write(out io.Writer) error {
	w := &xw{w: bufio.NewWriterSize(out, 64<<10)}
	w.raw(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	w.raw(`<edXML xmlns="` + NS + `">` + "\n")
	w.raw(`  <edXML:edXMLEnvelope xmlns:edXML="` + NS + `">` + "\n")
	w.open(2, "edXMLHeader")
	p.writeHeader(w)
	if p.Kind != KindStatus || len(p.Trace) > 0 || p.Business != nil {
		w.open(3, "TraceHeaderList")
		for _, t := range p.Trace {
			w.open(4, "TraceHeader")
			w.leaf(5, "OrganId", t.OrganID)
			w.leaf(5, "Timestamp", t.Timestamp)
			w.nodes(5, t.Extra)
			w.close(4, "TraceHeader")
		}
		if b := p.Business; b != nil {
			p.writeBusiness(w, b)
		}
		w.nodes(4, p.TraceExtra)
		w.close(3, "TraceHeaderList")
	}
	if p.Signature != nil {
		w.node(3, p.Signature, false, NS)
	}
	w.nodes(3, p.HeaderExtra)
	w.close(2, "edXMLHeader")
	if p.Kind != KindStatus || len(p.References) > 0 || len(p.BodyExtra) > 0 {
		w.open(2, "edXMLBody")
		v := p.ManifestVersion
		if v == "" {
			v = "1.0"
		}
		w.indent(3)
		w.raw(`<edXML:edXMLManifest version="`)
		w.text(v)
		w.raw("\">\n")
		for _, r := range p.References {
			w.open(4, "Reference")
			w.leaf(5, "ContentId", r.ContentID)
			w.leaf(5, "ContentType", r.ContentType)
			w.optLeaf(5, "Description", r.Description)
			w.leaf(5, "AttachmentName", r.AttachmentName)
			w.close(4, "Reference")
		}
		w.close(3, "edXMLManifest")
		w.nodes(3, p.BodyExtra)
		w.close(2, "edXMLBody")
	}
	w.raw("  </edXML:edXMLEnvelope>\n")
	if len(p.Attachments) > 0 {
		w.raw("  <AttachmentEncoded>\n")
		for _, a := range p.Attachments {
			w.raw("    <Attachment>\n")
			w.plainLeaf(6, "ContentId", a.ContentID)
			w.plainLeaf(6, "AttachmentName", a.Name)
			if a.Description != "" {
				w.plainLeaf(6, "Description", a.Description)
			}
			w.plainLeaf(6, "ContentType", a.ContentType)
			w.raw(`      <edXML:ContentTransferEncoded xmlns:edXML="` + NS + `">`)
			if w.err == nil {
				enc := base64.NewEncoder(base64.StdEncoding, w.w)
				_, w.err = enc.Write(a.Data)
				if w.err == nil {
					w.err = enc.Close()
				}
			}
			w.raw("</edXML:ContentTransferEncoded>\n")
			w.raw("    </Attachment>\n")
		}
		w.raw("  </AttachmentEncoded>\n")
	}
	for _, n := range p.Extra {
		w.node(1, n, false, NS) // outside the envelope the edXML prefix is not bound
	}
	w.raw("</edXML>\n")
	if w.err != nil {
		return w.err
	}
	return w.w.Flush()
}

func (p *Packet) writeHeader(w *xw) {
	h := &p.Header
	w.open(3, "MessageHeader")
	writeOrgan(w, 4, "From", h.From)
	for _, t := range h.To {
		writeOrgan(w, 4, "To", t)
	}
	if p.Kind == KindStatus {
		for _, rf := range h.ResponseFor {
			writeResponseFor(w, rf)
		}
		if h.StaffInfo != nil {
			writeStaff(w, 4, h.StaffInfo)
		}
		w.leaf(4, "StatusCode", h.StatusCode)
		w.optLeaf(4, "Description", h.Description)
		w.optLeaf(4, "Timestamp", h.Timestamp)
		w.optLeaf(4, "DocumentId", h.DocumentID)
		w.nodes(4, h.Extra)
		w.close(3, "MessageHeader")
		return
	}
	w.optLeaf(4, "DocumentId", h.DocumentID)
	if c := h.Code; c != nil {
		w.open(4, "Code")
		w.leaf(5, "CodeNumber", c.CodeNumber)
		w.leaf(5, "CodeNotation", c.CodeNotation)
		w.close(4, "Code")
	}
	if pi := h.PromulgationInfo; pi != nil {
		w.open(4, "PromulgationInfo")
		w.leaf(5, "Place", pi.Place)
		w.leaf(5, "PromulgationDate", pi.PromulgationDate)
		w.close(4, "PromulgationInfo")
	}
	if dt := h.DocumentType; dt != nil {
		w.open(4, "DocumentType")
		w.leaf(5, "Type", dt.Type)
		w.optLeaf(5, "TypeDetail", dt.TypeDetail)
		w.leaf(5, "TypeName", dt.TypeName)
		w.close(4, "DocumentType")
	}
	w.leaf(4, "Subject", h.Subject)
	w.optLeaf(4, "Content", h.Content)
	if s := h.SignerInfo; s != nil {
		w.open(4, "SignerInfo")
		w.optLeaf(5, "Competence", s.Competence)
		w.optLeaf(5, "Position", s.Position)
		w.leaf(5, "FullName", s.FullName)
		w.close(4, "SignerInfo")
	}
	w.optLeaf(4, "DueDate", h.DueDate)
	if o := h.OtherInfo; o != nil {
		w.open(4, "OtherInfo")
		w.leaf(5, "Priority", o.Priority)
		w.optLeaf(5, "SphereOfPromulgation", o.SphereOfPromulgation)
		w.optLeaf(5, "TyperNotation", o.TyperNotation)
		w.optLeaf(5, "PromulgationAmount", o.PromulgationAmount)
		w.optLeaf(5, "PageAmount", o.PageAmount)
		w.optLeaf(5, "Direction", o.Direction)
		if o.HasAppendixes || len(o.Appendixes) > 0 {
			w.open(5, "Appendixes")
			for _, a := range o.Appendixes {
				w.leaf(6, "Appendix", a)
			}
			w.close(5, "Appendixes")
		}
		if o.ReferenceCodes != nil {
			w.node(5, o.ReferenceCodes, true, NS)
		}
		w.nodes(5, o.Extra)
		w.close(4, "OtherInfo")
	}
	for _, rf := range h.ResponseFor {
		writeResponseFor(w, rf)
	}
	w.optLeaf(4, "SteeringType", h.SteeringType)
	if h.HasToPlaces || len(h.ToPlaces) > 0 {
		w.open(4, "ToPlaces")
		for _, pl := range h.ToPlaces {
			w.leaf(5, "Place", pl)
		}
		w.close(4, "ToPlaces")
	}
	if h.StaffInfo != nil {
		writeStaff(w, 4, h.StaffInfo)
	}
	w.nodes(4, h.Extra)
	w.close(3, "MessageHeader")
}

func writeResponseFor(w *xw, rf ResponseFor) {
	w.open(4, "ResponseFor")
	w.leaf(5, "OrganId", rf.OrganID)
	w.optLeaf(5, "Code", rf.Code)
	w.optLeaf(5, "PromulgationDate", rf.PromulgationDate)
	w.leaf(5, "DocumentId", rf.DocumentID)
	w.nodes(5, rf.Extra)
	w.close(4, "ResponseFor")
}

func (p *Packet) writeBusiness(w *xw, b *Business) {
	w.open(4, "Bussiness")
	w.optLeaf(5, "DocumentId", b.DocumentID)
	w.leaf(5, "BussinessDocType", b.DocType)
	w.optLeaf(5, "BussinessDocReason", b.DocReason)
	w.optLeaf(5, "Paper", b.Paper)
	for _, bi := range b.DocumentInfo {
		w.open(5, "BussinessDocumentInfo")
		w.optLeaf(6, "DocumentInfo", bi.DocumentInfo)
		w.optLeaf(6, "DocumentReceiver", bi.DocumentReceiver)
		if bi.HasReceiverList || len(bi.Receivers) > 0 {
			w.open(6, "ReceiverList")
			for _, r := range bi.Receivers {
				w.open(7, "Receiver")
				w.leaf(8, "OrganId", r.OrganID)
				w.optLeaf(8, "ReceiverType", r.ReceiverType)
				w.close(7, "Receiver")
			}
			w.close(6, "ReceiverList")
		}
		w.close(5, "BussinessDocumentInfo")
	}
	if b.HasReplacement || len(b.ReplacementInfo) > 0 {
		w.open(5, "ReplacementInfoList")
		for _, ri := range b.ReplacementInfo {
			w.open(6, "ReplacementInfo")
			w.leaf(7, "DocumentId", ri.DocumentID)
			w.open(7, "OrganIdList")
			for _, o := range ri.OrganIDs {
				w.leaf(8, "OrganId", o)
			}
			w.close(7, "OrganIdList")
			w.close(6, "ReplacementInfo")
		}
		w.close(5, "ReplacementInfoList")
	}
	if b.StaffInfo != nil {
		writeStaff(w, 5, b.StaffInfo)
	}
	w.nodes(5, b.Extra)
	w.close(4, "Bussiness")
}

func writeOrgan(w *xw, d int, name string, o Organ) {
	w.open(d, name)
	w.leaf(d+1, "OrganId", o.OrganID)
	w.optLeaf(d+1, "OrganizationInCharge", o.OrganizationInCharge)
	w.optLeaf(d+1, "OrganName", o.OrganName)
	w.optLeaf(d+1, "OrganAdd", o.OrganAdd)
	w.optLeaf(d+1, "Email", o.Email)
	w.optLeaf(d+1, "Telephone", o.Telephone)
	w.optLeaf(d+1, "Fax", o.Fax)
	w.optLeaf(d+1, "Website", o.Website)
	w.nodes(d+1, o.Extra)
	w.close(d, name)
}

func writeStaff(w *xw, d int, s *StaffInfo) {
	w.open(d, "StaffInfo")
	w.optLeaf(d+1, "Department", s.Department)
	w.optLeaf(d+1, "Staff", s.Staff)
	w.optLeaf(d+1, "Mobile", s.Mobile)
	w.optLeaf(d+1, "Email", s.Email)
	w.close(d, "StaffInfo")
}

// xw is the template writer: it remembers the first error and turns later calls into no-ops.
type xw struct {
	w   *bufio.Writer
	err error
}

func (w *xw) raw(s string) {
	if w.err == nil {
		_, w.err = w.w.WriteString(s)
	}
}

func (w *xw) text(s string) {
	if w.err == nil {
		w.err = xml.EscapeText(w.w, []byte(s))
	}
}

func (w *xw) indent(d int) { w.raw(strings.Repeat("  ", d)) }

func (w *xw) open(d int, name string) {
	w.indent(d)
	w.raw("<edXML:" + name + ">\n")
}

func (w *xw) close(d int, name string) {
	w.indent(d)
	w.raw("</edXML:" + name + ">\n")
}

func (w *xw) leaf(d int, name, v string) {
	w.indent(d)
	w.raw("<edXML:" + name + ">")
	w.text(v)
	w.raw("</edXML:" + name + ">\n")
}

func (w *xw) optLeaf(d int, name, v string) {
	if v != "" {
		w.leaf(d, name, v)
	}
}

func (w *xw) plainLeaf(d int, name, v string) {
	w.indent(d)
	w.raw("<" + name + ">")
	w.text(v)
	w.raw("</" + name + ">\n")
}

func (w *xw) nodes(d int, ns []*Node) {
	for _, n := range ns {
		w.node(d, n, true, NS)
	}
}

// node writes a kept element. Inside the envelope, edXML-namespace elements take the edXML: prefix when
// prefixed is set (the signature keeps its unprefixed form). An element of another namespace declares
// it as its default namespace, which its unprefixed descendants inherit.
func (w *xw) node(d int, n *Node, prefixed bool, defNS string) {
	w.indent(d)
	name := n.Local
	declare := false
	switch {
	case n.Space == NS && prefixed:
		name = "edXML:" + n.Local
	case n.Space != defNS:
		declare = true
		defNS = n.Space
	}
	w.raw("<" + name)
	if declare {
		w.raw(` xmlns="`)
		w.text(defNS)
		w.raw(`"`)
	}
	for _, a := range n.Attr {
		if a.Name.Space != "" {
			continue // prefixed attributes from foreign namespaces are not re-emitted
		}
		w.raw(" " + a.Name.Local + `="`)
		w.text(a.Value)
		w.raw(`"`)
	}
	if len(n.Children) == 0 {
		if n.Text == "" {
			w.raw(" />\n")
			return
		}
		w.raw(">")
		w.text(n.Text)
		w.raw("</" + name + ">\n")
		return
	}
	w.raw(">\n")
	for _, c := range n.Children {
		w.node(d+1, c, prefixed, defNS)
	}
	w.indent(d)
	w.raw("</" + name + ">\n")
}
