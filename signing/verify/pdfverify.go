package verify

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/signing/cms"
	"github.com/lienthong/lienthong/signing/cms/tsp"
	"github.com/lienthong/lienthong/signing/pdf"
)

type validator struct {
	opts Options
	now  time.Time
	// dts lists valid document timestamps (revision signed, time), found before the signatures
	// they cover are checked: each proves that everything before it existed at its time.
	dts []dtsPOE
}

type dtsPOE struct {
	rev int
	at  time.Time
}

// poeAfter returns the earliest valid document timestamp covering revision rev.
func (v *validator) poeAfter(rev int) *time.Time {
	var best *time.Time
	for _, d := range v.dts {
		if d.rev > rev && (best == nil || d.at.Before(*best)) {
			t := d.at
			best = &t
		}
	}
	return best
}

// Limits on what the verifier reads into memory from a hostile file.
const (
	maxContents    = 1 << 20 // a /Contents string (CMS) larger than this is refused
	maxDSSItem     = 1 << 20
	maxDSSItems    = 2000
	maxSignatures  = 200
	trailingWindow = 64 << 10
)

// sigFacts carries what later steps (levels, certification) need from one signature's checks.
type sigFacts struct {
	sig          pdf.Signature
	signedRev    int
	dts          bool
	cert         bool // certification signature
	valid        bool // cryptographically valid and chain found (for DTS: token valid)
	tsTime       *time.Time
	certChainOK  bool
	revocationOK bool
	lock         *fieldLock // FieldMDP: fields this signature locks
}

// PDF validates every signature of the PDF in r (size bytes). It returns an error only when the file
// cannot be read as a PDF (apperr.Invalid); every finding about signatures is in the report. Memory
// does not grow with the file: the signed ranges are hashed by streaming and the reader keeps only
// cross-reference maps and a bounded cache.
func PDF(ctx context.Context, r io.ReaderAt, size int64, opts Options) (*Report, error) {
	v := &validator{opts: opts, now: opts.now()}
	rep := &Report{File: opts.File, Size: size}
	rd, err := pdf.Open(r, size)
	if err != nil {
		return nil, unreadable(err)
	}
	revs := rd.Revisions()
	rep.Revisions = len(revs)

	trailing, err := trailingData(r, revs[len(revs)-1].End, size)
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, "pdf_unreadable", "the file could not be read", err)
	}
	if trailing {
		rep.Problems = append(rep.Problems, "bytes after the last %%EOF belong to no revision (an incremental update without a cross-reference section)")
	}

	sigs, unreadable, err := collectSignatures(rd)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	for _, i := range unreadable {
		rep.Problems = append(rep.Problems, fmt.Sprintf("the form of revision %d cannot be read", i+1))
	}
	if len(sigs) == 0 {
		rep.Problems = append(rep.Problems, "the document has no signature")
		rep.finish()
		return rep, nil
	}
	dss := loadDSS(rd)
	docMDPRef, certLevel := certification(rd)

	facts := make([]*sigFacts, len(sigs))
	reports := make([]SignatureReport, len(sigs))
	// Document timestamps first: a valid one is proof of existence for the signatures it covers.
	isDTS := func(s pdf.Signature) bool {
		return s.Dict.Name("Type") == "DocTimeStamp" || s.SubFilter == "ETSI.RFC3161"
	}
	for pass := 0; pass < 2; pass++ {
		for i, s := range sigs {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if isDTS(s) != (pass == 0) {
				continue
			}
			reports[i], facts[i] = v.checkSignature(ctx, rd, r, size, i, s, dss.ev)
			if f := facts[i]; pass == 0 && f.valid && f.tsTime != nil {
				v.dts = append(v.dts, dtsPOE{rev: f.signedRev, at: *f.tsTime})
			}
		}
	}

	// Certification: at most one, the first signature, referenced from /Perms /DocMDP.
	firstRev := -1
	for _, f := range facts {
		if !f.dts && f.signedRev >= 0 && (firstRev < 0 || f.signedRev < firstRev) {
			firstRev = f.signedRev
		}
	}
	certRev := -1
	for i, f := range facts {
		if !f.cert {
			continue
		}
		rp := &reports[i]
		rp.Type = "certification"
		rp.DocMDP = certLevel
		switch {
		case docMDPRef.Num == 0 || f.sig.Ref != docMDPRef:
			rp.fail("PDF_DOCMDP", TotalFailed, FormatFailure, "a certification signature that the catalog's /Perms /DocMDP does not name")
		case f.signedRev != firstRev || certRev >= 0:
			rp.fail("PDF_DOCMDP", TotalFailed, FormatFailure, "a certification signature must be the first signature of the document")
		default:
			certRev = f.signedRev
			rp.add("PDF_DOCMDP", OK, fmt.Sprintf("certified, P=%d", certLevel))
		}
	}
	if docMDPRef.Num != 0 && certRev < 0 {
		rep.Problems = append(rep.Problems, "the catalog names a certification signature (/Perms /DocMDP) that is not a valid first signature")
	}

	// Changes after each signature, computed once per revision.
	if err := v.judgeChanges(rd, facts, reports, certRev, certLevel); err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}

	// Levels, now that document timestamps and the DSS are known.
	for i, f := range facts {
		reports[i].Level = level(f, facts, dss)
		if trailing {
			reports[i].fail("PDF_TRAILING_DATA", TotalFailed, FormatFailure, rep.Problems[0])
		}
	}
	rep.Signatures = reports
	rep.finish()
	return rep, nil
}

