package pdf

import (
	"fmt"
	"strings"
)

// Catalog returns the document catalog of revision rev and its reference.
func (rd *Reader) Catalog(rev int) (Dict, Ref, error) {
	root, ok := rd.revs[rev].Trailer["Root"].(Ref)
	if !ok {
		return nil, Ref{}, malformed(synErr(-1, "trailer has no /Root"))
	}
	o, err := rd.ObjectAt(rev, root)
	if err != nil {
		return nil, Ref{}, err
	}
	d, ok := o.(Dict)
	if !ok {
		return nil, Ref{}, malformed(synErr(-1, "the catalog (object %d) is not a dictionary", root.Num))
	}
	return d, root, nil
}

// Page is one page of the page tree with its inherited attributes resolved.
type Page struct {
	Ref      Ref
	Dict     Dict
	MediaBox [4]float64
	CropBox  [4]float64
	Rotate   int
}

// Pages walks the page tree of revision rev in document order.
func (rd *Reader) Pages(rev int) ([]Page, error) {
	cat, _, err := rd.Catalog(rev)
	if err != nil {
		return nil, err
	}
	root, ok := cat["Pages"].(Ref)
	if !ok {
		return nil, malformed(synErr(-1, "the catalog has no page tree"))
	}
	var pages []Page
	seen := map[Ref]bool{}
	type inh struct {
		media, crop Object
		rotate      Object
	}
	var walk func(ref Ref, in inh, depth int) error
	walk = func(ref Ref, in inh, depth int) error {
		if seen[ref] || depth > 64 {
			return synErr(-1, "the page tree has a cycle at object %d", ref.Num)
		}
		seen[ref] = true
		o, err := rd.ObjectAt(rev, ref)
		if err != nil {
			return err
		}
		d, ok := o.(Dict)
		if !ok {
			return synErr(-1, "page tree node %d is not a dictionary", ref.Num)
		}
		if v, ok := d["MediaBox"]; ok {
			in.media = v
		}
		if v, ok := d["CropBox"]; ok {
			in.crop = v
		}
		if v, ok := d["Rotate"]; ok {
			in.rotate = v
		}
		kids, isTree := d["Kids"]
		if d.Name("Type") == "Page" || !isTree {
			p := Page{Ref: ref, Dict: d}
			p.MediaBox = rd.rect(rev, in.media, [4]float64{0, 0, 612, 792})
			p.CropBox = rd.rect(rev, in.crop, p.MediaBox)
			if r, err := rd.ResolveAt(rev, in.rotate); err == nil {
				if n, ok := AsInt(r); ok {
					p.Rotate = int(((n % 360) + 360) % 360)
				}
			}
			pages = append(pages, p)
			return nil
		}
		ko, err := rd.ResolveAt(rev, kids)
		if err != nil {
			return err
		}
		ka, _ := ko.(Array)
		for _, k := range ka {
			kr, ok := k.(Ref)
			if !ok {
				return synErr(-1, "page tree node %d has a direct kid", ref.Num)
			}
			if err := walk(kr, in, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root, inh{}, 0); err != nil {
		return nil, malformed(err)
	}
	return pages, nil
}

func (rd *Reader) rect(rev int, o Object, def [4]float64) [4]float64 {
	o, err := rd.ResolveAt(rev, o)
	if err != nil {
		return def
	}
	a, ok := o.(Array)
	if !ok || len(a) != 4 {
		return def
	}
	var r [4]float64
	for i := range r {
		v, err := rd.ResolveAt(rev, a[i])
		if err != nil {
			return def
		}
		f, ok := AsFloat(v)
		if !ok {
			return def
		}
		r[i] = f
	}
	return [4]float64{min(r[0], r[2]), min(r[1], r[3]), max(r[0], r[2]), max(r[1], r[3])}
}

// AcroForm returns the interactive form dictionary of revision rev (nil when absent) and its reference
// (zero when it is inline in the catalog).
func (rd *Reader) AcroForm(rev int) (Dict, Ref, error) {
	cat, _, err := rd.Catalog(rev)
	if err != nil {
		return nil, Ref{}, err
	}
	ref, _ := cat["AcroForm"].(Ref)
	o, err := rd.ResolveAt(rev, cat["AcroForm"])
	if err != nil {
		return nil, Ref{}, err
	}
	d, _ := o.(Dict)
	return d, ref, nil
}

// Field is one terminal form field with its inheritable attributes resolved.
type Field struct {
	Name    string // fully qualified name, parts joined by "."
	Ref     Ref
	Dict    Dict
	Type    Name   // /FT, inherited
	Value   Object // /V, inherited, unresolved
	Widgets []Ref  // the widget annotations: the field itself when merged, else its kids
	Flags   int64  // /Ff, inherited
}

// Fields returns the terminal fields of revision rev's AcroForm.
func (rd *Reader) Fields(rev int) ([]Field, error) {
	af, _, err := rd.AcroForm(rev)
	if err != nil || af == nil {
		return nil, err
	}
	fo, err := rd.ResolveAt(rev, af["Fields"])
	if err != nil {
		return nil, err
	}
	arr, _ := fo.(Array)
	var out []Field
	seen := map[Ref]bool{}
	var walk func(ref Ref, parent string, ft Name, v Object, ff int64, depth int) error
	walk = func(ref Ref, parent string, ft Name, v Object, ff int64, depth int) error {
		if seen[ref] || depth > 32 {
			return synErr(-1, "the form field tree has a cycle at object %d", ref.Num)
		}
		seen[ref] = true
		o, err := rd.ObjectAt(rev, ref)
		if err != nil {
			return err
		}
		d, ok := o.(Dict)
		if !ok {
			return nil
		}
		name := parent
		if t, ok := d["T"].(String); ok {
			if name != "" {
				name += "."
			}
			name += TextString(t)
		}
		if n := d.Name("FT"); n != "" {
			ft = n
		}
		if x, ok := d["V"]; ok {
			v = x
		}
		if n, ok := AsInt(d["Ff"]); ok {
			ff = n
		}
		ko, err := rd.ResolveAt(rev, d["Kids"])
		if err != nil {
			return err
		}
		kids, _ := ko.(Array)
		// Kids that carry /T are fields; kids without are widgets of this field.
		var widgets []Ref
		var childFields []Ref
		for _, k := range kids {
			kr, ok := k.(Ref)
			if !ok {
				continue
			}
			ko, err := rd.ObjectAt(rev, kr)
			if err != nil {
				return err
			}
			kd, _ := ko.(Dict)
			if kd == nil {
				continue
			}
			if _, hasT := kd["T"]; hasT {
				childFields = append(childFields, kr)
			} else {
				widgets = append(widgets, kr)
			}
		}
		if len(childFields) == 0 {
			if len(widgets) == 0 && d.Name("Subtype") == "Widget" {
				widgets = []Ref{ref}
			}
			out = append(out, Field{Name: name, Ref: ref, Dict: d, Type: ft, Value: v, Widgets: widgets, Flags: ff})
			return nil
		}
		for _, c := range childFields {
			if err := walk(c, name, ft, v, ff, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	for _, f := range arr {
		if r, ok := f.(Ref); ok {
			if err := walk(r, "", "", nil, 0, 0); err != nil {
				return nil, malformed(err)
			}
		}
	}
	return out, nil
}

// Signature is a signature dictionary reachable from a signature field's /V.
type Signature struct {
	Field     string // fully qualified field name
	FieldRef  Ref
	Ref       Ref // the signature dictionary (zero when /V is direct)
	Dict      Dict
	Revision  int // the revision whose cross-reference section defines the dictionary (-1 if direct)
	SubFilter Name
	// ByteRange as written (nil when absent or malformed).
	ByteRange []int64
	// ContentsPos and ContentsEnd locate the /Contents hex string in the file: '<' and just past '>'.
	// Both are -1 when the dictionary is not stored plainly in the file (e.g. in an object stream).
	ContentsPos, ContentsEnd int64
	Contents                 []byte
}

// Signatures returns the signed signature fields of revision rev (document timestamps included).
func (rd *Reader) Signatures(rev int) ([]Signature, error) {
	fields, err := rd.Fields(rev)
	if err != nil {
		return nil, err
	}
	var out []Signature
	for _, f := range fields {
		if f.Type != "Sig" || f.Value == nil {
			continue
		}
		s := Signature{Field: f.Name, FieldRef: f.Ref, ContentsPos: -1, ContentsEnd: -1, Revision: -1}
		s.Ref, _ = f.Value.(Ref)
		o, err := rd.ResolveAt(rev, f.Value)
		if err != nil {
			return nil, err
		}
		d, ok := o.(Dict)
		if !ok {
			continue
		}
		s.Dict = d
		s.SubFilter = d.Name("SubFilter")
		if a, ok := d["ByteRange"].(Array); ok {
			br := make([]int64, 0, len(a))
			for _, x := range a {
				n, ok := x.(int64)
				if !ok {
					br = nil
					break
				}
				br = append(br, n)
			}
			s.ByteRange = br
		}
		if c, ok := d["Contents"].(String); ok {
			s.Contents = c.Bytes
			s.ContentsPos, s.ContentsEnd = c.Pos, c.End
		}
		if s.Ref.Num != 0 {
			loc := rd.Locate(rev, s.Ref.Num)
			s.Revision = loc.Revision
		}
		out = append(out, s)
	}
	return out, nil
}

// FieldByName finds a terminal field by its fully qualified name in the newest revision.
func (rd *Reader) FieldByName(name string) (*Field, error) {
	fields, err := rd.Fields(len(rd.revs) - 1)
	if err != nil {
		return nil, err
	}
	for i := range fields {
		if fields[i].Name == name {
			return &fields[i], nil
		}
	}
	return nil, nil
}

// DocMDP returns the DocMDP permission level (1, 2 or 3) of a certified document, or 0.
func (rd *Reader) DocMDP() (int, error) {
	last := len(rd.revs) - 1
	cat, _, err := rd.Catalog(last)
	if err != nil {
		return 0, err
	}
	po, err := rd.Resolve(cat["Perms"])
	if err != nil {
		return 0, err
	}
	perms, _ := po.(Dict)
	if perms == nil || perms["DocMDP"] == nil {
		return 0, nil
	}
	so, err := rd.Resolve(perms["DocMDP"])
	if err != nil {
		return 0, err
	}
	sig, _ := so.(Dict)
	refs, _ := rd.Resolve(sig["Reference"])
	arr, _ := refs.(Array)
	for _, r := range arr {
		ro, err := rd.Resolve(r)
		if err != nil {
			return 0, err
		}
		rdict, _ := ro.(Dict)
		if rdict.Name("TransformMethod") != "DocMDP" {
			continue
		}
		tp, err := rd.Resolve(rdict["TransformParams"])
		if err != nil {
			return 0, err
		}
		tpd, _ := tp.(Dict)
		if p, ok := AsInt(tpd["P"]); ok && p >= 1 && p <= 3 {
			return int(p), nil
		}
		return 2, nil // the default when /P is absent
	}
	return 2, nil
}

// String summarises the reader for logs.
func (rd *Reader) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "PDF %s, %d bytes, %d revision(s)", rd.version, rd.size, len(rd.revs))
	if rd.linearized {
		b.WriteString(", linearized")
	}
	return b.String()
}

// RevisionEndingAt returns the index of the revision whose End is end (a signature's ByteRange
// b[2]+b[3] names the revision it signed), or -1.
func (rd *Reader) RevisionEndingAt(end int64) int {
	for i, r := range rd.revs {
		if r.End == end {
			return i
		}
	}
	return -1
}
