// Package corpus generates the verifier's test corpus: genuine signed PDFs and forgeries of every
// published class (universal signature forgery, signature wrapping, incremental saving, shadow and
// certification attacks), CMS faults and certificate faults, each with the verdict a correct verifier
// must reach. Tests use it in memory; testdata/attacks/gen writes it to disk for the comparison with
// pdfsig and pdfcpu. Signing goes through the project's own signer (signing/pades); the forgeries
// are made by editing its output the way the published attacks do.
package corpus

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"

	"github.com/lienthong/lienthong/signing/cms"
	"github.com/lienthong/lienthong/signing/cms/cmstest"
	"github.com/lienthong/lienthong/signing/cms/tsp/tsptest"
	"github.com/lienthong/lienthong/signing/pades"
	"github.com/lienthong/lienthong/signing/pdf"
)

// Case is one corpus file and the verdict it must get.
type Case struct {
	Name  string // class/variant, also the file name
	Class string // genuine, usf, swa, isa, shadow, certification, cms, certificate
	Data  []byte
	// Valid is the expected overall verdict (exit 0 of `pdf verify`).
	Valid bool
	// Sub is the sub-indication at least one signature must carry ("" for genuine files).
	Sub string
	// AllowAnnotations marks cases whose verdict is Valid only with annotations relaxed.
	Note string
}

// Env holds the PKI, the test TSA and the clock a corpus is made with.
type Env struct {
	Root, Inter, RSA, EC *cmstest.Cert
	Other                *cmstest.Cert // a root nobody trusts
	TSA                  *tsptest.Server
	Now                  time.Time
}

// NewEnv makes a PKI and starts a test TSA; Close stops it.
func NewEnv() (*Env, error) {
	e := &Env{Now: time.Now()}
	var err error
	if e.Root, err = cmstest.NewRoot(cmstest.Options{CommonName: "Lienthong Corpus Root CA"}); err != nil {
		return nil, err
	}
	if e.Inter, err = e.Root.Issue(cmstest.Options{CommonName: "Lienthong Corpus Issuing CA", CA: true, Key: cmstest.P256}); err != nil {
		return nil, err
	}
	if e.RSA, err = e.Inter.Issue(cmstest.Options{CommonName: "Nguyễn Văn A", Organization: "Bộ Thông tin và Truyền thông", Key: cmstest.RSA2048}); err != nil {
		return nil, err
	}
	if e.EC, err = e.Inter.Issue(cmstest.Options{CommonName: "Văn thư BTTTT", Organization: "Bộ Thông tin và Truyền thông", Key: cmstest.P256}); err != nil {
		return nil, err
	}
	if e.Other, err = cmstest.NewRoot(cmstest.Options{CommonName: "Untrusted Root"}); err != nil {
		return nil, err
	}
	if e.TSA, err = tsptest.New(tsptest.Options{Root: e.Root}); err != nil {
		return nil, err
	}
	return e, nil
}

// Close stops the test TSA.
func (e *Env) Close() { e.TSA.Close() }

// RootsPEM is the trust anchor file for the corpus.
func (e *Env) RootsPEM() []byte { return cmstest.PEM(e.Root.Cert) }

// Roots is the trust anchor pool for the corpus.
func (e *Env) Roots() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(e.Root.Cert)
	return p
}

// Options are the signer options the corpus signs with: c's key and chain, the corpus clock.
func (e *Env) Options(c *cmstest.Cert) pades.Options {
	return pades.Options{Signer: c.Key, Chain: c.Full(), Now: func() time.Time { return e.Now }, Reason: "Phê duyệt", Location: "Hà Nội"}
}