// unreadable turns a reader error into a message for the person who received the file. The
// reader's own advice (re-save the file) would destroy the signatures, so it is not repeated.
func unreadable(err error) error {
	detail := "the file is not a readable PDF"
	var se *pdf.SyntaxError
	switch {
	case errors.Is(err, pdf.ErrEncrypted):
		detail = "the PDF is encrypted; signatures in encrypted PDFs cannot be checked"
	case errors.As(err, &se):
		detail += " (" + strings.TrimPrefix(se.Error(), "pdf: ") + ")"
	}
	detail += "; a signed document must be checked exactly as it was received: ask the sender for the original file"
	return apperr.Wrap(apperr.Invalid, "pdf_unreadable", detail, err)
}

// trailingData reports non-whitespace bytes after the last revision.
func trailingData(r io.ReaderAt, end, size int64) (bool, error) {
	if end >= size {
		return false, nil
	}
	buf := make([]byte, min(32<<10, size-end))
	for p := end; p < size; {
		n, err := r.ReadAt(buf[:min(int64(len(buf)), size-p)], p)
		for _, c := range buf[:n] {
			switch c {
			case ' ', '\t', '\r', '\n', '\f', 0:
			default:
				return true, nil
			}
		}
		p += int64(n)
		if err != nil && !errors.Is(err, io.EOF) {
			return false, err
		}
		if n == 0 {
			break
		}
	}
	return false, nil
}

