package verify

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lienthong/lienthong/signing/pdf"
)

// changeClass groups changes by what may allow them; a higher value is graver.
type changeClass int

const (
	clsStructural   changeClass = iota // cross-reference and object streams
	clsDSS                             // validation data: DSS, VRI, certificates, OCSP, CRLs
	clsTimestamp                       // a document timestamp with its field and widget
	clsSignature                       // signing an existing empty signature field, with its appearance
	clsNewSigField                     // a new signature field and widget (a further signature)
	clsUnreferenced                    // a new object nothing uses
	clsMetadata                        // document information, XMP
	clsFormFill                        // a form field's value and appearance
	clsAnnotation                      // an annotation other than a widget
	clsForbidden                       // anything that can change what the signer saw
)

type change struct {
	Modification
	class changeClass
	field string // the form field a form-fill change belongs to
}

// docState is what judging a change needs besides the change itself.
type docState struct {
	docMDP           int // certification level in force (0: not certified)
	allowAnnotations bool
}

// status turns a change class into a verdict for the signature being judged.
func (st docState) status(c changeClass) (Status, string) {
	switch c {
	case clsStructural, clsDSS, clsTimestamp:
		return OK, ""
	case clsSignature:
		if st.docMDP == 1 {
			return Failed, "the document is certified with no changes allowed (DocMDP P=1)"
		}
		return OK, ""
	case clsNewSigField:
		switch st.docMDP {
		case 1:
			return Failed, "the document is certified with no changes allowed (DocMDP P=1)"
		case 2:
			return Failed, "the document is certified for form filling and signing of its existing fields only (DocMDP P=2); a new signature field was added"
		}
		return OK, ""
	case clsUnreferenced:
		return Warning, "an object nothing in the document uses was added"
	case clsMetadata:
		return Warning, "document metadata changed (not displayed)"
	case clsFormFill:
		if st.docMDP >= 2 {
			return OK, ""
		}
		return Failed, "a form field was filled in after signing"
	case clsAnnotation:
		if st.docMDP == 3 {
			return OK, ""
		}
		if st.allowAnnotations && st.docMDP == 0 {
			return Warning, "an annotation was added, changed or removed after signing"
		}
		return Failed, "an annotation was added, changed or removed after signing"
	}
	return Failed, ""
}

func worse(a, b changeClass) changeClass { return max(a, b) }

// diffRevision lists the objects revision j adds, changes or removes relative to revision j-1 and
// classifies each by the role it plays (from both revisions' role maps).
func diffRevision(rd *pdf.Reader, j int, prev, cur *revRoles) ([]change, error) {
	var out []change
	hasSig, allDTS := false, true
	for _, n := range rd.ObjectNumbers(j) {
		if n <= 0 {
			continue
		}
		oldLoc, newLoc := rd.Locate(j-1, n), rd.Locate(j, n)
		var old, nw pdf.Object
		var err error
		if !oldLoc.Free {
			if old, err = rd.ObjectAt(j-1, pdf.Ref{Num: n, Gen: oldLoc.Gen}); err != nil {
				return nil, err
			}
		}
		if !newLoc.Free {
			if nw, err = rd.ObjectAt(j, pdf.Ref{Num: n, Gen: newLoc.Gen}); err != nil {
				return nil, err
			}
		}
		if pdf.Equal(old, nw) {
			continue
		}
		action := "changed"
		switch {
		case old == nil:
			action = "added"
		case nw == nil:
			action = "removed"
		}
		role := cur.role[n]
		if role == "" || nw == nil {
			if r := prev.role[n]; r != "" {
				role = r
			}
		}
		cls, reason := classify(n, role, action, old, nw, prev, cur)
		if role == "" {
			role = guessKind(nw, old)
		}
		if (role == roleSigDict || role == roleDTSDict) && action == "added" {
			hasSig = true
			if role != roleDTSDict {
				allDTS = false
			}
		}
		field := cur.fieldName[n]
		if field == "" {
			field = prev.fieldName[n]
		}
		out = append(out, change{Modification: Modification{Revision: j, Object: n, Action: action, Kind: role, Reason: reason}, class: cls, field: field})
	}
	// The catalog may have moved to a new object number; judge the logical catalog too.
	if cur.catalogRef.Num != prev.catalogRef.Num && !containsObject(out, cur.catalogRef.Num) {
		cls, reason := catalogChange(prev, cur)
		out = append(out, change{Modification: Modification{Revision: j, Object: cur.catalogRef.Num, Action: "changed", Kind: roleCatalog, Reason: reason}, class: cls})
	}
	// A revision that only adds document timestamps is a timestamp revision: it stays allowed under
	// DocMDP P=1.
	if hasSig && allDTS {
		for i := range out {
			if out[i].class == clsSignature || out[i].class == clsNewSigField {
				out[i].class = clsTimestamp
			}
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Object < out[b].Object })
	return out, nil
}

