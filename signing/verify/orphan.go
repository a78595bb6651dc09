package verify

import (
	"github.com/lienthong/lienthong/signing/pdf"
)

// Some signers (poppler's pdfsig 22.12 when the AcroForm is a direct dictionary) put a new signature
// field's widget on the page but never list the field in the AcroForm's /Fields. Viewers still show
// and validate it, so the verifier finds such orphan signature widgets through the pages too.

// orphanSig describes a signature field reachable only through a page's /Annots.
type orphanSig struct {
	field  pdf.Ref // the field (the widget itself when merged)
	widget pdf.Ref
	dict   pdf.Dict // the field dictionary
	name   string
	value  pdf.Object // /V, unresolved
}

// orphanSigWidgets lists the signature widgets on the pages of revision rev whose field is not in
// known (the fields the AcroForm lists).
func orphanSigWidgets(rd *pdf.Reader, rev int, known map[int]bool) []orphanSig {
	pages, err := rd.Pages(rev)
	if err != nil {
		return nil
	}
	var out []orphanSig
	seen := map[int]bool{}
	for _, p := range pages {
		ao, err := rd.ResolveAt(rev, p.Dict["Annots"])
		if err != nil {
			continue
		}
		arr, _ := ao.(pdf.Array)
		for _, x := range arr {
			wr, ok := x.(pdf.Ref)
			if !ok || seen[wr.Num] || known[wr.Num] {
				continue
			}
			seen[wr.Num] = true
			wo, err := rd.ObjectAt(rev, wr)
			if err != nil {
				continue
			}
			wd, ok := wo.(pdf.Dict)
			if !ok || wd.Name("Subtype") != "Widget" {
				continue
			}
			field, fd := wr, wd
			if wd.Name("FT") == "" {
				// A kid widget: its field is the parent.
				pr, ok := wd["Parent"].(pdf.Ref)
				if !ok || known[pr.Num] {
					continue
				}
				po, err := rd.ObjectAt(rev, pr)
				if err != nil {
					continue
				}
				pd, ok := po.(pdf.Dict)
				if !ok {
					continue
				}
				field, fd = pr, pd
			}
			if fd.Name("FT") != "Sig" {
				continue
			}
			name := ""
			if t, ok := fd["T"].(pdf.String); ok {
				name = pdf.TextString(t)
			}
			out = append(out, orphanSig{field: field, widget: wr, dict: fd, name: name, value: fd["V"]})
		}
	}
	return out
}

// orphanSignatures turns the signed orphan widgets of revision rev into pdf.Signatures, the way the
// reader describes AcroForm signature fields.
func orphanSignatures(rd *pdf.Reader, rev int, listed []pdf.Signature) []pdf.Signature {
	known := map[int]bool{}
	fields, err := rd.Fields(rev)
	if err == nil {
		for _, f := range fields {
			known[f.Ref.Num] = true
			for _, w := range f.Widgets {
				known[w.Num] = true
			}
		}
	}
	for _, s := range listed {
		known[s.FieldRef.Num] = true
	}
	var out []pdf.Signature
	for _, o := range orphanSigWidgets(rd, rev, known) {
		if o.value == nil {
			continue
		}
		s := pdf.Signature{Field: o.name, FieldRef: o.field, ContentsPos: -1, ContentsEnd: -1, Revision: -1}
		s.Ref, _ = o.value.(pdf.Ref)
		vo, err := rd.ResolveAt(rev, o.value)
		if err != nil {
			continue
		}
		d, ok := vo.(pdf.Dict)
		if !ok {
			continue
		}
		s.Dict = d
		s.SubFilter = d.Name("SubFilter")
		if a, ok := d["ByteRange"].(pdf.Array); ok {
			for _, x := range a {
				n, ok := x.(int64)
				if !ok {
					s.ByteRange = nil
					break
				}
				s.ByteRange = append(s.ByteRange, n)
			}
		}
		if c, ok := d["Contents"].(pdf.String); ok {
			s.Contents = c.Bytes
			s.ContentsPos, s.ContentsEnd = c.Pos, c.End
		}
		if s.Ref.Num != 0 {
			s.Revision = rd.Locate(rev, s.Ref.Num).Revision
		}
		out = append(out, s)
	}
	return out
}