// Sign signs in with o through the project's signer.
func Sign(ctx context.Context, in []byte, o pades.Options) ([]byte, error) {
	var out bytes.Buffer
	if _, err := pades.Sign(ctx, bytes.NewReader(in), int64(len(in)), &out, o); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// Update appends an incremental update built by fn.
func Update(in []byte, fn func(rd *pdf.Reader, u *pdf.Update) error) ([]byte, error) {
	rd, err := pdf.Open(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		return nil, err
	}
	u := rd.NewUpdate()
	if err := fn(rd, u); err != nil {
		return nil, err
	}
	inc, err := u.Bytes()
	if err != nil {
		return nil, err
	}
	out := append([]byte{}, in...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	if inc.Base != int64(len(out)) {
		return nil, fmt.Errorf("corpus: increment base %d, file %d", inc.Base, len(out))
	}
	return append(out, inc.Data...), nil
}

// lastSig returns the newest signature of a file.
func lastSig(in []byte) (pdf.Signature, error) {
	rd, err := pdf.Open(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		return pdf.Signature{}, err
	}
	sigs, err := rd.Signatures(len(rd.Revisions()) - 1)
	if err != nil || len(sigs) == 0 {
		return pdf.Signature{}, errors.New("corpus: no signature")
	}
	best := sigs[0]
	for _, s := range sigs {
		if s.ContentsPos > best.ContentsPos {
			best = s
		}
	}
	return best, nil
}

// ReplaceContents writes der into the newest signature's /Contents, zero-padded, keeping the length.
func ReplaceContents(in, der []byte) ([]byte, error) {
	s, err := lastSig(in)
	if err != nil {
		return nil, err
	}
	room := int(s.ContentsEnd-s.ContentsPos) - 2
	h := hex.EncodeToString(der)
	if len(h) > room {
		return nil, fmt.Errorf("corpus: %d hex digits do not fit %d", len(h), room)
	}
	out := append([]byte{}, in...)
	copy(out[s.ContentsPos+1:], h)
	for i := s.ContentsPos + 1 + int64(len(h)); i < s.ContentsEnd-1; i++ {
		out[i] = '0'
	}
	return out, nil
}

// SignedDigest is the SHA-256 of the newest signature's ByteRange bytes.
func SignedDigest(in []byte) ([]byte, error) {
	s, err := lastSig(in)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	if _, err := pades.DigestRanges(bytes.NewReader(in), s.ByteRange, h); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

func stream(data string) *pdf.Stream { return pdf.NewStream(pdf.Dict{}, []byte(data)) }

// addSigField adds a signature field (merged widget, invisible) whose /V is sig.
func addSigField(rd *pdf.Reader, u *pdf.Update, name string, sig pdf.Dict) error {
	last := len(rd.Revisions()) - 1
	pages, err := rd.Pages(last)
	if err != nil {
		return err
	}
	sigRef := u.Add(sig)
	page := pages[0]
	field := u.Add(pdf.Dict{"Type": pdf.Name("Annot"), "Subtype": pdf.Name("Widget"), "FT": pdf.Name("Sig"),
		"T": pdf.Text(name), "V": sigRef, "Rect": pdf.Array{int64(0), int64(0), int64(0), int64(0)}, "F": int64(132), "P": page.Ref})
	return addFieldToForm(rd, u, page, field)
}

// addFieldToForm lists field in the AcroForm and its widget (the field itself) on the page.
func addFieldToForm(rd *pdf.Reader, u *pdf.Update, page pdf.Page, field pdf.Ref) error {
	last := len(rd.Revisions()) - 1
	pd := page.Dict.Clone()
	annots, _ := rd.Resolve(pd["Annots"])
	arr, _ := annots.(pdf.Array)
	pd["Annots"] = append(append(pdf.Array{}, arr...), field)
	u.Set(page.Ref, pd)
	cat, catRef, err := rd.Catalog(last)
	if err != nil {
		return err
	}
	cat = cat.Clone()
	af, afRef, err := rd.AcroForm(last)
	if err != nil {
		return err
	}
	var newAF pdf.Dict
	if af != nil {
		newAF = af.Clone()
	} else {
		newAF = pdf.Dict{}
	}
	fo, _ := rd.Resolve(newAF["Fields"])
	fa, _ := fo.(pdf.Array)
	newAF["Fields"] = append(append(pdf.Array{}, fa...), field)
	newAF["SigFlags"] = int64(3)
	if afRef.Num != 0 {
		u.Set(afRef, newAF)
	} else {
		cat["AcroForm"] = u.Add(newAF)
		u.Set(catRef, cat)
	}
	return nil
}

// Cases builds the whole corpus.
func (e *Env) Cases(ctx context.Context) ([]Case, error) {
	var cases []Case
	add := func(name, class string, data []byte, valid bool, sub, note string) {
		cases = append(cases, Case{Name: name, Class: class, Data: data, Valid: valid, Sub: sub, Note: note})
	}
	base := BasePDF("CONG VAN SO 123/BTTTT-VP: SO TIEN 100.000 VND")

	// ---- genuine files, signed by our signer ----
	bbRSA, err := Sign(ctx, base, e.Options(e.RSA))
	if err != nil {
		return nil, fmt.Errorf("genuine B-B: %w", err)
	}
	add("genuine/bb-rsa", "genuine", bbRSA, true, "", "PAdES B-B, RSA-2048")
	bbEC, err := Sign(ctx, base, e.Options(e.EC))
	if err != nil {
		return nil, err
	}
	add("genuine/bb-ecdsa", "genuine", bbEC, true, "", "PAdES B-B, ECDSA P-256")
	o := e.Options(e.RSA)
	o.Level, o.TSA = pades.LevelBT, e.TSA.Client().Timestamp
	bt, err := Sign(ctx, base, o)
	if err != nil {
		return nil, fmt.Errorf("genuine B-T: %w", err)
	}
	add("genuine/bt", "genuine", bt, true, "", "PAdES B-T, signature timestamp from the test TSA")
	o = e.Options(e.EC)
	o.Level, o.TSA = pades.LevelBLT, e.TSA.Client().Timestamp
	o.Revocation = e.revocation(nil)
	blt, err := Sign(ctx, base, o)
	if err != nil {
		return nil, fmt.Errorf("genuine B-LT: %w", err)
	}
	add("genuine/blt", "genuine", blt, true, "", "PAdES B-LT: DSS with certificates and good OCSP responses")
	blta, err := e.AddDocTimestamp(ctx, blt, nil)
	if err != nil {
		return nil, fmt.Errorf("genuine B-LTA: %w", err)
	}
	add("genuine/blta", "genuine", blta, true, "", "PAdES B-LTA: a document timestamp after the DSS")
	dts, err := e.AddDocTimestamp(ctx, base, nil)
	if err != nil {
		return nil, err
	}
	add("genuine/doc-timestamp", "genuine", dts, true, "", "a document timestamp alone")
	badDTS, err := e.AddDocTimestamp(ctx, base, func(d []byte) { d[0] ^= 1 })
	if err != nil {
		return nil, err
	}
	add("cms/doc-timestamp-wrong-imprint", "cms", badDTS, false, "HASH_FAILURE", "a document timestamp over other bytes")
	o = e.Options(e.EC)
	o.Field = "VanThu"
	two, err := Sign(ctx, bbRSA, o)
	if err != nil {
		return nil, err
	}
	add("genuine/two-signatures", "genuine", two, true, "", "a leader signs, then the organisation")
	// P=2 allows signing the document's existing empty signature fields, not adding new ones.
	withEmpty, err := Update(base, func(rd *pdf.Reader, u *pdf.Update) error {
		pages, err := rd.Pages(0)
		if err != nil {
			return err
		}
		f := u.Add(pdf.Dict{"Type": pdf.Name("Annot"), "Subtype": pdf.Name("Widget"), "FT": pdf.Name("Sig"), "T": pdf.Str("Approval"),
			"Rect": pdf.Array{int64(0), int64(0), int64(0), int64(0)}, "F": int64(132), "P": pages[0].Ref})
		return addFieldToForm(rd, u, pages[0], f)
	})
	if err != nil {
		return nil, err
	}
	o = e.Options(e.RSA)
	o.Certify = 2
	certP2, err := Sign(ctx, withEmpty, o)
	if err != nil {
		return nil, err
	}
	o = e.Options(e.EC)
	o.Field = "Approval"
	certP2Approval, err := Sign(ctx, certP2, o)
	if err != nil {
		return nil, err
	}
	p2NewField, err := Update(certP2, func(rd *pdf.Reader, u *pdf.Update) error {
		return addSigField(rd, u, "Extra", pdf.Dict{"Type": pdf.Name("Sig"), "Filter": pdf.Name("Adobe.PPKLite"), "SubFilter": pdf.Name("ETSI.CAdES.detached")})
	})
	if err != nil {
		return nil, err
	}
	add("certification/p2-new-signature-field", "certification", p2NewField, false, "FORMAT_FAILURE", "certified P=2, then a new signature field")
	add("genuine/certified-p2-approval", "genuine", certP2Approval, true, "", "certified P=2, then an approval signature in its existing empty field")
	o = e.Options(e.RSA)
	o.Certify = 3
	certP3, err := Sign(ctx, base, o)
	if err != nil {
		return nil, err
	}
	p3annot, err := Update(certP3, addAnnotation)
	if err != nil {
		return nil, err
	}
	add("genuine/certified-p3-annotation", "genuine", p3annot, true, "", "certified P=3 allows annotations")

	xmp := func(date string) *pdf.Stream {
		return pdf.NewStream(pdf.Dict{"Type": pdf.Name("Metadata"), "Subtype": pdf.Name("XML")},
			[]byte(`<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:ModifyDate="`+date+`"/></rdf:RDF></x:xmpmeta>`))
	}
	var mdRef pdf.Ref
	withXMP, err := Update(base, func(rd *pdf.Reader, u *pdf.Update) error {
		cat, ref, err := rd.Catalog(0)
		if err != nil {
			return err
		}
		cat = cat.Clone()
		mdRef = u.Add(xmp("2026-11-20T08:00:00+07:00"))
		cat["Metadata"] = mdRef
		u.Set(ref, cat)
		return nil
	})
	if err != nil {
		return nil, err
	}
	signedXMP, err := Sign(ctx, withXMP, e.Options(e.RSA))
	if err != nil {
		return nil, err
	}
	xmpSaved, err := Update(signedXMP, func(rd *pdf.Reader, u *pdf.Update) error {
		u.Set(mdRef, xmp("2026-11-21T09:00:00+07:00"))
		info := pdf.Dict{"Producer": pdf.Str("a viewer"), "ModDate": pdf.Str("D:20261121090000+07'00'")}
		u.Set(pdf.Ref{Num: 7}, info)
		return nil
	})
	if err != nil {
		return nil, err
	}
	add("genuine/metadata-saved", "genuine", xmpSaved, true, "", "a viewer saved the signed file, rewriting XMP metadata and /Info (warnings only)")

	// ---- universal signature forgery: a signature field whose dictionary lacks a usable value ----
	realCMS, err := lastSig(bbRSA)
	if err != nil {
		return nil, err
	}
	usf := func(name string, mutate func(d pdf.Dict)) error {
		d := pdf.Dict{"Type": pdf.Name("Sig"), "Filter": pdf.Name("Adobe.PPKLite"), "SubFilter": pdf.Name("ETSI.CAdES.detached"),
			"ByteRange": pdf.Array{int64(0), int64(100), int64(200), int64(100)}, "M": pdf.Str(pades.PDFDate(e.Now)),
			"Contents": pdf.String{Bytes: bytes.TrimRight(realCMS.Contents, "\x00"), Hex: true, Pos: -1, End: -1}}
		mutate(d)
		f, err := Update(base, func(rd *pdf.Reader, u *pdf.Update) error { return addSigField(rd, u, "Forged", d) })
		if err != nil {
			return err
		}
		add("usf/"+name, "usf", f, false, "FORMAT_FAILURE", "")
		return nil
	}
	zero := make([]byte, 2048)
	for _, v := range []struct {
		name string
		fn   func(d pdf.Dict)
	}{
		{"contents-missing", func(d pdf.Dict) { delete(d, "Contents") }},
		{"contents-null", func(d pdf.Dict) { d["Contents"] = nil }},
		{"contents-empty", func(d pdf.Dict) { d["Contents"] = pdf.String{Hex: true, Pos: -1, End: -1} }},
		{"contents-zeroed", func(d pdf.Dict) { d["Contents"] = pdf.String{Bytes: zero, Hex: true, Pos: -1, End: -1} }},
		{"byterange-missing", func(d pdf.Dict) { delete(d, "ByteRange") }},
		{"byterange-null", func(d pdf.Dict) { d["ByteRange"] = nil }},
		{"byterange-empty", func(d pdf.Dict) { d["ByteRange"] = pdf.Array{} }},
		{"byterange-zero", func(d pdf.Dict) { d["ByteRange"] = pdf.Array{int64(0), int64(0), int64(0), int64(0)} }},
		{"byterange-3", func(d pdf.Dict) { d["ByteRange"] = pdf.Array{int64(0), int64(100), int64(200)} }},
		{"byterange-6", func(d pdf.Dict) {
			d["ByteRange"] = pdf.Array{int64(0), int64(100), int64(200), int64(50), int64(300), int64(10)}
		}},
		{"byterange-negative", func(d pdf.Dict) { d["ByteRange"] = pdf.Array{int64(0), int64(-1), int64(200), int64(100)} }},
		{"byterange-past-eof", func(d pdf.Dict) { d["ByteRange"] = pdf.Array{int64(0), int64(100), int64(200), int64(1 << 30)} }},
	} {
		if err := usf(v.name, v.fn); err != nil {
			return nil, fmt.Errorf("usf/%s: %w", v.name, err)
		}
	}

	// ---- signature wrapping: something other than /Contents inside the unsigned gap ----
	s, err := lastSig(bbRSA)
	if err != nil {
		return nil, err
	}
	wrapped := append([]byte{}, bbRSA...)
	derHex := len(hex.EncodeToString(bytes.TrimRight(s.Contents, "\x00")))
	cut := s.ContentsPos + 1 + int64(derHex)
	inject := []byte(">/Wrapped <")
	copy(wrapped[cut:], inject)
	add("swa/object-in-gap", "swa", wrapped, false, "FORMAT_FAILURE", "the /Contents string is shortened and another value hides in the unsigned gap")
	shifted, err := editByteRange(bbRSA, func(br []int64) { br[1] -= 16 })
	if err != nil {
		return nil, err
	}
	add("swa/byterange-shifted", "swa", shifted, false, "FORMAT_FAILURE", "the /ByteRange gap no longer matches /Contents")

	// ---- incremental saving attacks ----
	isa, err := Update(bbRSA, func(rd *pdf.Reader, u *pdf.Update) error {
		u.Set(pdf.Ref{Num: 4}, stream("BT /F1 20 Tf 72 760 Td (CONG VAN SO 123/BTTTT-VP: SO TIEN 999.000.000 VND) Tj ET"))
		return nil
	})
	if err != nil {
		return nil, err
	}
	add("isa/content-replaced", "isa", isa, false, "FORMAT_FAILURE", "page content replaced in a later revision with a cross-reference table")
	noXref := append(append([]byte{}, bbRSA...), []byte("4 0 obj\n<< /Length 40 >>\nstream\nBT /F1 20 Tf 72 760 Td (FORGED) Tj ET\nendstream\nendobj\n")...)
	add("isa/no-xref", "isa", noXref, false, "FORMAT_FAILURE", "objects appended after %%EOF without a cross-reference section")
	garbage := append(append([]byte{}, bbRSA...), []byte("garbage after the end of the file\n")...)
	add("isa/garbage-after-eof", "isa", garbage, false, "FORMAT_FAILURE", "")
	pageAdded, err := Update(bbRSA, func(rd *pdf.Reader, u *pdf.Update) error {
		np := u.Add(pdf.Dict{"Type": pdf.Name("Page"), "Parent": pdf.Ref{Num: 2}, "MediaBox": pdf.Array{int64(0), int64(0), int64(595), int64(842)},
			"Contents": u.Add(stream("BT /F1 20 Tf 72 760 Td (PHU LUC GIA MAO) Tj ET")), "Resources": pdf.Dict{"Font": pdf.Dict{"F1": pdf.Ref{Num: 5}}}})
		u.Set(pdf.Ref{Num: 2}, pdf.Dict{"Type": pdf.Name("Pages"), "Kids": pdf.Array{pdf.Ref{Num: 3}, np}, "Count": int64(2)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	add("isa/page-added", "isa", pageAdded, false, "FORMAT_FAILURE", "")
	annot, err := Update(bbRSA, addAnnotation)
	if err != nil {
		return nil, err
	}
	add("isa/annotation-added", "isa", annot, false, "FORMAT_FAILURE", "a FreeText annotation over the content (valid with --allow-annotations, as a warning)")
	openAction, err := Update(bbRSA, func(rd *pdf.Reader, u *pdf.Update) error {
		cat, ref, err := rd.Catalog(len(rd.Revisions()) - 1)
		if err != nil {
			return err
		}
		cat = cat.Clone()
		cat["OpenAction"] = pdf.Dict{"S": pdf.Name("JavaScript"), "JS": pdf.Str("app.alert('x')")}
		u.Set(ref, cat)
		return nil
	})
	if err != nil {
		return nil, err
	}
	add("isa/catalog-changed", "isa", openAction, false, "FORMAT_FAILURE", "an /OpenAction added to the catalog")
	textField, err := Update(bbRSA, func(rd *pdf.Reader, u *pdf.Update) error {
		pages, err := rd.Pages(len(rd.Revisions()) - 1)
		if err != nil {
			return err
		}
		f := u.Add(pdf.Dict{"Type": pdf.Name("Annot"), "Subtype": pdf.Name("Widget"), "FT": pdf.Name("Tx"), "T": pdf.Str("amount"),
			"V": pdf.Str("999.000.000"), "Rect": pdf.Array{int64(60), int64(740), int64(500), int64(790)}, "P": pages[0].Ref})
		return addFieldToForm(rd, u, pages[0], f)
	})
	if err != nil {
		return nil, err
	}
	add("isa/form-field-added", "isa", textField, false, "FORMAT_FAILURE", "a new text field drawn over the content")
	emptySig, err := Update(bbRSA, func(rd *pdf.Reader, u *pdf.Update) error {
		pages, err := rd.Pages(len(rd.Revisions()) - 1)
		if err != nil {
			return err
		}
		ap := u.Add(pdf.NewStream(pdf.Dict{"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Form"), "BBox": pdf.Array{int64(0), int64(0), int64(480), int64(50)}},
			[]byte("1 1 1 rg 0 0 480 50 re f BT 0 0 0 rg /Helv 20 Tf 10 15 Td (SO TIEN 999.000.000 VND) Tj ET")))
		f := u.Add(pdf.Dict{"Type": pdf.Name("Annot"), "Subtype": pdf.Name("Widget"), "FT": pdf.Name("Sig"), "T": pdf.Str("Overlay"),
			"Rect": pdf.Array{int64(60), int64(740), int64(540), int64(790)}, "F": int64(4), "P": pages[0].Ref, "AP": pdf.Dict{"N": ap}})
		return addFieldToForm(rd, u, pages[0], f)
	})
	if err != nil {
		return nil, err
	}
	add("isa/unsigned-signature-field-overlay", "isa", emptySig, false, "FORMAT_FAILURE", "an empty signature field whose appearance covers the signed text")
	orphan, err := Update(bbRSA, func(rd *pdf.Reader, u *pdf.Update) error {
		pages, err := rd.Pages(len(rd.Revisions()) - 1)
		if err != nil {
			return err
		}
		ap := u.Add(pdf.NewStream(pdf.Dict{"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Form"), "BBox": pdf.Array{int64(0), int64(0), int64(480), int64(50)}},
			[]byte("1 1 1 rg 0 0 480 50 re f BT 0 0 0 rg /Helv 20 Tf 10 15 Td (SO TIEN 999.000.000 VND) Tj ET")))
		w := u.Add(pdf.Dict{"Type": pdf.Name("Annot"), "Subtype": pdf.Name("Widget"), "FT": pdf.Name("Sig"), "T": pdf.Str("Orphan"),
			"Rect": pdf.Array{int64(60), int64(740), int64(540), int64(790)}, "F": int64(4), "P": pages[0].Ref, "AP": pdf.Dict{"N": ap}})
		pd := pages[0].Dict.Clone()
		annots, _ := rd.Resolve(pd["Annots"])
		arr, _ := annots.(pdf.Array)
		pd["Annots"] = append(append(pdf.Array{}, arr...), w)
		u.Set(pages[0].Ref, pd)
		return nil
	})
	if err != nil {
		return nil, err
	}
	add("isa/orphan-signature-widget-overlay", "isa", orphan, false, "FORMAT_FAILURE", "an unsigned signature widget on the page only (not in the form) covering the signed text")

	// ---- shadow attacks (NDSS 2021) ----
	hide, err := Update(bbRSA, func(rd *pdf.Reader, u *pdf.Update) error {
		u.Set(pdf.Ref{Num: 6}, stream("q 1 1 1 rg 60 740 480 50 re f Q"))
		return nil
	})
	if err != nil {
		return nil, err
	}
	add("shadow/hide", "shadow", hide, false, "FORMAT_FAILURE", "the cover stream is changed to hide the signed text")
	replaceFont, err := Update(bbRSA, func(rd *pdf.Reader, u *pdf.Update) error {
		u.Set(pdf.Ref{Num: 5}, pdf.Dict{"Type": pdf.Name("Font"), "Subtype": pdf.Name("Type1"), "BaseFont": pdf.Name("Helvetica"),
			"Encoding": pdf.Dict{"Type": pdf.Name("Encoding"), "Differences": pdf.Array{int64(49), pdf.Name("nine")}}})
		return nil
	})
	if err != nil {
		return nil, err
	}
	add("shadow/replace-font", "shadow", replaceFont, false, "FORMAT_FAILURE", "the font is redefined so the same bytes show other digits")
	withField, err := Update(base, func(rd *pdf.Reader, u *pdf.Update) error {
		pages, err := rd.Pages(0)
		if err != nil {
			return err
		}
		f := u.Add(pdf.Dict{"Type": pdf.Name("Annot"), "Subtype": pdf.Name("Widget"), "FT": pdf.Name("Tx"), "T": pdf.Str("amount"),
			"V": pdf.Str("100.000"), "Rect": pdf.Array{int64(60), int64(700), int64(300), int64(720)}, "P": pages[0].Ref})
		return addFieldToForm(rd, u, pages[0], f)
	})
	if err != nil {
		return nil, err
	}
	signedField, err := Sign(ctx, withField, e.Options(e.RSA))
	if err != nil {
		return nil, err
	}
	fill := func(in []byte) ([]byte, error) {
		return Update(in, func(rd *pdf.Reader, u *pdf.Update) error {
			fields, err := rd.Fields(len(rd.Revisions()) - 1)
			if err != nil {
				return err
			}
			for _, f := range fields {
				if f.Name == "amount" {
					d := f.Dict.Clone()
					d["V"] = pdf.Str("999.000.000")
					u.Set(f.Ref, d)
					return nil
				}
			}
			return errors.New("no amount field")
		})
	}
	replaced, err := fill(signedField)
	if err != nil {
		return nil, err
	}
	add("shadow/replace-form-value", "shadow", replaced, false, "FORMAT_FAILURE", "a form field value changed after an approval signature")
	hr, err := redirectXRef(bbRSA, 4, shadowOffset(base))
	if err != nil {
		return nil, err
	}
	add("shadow/hide-and-replace", "shadow", hr, false, "FORMAT_FAILURE", "an xref-only update points object 4 at a shadow copy stored in the signed bytes")
	broken, err := redirectXRef(bbRSA, 4, 20)
	if err != nil {
		return nil, err
	}
	add("isa/broken-update", "isa", broken, false, "FORMAT_FAILURE", "a later update whose cross-reference entry points at no object")

	// ---- certification attacks ----
	o = e.Options(e.RSA)
	o.Certify = 1
	certP1, err := Sign(ctx, base, o)
	if err != nil {
		return nil, err
	}
	p1annot, err := Update(certP1, addAnnotation)
	if err != nil {
		return nil, err
	}
	add("certification/p1-annotation", "certification", p1annot, false, "FORMAT_FAILURE", "certified P=1, then an annotation")
	p1sig, err := Update(certP1, func(rd *pdf.Reader, u *pdf.Update) error {
		return addSigField(rd, u, "Late", pdf.Dict{"Type": pdf.Name("Sig"), "Filter": pdf.Name("Adobe.PPKLite"), "SubFilter": pdf.Name("ETSI.CAdES.detached")})
	})
	if err != nil {
		return nil, err
	}
	add("certification/p1-new-signature-field", "certification", p1sig, false, "FORMAT_FAILURE", "certified P=1, then a further signature field")
	p2annot, err := Update(certP2, addAnnotation)
	if err != nil {
		return nil, err
	}
	add("certification/p2-annotation", "certification", p2annot, false, "FORMAT_FAILURE", "evil annotation attack: certified P=2, then an annotation")
	permsLater, err := Update(bbRSA, func(rd *pdf.Reader, u *pdf.Update) error {
		last := len(rd.Revisions()) - 1
		cat, ref, err := rd.Catalog(last)
		if err != nil {
			return err
		}
		sigs, err := rd.Signatures(last)
		if err != nil || len(sigs) == 0 {
			return errors.New("no signature")
		}
		cat = cat.Clone()
		cat["Perms"] = pdf.Dict{"DocMDP": sigs[0].Ref}
		u.Set(ref, cat)
		return nil
	})
	if err != nil {
		return nil, err
	}
	add("certification/perms-added-later", "certification", permsLater, false, "FORMAT_FAILURE", "an approval signature turned into a certification afterwards")
	o = e.Options(e.RSA)
	o.Certify = 2
	certField, err := Sign(ctx, withField, o)
	if err != nil {
		return nil, err
	}
	filled, err := fill(certField)
	if err != nil {
		return nil, err
	}
	add("genuine/certified-p2-form-fill", "genuine", filled, true, "", "certified P=2 allows filling in a form field")
	withLock, err := Update(withField, func(rd *pdf.Reader, u *pdf.Update) error {
		pages, err := rd.Pages(len(rd.Revisions()) - 1)
		if err != nil {
			return err
		}
		f := u.Add(pdf.Dict{"Type": pdf.Name("Annot"), "Subtype": pdf.Name("Widget"), "FT": pdf.Name("Sig"), "T": pdf.Str("Cert"),
			"Rect": pdf.Array{int64(0), int64(0), int64(0), int64(0)}, "F": int64(132), "P": pages[0].Ref,
			"Lock": pdf.Dict{"Type": pdf.Name("SigFieldLock"), "Action": pdf.Name("Include"), "Fields": pdf.Array{pdf.Str("amount")}}})
		return addFieldToForm(rd, u, pages[0], f)
	})
	if err != nil {
		return nil, err
	}
	o = e.Options(e.RSA)
	o.Certify = 2
	o.Field = "Cert"
	certLocked, err := Sign(ctx, withLock, o)
	if err != nil {
		return nil, err
	}
	lockedFill, err := fill(certLocked)
	if err != nil {
		return nil, err
	}
	add("certification/p2-locked-field-filled", "certification", lockedFill, false, "FORMAT_FAILURE", "certified P=2 whose signature field locks 'amount' (FieldMDP), then 'amount' filled in")

	// ---- CMS faults ----
	digest, err := SignedDigest(bbRSA)
	if err != nil {
		return nil, err
	}
	otherDigest := sha256.Sum256([]byte("another document"))
	wrongDigest, err := cms.SignDetached(ctx, cms.Request{Digest: otherDigest[:], Hash: crypto.SHA256, Signer: e.RSA.Key, Chain: e.RSA.Full()})
	if err != nil {
		return nil, err
	}
	f, err := ReplaceContents(bbRSA, wrongDigest)
	if err != nil {
		return nil, err
	}
	add("cms/wrong-digest", "cms", f, false, "HASH_FAILURE", "")
	attrs, err := cms.BuildSignedAttributes(digest, crypto.SHA256, e.EC.Cert) // names another certificate
	if err != nil {
		return nil, err
	}
	ah := sha256.Sum256(attrs)
	sigv, err := e.RSA.Key.Sign(nil, ah[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	wrongESS, err := cms.Assemble(attrs, sigv, crypto.SHA256, e.RSA.Full(), nil)
	if err != nil {
		return nil, err
	}
	if f, err = ReplaceContents(bbRSA, wrongESS); err != nil {
		return nil, err
	}
	add("cms/wrong-signing-certificate", "cms", f, false, "NO_SIGNING_CERTIFICATE_FOUND", "ESS signing-certificate-v2 names another certificate")
	good := bytes.TrimRight(s.Contents, "\x00")
	second, err := cms.SignDetached(ctx, cms.Request{Digest: digest, Hash: crypto.SHA256, Signer: e.EC.Key, Chain: e.EC.Full()})
	if err != nil {
		return nil, err
	}
	twoSigners, err := mergeSigners(good, second)
	if err != nil {
		return nil, err
	}
	if f, err = ReplaceContents(bbRSA, twoSigners); err != nil {
		return nil, err
	}
	add("cms/two-signers", "cms", f, false, "FORMAT_FAILURE", "")
	badSig := append([]byte{}, good...)
	badSig[len(badSig)-20] ^= 0x55 // inside the signature value (the last field of the SignerInfo)
	if f, err = ReplaceContents(bbRSA, badSig); err != nil {
		return nil, err
	}
	add("cms/bad-signature-value", "cms", f, false, "SIG_CRYPTO_FAILURE", "")
	encap, err := cms.SignEncapsulated(ctx, cms.OIDData, []byte("x"), crypto.SHA256, e.RSA.Key, e.RSA.Full())
	if err != nil {
		return nil, err
	}
	if f, err = ReplaceContents(bbRSA, encap); err != nil {
		return nil, err
	}
	add("cms/encapsulated", "cms", f, false, "FORMAT_FAILURE", "")
	if f, err = ReplaceContents(bbRSA, []byte("not a CMS at all")); err != nil {
		return nil, err
	}
	add("cms/not-cms", "cms", f, false, "FORMAT_FAILURE", "")
	flip1 := append([]byte{}, bbRSA...)
	idx := bytes.Index(flip1, []byte("100.000 VND"))
	flip1[idx] = '9'
	add("cms/flipped-byte-range1", "cms", flip1, false, "HASH_FAILURE", "the signed text changed in place: 100.000 -> 900.000")
	flip2 := append([]byte{}, bbRSA...)
	sf := bytes.LastIndex(flip2, []byte("/SigFlags 3"))
	if sf < int(s.ContentsEnd) {
		return nil, errors.New("corpus: /SigFlags is not after /Contents")
	}
	flip2[sf+len("/SigFlags ")] = '1'
	add("cms/flipped-byte-range2", "cms", flip2, false, "HASH_FAILURE", "/SigFlags 3 -> 1 after /Contents")

	// ---- certificate faults ----
	certCase := func(name, sub string, leaf *cmstest.Cert, mod func(*pades.Options)) error {
		o := e.Options(leaf)
		if mod != nil {
			mod(&o)
		}
		f, err := Sign(ctx, base, o)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		add("certificate/"+name, "certificate", f, false, sub, "")
		return nil
	}
	expired, err := e.Inter.Issue(cmstest.Options{CommonName: "Expired Signer", Key: cmstest.P256, NotBefore: e.Now.AddDate(-2, 0, 0), NotAfter: e.Now.AddDate(-1, 0, 0)})
	if err != nil {
		return nil, err
	}
	if err := certCase("expired", "EXPIRED", expired, nil); err != nil {
		return nil, err
	}
	future, err := e.Inter.Issue(cmstest.Options{CommonName: "Future Signer", Key: cmstest.P256, NotBefore: e.Now.AddDate(0, 0, 1), NotAfter: e.Now.AddDate(1, 0, 0)})
	if err != nil {
		return nil, err
	}
	if err := certCase("not-yet-valid", "NOT_YET_VALID", future, nil); err != nil {
		return nil, err
	}
	untrusted, err := e.Other.Issue(cmstest.Options{CommonName: "Self-made Signer", Key: cmstest.P256})
	if err != nil {
		return nil, err
	}
	if err := certCase("untrusted", "NO_CERTIFICATE_CHAIN_FOUND", untrusted, nil); err != nil {
		return nil, err
	}
	revoked, err := e.Inter.Issue(cmstest.Options{CommonName: "Revoked Signer", Key: cmstest.P256})
	if err != nil {
		return nil, err
	}
	if err := certCase("revoked", "REVOKED", revoked, func(o *pades.Options) {
		o.Level, o.TSA = pades.LevelBLT, e.TSA.Client().Timestamp
		o.Revocation = e.revocation(revoked.Cert)
	}); err != nil {
		return nil, err
	}
	if err := certCase("ca-revoked", "REVOKED_CA_NO_POE", e.EC, func(o *pades.Options) {
		o.Level, o.TSA = pades.LevelBLT, e.TSA.Client().Timestamp
		o.Revocation = e.revocation(e.Inter.Cert)
	}); err != nil {
		return nil, err
	}
	wrongKU, err := e.Inter.Issue(cmstest.Options{CommonName: "Encryption-only", Key: cmstest.P256, KeyUsage: x509.KeyUsageKeyEncipherment})
	if err != nil {
		return nil, err
	}
	if err := certCase("wrong-key-usage", "CHAIN_CONSTRAINTS_FAILURE", wrongKU, nil); err != nil {
		return nil, err
	}
	if err := certCase("missing-intermediate", "NO_CERTIFICATE_CHAIN_FOUND", e.EC, func(o *pades.Options) { o.Chain = o.Chain[:1] }); err != nil {
		return nil, err
	}
	return cases, nil
}

// revocation returns a RevocationFunc giving OCSP responses for every certificate of the chain
// below the root, "revoked" for revokedCert (revoked an hour before e.Now), "good" for the others.
func (e *Env) revocation(revokedCert *x509.Certificate) pades.RevocationFunc {
	return func(ctx context.Context, chain []*x509.Certificate) (pades.Revocation, error) {
		var rv pades.Revocation
		rv.Certs = append(rv.Certs, e.Root.Cert, e.Inter.Cert, e.TSA.TSA.Cert)
		issuers := map[string]*cmstest.Cert{string(e.Root.Cert.RawSubject): e.Root, string(e.Inter.Cert.RawSubject): e.Inter}
		for _, c := range append(append([]*x509.Certificate{}, chain...), e.TSA.TSA.Cert) {
			iss := issuers[string(c.RawIssuer)]
			if iss == nil || c.Equal(iss.Cert) {
				continue
			}
			status := ocsp.Good
			if revokedCert != nil && c.Equal(revokedCert) {
				status = ocsp.Revoked
			}
			der, err := iss.OCSP(c, status, e.Now.Add(-time.Hour), e.Now)
			if err != nil {
				return rv, err
			}
			rv.OCSPs = append(rv.OCSPs, der)
		}
		return rv, nil
	}
}

// addAnnotation adds a FreeText annotation over the page's text.
func addAnnotation(rd *pdf.Reader, u *pdf.Update) error {
	pages, err := rd.Pages(len(rd.Revisions()) - 1)
	if err != nil {
		return err
	}
	p := pages[0]
	ap := u.Add(pdf.NewStream(pdf.Dict{"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Form"), "BBox": pdf.Array{int64(0), int64(0), int64(480), int64(50)}},
		[]byte("1 1 1 rg 0 0 480 50 re f BT 0 0 0 rg /Helv 20 Tf 10 15 Td (SO TIEN 999.000.000 VND) Tj ET")))
	a := u.Add(pdf.Dict{"Type": pdf.Name("Annot"), "Subtype": pdf.Name("FreeText"), "Rect": pdf.Array{int64(60), int64(740), int64(540), int64(790)},
		"Contents": pdf.Str("SO TIEN 999.000.000 VND"), "DA": pdf.Str("/Helv 20 Tf 0 g"), "AP": pdf.Dict{"N": ap}, "P": p.Ref})
	pd := p.Dict.Clone()
	annots, _ := rd.Resolve(pd["Annots"])
	arr, _ := annots.(pdf.Array)
	pd["Annots"] = append(append(pdf.Array{}, arr...), a)
	u.Set(p.Ref, pd)
	return nil
}

var byteRangeRE = regexp.MustCompile(`/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]`)

// editByteRange rewrites the newest /ByteRange in place with the same width.
func editByteRange(in []byte, fn func(br []int64)) ([]byte, error) {
	locs := byteRangeRE.FindAllSubmatchIndex(in, -1)
	if len(locs) == 0 {
		return nil, errors.New("corpus: no /ByteRange")
	}
	m := locs[len(locs)-1]
	br := make([]int64, 4)
	for i := range br {
		br[i], _ = strconv.ParseInt(string(in[m[2+2*i]:m[3+2*i]]), 10, 64)
	}
	fn(br)
	out := append([]byte{}, in...)
	for i := range br {
		s, e := m[2+2*i], m[3+2*i]
		v := strconv.FormatInt(br[i], 10)
		if len(v) > e-s {
			return nil, errors.New("corpus: edited ByteRange is wider")
		}
		copy(out[s:e], bytes.Repeat([]byte(" "), e-s))
		copy(out[s:], v)
	}
	return out, nil
}

// redirectXRef appends a cross-reference-only update that points object num at offset.
func redirectXRef(in []byte, num, offset int) ([]byte, error) {
	rd, err := pdf.Open(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		return nil, err
	}
	last := rd.Last()
	size, _ := pdf.AsInt(last.Trailer["Size"])
	var b bytes.Buffer
	b.Write(in)
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 1\n0000000000 65535 f \n%d 1\n%010d 00000 n \n", num, offset)
	root := last.Trailer["Root"].(pdf.Ref)
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root %d %d R /Prev %d >>\nstartxref\n%d\n%%%%EOF\n", size, root.Num, root.Gen, last.XRefOffset, xref)
	return b.Bytes(), nil
}

// mergeSigners returns a copy of a with b's SignerInfo and certificates added: two SignerInfos.
func mergeSigners(a, b []byte) ([]byte, error) {
	sa, err := cms.Parse(a)
	if err != nil {
		return nil, err
	}
	sb, err := cms.Parse(b)
	if err != nil {
		return nil, err
	}
	infos := func(der []byte) (cryptobyte.String, error) {
		s := cryptobyte.String(der)
		var ci, content, sd, x cryptobyte.String
		if !s.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.SkipASN1(cbasn1.OBJECT_IDENTIFIER) ||
			!ci.ReadASN1(&content, cbasn1.Tag(0).Constructed().ContextSpecific()) || !content.ReadASN1(&sd, cbasn1.SEQUENCE) {
			return nil, errors.New("corpus: bad SignedData")
		}
		for !sd.Empty() {
			var tag cbasn1.Tag
			if !sd.ReadAnyASN1(&x, &tag) {
				return nil, errors.New("corpus: bad SignedData")
			}
			if tag == cbasn1.SET && sd.Empty() {
				return x, nil
			}
		}
		return nil, errors.New("corpus: no SignerInfos")
	}
	ia, err := infos(sa.Raw)
	if err != nil {
		return nil, err
	}
	ib, err := infos(sb.Raw)
	if err != nil {
		return nil, err
	}
	var bld cryptobyte.Builder
	bld.AddASN1(cbasn1.SEQUENCE, func(bl *cryptobyte.Builder) {
		bl.AddASN1ObjectIdentifier(cms.OIDSignedData)
		bl.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(bl *cryptobyte.Builder) {
			bl.AddASN1(cbasn1.SEQUENCE, func(bl *cryptobyte.Builder) {
				bl.AddASN1Int64(1)
				bl.AddASN1(cbasn1.SET, func(bl *cryptobyte.Builder) {
					bl.AddASN1(cbasn1.SEQUENCE, func(bl *cryptobyte.Builder) { bl.AddASN1ObjectIdentifier(cms.OIDSHA256) })
				})
				bl.AddASN1(cbasn1.SEQUENCE, func(bl *cryptobyte.Builder) { bl.AddASN1ObjectIdentifier(cms.OIDData) })
				bl.AddASN1(cbasn1.Tag(0).Constructed().ContextSpecific(), func(bl *cryptobyte.Builder) {
					for _, c := range append(sa.Certificates, sb.Certificates...) {
						bl.AddBytes(c.Raw)
					}
				})
				bl.AddASN1(cbasn1.SET, func(bl *cryptobyte.Builder) {
					bl.AddBytes(ia)
					bl.AddBytes(ib)
				})
			})
		})
	})
	return bld.Bytes()
}
