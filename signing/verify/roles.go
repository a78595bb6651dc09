package verify

import (
	"github.com/lienthong/lienthong/signing/pdf"
)

// Roles of objects in one revision: what each object is for, so a change to it can be judged.
const (
	roleCatalog        = "catalog"
	roleInfo           = "info"
	roleMetadata       = "metadata"
	roleAcroForm       = "acroform"
	roleFieldsArray    = "fields-array"
	rolePagesNode      = "page-tree"
	rolePage           = "page"
	roleAnnotsArray    = "annots-array"
	roleContent        = "page-content"
	roleResources      = "resources"
	roleSigField       = "signature-field"
	roleSigWidget      = "signature-widget"
	roleSigDict        = "signature"
	roleDTSDict        = "document-timestamp"
	roleSigAppearance  = "signature-appearance"
	roleFormField      = "form-field"
	roleFormWidget     = "form-widget"
	roleFormAppearance = "form-appearance"
	roleAnnotation     = "annotation"
	roleAnnotAppear    = "annotation-appearance"
	roleDSS            = "dss"
	roleDSSData        = "dss-data"
	roleDR             = "form-resources"
	roleDRData         = "form-resource-data"
	roleXRefStream     = "xref-stream"
	roleObjStm         = "object-stream"
	roleFieldNode      = "form-field-node"
	rolePerms          = "permissions"
)

// reachLimit bounds how many objects a walk from one root visits, so a hostile file cannot make
// validation quadratic.
const reachLimit = 20000

// revRoles is what each object of one revision is.
type revRoles struct {
	role        map[int]string
	catalog     pdf.Dict
	catalogRef  pdf.Ref
	acroForm    pdf.Dict
	fields      []pdf.Ref         // /Fields elements, resolved array
	pageAnnots  map[int][]pdf.Ref // page object number -> /Annots elements (resolved array)
	pageCount   int
	widgetField map[int]int      // signature widget -> its field
	sigSigned   map[int]bool     // signature field -> has a /V
	sigDicts    map[int]pdf.Dict // signature dictionaries by object number
	sigFields   map[int]bool
	fieldNodes  map[int]bool
	fieldName   map[int]string // form field or widget -> fully qualified field name
}

func (rr *revRoles) set(num int, role string) {
	if num <= 0 {
		return
	}
	if _, ok := rr.role[num]; !ok {
		rr.role[num] = role
	}
}

