package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/lienthong/lienthong/exchange/edxml"
)

func init() {
	register(command{name: "edxml validate", summary: "check an edXML packet against QCVN 102 and our limits", run: runEdxmlValidate})
	register(command{name: "edxml show", summary: "print an edXML packet's header and attachments", run: runEdxmlShow})
}

// readPacket reads FILE ("-" for stdin) and parses it. A parse failure is an invalid packet (problems
// returned); a read failure is an error (exit 2).
func readPacket(e env, name string) (*edxml.Packet, []edxml.Problem, error) {
	var r io.Reader
	if name == "-" {
		r = e.Stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		r = f
	}
	p, err := edxml.ParseLimits(r, edxml.DefaultLimits)
	var ie *edxml.InvalidError
	if errors.As(err, &ie) {
		return nil, ie.Problems, nil
	}
	return p, nil, err
}

func edxmlFlags(name string, e env, args []string) (*flag.FlagSet, *bool, string, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	asJSON := fs.Bool("json", false, "print one JSON document")
	fs.Usage = func() { fmt.Fprintf(e.Stderr, "usage: lienthong %s [--json] FILE\n", name); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		if err == nil {
			fs.Usage()
		}
		return fs, asJSON, "", false
	}
	return fs, asJSON, fs.Arg(0), true
}

func runEdxmlValidate(ctx context.Context, e env, args []string) int {
	_, asJSON, file, ok := edxmlFlags("edxml validate", e, args)
	if !ok {
		return exitUsage
	}
	p, probs, err := readPacket(e, file)
	if err != nil {
		fmt.Fprintf(e.Stderr, "lienthong: cannot read %s: %v\n", file, err)
		return exitUsage
	}
	kind := edxml.KindEdoc
	var warnings []edxml.Problem
	if p != nil {
		kind = p.Kind
		probs = edxml.Validate(p)
		warnings = p.Warnings
	}
	if probs == nil {
		probs = []edxml.Problem{}
	}
	if *asJSON {
		out := struct {
			Valid    bool            `json:"valid"`
			Kind     edxml.Kind      `json:"kind"`
			Errors   []edxml.Problem `json:"errors"`
			Warnings []edxml.Problem `json:"warnings,omitempty"`
			SHA256   string          `json:"sha256,omitempty"`
		}{Valid: len(probs) == 0, Kind: kind, Errors: probs, Warnings: warnings}
		if p != nil {
			out.SHA256 = p.Evidence()
		}
		enc := json.NewEncoder(e.Stdout)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(out)
	} else {
		for _, w := range warnings {
			fmt.Fprintf(e.Stdout, "warning %s at %s: %s\n", w.Code, w.Path, w.Message)
		}
		for _, pr := range probs {
			fmt.Fprintf(e.Stdout, "%s at %s: %s\n", pr.Code, pr.Path, pr.Message)
		}
		if len(probs) == 0 {
			fmt.Fprintf(e.Stdout, "%s: valid %s packet\n", file, kind)
		} else {
			fmt.Fprintf(e.Stdout, "%s: invalid (%d problems)\n", file, len(probs))
		}
	}
	if len(probs) > 0 {
		return exitNo
	}
	return exitOK
}