// collectSignatures gathers the signatures of every revision (a later revision could hide one by
// dropping its field; that removal is judged as a change, but the signature is still reported). It
// returns the revisions whose form could not be read; only when none can be read is it an error.
func collectSignatures(rd *pdf.Reader) ([]pdf.Signature, []int, error) {
	seen := map[string]bool{}
	var out []pdf.Signature
	var unreadable []int
	var firstErr error
	for i := range rd.Revisions() {
		sigs, err := rd.Signatures(i)
		if err != nil {
			unreadable = append(unreadable, i)
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		sigs = append(sigs, orphanSignatures(rd, i, sigs)...)
		for _, s := range sigs {
			key := fmt.Sprintf("%d/%d/%d", s.Ref.Num, s.ContentsPos, s.FieldRef.Num)
			if s.Ref.Num != 0 {
				key = fmt.Sprintf("ref %d", s.Ref.Num)
			}
			if seen[key] {
				continue
			}
			seen[key] = true
			out = append(out, s)
			if len(out) > maxSignatures {
				return nil, nil, apperr.New(apperr.TooLarge, "pdf_too_many_signatures", "the document has more signatures than the verifier accepts")
			}
		}
	}
	if len(unreadable) == len(rd.Revisions()) {
		return nil, nil, firstErr
	}
	sort.SliceStable(out, func(a, b int) bool {
		ka, kb := sigOrder(out[a]), sigOrder(out[b])
		return ka < kb
	})
	return out, unreadable, nil
}

func sigOrder(s pdf.Signature) int64 {
	if len(s.ByteRange) == 4 {
		return s.ByteRange[2] + s.ByteRange[3]
	}
	return 1 << 62
}

type dssData struct {
	ev  evidence
	rev int // first revision with a DSS, -1 when none
	// certs and revocation present
	hasRevocation bool
}

// loadDSS reads the newest revision's /DSS: certificates, OCSP responses and CRLs.
func loadDSS(rd *pdf.Reader) dssData {
	d := dssData{rev: -1}
	for i := range rd.Revisions() {
		if cat, _, err := rd.Catalog(i); err == nil && cat["DSS"] != nil {
			d.rev = i
			break
		}
	}
	if d.rev < 0 {
		return d
	}
	last := len(rd.Revisions()) - 1
	cat, _, err := rd.Catalog(last)
	if err != nil {
		return d
	}
	do, err := rd.Resolve(cat["DSS"])
	if err != nil {
		return d
	}
	dd, _ := do.(pdf.Dict)
	read := func(k pdf.Name) [][]byte {
		ao, err := rd.Resolve(dd[k])
		if err != nil {
			return nil
		}
		arr, _ := ao.(pdf.Array)
		var out [][]byte
		for i, x := range arr {
			if i >= maxDSSItems {
				break
			}
			so, err := rd.Resolve(x)
			if err != nil {
				continue
			}
			st, ok := so.(*pdf.Stream)
			if !ok {
				continue
			}
			b, err := rd.Decode(st, maxDSSItem)
			if err == nil {
				out = append(out, b)
			}
		}
		return out
	}
	for _, b := range read("Certs") {
		if c, err := x509.ParseCertificate(b); err == nil {
			d.ev.certs = append(d.ev.certs, c)
		}
	}
	d.ev.ocsps = read("OCSPs")
	d.ev.crls = read("CRLs")
	d.hasRevocation = len(d.ev.ocsps)+len(d.ev.crls) > 0
	return d
}

// certification returns the signature dictionary that /Perms /DocMDP names and its /P level.
func certification(rd *pdf.Reader) (pdf.Ref, int) {
	cat, _, err := rd.Catalog(len(rd.Revisions()) - 1)
	if err != nil {
		return pdf.Ref{}, 0
	}
	po, err := rd.Resolve(cat["Perms"])
	if err != nil {
		return pdf.Ref{}, 0
	}
	perms, _ := po.(pdf.Dict)
	ref, _ := perms["DocMDP"].(pdf.Ref)
	if ref.Num == 0 {
		return pdf.Ref{}, 0
	}
	p, err := rd.DocMDP()
	if err != nil {
		return ref, 1 // unreadable permissions: assume the strictest
	}
	return ref, p
}

// isCertification reports whether a signature dictionary carries a DocMDP transform.
func isCertification(rd *pdf.Reader, rev int, d pdf.Dict) bool {
	ro, err := rd.ResolveAt(rev, d["Reference"])
	if err != nil {
		return false
	}
	arr, _ := ro.(pdf.Array)
	for _, x := range arr {
		xo, err := rd.ResolveAt(rev, x)
		if err != nil {
			continue
		}
		if xd, ok := xo.(pdf.Dict); ok && xd.Name("TransformMethod") == "DocMDP" {
			return true
		}
	}
	return false
}

// checkSignature runs the structure, integrity and certificate checks of one signature.
func (v *validator) checkSignature(ctx context.Context, rd *pdf.Reader, r io.ReaderAt, size int64, idx int, s pdf.Signature, dssEv evidence) (SignatureReport, *sigFacts) {
	rep := SignatureReport{Index: idx, Field: s.Field, SubFilter: string(s.SubFilter), Type: "signature",
		Indication: TotalPassed, ValidationTime: v.now}
	f := &sigFacts{sig: s, signedRev: -1}
	d := s.Dict
	if d.Name("Type") == "DocTimeStamp" || s.SubFilter == "ETSI.RFC3161" {
		f.dts = true
		rep.Type = "document-timestamp"
	}
	if t, ok := d["M"].(pdf.String); ok {
		if tm, ok := parsePDFDate(string(t.Bytes)); ok {
			rep.ClaimedSigningTime = &tm
		}
	}
	if t, ok := d["Reason"].(pdf.String); ok {
		rep.Reason = pdf.TextString(t)
	}
	if t, ok := d["Location"].(pdf.String); ok {
		rep.Location = pdf.TextString(t)
	}

	// Structure of the signature dictionary.
	if tp := d.Name("Type"); tp != "" && tp != "Sig" && tp != "DocTimeStamp" {
		rep.fail("PDF_SIG_DICT", TotalFailed, FormatFailure, "the signature dictionary has /Type /"+string(tp))
	}
	switch s.SubFilter {
	case "adbe.pkcs7.detached", "ETSI.CAdES.detached", "ETSI.RFC3161":
		if _, ok := d["Filter"].(pdf.Name); !ok {
			rep.fail("PDF_SIG_DICT", TotalFailed, FormatFailure, "the signature dictionary has no /Filter")
		} else {
			rep.add("PDF_SIG_DICT", OK, "")
		}
	case "adbe.pkcs7.sha1", "adbe.x509.rsa_sha1":
		rep.fail("PDF_SIG_DICT", Indeterminate, CryptoConstraintsFailure, "/SubFilter /"+string(s.SubFilter)+" relies on SHA-1, which is no longer accepted for signatures")
	case "":
		rep.fail("PDF_SIG_DICT", TotalFailed, FormatFailure, "the signature dictionary has no /SubFilter")
	default:
		rep.fail("PDF_SIG_DICT", TotalFailed, FormatFailure, "unsupported /SubFilter /"+string(s.SubFilter)+" (only adbe.pkcs7.detached, ETSI.CAdES.detached and ETSI.RFC3161 are accepted)")
	}
	if s.Ref.Num != 0 {
		f.cert = isCertification(rd, len(rd.Revisions())-1, d)
	}
	f.lock = fieldLocks(rd, s)
	if rep.Indication != TotalPassed {
		return rep, f // a dictionary we cannot interpret: nothing further is meaningful
	}

	br, ok := checkByteRange(&rep, rd, r, size, s)
	if !ok {
		return rep, f
	}
	rep.Coverage = &Coverage{ByteRange: br[:], SignedRevision: -1, SignedBytes: br[1] + br[3], FileSize: size}
	f.signedRev = signedRevision(&rep, rd, r, size, s, br)
	if f.signedRev < 0 {
		return rep, f
	}
	rep.Coverage.SignedRevision = f.signedRev
	rep.Coverage.LaterRevisions = len(rd.Revisions()) - 1 - f.signedRev
	rep.Coverage.WholeDocument = rep.Coverage.LaterRevisions == 0

	if len(s.Contents) > maxContents {
		rep.fail("CMS_PARSE", TotalFailed, FormatFailure, "the /Contents string is too large")
		return rep, f
	}
	if f.dts {
		v.checkDocTimestamp(ctx, &rep, f, r, br, dssEv)
	} else {
		v.checkCMS(ctx, &rep, f, r, br, dssEv)
	}
	return rep, f
}

// checkByteRange checks the /ByteRange shape and that its gap is exactly this dictionary's /Contents
// hex string.
func checkByteRange(rep *SignatureReport, rd *pdf.Reader, r io.ReaderAt, size int64, s pdf.Signature) ([4]int64, bool) {
	var br [4]int64
	raw, present := s.Dict["ByteRange"]
	arr, isArr := raw.(pdf.Array)
	switch {
	case !present || raw == nil:
		rep.fail("PDF_BYTE_RANGE", TotalFailed, FormatFailure, "the signature has no /ByteRange")
		return br, false
	case !isArr:
		rep.fail("PDF_BYTE_RANGE", TotalFailed, FormatFailure, "/ByteRange is not a direct array")
		return br, false
	case len(arr) != 4:
		rep.fail("PDF_BYTE_RANGE", TotalFailed, FormatFailure, fmt.Sprintf("/ByteRange has %d entries, not 4", len(arr)))
		return br, false
	}
	for i, x := range arr {
		n, ok := x.(int64)
		if !ok {
			rep.fail("PDF_BYTE_RANGE", TotalFailed, FormatFailure, "/ByteRange holds something other than integers")
			return br, false
		}
		br[i] = n
	}
	a, b, c, dd := br[0], br[1], br[2], br[3]
	switch {
	case a != 0:
		rep.fail("PDF_BYTE_RANGE", TotalFailed, FormatFailure, "/ByteRange does not start at byte 0")
		return br, false
	case b <= 0 || c < 0 || dd < 0:
		rep.fail("PDF_BYTE_RANGE", TotalFailed, FormatFailure, "/ByteRange has negative or empty ranges")
		return br, false
	case c <= b:
		rep.fail("PDF_BYTE_RANGE", TotalFailed, FormatFailure, "/ByteRange ranges are out of order or overlap")
		return br, false
	case c+dd > size || c+dd < c:
		rep.fail("PDF_BYTE_RANGE", TotalFailed, FormatFailure, "/ByteRange reaches past the end of the file")
		return br, false
	}
	rep.add("PDF_BYTE_RANGE", OK, "")

	c0, isStr := s.Dict["Contents"].(pdf.String)
	switch {
	case s.Dict["Contents"] == nil:
		rep.fail("PDF_CONTENTS", TotalFailed, FormatFailure, "the signature has no /Contents")
		return br, false
	case !isStr || !c0.Hex:
		rep.fail("PDF_CONTENTS", TotalFailed, FormatFailure, "/Contents is not a hexadecimal string")
		return br, false
	case s.ContentsPos < 0:
		rep.fail("PDF_CONTENTS", TotalFailed, FormatFailure, "the signature dictionary is not stored plainly in the file (object stream)")
		return br, false
	case len(c0.Bytes) == 0:
		rep.fail("PDF_CONTENTS", TotalFailed, FormatFailure, "/Contents is empty")
		return br, false
	}
	// The gap must be exactly this dictionary's /Contents string: '<' at b, '>' just before c.
	if b != s.ContentsPos || c != s.ContentsEnd {
		rep.fail("PDF_BYTE_RANGE_GAP", TotalFailed, FormatFailure, fmt.Sprintf("the unsigned gap [%d, %d) is not this signature's /Contents [%d, %d)", b, c, s.ContentsPos, s.ContentsEnd))
		return br, false
	}
	if c-b > 2*maxContents+2 {
		rep.fail("PDF_BYTE_RANGE_GAP", TotalFailed, FormatFailure, "the unsigned gap is too large")
		return br, false
	}
	gap := make([]byte, c-b)
	if _, err := r.ReadAt(gap, b); err != nil && !errors.Is(err, io.EOF) {
		rep.fail("PDF_BYTE_RANGE_GAP", TotalFailed, FormatFailure, "the gap could not be read")
		return br, false
	}
	if gap[0] != '<' || gap[len(gap)-1] != '>' {
		rep.fail("PDF_BYTE_RANGE_GAP", TotalFailed, FormatFailure, "the unsigned gap is not delimited by < and >")
		return br, false
	}
	for _, ch := range gap[1 : len(gap)-1] {
		if !isHexOrSpace(ch) {
			rep.fail("PDF_BYTE_RANGE_GAP", TotalFailed, FormatFailure, "the unsigned gap holds something other than hexadecimal digits")
			return br, false
		}
	}
	rep.add("PDF_BYTE_RANGE_GAP", OK, "")
	return br, true
}

func isHexOrSpace(c byte) bool {
	switch {
	case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
		return true
	case c == ' ', c == '\t', c == '\r', c == '\n', c == '\f':
		return true
	}
	return false
}

// signedRevision finds the revision whose end the ByteRange reaches (allowing only the final
// end-of-line to be left out) and checks the signature dictionary lies inside that revision's bytes.
func signedRevision(rep *SignatureReport, rd *pdf.Reader, r io.ReaderAt, size int64, s pdf.Signature, br [4]int64) int {
	end := br[2] + br[3]
	revs := rd.Revisions()
	k := -1
	for i, rv := range revs {
		start := int64(0)
		if i > 0 {
			start = revs[i-1].End
		}
		if end > start && end <= rv.End && rv.End-end <= 2 && onlyEOL(r, end, rv.End) {
			k = i
			break
		}
	}
	if k < 0 {
		rep.fail("PDF_SIGNED_REVISION", TotalFailed, FormatFailure, fmt.Sprintf("the signed bytes end at %d, which is not the end of a revision", end))
		return -1
	}
	start := int64(0)
	if k > 0 {
		start = revs[k-1].End
	}
	if s.Ref.Num != 0 {
		loc := rd.Locate(k, s.Ref.Num)
		if loc.Free || loc.ObjStream != 0 || loc.Revision != k || loc.Offset < start || loc.Offset >= br[1] {
			rep.fail("PDF_SIGNED_REVISION", TotalFailed, FormatFailure, "the signature dictionary is not part of the revision it signs")
			return -1
		}
	} else if s.ContentsPos < start {
		rep.fail("PDF_SIGNED_REVISION", TotalFailed, FormatFailure, "the signature dictionary is not part of the revision it signs")
		return -1
	}
	rep.add("PDF_SIGNED_REVISION", OK, fmt.Sprintf("revision %d of %d", k+1, len(revs)))
	return k
}

func onlyEOL(r io.ReaderAt, from, to int64) bool {
	if to <= from {
		return true
	}
	b := make([]byte, to-from)
	if _, err := r.ReadAt(b, from); err != nil && !errors.Is(err, io.EOF) {
		return false
	}
	for _, c := range b {
		if c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

// hashRanges streams the two signed ranges into h.
func hashRanges(r io.ReaderAt, br [4]int64, h hash.Hash) error {
	// A buffer no larger than the ranges: most packets are small, and clearing 256 KiB for a
	// 20 KB file showed up in profiles.
	buf := make([]byte, min(256<<10, max(br[1], br[3], 512)))
	for _, rg := range [][2]int64{{br[0], br[1]}, {br[2], br[3]}} {
		if _, err := io.CopyBuffer(h, io.NewSectionReader(r, rg[0], rg[1]), buf); err != nil {
			return err
		}
	}
	return nil
}

// checkCMS checks an adbe.pkcs7.detached or ETSI.CAdES.detached signature.
func (v *validator) checkCMS(ctx context.Context, rep *SignatureReport, f *sigFacts, r io.ReaderAt, br [4]int64, dssEv evidence) {
	sd, err := cms.Parse(f.sig.Contents)
	if err != nil {
		rep.fail("CMS_PARSE", TotalFailed, FormatFailure, "/Contents is not a well-formed CMS SignedData: "+err.Error())
		return
	}
	rep.add("CMS_PARSE", OK, "")
	v.checkSignedData(ctx, rep, f, sd, func(h crypto.Hash) ([]byte, error) {
		hh := h.New()
		if err := hashRanges(r, br, hh); err != nil {
			return nil, err
		}
		return hh.Sum(nil), nil
	}, dssEv, f.sig.SubFilter == "ETSI.CAdES.detached")
}

// checkSignedData runs the CMS checks shared by PDF and detached signatures. digest computes the
// content's hash with the algorithm the signer chose.
func (v *validator) checkSignedData(ctx context.Context, rep *SignatureReport, f *sigFacts, sd *cms.SignedData,
	digest func(crypto.Hash) ([]byte, error), extra evidence, cades bool,
) {
	if len(sd.Signers) != 1 {
		rep.fail("CMS_ONE_SIGNER", TotalFailed, FormatFailure, fmt.Sprintf("the CMS holds %d SignerInfos; exactly one is required", len(sd.Signers)))
		return
	}
	rep.add("CMS_ONE_SIGNER", OK, "")
	if sd.Content != nil || !sd.ContentType.Equal(cms.OIDData) {
		rep.fail("CMS_DETACHED", TotalFailed, FormatFailure, "the CMS is not a detached signature over data (encapsulated content or another content type)")
		return
	}
	si := sd.Signers[0]
	rep.DigestAlg = si.Hash.String()
	rep.SignatureAlg = sigAlgName(si)
	switch si.Hash {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
		rep.add("CMS_ALGORITHMS", OK, "")
	case crypto.SHA1:
		rep.fail("CMS_ALGORITHMS", Indeterminate, CryptoConstraintsFailure, "SHA-1 is no longer accepted for signatures")
		return
	default:
		rep.fail("CMS_ALGORITHMS", Indeterminate, CryptoConstraintsFailure, "unsupported digest algorithm "+si.DigestAlgorithm.String())
		return
	}
	cert, err := sd.SignerCertificate(si)
	if err != nil {
		rep.fail("CMS_SIGNER_CERT", Indeterminate, NoSigningCertificateFound, "the signer's certificate is not in the signature")
		return
	}
	rep.Signer = signerOf(cert)
	if si.SignedAttrs != nil {
		ct, err := si.ContentTypeAttr()
		if err != nil || ct == nil || !ct.Equal(cms.OIDData) {
			rep.fail("CMS_CONTENT_TYPE", TotalFailed, FormatFailure, "the content-type attribute is missing or not id-data")
			return
		}
	} else if cades {
		rep.fail("CMS_CONTENT_TYPE", TotalFailed, FormatFailure, "a CAdES signature must have signed attributes")
		return
	}
	sum, err := digest(si.Hash)
	if err != nil {
		rep.fail("CMS_DIGEST", Indeterminate, SignedDataNotFound, "the signed bytes could not be read: "+err.Error())
		return
	}
	if si.SignedAttrs != nil {
		if err := si.CheckMessageDigest(sum); err != nil {
			if errors.Is(err, cms.ErrDigestMismatch) {
				rep.fail("CMS_DIGEST", TotalFailed, HashFailure, "the document bytes do not match the signed digest: the signed content was changed")
			} else {
				rep.fail("CMS_DIGEST", TotalFailed, FormatFailure, err.Error())
			}
			return
		}
	}
	rep.add("CMS_DIGEST", OK, "")
	if err := si.VerifySignature(cert, sum); err != nil {
		if errors.Is(err, cms.ErrUnsupported) {
			rep.fail("CMS_SIGNATURE", Indeterminate, CryptoConstraintsFailure, err.Error())
		} else {
			rep.fail("CMS_SIGNATURE", TotalFailed, SigCryptoFailure, "the signature value does not verify with the signer's certificate")
		}
		return
	}
	rep.add("CMS_SIGNATURE", OK, "")
	ess, err := si.CheckSigningCertificate(cert)
	switch {
	case err != nil && errors.Is(err, cms.ErrSigningCertMismatch):
		rep.fail("CMS_SIGNING_CERTIFICATE", Indeterminate, NoSigningCertificateFound, "the signing-certificate attribute names a different certificate")
		return
	case err != nil:
		rep.fail("CMS_SIGNING_CERTIFICATE", TotalFailed, FormatFailure, err.Error())
		return
	case ess == 0 && cades:
		rep.fail("CMS_SIGNING_CERTIFICATE", Indeterminate, NoSigningCertificateFound, "a CAdES signature must carry the signing-certificate-v2 attribute")
		return
	case ess == 0:
		rep.add("CMS_SIGNING_CERTIFICATE", Skipped, "no signing-certificate attribute (optional for adbe.pkcs7.detached)")
	default:
		rep.add("CMS_SIGNING_CERTIFICATE", OK, fmt.Sprintf("signing-certificate-v%d", ess))
	}
	if st, ok := si.SigningTime(); ok {
		if cades {
			rep.add("CMS_SIGNING_TIME", Warning, "PAdES baseline signatures should not carry a signing-time attribute")
		}
		if rep.ClaimedSigningTime == nil {
			rep.ClaimedSigningTime = &st
		}
	}

	ev := evidence{certs: sd.Certificates, crls: sd.CRLs}
	ev.add(adobeRevocation(si))
	ev.add(extra)

	// Signature timestamp (B-T): a token over the signature value, whose time proves the
	// signature existed then.
	if toks := si.TimestampTokens(); len(toks) > 0 {
		f.tsTime = v.checkTimestampToken(ctx, rep, toks[0], si.Signature, ev)
	}
	poe := f.tsTime
	if poe == nil && f.signedRev >= 0 {
		if poe = v.poeAfter(f.signedRev); poe != nil {
			rep.add("TSP_DOCUMENT_TIMESTAMP_POE", OK, "a later document timestamp proves the signature existed at "+poe.UTC().Format(time.RFC3339))
		}
	}
	res := v.checkCertificate(ctx, rep, "", cert, roleSigner, ev, poe, rep.ClaimedSigningTime)
	f.certChainOK = res.chain != nil
	f.revocationOK = res.revocationOK
	f.valid = rep.Indication == TotalPassed
}

// checkTimestampToken verifies a signature timestamp; failures are warnings (the timestamp is then
// not used as proof of time), because an unsigned attribute cannot make a valid signature invalid.
func (v *validator) checkTimestampToken(ctx context.Context, rep *SignatureReport, token, signature []byte, ev evidence) *time.Time {
	tok, err := tsp.ParseToken(token)
	if err != nil {
		rep.add("TSP_SIGNATURE_TIMESTAMP", Warning, "unreadable signature timestamp: "+err.Error())
		return nil
	}
	if !tok.Hash.Available() {
		rep.add("TSP_SIGNATURE_TIMESTAMP", Warning, "signature timestamp with an unsupported hash")
		return nil
	}
	h := tok.Hash.New()
	h.Write(signature)
	if err := tok.Verify(tok.Hash, h.Sum(nil)); err != nil {
		rep.add("TSP_SIGNATURE_TIMESTAMP", Warning, "the signature timestamp does not verify: "+err.Error())
		return nil
	}
	tsaCert, _ := tok.Signer()
	scratch := &SignatureReport{Indication: TotalPassed}
	tsEv := evidence{certs: tok.SignedData.Certificates, crls: tok.SignedData.CRLs}
	tsEv.add(ev)
	gt := tok.GenTime
	v.checkCertificate(ctx, scratch, "", tsaCert, roleTSA, tsEv, &gt, nil)
	if scratch.Indication != TotalPassed {
		detail := "the time-stamping authority is not trusted"
		for _, c := range scratch.Checks {
			if c.Status == Failed {
				detail += ": " + c.Detail
				break
			}
		}
		rep.add("TSP_SIGNATURE_TIMESTAMP", Warning, detail)
		return nil
	}
	if rep.ClaimedSigningTime != nil && rep.ClaimedSigningTime.After(gt.Add(5*time.Minute)) {
		rep.add("TSP_SIGNATURE_TIMESTAMP", Warning, "the claimed signing time is after the timestamp")
	}
	rep.TimestampTime = &gt
	rep.add("TSP_SIGNATURE_TIMESTAMP", OK, "timestamped at "+gt.UTC().Format(time.RFC3339)+" by "+tsaCert.Subject.CommonName)
	return &gt
}

// checkDocTimestamp checks an ETSI.RFC3161 document timestamp: /Contents is a token over the ranges.
func (v *validator) checkDocTimestamp(ctx context.Context, rep *SignatureReport, f *sigFacts, r io.ReaderAt, br [4]int64, dssEv evidence) {
	tok, err := tsp.ParseToken(f.sig.Contents)
	if err != nil {
		rep.fail("CMS_PARSE", TotalFailed, FormatFailure, "/Contents is not a time-stamp token: "+err.Error())
		return
	}
	rep.add("CMS_PARSE", OK, "")
	if len(tok.SignedData.Signers) != 1 {
		rep.fail("CMS_ONE_SIGNER", TotalFailed, FormatFailure, "the token holds more than one SignerInfo")
		return
	}
	rep.add("CMS_ONE_SIGNER", OK, "")
	if !tok.Hash.Available() || tok.Hash == crypto.SHA1 {
		rep.fail("CMS_ALGORITHMS", Indeterminate, CryptoConstraintsFailure, "unsupported or weak imprint hash")
		return
	}
	rep.DigestAlg = tok.Hash.String()
	h := tok.Hash.New()
	if err := hashRanges(r, br, h); err != nil {
		rep.fail("CMS_DIGEST", Indeterminate, SignedDataNotFound, err.Error())
		return
	}
	if !bytes.Equal(h.Sum(nil), tok.Imprint) {
		rep.fail("CMS_DIGEST", TotalFailed, HashFailure, "the document bytes do not match the timestamp's imprint")
		return
	}
	rep.add("CMS_DIGEST", OK, "")
	tsaCert, err := tok.Signer()
	switch {
	case errors.Is(err, tsp.ErrNotTSA):
		v, _ := tok.SignedData.VerifyEncapsulated()
		if v != nil {
			rep.Signer = signerOf(v.Cert)
		}
		rep.fail("CERT_KEY_USAGE", Indeterminate, ChainConstraintsFailure, err.Error())
		return
	case err != nil:
		rep.fail("CMS_SIGNATURE", TotalFailed, SigCryptoFailure, err.Error())
		return
	}
	rep.add("CMS_SIGNATURE", OK, "")
	rep.Signer = signerOf(tsaCert)
	gt := tok.GenTime
	rep.TimestampTime = &gt
	f.tsTime = &gt
	ev := evidence{certs: tok.SignedData.Certificates, crls: tok.SignedData.CRLs}
	ev.add(dssEv)
	res := v.checkCertificate(ctx, rep, "", tsaCert, roleTSA, ev, nil, nil)
	f.certChainOK = res.chain != nil
	f.revocationOK = res.revocationOK
	f.valid = rep.Indication == TotalPassed
}

func sigAlgName(si *cms.SignerInfo) string {
	switch {
	case si.SignatureAlgorithm.Equal(cms.OIDRSAPSS):
		return "RSASSA-PSS"
	case si.SignatureAlgorithm.Equal(cms.OIDECDSAWithSHA256), si.SignatureAlgorithm.Equal(cms.OIDECDSAWithSHA384),
		si.SignatureAlgorithm.Equal(cms.OIDECDSAWithSHA512), si.SignatureAlgorithm.Equal(cms.OIDECPublicKey):
		return "ECDSA"
	case si.SignatureAlgorithm.Equal(cms.OIDECDSAWithSHA1):
		return "ECDSA-SHA1"
	}
	return "RSA PKCS#1 v1.5"
}

// judgeChanges diffs every revision after the first signed one and judges each signature by the
// changes made after it.
func (v *validator) judgeChanges(rd *pdf.Reader, facts []*sigFacts, reports []SignatureReport, certRev, certLevel int) error {
	first := -1
	for _, f := range facts {
		if f.signedRev >= 0 && (first < 0 || f.signedRev < first) {
			first = f.signedRev
		}
	}
	if first < 0 {
		return nil
	}
	last := len(rd.Revisions()) - 1
	roles := map[int]*revRoles{}
	getRoles := func(i int) (*revRoles, error) {
		if rr, ok := roles[i]; ok {
			return rr, nil
		}
		rr, err := buildRoles(rd, i)
		if err != nil {
			return nil, err
		}
		roles[i] = rr
		return rr, nil
	}
	diffs := map[int][]change{}
	for j := first + 1; j <= last; j++ {
		// A revision that cannot be analysed is itself a disallowed change: a signed file whose
		// later update does not parse must not pass, and must not make the whole file unreadable.
		broken := func(err error) {
			diffs[j] = []change{{Modification: Modification{Revision: j, Action: "changed", Kind: "revision",
				Reason: "the revision cannot be analysed: " + err.Error()}, class: clsForbidden}}
		}
		prev, err := getRoles(j - 1)
		if err != nil {
			broken(err)
			continue
		}
		cur, err := getRoles(j)
		if err != nil {
			broken(err)
			continue
		}
		if diffs[j], err = diffRevision(rd, j, prev, cur); err != nil {
			broken(err)
		}
		delete(roles, j-1)
	}
	for i, f := range facts {
		if f.signedRev < 0 {
			continue
		}
		rp := &reports[i]
		failed, warned := 0, 0
		var firstFail string
		for j := f.signedRev + 1; j <= last; j++ {
			st := docState{allowAnnotations: v.opts.AllowAnnotations}
			if certRev >= 0 && j > certRev {
				st.docMDP = certLevel
			}
			for _, c := range diffs[j] {
				m := c.Modification
				status, why := st.status(c.class)
				if c.class == clsFormFill && status != Failed {
					// FieldMDP: a field locked by this signature or an earlier one stays as signed.
					for _, o := range facts {
						if o.lock != nil && o.signedRev >= 0 && o.signedRev < j && o.lock.locks(c.field) {
							status, why = Failed, fmt.Sprintf("field %q is locked by the signature in field %q (FieldMDP)", c.field, o.sig.Field)
							break
						}
					}
				}
				m.Status = status
				if m.Reason == "" {
					m.Reason = why
				} else if why != "" && status != OK {
					m.Reason = m.Reason + " (" + why + ")"
				}
				switch status {
				case Failed:
					failed++
					if firstFail == "" {
						firstFail = fmt.Sprintf("revision %d, object %d (%s %s): %s", j+1, m.Object, m.Kind, m.Action, m.Reason)
					}
				case Warning:
					warned++
				}
				rp.Modifications = append(rp.Modifications, m)
			}
		}
		switch {
		case failed > 0:
			rp.fail("PDF_CHANGES", TotalFailed, FormatFailure, fmt.Sprintf("%d disallowed change(s) after this signature; first: %s", failed, firstFail))
		case warned > 0:
			rp.add("PDF_CHANGES", Warning, fmt.Sprintf("%d change(s) after this signature need attention", warned))
		case f.signedRev < last:
			rp.add("PDF_CHANGES", OK, fmt.Sprintf("%d later revision(s) hold only allowed changes", last-f.signedRev))
		default:
			rp.add("PDF_CHANGES", OK, "the signature covers the whole document")
		}
	}
	return nil
}

// level computes the PAdES baseline level a valid signature reaches.
func level(f *sigFacts, all []*sigFacts, dss dssData) string {
	if f.dts || !f.valid {
		return ""
	}
	prefix := "B-"
	if f.sig.SubFilter == "adbe.pkcs7.detached" {
		prefix = "PKCS7-B"
		if f.tsTime != nil {
			return "PKCS7-T"
		}
		return prefix
	}
	lvl := prefix + "B"
	laterDTS := -1
	for _, o := range all {
		if o.dts && o.valid && o.signedRev > f.signedRev && (laterDTS < 0 || o.signedRev < laterDTS) {
			laterDTS = o.signedRev
		}
	}
	if f.tsTime == nil && laterDTS < 0 {
		return lvl
	}
	lvl = prefix + "T"
	if dss.rev < 0 || dss.rev <= f.signedRev || !dss.hasRevocation {
		return lvl
	}
	lvl = prefix + "LT"
	for _, o := range all {
		if o.dts && o.valid && o.signedRev >= dss.rev {
			return prefix + "LTA"
		}
	}
	return lvl
}

// parsePDFDate reads "D:YYYYMMDDHHmmSSOHH'mm'" (every part after the year optional).
func parsePDFDate(s string) (time.Time, bool) {
	if len(s) >= 2 && s[:2] == "D:" {
		s = s[2:]
	}
	num := func(i, n, def int) (int, bool) {
		if len(s) < i+n {
			return def, true
		}
		v, err := strconv.Atoi(s[i : i+n])
		return v, err == nil
	}
	if len(s) < 4 {
		return time.Time{}, false
	}
	y, ok1 := num(0, 4, 0)
	mo, ok2 := num(4, 2, 1)
	d, ok3 := num(6, 2, 1)
	h, ok4 := num(8, 2, 0)
	mi, ok5 := num(10, 2, 0)
	se, ok6 := num(12, 2, 0)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, false
	}
	loc := time.UTC
	if len(s) > 14 {
		switch s[14] {
		case '+', '-':
			oh, _ := num(15, 2, 0)
			om := 0
			if len(s) >= 20 && s[17] == '\'' {
				om, _ = num(18, 2, 0)
			}
			off := oh*3600 + om*60
			if s[14] == '-' {
				off = -off
			}
			loc = time.FixedZone("", off)
		}
	}
	t := time.Date(y, time.Month(mo), d, h, mi, se, 0, loc)
	if t.Year() != y {
		return time.Time{}, false
	}
	return t, true
}