func containsObject(cs []change, n int) bool {
	for _, c := range cs {
		if c.Object == n {
			return true
		}
	}
	return false
}

func classify(n int, role, action string, old, nw pdf.Object, prev, cur *revRoles) (changeClass, string) {
	oldDict, _ := old.(pdf.Dict)
	newDict, _ := nw.(pdf.Dict)
	if s, ok := old.(*pdf.Stream); ok {
		oldDict = s.Dict
	}
	if s, ok := nw.(*pdf.Stream); ok {
		newDict = s.Dict
	}
	switch role {
	case roleXRefStream, roleObjStm:
		t := newDict.Name("Type")
		if old == nil && (t == "XRef" || t == "ObjStm") {
			return clsStructural, ""
		}
		return clsForbidden, "an existing object was replaced by a cross-reference or object stream"
	case roleCatalog:
		return catalogChange(prev, cur)
	case roleAcroForm:
		return acroFormChange(prev, cur)
	case roleFieldsArray:
		oa, _ := old.(pdf.Array)
		na, _ := nw.(pdf.Array)
		return fieldsChange(refsOf(oa), refsOf(na), cur)
	case rolePage:
		if old == nil {
			return clsForbidden, "a page was added"
		}
		if nw == nil {
			return clsForbidden, "a page was removed"
		}
		keys := changedKeys(oldDict, newDict)
		cls := clsStructural
		for _, k := range keys {
			if k != "Annots" {
				return clsForbidden, "page entry /" + string(k) + " changed"
			}
		}
		c, r := annotsChange(prev.pageAnnots[n], cur.pageAnnots[n], prev, cur)
		return worse(cls, c), r
	case roleAnnotsArray:
		oa, _ := old.(pdf.Array)
		na, _ := nw.(pdf.Array)
		return annotsChange(refsOf(oa), refsOf(na), prev, cur)
	case roleSigDict, roleDTSDict:
		if old == nil {
			return clsSignature, ""
		}
		return clsForbidden, "an existing signature dictionary was changed or removed"
	case roleSigField:
		if old == nil && nw != nil {
			if !cur.sigSigned[n] {
				return clsAnnotation, "an unsigned signature field was added (its widget can draw over the page)"
			}
			return clsNewSigField, ""
		}
		if nw != nil && !prev.sigSigned[n] && prev.sigFields[n] {
			return clsSignature, "" // an empty signature field was signed
		}
		return clsForbidden, "a signed signature field was changed or removed"
	case roleSigWidget:
		if old == nil && nw != nil {
			if f, ok := cur.widgetField[n]; ok && !cur.sigSigned[f] {
				return clsAnnotation, "the widget of an unsigned signature field was added"
			}
			return clsNewSigField, ""
		}
		if f, ok := cur.widgetField[n]; ok && nw != nil && !prev.sigSigned[f] {
			return clsSignature, ""
		}
		return clsForbidden, "the widget of a signed signature field was changed or removed"
	case roleSigAppearance:
		if old == nil {
			return clsSignature, ""
		}
		return clsForbidden, "an existing object used by a signature appearance was changed"
	case roleDR:
		if nw != nil && newDict != nil && (old == nil || oldDict != nil) {
			if _, isStream := nw.(*pdf.Stream); !isStream {
				return clsSignature, ""
			}
		}
		return clsForbidden, "form resources were changed"
	case roleDRData:
		if old == nil {
			return clsSignature, ""
		}
		return clsForbidden, "an existing form resource (font or image) was changed"
	case roleDSS:
		if _, isStream := nw.(*pdf.Stream); !isStream && nw != nil {
			return clsDSS, ""
		}
		return clsForbidden, "the DSS was damaged"
	case roleDSSData:
		if old == nil {
			return clsDSS, ""
		}
		return clsForbidden, "existing validation data was changed"
	case roleFormField:
		if old == nil {
			return clsForbidden, "a form field was added"
		}
		if nw == nil {
			return clsForbidden, "a form field was removed"
		}
		for _, k := range changedKeys(oldDict, newDict) {
			switch k {
			case "V", "AS", "AP", "MK":
			default:
				return clsForbidden, "form field entry /" + string(k) + " changed"
			}
		}
		return clsFormFill, ""
	case roleFormWidget:
		if old == nil || nw == nil {
			return clsForbidden, "a form field widget was added or removed"
		}
		for _, k := range changedKeys(oldDict, newDict) {
			switch k {
			case "AS", "AP", "MK", "V":
			default:
				return clsForbidden, "form widget entry /" + string(k) + " changed"
			}
		}
		return clsFormFill, ""
	case roleFormAppearance:
		if old == nil {
			return clsFormFill, ""
		}
		return clsForbidden, "an existing object used by a form field appearance was changed"
	case roleAnnotation:
		return clsAnnotation, ""
	case roleAnnotAppear:
		if old == nil {
			return clsAnnotation, ""
		}
		return clsForbidden, "an existing object used by an annotation appearance was changed"
	case roleInfo:
		return clsMetadata, ""
	case roleMetadata:
		if st, ok := nw.(*pdf.Stream); ok && st.Dict.Name("Subtype") == "XML" {
			return clsMetadata, ""
		}
		return clsForbidden, "the document metadata was replaced by something other than XMP"
	case rolePerms:
		return clsForbidden, "the document permissions (/Perms) were changed"
	case "":
		if old == nil {
			return clsUnreferenced, ""
		}
		return clsForbidden, action + " object is not one a signature may touch"
	}
	// Page tree nodes, page content, resources, field nodes and anything else.
	return clsForbidden, role + " " + action
}