// buildRoles labels the objects of revision rev that matter for change analysis.
func buildRoles(rd *pdf.Reader, rev int) (*revRoles, error) {
	rr := &revRoles{role: map[int]string{}, pageAnnots: map[int][]pdf.Ref{}, widgetField: map[int]int{},
		sigSigned: map[int]bool{}, sigDicts: map[int]pdf.Dict{}, sigFields: map[int]bool{}, fieldNodes: map[int]bool{}, fieldName: map[int]string{}}
	r := rd.Revisions()[rev]
	if r.XRefStream.Num > 0 {
		rr.set(r.XRefStream.Num, roleXRefStream)
	}
	for _, n := range rd.ObjectNumbers(rev) {
		if loc := rd.Locate(rev, n); loc.ObjStream != 0 {
			rr.set(loc.ObjStream, roleObjStm)
		}
	}
	cat, catRef, err := rd.Catalog(rev)
	if err != nil {
		return nil, err
	}
	rr.catalog, rr.catalogRef = cat, catRef
	rr.set(catRef.Num, roleCatalog)
	if info, ok := r.Trailer["Info"].(pdf.Ref); ok {
		rr.set(info.Num, roleInfo)
	}
	// The XMP metadata stream: viewers rewrite it (modification date) when they add a signature.
	if md, ok := cat["Metadata"].(pdf.Ref); ok {
		rr.set(md.Num, roleMetadata)
	}
	if p, ok := cat["Perms"].(pdf.Ref); ok {
		rr.set(p.Num, rolePerms)
	}

	// Signature and form fields first, so their widgets are known when pages list annotations.
	if afRef, ok := cat["AcroForm"].(pdf.Ref); ok {
		rr.set(afRef.Num, roleAcroForm)
	}
	af, _, err := rd.AcroForm(rev)
	if err != nil {
		return nil, err
	}
	rr.acroForm = af
	if af != nil {
		if fr, ok := af["Fields"].(pdf.Ref); ok {
			rr.set(fr.Num, roleFieldsArray)
		}
		fo, err := rd.ResolveAt(rev, af["Fields"])
		if err != nil {
			return nil, err
		}
		if arr, ok := fo.(pdf.Array); ok {
			for _, x := range arr {
				if ref, ok := x.(pdf.Ref); ok {
					rr.fields = append(rr.fields, ref)
				}
			}
		}
		if dr, ok := af["DR"]; ok {
			if ref, ok := dr.(pdf.Ref); ok {
				rr.set(ref.Num, roleDR)
			}
			if d, err := rd.ResolveAt(rev, dr); err == nil {
				if dd, ok := d.(pdf.Dict); ok {
					for _, v := range dd {
						if ref, ok := v.(pdf.Ref); ok {
							rr.set(ref.Num, roleDR)
						}
					}
					reach(rd, rev, dd, rr, roleDRData)
				}
			}
		}
	}
	fields, err := rd.Fields(rev)
	if err != nil {
		return nil, err
	}
	for _, f := range fields {
		if f.Type == "Sig" {
			rr.sigFields[f.Ref.Num] = true
			rr.set(f.Ref.Num, roleSigField)
			rr.sigSigned[f.Ref.Num] = f.Value != nil
			if v, ok := f.Value.(pdf.Ref); ok {
				o, err := rd.ObjectAt(rev, v)
				if err != nil {
					return nil, err
				}
				if d, ok := o.(pdf.Dict); ok {
					rr.sigDicts[v.Num] = d
					if d.Name("Type") == "DocTimeStamp" || d.Name("SubFilter") == "ETSI.RFC3161" {
						rr.set(v.Num, roleDTSDict)
					} else {
						rr.set(v.Num, roleSigDict)
					}
					// /Reference transform parameters belong to the signature.
					reach(rd, rev, d["Reference"], rr, roleSigDict)
				}
			}
			for _, w := range f.Widgets {
				rr.widgetField[w.Num] = f.Ref.Num
				if w != f.Ref {
					rr.set(w.Num, roleSigWidget)
				}
				if o, err := rd.ObjectAt(rev, w); err == nil {
					if d, ok := o.(pdf.Dict); ok {
						reach(rd, rev, d["AP"], rr, roleSigAppearance)
						reach(rd, rev, d["MK"], rr, roleSigAppearance)
					}
				}
			}
			continue
		}
		rr.set(f.Ref.Num, roleFormField)
		rr.fieldName[f.Ref.Num] = f.Name
		for _, w := range f.Widgets {
			rr.fieldName[w.Num] = f.Name
			if w != f.Ref {
				rr.set(w.Num, roleFormWidget)
			}
			if o, err := rd.ObjectAt(rev, w); err == nil {
				if d, ok := o.(pdf.Dict); ok {
					reach(rd, rev, d["AP"], rr, roleFormAppearance)
				}
			}
		}
	}
	// Non-terminal field nodes (parents of kids).
	for _, f := range rr.fields {
		markFieldNodes(rd, rev, f, rr, 0)
	}

	// Signature widgets the pages show but the AcroForm does not list (see orphan.go).
	known := map[int]bool{}
	for _, f := range fields {
		known[f.Ref.Num] = true
		for _, w := range f.Widgets {
			known[w.Num] = true
		}
	}
	for _, o := range orphanSigWidgets(rd, rev, known) {
		rr.sigFields[o.field.Num] = true
		rr.sigSigned[o.field.Num] = o.value != nil
		rr.widgetField[o.widget.Num] = o.field.Num
		rr.set(o.field.Num, roleSigField)
		if o.widget != o.field {
			rr.set(o.widget.Num, roleSigWidget)
		}
		if v, ok := o.value.(pdf.Ref); ok {
			if vo, err := rd.ObjectAt(rev, v); err == nil {
				if d, ok := vo.(pdf.Dict); ok {
					rr.sigDicts[v.Num] = d
					if d.Name("Type") == "DocTimeStamp" || d.Name("SubFilter") == "ETSI.RFC3161" {
						rr.set(v.Num, roleDTSDict)
					} else {
						rr.set(v.Num, roleSigDict)
					}
				}
			}
		}
		if wo, err := rd.ObjectAt(rev, o.widget); err == nil {
			if wd, ok := wo.(pdf.Dict); ok {
				reach(rd, rev, wd["AP"], rr, roleSigAppearance)
				reach(rd, rev, wd["MK"], rr, roleSigAppearance)
			}
		}
	}

	// The page tree: nodes, pages, their /Annots, contents and resources.
	if pr, ok := cat["Pages"].(pdf.Ref); ok {
		walkPages(rd, rev, pr, rr, 0, map[int]bool{})
	}

	// The DSS and everything it holds.
	if dss, ok := cat["DSS"]; ok {
		if ref, ok := dss.(pdf.Ref); ok {
			rr.set(ref.Num, roleDSS)
		}
		if d, err := rd.ResolveAt(rev, dss); err == nil {
			if dd, ok := d.(pdf.Dict); ok {
				for _, k := range []pdf.Name{"Certs", "OCSPs", "CRLs", "VRI"} {
					if ref, ok := dd[k].(pdf.Ref); ok {
						rr.set(ref.Num, roleDSS)
					}
				}
				if vri, err := rd.ResolveAt(rev, dd["VRI"]); err == nil {
					if vd, ok := vri.(pdf.Dict); ok {
						for _, v := range vd {
							if ref, ok := v.(pdf.Ref); ok {
								rr.set(ref.Num, roleDSS)
							}
						}
					}
				}
				reach(rd, rev, dd, rr, roleDSSData)
			}
		}
	}
	return rr, nil
}

