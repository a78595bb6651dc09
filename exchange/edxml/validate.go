package edxml

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Paths of the main blocks, for Problem.Path.
const (
	pathHeader = "/edXML/edXMLEnvelope/edXMLHeader"
	pathMH     = pathHeader + "/MessageHeader"
	pathTrace  = pathHeader + "/TraceHeaderList"
	pathBiz    = pathTrace + "/Bussiness"
	pathRef    = "/edXML/edXMLEnvelope/edXMLBody/edXMLManifest/Reference"
	pathAtt    = "/edXML/AttachmentEncoded/Attachment"
)

// AllowedContentTypes are the MIME types accepted for attachments (TT 39/2017 formats plus ZIP wrapping).
var AllowedContentTypes = map[string]bool{
	"application/pdf": true, "application/zip": true, "application/x-zip-compressed": true,
	"application/msword": true, "application/vnd.openxmlformats-officedocument.wordprocessingml.document": true,
	"application/vnd.ms-excel": true, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": true,
	"application/vnd.oasis.opendocument.text": true, "application/vnd.oasis.opendocument.spreadsheet": true,
	"application/rtf": true, "text/plain": true, "text/xml": true, "application/xml": true,
	"image/jpeg": true, "image/png": true, "image/tiff": true, "application/octet-stream": true,
}

var (
	emailRE   = regexp.MustCompile(`^[^@\s]+@[^@\s]+\.[^@\s]+$`)
	websiteRE = regexp.MustCompile(`^[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]+$`)
	statusRE  = regexp.MustCompile(`^\d{2}$`)
	digitsRE  = regexp.MustCompile(`^\d+$`)
)

// Validator checks packets against QCVN 102 and our limits. Now is the clock for "not in the future".
type Validator struct {
	Now func() time.Time
	// Skew tolerated on dates and timestamps in the future (clocks of other nodes differ).
	Skew time.Duration
}

// Validate checks p with the default validator (real clock, one day of skew).
func Validate(p *Packet) []Problem { return Validator{}.Validate(p) }

type checker struct {
	v     Validator
	now   time.Time
	probs []Problem
}

func (c *checker) add(code, path, format string, args ...any) {
	c.probs = append(c.probs, Problem{Code: code, Path: path, Message: fmt.Sprintf(format, args...)})
}

// required: present after trimming.
func (c *checker) required(field, path, v string) bool {
	if strings.TrimSpace(v) == "" {
		c.add("N."+field, path, "%s is required", lastElem(field))
		return false
	}
	return true
}

func (c *checker) length(field, path, v string, max int) {
	if n := utf8.RuneCountInString(strings.TrimSpace(v)); n > max {
		c.add("R."+field, path, "%s is %d characters long; at most %d are allowed", lastElem(field), n, max)
	}
	for _, r := range v {
		if r != '\t' && r != '\n' && r != '\r' && unicode.IsControl(r) {
			c.add("M."+field, path, "%s contains a control character", lastElem(field))
			return
		}
	}
}

func (c *checker) date(field, path, v string, notFuture bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return
	}
	t, err := ParseDate(v)
	if err != nil {
		c.add("T."+field, path, "%s %q is not a date in the form yyyy/MM/dd", lastElem(field), v)
		return
	}
	if notFuture && t.After(c.now.Add(c.v.Skew)) {
		c.add("T."+field, path, "%s %s is in the future", lastElem(field), v)
	}
}

func (c *checker) timestamp(field, path, v string) {
	v = strings.TrimSpace(v)
	if v == "" {
		return
	}
	t, err := ParseTimestamp(v)
	if err != nil {
		c.add("T."+field, path, "%s %q is not a time in the form yyyy/MM/dd HH:mm:ss", lastElem(field), v)
		return
	}
	if t.After(c.now.Add(c.v.Skew)) {
		c.add("T."+field, path, "%s %s is in the future", lastElem(field), v)
	}
}