func refsOf(a pdf.Array) []pdf.Ref {
	var out []pdf.Ref
	for _, x := range a {
		if r, ok := x.(pdf.Ref); ok {
			out = append(out, r)
		}
	}
	return out
}

func changedKeys(a, b pdf.Dict) []pdf.Name {
	var out []pdf.Name
	for k, v := range a {
		if w, ok := b[k]; !ok || !pdf.Equal(v, w) {
			out = append(out, k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func catalogChange(prev, cur *revRoles) (changeClass, string) {
	cls := clsStructural
	var reasons []string
	for _, k := range changedKeys(prev.catalog, cur.catalog) {
		switch k {
		case "DSS", "Extensions":
			cls = worse(cls, clsDSS)
		case "AcroForm":
			c, r := acroFormChange(prev, cur)
			cls = worse(cls, c)
			if r != "" {
				reasons = append(reasons, r)
			}
		case "Metadata":
			cls = worse(cls, clsMetadata)
		default:
			cls = clsForbidden
			reasons = append(reasons, "catalog entry /"+string(k)+" changed")
		}
	}
	return cls, strings.Join(reasons, "; ")
}

func acroFormChange(prev, cur *revRoles) (changeClass, string) {
	if cur.acroForm == nil && prev.acroForm != nil {
		return clsForbidden, "the form was removed"
	}
	cls := clsStructural
	var reasons []string
	for _, k := range changedKeys(prev.acroForm, cur.acroForm) {
		switch k {
		case "Fields":
			c, r := fieldsChange(prev.fields, cur.fields, cur)
			cls = worse(cls, c)
			if r != "" {
				reasons = append(reasons, r)
			}
		case "SigFlags", "DR", "DA":
			cls = worse(cls, clsSignature)
		default:
			cls = clsForbidden
			reasons = append(reasons, "form entry /"+string(k)+" changed")
		}
	}
	return cls, strings.Join(reasons, "; ")
}

func fieldsChange(old, nw []pdf.Ref, cur *revRoles) (changeClass, string) {
	have := map[int]bool{}
	for _, r := range nw {
		have[r.Num] = true
	}
	for _, r := range old {
		if !have[r.Num] {
			return clsForbidden, fmt.Sprintf("form field %d was removed from the form", r.Num)
		}
	}
	had := map[int]bool{}
	for _, r := range old {
		had[r.Num] = true
	}
	cls := clsStructural
	for _, r := range nw {
		if had[r.Num] {
			continue
		}
		if !cur.sigFields[r.Num] {
			return clsForbidden, fmt.Sprintf("form field %d (not a signature field) was added", r.Num)
		}
		if !cur.sigSigned[r.Num] {
			cls = worse(cls, clsAnnotation)
			continue
		}
		cls = worse(cls, clsNewSigField)
	}
	return cls, ""
}

func annotsChange(old, nw []pdf.Ref, prev, cur *revRoles) (changeClass, string) {
	have := map[int]bool{}
	for _, r := range nw {
		have[r.Num] = true
	}
	cls := clsStructural
	for _, r := range old {
		if have[r.Num] {
			continue
		}
		if _, w := prev.widgetField[r.Num]; w || prev.role[r.Num] == roleFormField || prev.role[r.Num] == roleFormWidget {
			return clsForbidden, fmt.Sprintf("widget %d was removed from its page", r.Num)
		}
		cls = worse(cls, clsAnnotation)
	}
	had := map[int]bool{}
	for _, r := range old {
		had[r.Num] = true
	}
	for _, r := range nw {
		if had[r.Num] {
			continue
		}
		if f, w := cur.widgetField[r.Num]; w {
			if !cur.sigSigned[f] {
				cls = worse(cls, clsAnnotation)
				continue
			}
			cls = worse(cls, clsNewSigField)
			continue
		}
		if cur.role[r.Num] == roleFormField || cur.role[r.Num] == roleFormWidget {
			return clsForbidden, fmt.Sprintf("form field widget %d was added to a page", r.Num)
		}
		cls = worse(cls, clsAnnotation)
	}
	return cls, ""
}

// guessKind names an object without a role for the report.
func guessKind(objs ...pdf.Object) string {
	for _, o := range objs {
		var d pdf.Dict
		switch x := o.(type) {
		case pdf.Dict:
			d = x
		case *pdf.Stream:
			d = x.Dict
			if d.Name("Subtype") == "Image" {
				return "image"
			}
			if d.Name("Subtype") == "Form" {
				return "form-xobject"
			}
			if d.Name("Type") == "" {
				return "stream"
			}
		default:
			continue
		}
		switch t := d.Name("Type"); t {
		case "Font", "FontDescriptor":
			return "font"
		case "Annot":
			return roleAnnotation
		case "":
		default:
			return strings.ToLower(string(t))
		}
		if d.Name("Subtype") != "" {
			return strings.ToLower(string(d.Name("Subtype")))
		}
		return "dictionary"
	}
	return "object"
}