func markFieldNodes(rd *pdf.Reader, rev int, ref pdf.Ref, rr *revRoles, depth int) {
	if depth > 32 || rr.fieldNodes[ref.Num] {
		return
	}
	o, err := rd.ObjectAt(rev, ref)
	if err != nil {
		return
	}
	d, ok := o.(pdf.Dict)
	if !ok {
		return
	}
	ko, _ := rd.ResolveAt(rev, d["Kids"])
	kids, _ := ko.(pdf.Array)
	hasFieldKids := false
	for _, k := range kids {
		kr, ok := k.(pdf.Ref)
		if !ok {
			continue
		}
		if ko, err := rd.ObjectAt(rev, kr); err == nil {
			if kd, ok := ko.(pdf.Dict); ok {
				if _, ok := kd["T"]; ok {
					hasFieldKids = true
					markFieldNodes(rd, rev, kr, rr, depth+1)
				}
			}
		}
	}
	if hasFieldKids {
		rr.fieldNodes[ref.Num] = true
		rr.set(ref.Num, roleFieldNode)
	}
}

func walkPages(rd *pdf.Reader, rev int, ref pdf.Ref, rr *revRoles, depth int, seen map[int]bool) {
	if depth > 64 || seen[ref.Num] || len(seen) > 1_000_000 {
		return
	}
	seen[ref.Num] = true
	o, err := rd.ObjectAt(rev, ref)
	if err != nil {
		return
	}
	d, ok := o.(pdf.Dict)
	if !ok {
		return
	}
	if kids, isNode := d["Kids"]; isNode && d.Name("Type") != "Page" {
		rr.set(ref.Num, rolePagesNode)
		if kr, ok := kids.(pdf.Ref); ok {
			rr.set(kr.Num, rolePagesNode)
		}
		ko, _ := rd.ResolveAt(rev, kids)
		ka, _ := ko.(pdf.Array)
		for _, k := range ka {
			if kr, ok := k.(pdf.Ref); ok {
				walkPages(rd, rev, kr, rr, depth+1, seen)
			}
		}
		if res, ok := d["Resources"].(pdf.Ref); ok {
			rr.set(res.Num, roleResources)
		}
		return
	}
	rr.pageCount++
	rr.set(ref.Num, rolePage)
	if c, ok := d["Contents"]; ok {
		if cr, ok := c.(pdf.Ref); ok {
			rr.set(cr.Num, roleContent)
		}
		if co, err := rd.ResolveAt(rev, c); err == nil {
			if arr, ok := co.(pdf.Array); ok {
				for _, x := range arr {
					if xr, ok := x.(pdf.Ref); ok {
						rr.set(xr.Num, roleContent)
					}
				}
			}
		}
	}
	if res, ok := d["Resources"].(pdf.Ref); ok {
		rr.set(res.Num, roleResources)
	}
	if a, ok := d["Annots"]; ok {
		if ar, ok := a.(pdf.Ref); ok {
			rr.set(ar.Num, roleAnnotsArray)
		}
		ao, _ := rd.ResolveAt(rev, a)
		arr, _ := ao.(pdf.Array)
		var refs []pdf.Ref
		for _, x := range arr {
			xr, ok := x.(pdf.Ref)
			if !ok {
				continue
			}
			refs = append(refs, xr)
			if _, isSigWidget := rr.widgetField[xr.Num]; isSigWidget {
				continue
			}
			if rr.role[xr.Num] == roleFormField || rr.role[xr.Num] == roleFormWidget {
				continue
			}
			rr.set(xr.Num, roleAnnotation)
			if ao, err := rd.ObjectAt(rev, xr); err == nil {
				if ad, ok := ao.(pdf.Dict); ok {
					reach(rd, rev, ad["AP"], rr, roleAnnotAppear)
					if p, ok := ad["Popup"].(pdf.Ref); ok {
						rr.set(p.Num, roleAnnotation)
					}
				}
			}
		}
		rr.pageAnnots[ref.Num] = refs
	}
}

// reach labels every object reachable from o (through dictionaries, arrays and stream
// dictionaries) with role, unless it already has one.
func reach(rd *pdf.Reader, rev int, o pdf.Object, rr *revRoles, role string) {
	seen := map[int]bool{}
	var walk func(o pdf.Object, depth int)
	walk = func(o pdf.Object, depth int) {
		if depth > 64 || len(seen) > reachLimit {
			return
		}
		switch x := o.(type) {
		case pdf.Ref:
			if seen[x.Num] {
				return
			}
			seen[x.Num] = true
			rr.set(x.Num, role)
			obj, err := rd.ObjectAt(rev, x)
			if err != nil {
				return
			}
			walk(obj, depth+1)
		case pdf.Dict:
			for k, v := range x {
				if k == "Parent" || k == "P" || k == "Data" { // back-pointers to pages, fields, the document
					continue
				}
				walk(v, depth+1)
			}
		case pdf.Array:
			for _, v := range x {
				walk(v, depth+1)
			}
		case *pdf.Stream:
			walk(x.Dict, depth+1)
		}
	}
	walk(o, 0)
}