func (c *checker) intIn(field, path, v string, lo, hi int) {
	v = strings.TrimSpace(v)
	if v == "" {
		return
	}
	n, err := strconv.Atoi(v)
	if err != nil || !digitsRE.MatchString(v) {
		c.add("T."+field, path, "%s %q is not a number", lastElem(field), v)
		return
	}
	if n < lo || n > hi {
		c.add("R."+field, path, "%s %d is outside %d-%d", lastElem(field), n, lo, hi)
	}
}

func lastElem(field string) string {
	if i := strings.LastIndexByte(field, '.'); i >= 0 {
		return field[i+1:]
	}
	return field
}

// OrganIDOK reports whether code can be an organisation code: 1-35 characters without white space or
// control characters. Codes are otherwise opaque (QCVN 102 "000.00.00.H53" and QĐ 20 "H37.02.02" both
// occur, as do odd legacy ones), so nothing else is checked here.
func OrganIDOK(code string) bool {
	if code == "" || utf8.RuneCountInString(code) > 35 {
		return false
	}
	for _, r := range code {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return false
		}
	}
	return true
}

func (c *checker) organID(field, path, v string) {
	if !c.required(field, path, v) {
		return
	}
	if !OrganIDOK(strings.TrimSpace(v)) {
		c.add("T."+field, path, "organisation code %q must be 1-35 characters without spaces", v)
	}
}

func (c *checker) organ(block, path string, o Organ) {
	c.organID(block+".OrganId", path+"/OrganId", o.OrganID)
	c.length(block+".OrganName", path+"/OrganName", o.OrganName, 200)
	c.length(block+".OrganizationInCharge", path+"/OrganizationInCharge", o.OrganizationInCharge, 200)
	c.length(block+".OrganAdd", path+"/OrganAdd", o.OrganAdd, 500)
	c.length(block+".Email", path+"/Email", o.Email, 100)
	if e := strings.TrimSpace(o.Email); e != "" && !emailRE.MatchString(e) {
		c.add("T."+block+".Email", path+"/Email", "Email %q is not an e-mail address", e)
	}
	c.length(block+".Telephone", path+"/Telephone", o.Telephone, 20)
	c.length(block+".Fax", path+"/Fax", o.Fax, 20)
	c.length(block+".Website", path+"/Website", o.Website, 100)
	if ws := strings.TrimSpace(o.Website); ws != "" && !websiteRE.MatchString(ws) {
		c.add("T."+block+".Website", path+"/Website", "Website %q is not a web address", ws)
	}
}

func (c *checker) staff(block, path string, s *StaffInfo) {
	if s == nil {
		return
	}
	c.length(block+".Department", path+"/Department", s.Department, 200)
	c.length(block+".Staff", path+"/Staff", s.Staff, 100)
	c.length(block+".Mobile", path+"/Mobile", s.Mobile, 20)
	c.length(block+".Email", path+"/Email", s.Email, 100)
}

// Validate returns every problem found in p (nil when it is valid). Warnings (code "W.…") are returned
// separately in p.Warnings and never make a packet invalid.
func (v Validator) Validate(p *Packet) []Problem {
	if v.Now == nil {
		v.Now = time.Now
	}
	if v.Skew == 0 {
		v.Skew = 24 * time.Hour
	}
	c := &checker{v: v, now: v.Now()}
	h := &p.Header
	c.organ("MessageHeader.From", pathMH+"/From", h.From)
	if p.Kind == KindStatus {
		c.validateStatus(p)
	} else {
		c.validateEdoc(p)
	}
	for i, t := range p.Trace {
		path := fmt.Sprintf("%s/TraceHeader[%d]", pathTrace, i+1)
		c.organID("TraceHeader.OrganId", path+"/OrganId", t.OrganID)
		c.timestamp("TraceHeader.Timestamp", path+"/Timestamp", t.Timestamp)
	}
	return c.probs
}

