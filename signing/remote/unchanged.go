package remote

import (
	"bytes"
	"fmt"
	"reflect"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/signing/pdf"
)

// errChanged is the refusal of an uploaded file that changes more than a signature needs.
func errChanged(what string) error {
	return apperr.New(apperr.Invalid, "sign_upload_changed",
		"Tệp tải lên đã bị sửa ngoài chữ ký ("+what+") / the uploaded file changes more than the new signature ("+what+")")
}

// onlySignatureAdded checks that signed is orig followed by revisions that add exactly one signature
// (its field, widget and signature dictionary, the catalog's AcroForm, the page's /Annots) and change
// nothing that is shown: no page, content stream, resource, font or page-tree object of orig is
// redefined, the pages are the same, and every annotation added is a signature widget. It returns the
// new signature.
func onlySignatureAdded(orig, signed []byte) (*pdf.Signature, error) {
	if len(signed) <= len(orig) || !bytes.Equal(signed[:len(orig)], orig) {
		return nil, errChanged("the original bytes are not kept unchanged at the start of the file")
	}
	ro, err := pdf.Open(bytes.NewReader(orig), int64(len(orig)))
	if err != nil {
		return nil, err
	}
	ru, err := pdf.Open(bytes.NewReader(signed), int64(len(signed)))
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, "sign_upload_unreadable", "Tệp tải lên không đọc được như PDF / the uploaded file is not a readable PDF", err)
	}
	o := len(ro.Revisions()) - 1
	u := len(ru.Revisions()) - 1
	if u <= o {
		return nil, errChanged("no revision was added")
	}
	oldCat, root, err := ro.Catalog(o)
	if err != nil {
		return nil, err
	}
	newCat, newRoot, err := ru.Catalog(u)
	if err != nil {
		return nil, err
	}
	if newRoot != root {
		return nil, errChanged("the document catalog was replaced")
	}
	oldPages, err := ro.Pages(o)
	if err != nil {
		return nil, err
	}
	newPages, err := ru.Pages(u)
	if err != nil {
		return nil, err
	}
	if len(oldPages) != len(newPages) {
		return nil, errChanged("pages were added or removed")
	}
	// allowed maps the original objects a signature may redefine to the check of their new value.
	allowed := map[int]func(old, nw pdf.Object) error{}
	allowed[root.Num] = func(old, nw pdf.Object) error {
		return sameExcept(oldCat, newCat, "catalog", "AcroForm", "Perms", "DSS")
	}
	if ref, ok := oldCat["AcroForm"].(pdf.Ref); ok {
		allowed[ref.Num] = func(old, nw pdf.Object) error {
			od, _ := old.(pdf.Dict)
			nd, _ := nw.(pdf.Dict)
			if nd == nil {
				return errChanged("the form was replaced")
			}
			return sameExcept(od, nd, "form", "Fields", "SigFlags", "DR", "DA", "NeedAppearances")
		}
		if af, err := ro.ObjectAt(o, ref); err == nil {
			if d, ok := af.(pdf.Dict); ok {
				if fr, ok := d["Fields"].(pdf.Ref); ok {
					allowed[fr.Num] = superset("form fields")
				}
			}
		}
	}
	oldAnnots := map[pdf.Ref]bool{}
	for i, op := range oldPages {
		np := newPages[i]
		if op.Ref != np.Ref {
			return nil, errChanged("the page order changed")
		}
		arr, err := annots(ro, o, op.Dict)
		if err != nil {
			return nil, err
		}
		for _, a := range arr {
			if r, ok := a.(pdf.Ref); ok {
				oldAnnots[r] = true
			}
		}
		allowed[op.Ref.Num] = func(old, nw pdf.Object) error {
			od, _ := old.(pdf.Dict)
			nd, _ := nw.(pdf.Dict)
			if nd == nil {
				return errChanged(fmt.Sprintf("page %d was replaced", i+1))
			}
			return sameExcept(od, nd, fmt.Sprintf("page %d", i+1), "Annots")
		}
		if ar, ok := op.Dict["Annots"].(pdf.Ref); ok {
			allowed[ar.Num] = superset(fmt.Sprintf("annotations of page %d", i+1))
		}
	}
	// Every original object redefined by the new revisions must be one of the allowed ones, changed
	// only as allowed.
	for j := o + 1; j <= u; j++ {
		for _, num := range ru.ObjectNumbers(j) {
			if ro.Locate(o, num).Free {
				continue // a new object: reachable only through what the checks below allow
			}
			check, ok := allowed[num]
			loc := ru.Locate(j, num)
			if !ok || loc.Free {
				return nil, errChanged(fmt.Sprintf("object %d of the original was changed or removed", num))
			}
			old, err := ro.ObjectAt(o, pdf.Ref{Num: num, Gen: loc.Gen})
			if err != nil {
				return nil, err
			}
			nw, err := ru.ObjectAt(j, pdf.Ref{Num: num, Gen: loc.Gen})
			if err != nil {
				return nil, err
			}
			if err := check(old, nw); err != nil {
				return nil, err
			}
		}
	}
	// Added annotations must be signature widgets.
	for i, np := range newPages {
		arr, err := annots(ru, u, np.Dict)
		if err != nil {
			return nil, err
		}
		for _, a := range arr {
			r, ok := a.(pdf.Ref)
			if !ok {
				return nil, errChanged(fmt.Sprintf("an inline annotation was added to page %d", i+1))
			}
			if oldAnnots[r] {
				continue
			}
			if !isSignatureWidget(ru, u, r) {
				return nil, errChanged(fmt.Sprintf("an annotation that is not a signature was added to page %d", i+1))
			}
		}
	}
	before, err := ro.Signatures(o)
	if err != nil {
		return nil, err
	}
	after, err := ru.Signatures(u)
	if err != nil {
		return nil, err
	}
	had := map[string]bool{}
	for _, s := range before {
		had[s.Field] = true
	}
	var added []pdf.Signature
	for _, s := range after {
		if !had[s.Field] {
			added = append(added, s)
		}
	}
	if len(added) != 1 {
		return nil, apperr.New(apperr.Invalid, "sign_upload_signatures", fmt.Sprintf(
			"Tệp tải lên phải có đúng một chữ ký mới (có %d) / the uploaded file must add exactly one signature (it adds %d)", len(added), len(added)))
	}
	return &added[0], nil
}