type showAttachment struct {
	ContentID   string `json:"content_id"`
	Name        string `json:"name"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
	SHA256      string `json:"sha256"`
	Zip         bool   `json:"zip,omitempty"`
	Files       []struct {
		Name   string `json:"name"`
		Size   int    `json:"size"`
		SHA256 string `json:"sha256"`
	} `json:"files,omitempty"`
}

type showOrgan struct {
	Code string `json:"code"`
	Name string `json:"name,omitempty"`
}

type showPacket struct {
	Kind        edxml.Kind          `json:"kind"`
	SHA256      string              `json:"sha256"`
	Size        int                 `json:"size"`
	From        showOrgan           `json:"from"`
	To          []showOrgan         `json:"to,omitempty"`
	DocumentID  string              `json:"document_id,omitempty"`
	Code        string              `json:"code,omitempty"`
	Date        string              `json:"promulgation_date,omitempty"`
	Place       string              `json:"place,omitempty"`
	TypeName    string              `json:"type_name,omitempty"`
	Subject     string              `json:"subject,omitempty"`
	Signer      string              `json:"signer,omitempty"`
	DueDate     string              `json:"due_date,omitempty"`
	Priority    string              `json:"priority,omitempty"`
	Business    string              `json:"business_doc_type,omitempty"`
	Reason      string              `json:"business_doc_reason,omitempty"`
	ResponseFor []edxml.ResponseFor `json:"response_for,omitempty"`
	StatusCode  string              `json:"status_code,omitempty"`
	StatusName  string              `json:"status_name,omitempty"`
	Description string              `json:"description,omitempty"`
	Timestamp   string              `json:"timestamp,omitempty"`
	Trace       []edxml.TraceHeader `json:"trace,omitempty"`
	Signed      bool                `json:"packet_signature"`
	Attachments []showAttachment    `json:"attachments"`
	Warnings    []edxml.Problem     `json:"warnings,omitempty"`
}

func runEdxmlShow(ctx context.Context, e env, args []string) int {
	_, asJSON, file, ok := edxmlFlags("edxml show", e, args)
	if !ok {
		return exitUsage
	}
	p, probs, err := readPacket(e, file)
	if err != nil {
		fmt.Fprintf(e.Stderr, "lienthong: cannot read %s: %v\n", file, err)
		return exitUsage
	}
	if p == nil {
		for _, pr := range probs {
			fmt.Fprintf(e.Stderr, "%s at %s: %s\n", pr.Code, pr.Path, pr.Message)
		}
		return exitNo
	}
	h := p.Header
	s := showPacket{Kind: p.Kind, SHA256: p.Evidence(), Size: len(p.Raw), From: showOrgan{h.From.OrganID, h.From.OrganName},
		DocumentID: h.DocumentID, Subject: h.Subject, DueDate: h.DueDate, ResponseFor: h.ResponseFor,
		StatusCode: h.StatusCode, StatusName: edxml.StatusNames[h.StatusCode], Description: h.Description,
		Timestamp: h.Timestamp, Trace: h2trace(p), Signed: p.Signature != nil, Warnings: p.Warnings,
		Attachments: []showAttachment{}}
	for _, t := range h.To {
		s.To = append(s.To, showOrgan{t.OrganID, t.OrganName})
	}
	if h.Code != nil {
		s.Code = h.Code.String()
	}
	if pi := h.PromulgationInfo; pi != nil {
		s.Date, s.Place = pi.PromulgationDate, pi.Place
	}
	if h.DocumentType != nil {
		s.TypeName = h.DocumentType.TypeName
	}
	if si := h.SignerInfo; si != nil {
		s.Signer = si.Competence + " " + si.Position + " " + si.FullName
	}
	if h.OtherInfo != nil {
		s.Priority = h.OtherInfo.Priority
	}
	if b := p.Business; b != nil {
		s.Business, s.Reason = b.DocType, b.DocReason
	}
	for _, a := range p.Attachments {
		sa := showAttachment{ContentID: a.ContentID, Name: a.Name, ContentType: a.ContentType, Size: len(a.Data), SHA256: a.SHA256(), Zip: edxml.IsZip(a.Data)}
		if sa.Zip {
			if files, err := a.Files(); err == nil {
				for _, f := range files {
					sa.Files = append(sa.Files, struct {
						Name   string `json:"name"`
						Size   int    `json:"size"`
						SHA256 string `json:"sha256"`
					}{f.Name, len(f.Data), f.SHA256})
				}
			}
		}
		s.Attachments = append(s.Attachments, sa)
	}
	if *asJSON {
		enc := json.NewEncoder(e.Stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s)
		return exitOK
	}
	w := e.Stdout
	fmt.Fprintf(w, "kind:        %s\nsha256:      %s (%d bytes)\nfrom:        %s %s\n", s.Kind, s.SHA256, s.Size, s.From.Code, s.From.Name)
	for _, t := range s.To {
		fmt.Fprintf(w, "to:          %s %s\n", t.Code, t.Name)
	}
	line := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "%-13s%s\n", k+":", v)
		}
	}
	line("document id", s.DocumentID)
	line("code", s.Code)
	line("date", s.Date)
	line("place", s.Place)
	line("type", s.TypeName)
	line("subject", s.Subject)
	line("signer", s.Signer)
	line("due date", s.DueDate)
	line("priority", s.Priority)
	line("business", s.Business)
	line("reason", s.Reason)
	for _, rf := range s.ResponseFor {
		line("response for", rf.OrganID+" "+rf.DocumentID)
	}
	if s.StatusCode != "" {
		line("status", s.StatusCode+" "+s.StatusName)
	}
	line("description", s.Description)
	line("timestamp", s.Timestamp)
	for _, t := range s.Trace {
		line("trace", t.OrganID+" "+t.Timestamp)
	}
	if s.Signed {
		line("signature", "packet XMLDSig present (not verified here)")
	}
	for _, a := range s.Attachments {
		fmt.Fprintf(w, "attachment:  %s  %s  %d bytes  sha256 %s\n", a.Name, a.ContentType, a.Size, a.SHA256)
		for _, f := range a.Files {
			fmt.Fprintf(w, "  in zip:    %s  %d bytes  sha256 %s\n", f.Name, f.Size, f.SHA256)
		}
	}
	for _, wa := range s.Warnings {
		fmt.Fprintf(w, "warning:     %s %s\n", wa.Code, wa.Message)
	}
	return exitOK
}

func h2trace(p *edxml.Packet) []edxml.TraceHeader {
	out := make([]edxml.TraceHeader, 0, len(p.Trace))
	for _, t := range p.Trace {
		out = append(out, edxml.TraceHeader{OrganID: t.OrganID, Timestamp: t.Timestamp})
	}
	return out
}