func (c *checker) validateStatus(p *Packet) {
	h := &p.Header
	if len(h.ResponseFor) == 0 {
		c.add("N.MessageHeader.ResponseFor", pathMH+"/ResponseFor", "ResponseFor (the document this status is about) is required")
	}
	for i, rf := range h.ResponseFor {
		path := fmt.Sprintf("%s/ResponseFor[%d]", pathMH, i+1)
		c.organID("MessageHeader.ResponseFor.OrganId", path+"/OrganId", rf.OrganID)
		c.required("MessageHeader.ResponseFor.Code", path+"/Code", rf.Code)
		c.length("MessageHeader.ResponseFor.Code", path+"/Code", rf.Code, 42)
		if c.required("MessageHeader.ResponseFor.DocumentId", path+"/DocumentId", rf.DocumentID) {
			c.length("MessageHeader.ResponseFor.DocumentId", path+"/DocumentId", rf.DocumentID, 200)
		}
		c.date("MessageHeader.ResponseFor.PromulgationDate", path+"/PromulgationDate", rf.PromulgationDate, true)
	}
	c.staff("MessageHeader.StaffInfo", pathMH+"/StaffInfo", h.StaffInfo)
	code := strings.TrimSpace(h.StatusCode)
	if c.required("MessageHeader.StatusCode", pathMH+"/StatusCode", code) {
		if !statusRE.MatchString(code) {
			c.add("T.MessageHeader.StatusCode", pathMH+"/StatusCode", "StatusCode %q is not a two-digit code", code)
		} else if !KnownStatus(code) {
			p.Warnings = appendOnce(p.Warnings, Problem{Code: "W.MessageHeader.StatusCode", Path: pathMH + "/StatusCode",
				Message: fmt.Sprintf("status code %s is not one of the documented codes", code)})
		}
	}
	c.length("MessageHeader.Description", pathMH+"/Description", h.Description, 500)
	if c.required("MessageHeader.Timestamp", pathMH+"/Timestamp", h.Timestamp) {
		c.timestamp("MessageHeader.Timestamp", pathMH+"/Timestamp", h.Timestamp)
	}
}

func appendOnce(ps []Problem, p Problem) []Problem {
	for _, q := range ps {
		if q == p {
			return ps
		}
	}
	return append(ps, p)
}