func annots(rd *pdf.Reader, rev int, page pdf.Dict) (pdf.Array, error) {
	o, err := rd.ResolveAt(rev, page["Annots"])
	if err != nil {
		return nil, err
	}
	a, _ := o.(pdf.Array)
	return a, nil
}

func isSignatureWidget(rd *pdf.Reader, rev int, r pdf.Ref) bool {
	o, err := rd.ObjectAt(rev, r)
	if err != nil {
		return false
	}
	d, _ := o.(pdf.Dict)
	if d == nil || d.Name("Subtype") != "Widget" {
		return false
	}
	for depth := 0; d != nil && depth < 8; depth++ {
		if ft, ok := d["FT"]; ok {
			return ft == pdf.Name("Sig")
		}
		p, err := rd.ResolveAt(rev, d["Parent"])
		if err != nil {
			return false
		}
		d, _ = p.(pdf.Dict)
	}
	return false
}

// sameExcept requires every key of old and nw but those listed to be equal.
func sameExcept(old, nw pdf.Dict, what string, except ...pdf.Name) error {
	skip := map[pdf.Name]bool{}
	for _, k := range except {
		skip[k] = true
	}
	for k, v := range old {
		if !skip[k] && !reflect.DeepEqual(v, nw[k]) {
			return errChanged(fmt.Sprintf("%s: /%s changed", what, k))
		}
	}
	for k := range nw {
		if _, ok := old[k]; !ok && !skip[k] {
			return errChanged(fmt.Sprintf("%s: /%s added", what, k))
		}
	}
	return nil
}

// superset allows an array to grow but not to lose or replace entries.
func superset(what string) func(old, nw pdf.Object) error {
	return func(old, nw pdf.Object) error {
		oa, _ := old.(pdf.Array)
		na, ok := nw.(pdf.Array)
		if !ok {
			return errChanged(what + " replaced")
		}
		for _, v := range oa {
			found := false
			for _, w := range na {
				if reflect.DeepEqual(v, w) {
					found = true
					break
				}
			}
			if !found {
				return errChanged(what + ": an entry was removed")
			}
		}
		return nil
	}
}
