package verify

import (
	"github.com/lienthong/lienthong/signing/pdf"
)

// fieldLock is a FieldMDP lock: the form fields a signature freezes (ISO 32000-2 12.8.2.4).
type fieldLock struct {
	action string // All, Include, Exclude
	fields map[string]bool
}

func (l *fieldLock) locks(name string) bool {
	switch l.action {
	case "All":
		return true
	case "Include":
		return l.fields[name]
	case "Exclude":
		return !l.fields[name]
	}
	return false
}

// fieldLocks reads the FieldMDP transform of a signature (its /Reference) or, failing that, the
// /Lock dictionary of its field; nil when the signature locks nothing.
func fieldLocks(rd *pdf.Reader, s pdf.Signature) *fieldLock {
	last := len(rd.Revisions()) - 1
	parse := func(o pdf.Object) *fieldLock {
		o, err := rd.ResolveAt(last, o)
		if err != nil {
			return nil
		}
		d, ok := o.(pdf.Dict)
		if !ok {
			return nil
		}
		l := &fieldLock{action: string(d.Name("Action")), fields: map[string]bool{}}
		fo, _ := rd.ResolveAt(last, d["Fields"])
		arr, _ := fo.(pdf.Array)
		for _, x := range arr {
			if v, err := rd.ResolveAt(last, x); err == nil {
				if str, ok := v.(pdf.String); ok {
					l.fields[pdf.TextString(str)] = true
				}
			}
		}
		if l.action == "" {
			return nil
		}
		return l
	}
	refs, _ := rd.ResolveAt(last, s.Dict["Reference"])
	arr, _ := refs.(pdf.Array)
	for _, x := range arr {
		xo, err := rd.ResolveAt(last, x)
		if err != nil {
			continue
		}
		if xd, ok := xo.(pdf.Dict); ok && xd.Name("TransformMethod") == "FieldMDP" {
			if l := parse(xd["TransformParams"]); l != nil {
				return l
			}
		}
	}
	if s.FieldRef.Num != 0 {
		if fo, err := rd.ObjectAt(last, s.FieldRef); err == nil {
			if fd, ok := fo.(pdf.Dict); ok {
				return parse(fd["Lock"])
			}
		}
	}
	return nil
}