func (c *checker) validateEdoc(p *Packet) {
	h := &p.Header
	if len(h.To) == 0 {
		c.add("N.MessageHeader.To", pathMH+"/To", "at least one recipient (To) is required")
	}
	for i, t := range h.To {
		c.organ("MessageHeader.To", fmt.Sprintf("%s/To[%d]", pathMH, i+1), t)
	}
	if c.required("MessageHeader.DocumentId", pathMH+"/DocumentId", h.DocumentID) {
		c.length("MessageHeader.DocumentId", pathMH+"/DocumentId", h.DocumentID, 200)
	}
	if h.Code == nil {
		c.add("N.MessageHeader.Code", pathMH+"/Code", "Code (number and notation) is required")
	} else {
		if c.required("MessageHeader.Code.CodeNumber", pathMH+"/Code/CodeNumber", h.Code.CodeNumber) {
			c.length("MessageHeader.Code.CodeNumber", pathMH+"/Code/CodeNumber", h.Code.CodeNumber, 11)
		}
		c.length("MessageHeader.Code.CodeNotation", pathMH+"/Code/CodeNotation", h.Code.CodeNotation, 30)
	}
	if pi := h.PromulgationInfo; pi == nil {
		c.add("N.MessageHeader.PromulgationInfo", pathMH+"/PromulgationInfo", "PromulgationInfo (place and date of issue) is required")
	} else {
		c.length("MessageHeader.PromulgationInfo.Place", pathMH+"/PromulgationInfo/Place", pi.Place, 50)
		if c.required("MessageHeader.PromulgationInfo.PromulgationDate", pathMH+"/PromulgationInfo/PromulgationDate", pi.PromulgationDate) {
			c.date("MessageHeader.PromulgationInfo.PromulgationDate", pathMH+"/PromulgationInfo/PromulgationDate", pi.PromulgationDate, true)
		}
	}
	if dt := h.DocumentType; dt != nil {
		c.intIn("MessageHeader.DocumentType.Type", pathMH+"/DocumentType/Type", dt.Type, 0, 99)
		c.length("MessageHeader.DocumentType.TypeName", pathMH+"/DocumentType/TypeName", dt.TypeName, 100)
	}
	if c.required("MessageHeader.Subject", pathMH+"/Subject", h.Subject) {
		c.length("MessageHeader.Subject", pathMH+"/Subject", h.Subject, 500)
	}
	c.length("MessageHeader.Content", pathMH+"/Content", h.Content, 500)
	if s := h.SignerInfo; s != nil {
		c.length("MessageHeader.SignerInfo.Competence", pathMH+"/SignerInfo/Competence", s.Competence, 100)
		c.length("MessageHeader.SignerInfo.Position", pathMH+"/SignerInfo/Position", s.Position, 100)
		c.length("MessageHeader.SignerInfo.FullName", pathMH+"/SignerInfo/FullName", s.FullName, 50)
	}
	c.date("MessageHeader.DueDate", pathMH+"/DueDate", h.DueDate, false)
	for i, pl := range h.ToPlaces {
		c.length("MessageHeader.ToPlaces.Place", fmt.Sprintf("%s/ToPlaces/Place[%d]", pathMH, i+1), pl, 150)
	}
	if o := h.OtherInfo; o != nil {
		c.intIn("MessageHeader.OtherInfo.Priority", pathMH+"/OtherInfo/Priority", o.Priority, 0, 4)
		c.length("MessageHeader.OtherInfo.SphereOfPromulgation", pathMH+"/OtherInfo/SphereOfPromulgation", o.SphereOfPromulgation, 100)
		c.length("MessageHeader.OtherInfo.TyperNotation", pathMH+"/OtherInfo/TyperNotation", o.TyperNotation, 10)
		c.intIn("MessageHeader.OtherInfo.PromulgationAmount", pathMH+"/OtherInfo/PromulgationAmount", o.PromulgationAmount, 0, 100000)
		c.intIn("MessageHeader.OtherInfo.PageAmount", pathMH+"/OtherInfo/PageAmount", o.PageAmount, 0, 100000)
		if d := strings.TrimSpace(o.Direction); d != "" && d != "true" && d != "false" && d != "0" && d != "1" {
			c.add("T.MessageHeader.OtherInfo.Direction", pathMH+"/OtherInfo/Direction", "Direction %q is not true or false", d)
		}
	}
	for i, rf := range h.ResponseFor {
		path := fmt.Sprintf("%s/ResponseFor[%d]", pathMH, i+1)
		c.organID("MessageHeader.ResponseFor.OrganId", path+"/OrganId", rf.OrganID)
		c.required("MessageHeader.ResponseFor.DocumentId", path+"/DocumentId", rf.DocumentID)
		c.date("MessageHeader.ResponseFor.PromulgationDate", path+"/PromulgationDate", rf.PromulgationDate, true)
	}
	c.intIn("MessageHeader.SteeringType", pathMH+"/SteeringType", h.SteeringType, 0, 9)
	c.validateBusiness(p)
	c.validateAttachments(p)
}

func (c *checker) validateBusiness(p *Packet) {
	b := p.Business
	if b == nil {
		c.add("N.Bussiness", pathBiz, "Bussiness (the business type of the packet) is required")
		return
	}
	if c.required("Bussiness.BussinessDocType", pathBiz+"/BussinessDocType", b.DocType) {
		switch strings.TrimSpace(b.DocType) {
		case BusinessNew, BusinessUpdate:
		case BusinessRevoke:
			if len(p.Header.ResponseFor) == 0 {
				c.add("N.MessageHeader.ResponseFor", pathMH+"/ResponseFor", "a revocation (type 1) must name the revoked document in ResponseFor")
			}
		case BusinessReplace:
			if len(b.ReplacementInfo) == 0 {
				c.add("N.Bussiness.ReplacementInfoList", pathBiz+"/ReplacementInfoList", "a replacement (type 3) must list the replaced documents")
			}
		default:
			c.add("T.Bussiness.BussinessDocType", pathBiz+"/BussinessDocType", "BussinessDocType %q is not 0 (new), 1 (revoke), 2 (update) or 3 (replace)", b.DocType)
		}
	}
	c.length("Bussiness.BussinessDocReason", pathBiz+"/BussinessDocReason", b.DocReason, 500)
	c.intIn("Bussiness.Paper", pathBiz+"/Paper", b.Paper, 0, 1)
	c.staff("Bussiness.StaffInfo", pathBiz+"/StaffInfo", b.StaffInfo)
	for i, bi := range b.DocumentInfo {
		path := fmt.Sprintf("%s/BussinessDocumentInfo[%d]", pathBiz, i+1)
		c.intIn("Bussiness.BussinessDocumentInfo.DocumentInfo", path+"/DocumentInfo", bi.DocumentInfo, 0, 1)
		c.intIn("Bussiness.BussinessDocumentInfo.DocumentReceiver", path+"/DocumentReceiver", bi.DocumentReceiver, 0, 1)
		for j, r := range bi.Receivers {
			rp := fmt.Sprintf("%s/ReceiverList/Receiver[%d]", path, j+1)
			c.organID("Bussiness.BussinessDocumentInfo.Receiver.OrganId", rp+"/OrganId", r.OrganID)
			c.intIn("Bussiness.BussinessDocumentInfo.Receiver.ReceiverType", rp+"/ReceiverType", r.ReceiverType, 0, 1)
		}
	}
	for i, ri := range b.ReplacementInfo {
		path := fmt.Sprintf("%s/ReplacementInfoList/ReplacementInfo[%d]", pathBiz, i+1)
		c.required("Bussiness.ReplacementInfo.DocumentId", path+"/DocumentId", ri.DocumentID)
		for j, o := range ri.OrganIDs {
			c.organID("Bussiness.ReplacementInfo.OrganId", fmt.Sprintf("%s/OrganIdList/OrganId[%d]", path, j+1), o)
		}
	}
}

func (c *checker) validateAttachments(p *Packet) {
	seen := map[string]bool{}
	for i, a := range p.Attachments {
		path := fmt.Sprintf("%s[%d]", pathAtt, i+1)
		id := NormaliseCID(a.ContentID)
		if c.required("Attachment.ContentId", path+"/ContentId", id) {
			if seen[id] {
				c.add("D.Attachment.ContentId", path+"/ContentId", "two attachments share the content id %q", id)
			}
			seen[id] = true
		}
		if c.required("Attachment.AttachmentName", path+"/AttachmentName", a.Name) {
			c.length("Attachment.AttachmentName", path+"/AttachmentName", a.Name, 500)
			if strings.ContainsAny(a.Name, "/\\\x00") {
				c.add("T.Attachment.AttachmentName", path+"/AttachmentName", "attachment name %q must not contain path separators", a.Name)
			}
		}
		ct := strings.ToLower(strings.TrimSpace(a.ContentType))
		if c.required("Attachment.ContentType", path+"/ContentType", ct) {
			if base, _, _ := strings.Cut(ct, ";"); !AllowedContentTypes[strings.TrimSpace(base)] {
				c.add("T.Attachment.ContentType", path+"/ContentType", "content type %q is not an accepted document format", a.ContentType)
			}
		}
		if len(a.Data) == 0 {
			c.add("N.Attachment.ContentTransferEncoded", path+"/ContentTransferEncoded", "attachment %q is empty", a.Name)
		}
	}
	for i, r := range p.References {
		path := fmt.Sprintf("%s[%d]", pathRef, i+1)
		if !c.required("Reference.ContentId", path+"/ContentId", r.ContentID) {
			continue
		}
		c.length("Reference.AttachmentName", path+"/AttachmentName", r.AttachmentName, 500)
		if _, ok := p.Attachment(r); !ok {
			c.add("D.Reference.ContentId", path+"/ContentId", "the manifest names %q but no attachment has that content id", r.ContentID)
		}
	}
	for i, a := range p.Attachments {
		found := false
		for _, r := range p.References {
			if NormaliseCID(r.ContentID) == NormaliseCID(a.ContentID) {
				found = true
				break
			}
		}
		if !found {
			c.add("D.Attachment.ContentId", fmt.Sprintf("%s[%d]/ContentId", pathAtt, i+1), "attachment %q is not listed in the manifest", a.Name)
		}
	}
}
