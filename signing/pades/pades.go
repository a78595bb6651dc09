// Package pades signs PDF documents with PAdES baseline signatures (ETSI EN 319 142-1) as incremental
// updates: B-B (SubFilter ETSI.CAdES.detached, the time in /M, the chain embedded), B-T (an RFC 3161
// signature timestamp), B-LT (a /DSS with certificates, OCSP responses and CRLs in a later increment),
// B-LTA (a document timestamp over all of that, in one more increment) and certification signatures
// (DocMDP P=1, 2 or 3) for a first signature.
//
// Every original byte is kept: the signer reads the input once through an io.ReaderAt, copying it to the
// output while hashing it (B-LTA reads it a second time: the document timestamp hashes it again), so
// memory does not grow with the file (a file of at most 256 KiB is read whole by pdf.Open, and exactly
// those bytes are hashed and copied). The /Contents placeholder is sized from
// cms.MaxSize, an upper bound; a signature that does not fit is an error, never truncated and never
// retried. Any crypto.Signer works: the hsm package's PKCS#11 key or an in-memory key in tests.
//
// Visible signatures take an Appearance (see the appearance package for the Decree 30 profiles: the
// signer's image, the organisation's seal over it, the text stamp of attachments and copies).
package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/signing/cms"
	"github.com/lienthong/lienthong/signing/pdf"
)

// Level is a PAdES baseline level.
type Level string

const (
	LevelBB  Level = "B-B"
	LevelBT  Level = "B-T"
	LevelBLT Level = "B-LT"
	// LevelBLTA is B-LT followed by a document timestamp (/Type /DocTimeStamp, ETSI.RFC3161) whose token
	// covers the signature and the DSS, so the validation material stays provable after the signer's
	// certificate or its algorithms expire.
	LevelBLTA Level = "B-LTA"
)

// Appearance draws the normal appearance of a signature widget into the update.
type Appearance interface {
	// Build adds a Form XObject of width w and height h (points) and returns its reference.
	Build(u *pdf.Update, w, h float64) (pdf.Ref, error)
}

// Sizer is implemented by appearances with a natural size (the text stamp): without an explicit Rect
// they are placed at the top right of the page, as Decree 30 prescribes for attachments and copies.
type Sizer interface {
	NaturalSize() (w, h float64)
}

// Revocation is validation material for the /DSS of B-LT.
type Revocation struct {
	Certs []*x509.Certificate
	OCSPs [][]byte // DER OCSPResponse
	CRLs  [][]byte // DER CertificateList
}

// RevocationFunc gathers revocation material for a chain (signer first). FetchRevocation is the
// network implementation.
type RevocationFunc func(ctx context.Context, chain []*x509.Certificate) (Revocation, error)

// Options describe one signature.
type Options struct {
	Signer crypto.Signer
	Chain  []*x509.Certificate // signer's certificate first
	Hash   crypto.Hash         // zero: SHA-256

	// Field names the signature field: an existing empty one is signed into, otherwise a new field of
	// that name is added. Empty: a new field "Signature<N>".
	Field string
	// Page (1-based, default 1) and Rect (x1,y1,x2,y2 in points) place a new visible field. A zero
	// Rect with a Sizer appearance means the top right corner of the page; a zero Rect without an
	// appearance makes an invisible signature.
	Page       int
	Rect       [4]float64
	Appearance Appearance

	Reason, Location, ContactInfo string

	// Certify (1, 2 or 3) makes a certification signature with DocMDP permissions P; only allowed for
	// the first signature of a document.
	Certify int

	Level      Level             // default B-B
	TSA        cms.TimestampFunc // required for B-T, B-LT and B-LTA
	Revocation RevocationFunc    // B-LT and B-LTA; nil: only the certificates go into the DSS
	Now        func() time.Time  // the /M time; default time.Now
	Zone       *time.Location    // for /M; default UTC+07:00
	// ExtraRoom adds bytes to the computed /Contents upper bound (for unusual TSAs).
	ExtraRoom int
}

// Result describes a written signature.
type Result struct {
	Field        string
	ByteRange    [4]int64
	Digest       []byte // of the ByteRange bytes
	CMSSize      int
	Reserved     int // bytes reserved for the CMS
	Size         int64
	Level        Level
	SignedAt     time.Time
	DSSIncrement bool
	DocTimestamp string // B-LTA: the document timestamp's field
}

// VietnamZone is UTC+07:00 (Asia/Ho_Chi_Minh has no daylight saving time).
var VietnamZone = time.FixedZone("ICT", 7*3600)

func (o *Options) validate() error {
	if o.Signer == nil || len(o.Chain) == 0 || o.Chain[0] == nil {
		return apperr.New(apperr.Invalid, "pades_no_key", "no signing key or certificate")
	}
	if o.Hash == 0 {
		o.Hash = crypto.SHA256
	}
	if o.Level == "" {
		o.Level = LevelBB
	}
	switch o.Level {
	case LevelBB:
	case LevelBT, LevelBLT, LevelBLTA:
		if o.TSA == nil {
			return apperr.New(apperr.Invalid, "pades_no_tsa", "level "+string(o.Level)+" needs a timestamp authority (--tsa URL)")
		}
	default:
		return apperr.New(apperr.Invalid, "pades_level", "unknown PAdES level "+string(o.Level)+" (use B-B, B-T, B-LT or B-LTA)")
	}
	if o.Certify < 0 || o.Certify > 3 {
		return apperr.New(apperr.Invalid, "pades_certify", "certification level must be 1, 2 or 3")
	}
	if o.Page < 0 {
		return apperr.New(apperr.Invalid, "pades_page", "page numbers start at 1")
	}
	if o.Page == 0 {
		o.Page = 1
	}
	if o.Rect != [4]float64{} && (o.Rect[2] <= o.Rect[0] || o.Rect[3] <= o.Rect[1]) {
		return apperr.New(apperr.Invalid, "pades_rect", "the rectangle must be x1,y1,x2,y2 with x2 > x1 and y2 > y1")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Zone == nil {
		o.Zone = VietnamZone
	}
	return nil
}

// Sign reads the PDF in (size bytes) and writes the signed PDF to out: first the original bytes
// unchanged, then the signature increment (for B-LT and B-LTA the DSS increment, for B-LTA then the
// document timestamp's increment).
func Sign(ctx context.Context, in io.ReaderAt, size int64, out io.Writer, o Options) (*Result, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	incBuf := incPool.Get().(*[]byte)
	defer func() {
		// Increment buffers of typical size are reused; nothing keeps the increment after Sign.
		if cap(*incBuf) <= maxPooledIncrement {
			incPool.Put(incBuf)
		}
	}()
	rd, inc, field, now, err := buildIncrementInto(in, size, &o, *incBuf)
	if err != nil {
		return nil, err
	}
	*incBuf = inc.Data[:0]
	// One pass over the original: copy it to out while hashing it. A small file was read whole by
	// pdf.Open: write and hash exactly the bytes that were parsed.
	h := o.Hash.New()
	// B-LTA reads the original again for its DSS and document timestamp: hashLTA follows what was
	// written, so the timestamp can be checked against the output, and a small file is re-read from
	// the bytes already written rather than from the file.
	var hashLTA hash.Hash
	hashes := io.MultiWriter(h)
	if o.Level == LevelBLTA {
		hashLTA = o.Hash.New()
		hashes = io.MultiWriter(h, hashLTA)
	}
	base := in
	bw := &countWriter{w: out}
	if data, ok := rd.InMemory(); ok {
		hashes.Write(data)
		base = bytes.NewReader(data)
		if _, err := bw.Write(data); err != nil {
			return nil, fmt.Errorf("pades: copying the document: %w", err)
		}
	} else {
		buf := make([]byte, min(1<<20, max(size, 4096)))
		if n, err := io.CopyBuffer(io.MultiWriter(bw, hashes), io.NewSectionReader(in, 0, size), buf); err != nil {
			return nil, fmt.Errorf("pades: copying the document: %w", err)
		} else if n != size {
			return nil, errInputChanged
		}
	}
	if err := inc.HashAround(h); err != nil {
		return nil, err
	}
	digest := h.Sum(nil)
	der, err := cms.SignDetached(ctx, cms.Request{Digest: digest, Hash: o.Hash, Signer: o.Signer, Chain: o.Chain, TSA: o.TSA})
	if err != nil {
		return nil, classifySignError(err)
	}
	if err := inc.SetContents(der); err != nil {
		var ts *pdf.TooSmallError
		if errors.As(err, &ts) {
			return nil, apperr.Wrap(apperr.Internal, "pades_placeholder", "the signature is larger than the space reserved for it", err)
		}
		return nil, err
	}
	if _, err := bw.Write(inc.Data); err != nil {
		return nil, err
	}
	res := &Result{
		Field: field, ByteRange: inc.ByteRange(), Digest: digest, CMSSize: len(der),
		Reserved: int(inc.ContentsEnd-inc.ContentsPos-2) / 2, Size: inc.Size(), Level: o.Level, SignedAt: now,
	}
	if o.Level == LevelBLT || o.Level == LevelBLTA {
		signed := &appendedReaderAt{base: base, baseSize: size, tail: inc.Data}
		dss, err := dssIncrement(ctx, signed, inc.Size(), der, &o)
		if err != nil {
			return nil, err
		}
		var dts docTimestamp
		if o.Level == LevelBLTA {
			tail := append(append(make([]byte, 0, len(inc.Data)+len(dss)), inc.Data...), dss...)
			withDSS := &appendedReaderAt{base: base, baseSize: size, tail: tail}
			if dts, err = docTimestampIncrement(ctx, withDSS, size+int64(len(tail)), &o); err != nil {
				return nil, err
			}
			hashLTA.Write(tail)
			if err := dts.inc.HashAround(hashLTA); err != nil {
				return nil, err
			}
			if !bytes.Equal(hashLTA.Sum(nil), dts.digest) {
				return nil, errInputChanged
			}
			res.DocTimestamp = dts.field
		}
		// The DSS and the document timestamp go out only once both are built: a TSA that fails at the
		// timestamp leaves out the DSS too (SignFile then writes no file at all).
		for _, b := range [][]byte{dss, dts.data} {
			if _, err := bw.Write(b); err != nil {
				return nil, err
			}
			res.Size += int64(len(b))
		}
		res.DSSIncrement = true
	}
	return res, nil
}

// docTimestamp is a built document timestamp increment.
type docTimestamp struct {
	data      []byte
	field     string
	byteRange [4]int64
	digest    []byte         // of the covered bytes, as sent to the TSA
	inc       *pdf.Increment // for hashing around its /Contents again
}

// errInputChanged is a file that changed while it was being read twice.
var errInputChanged = apperr.New(apperr.Conflict, "pades_input_changed", "the input file changed while it was being signed or timestamped; sign it again once nothing else writes to it")

// docTimestampIncrement builds an increment holding a document timestamp: an invisible signature field
// on page 1 whose value is a /Type /DocTimeStamp dictionary (SubFilter ETSI.RFC3161) with an RFC 3161
// token over every byte of the file but its own /Contents.
func docTimestampIncrement(ctx context.Context, r io.ReaderAt, size int64, o *Options) (docTimestamp, error) {
	rd, err := pdf.Open(r, size)
	if err != nil {
		return docTimestamp{}, err
	}
	last := len(rd.Revisions()) - 1
	fields, err := rd.Fields(last)
	if err != nil {
		return docTimestamp{}, err
	}
	pages, err := rd.Pages(last)
	if err != nil {
		return docTimestamp{}, err
	}
	if len(pages) == 0 {
		return docTimestamp{}, apperr.New(apperr.Invalid, "pdf_no_pages", "the PDF has no pages")
	}
	names := map[string]bool{}
	for _, f := range fields {
		names[f.Name] = true
	}
	name := ""
	for n := 1; name == ""; n++ {
		if c := fmt.Sprintf("DocTimeStamp%d", n); !names[c] {
			name = c
		}
	}
	u := rd.NewUpdate()
	sigRef := u.Add(pdf.Dict{
		"Type":      pdf.Name("DocTimeStamp"),
		"Filter":    pdf.Name("Adobe.PPKLite"),
		"SubFilter": pdf.Name("ETSI.RFC3161"),
		"ByteRange": pdf.ByteRangePlaceholder{},
		"Contents":  pdf.ContentsPlaceholder{Size: cms.TimestampReserve + o.ExtraRoom},
	})
	invisible := Options{}
	if err := addField(u, rd, name, sigRef, pages[0], &invisible); err != nil {
		return docTimestamp{}, err
	}
	if err := updateForm(u, rd, &invisible, sigRef); err != nil {
		return docTimestamp{}, err
	}
	inc, err := u.Bytes()
	if err != nil {
		return docTimestamp{}, err
	}
	h := o.Hash.New()
	if err := inc.SignedRanges(rd, h); err != nil {
		return docTimestamp{}, err
	}
	digest := h.Sum(nil)
	token, err := o.TSA(ctx, o.Hash, digest)
	if err != nil {
		return docTimestamp{}, apperr.Wrap(apperr.Unavailable, "pades_doc_timestamp", "the timestamp authority did not give a document timestamp", err)
	}
	if err := inc.SetContents(token); err != nil {
		var ts *pdf.TooSmallError
		if errors.As(err, &ts) {
			return docTimestamp{}, apperr.Wrap(apperr.Internal, "pades_placeholder", "the document timestamp is larger than the space reserved for it", err)
		}
		return docTimestamp{}, err
	}
	return docTimestamp{data: inc.Data, field: name, byteRange: inc.ByteRange(), digest: digest, inc: inc}, nil
}

func classifySignError(err error) error {
	switch {
	case errors.Is(err, cms.ErrKeyMismatch):
		return apperr.Wrap(apperr.Invalid, "pades_key_mismatch", "the key does not match the certificate", err)
	case errors.Is(err, cms.ErrUnsupported):
		return apperr.Wrap(apperr.Invalid, "pades_key_unsupported", "the key type is not supported for signing", err)
	}
	if apperr.KindOf(err) != apperr.Internal {
		return err
	}
	return apperr.Wrap(apperr.Unavailable, "pades_sign_failed", "the signature could not be made (key, token or timestamp authority failed)", err)
}

// SignFile signs the file inPath into outPath. The output is written to a temporary file in outPath's
// folder, synced and renamed into place, so outPath is either the whole signed file or untouched;
// inPath is only read.
func SignFile(ctx context.Context, inPath, outPath string, o Options) (*Result, error) {
	p, err := SignPending(ctx, inPath, outPath, o, true)
	if err != nil {
		return nil, err
	}
	if err := p.Commit(); err != nil {
		return nil, err
	}
	// Make the rename itself durable; a failure here leaves a complete file, so it is not an error.
	SyncDir(filepath.Dir(outPath))
	return p.Result, nil
}

// Pending is a signed output in a temporary file beside its final name (hidden, ".NAME.*.tmp"), not
// yet in place: Commit renames it, Discard removes it. A batch signs many, makes them durable with one
// flush of the file system, and only then commits them.
type Pending struct {
	Result   *Result
	tmp, out string
}

// SignPending signs inPath into a temporary file next to outPath and closes it, synced to disk first
// when sync is set (a caller that will flush the whole file system before Commit needs not).
func SignPending(ctx context.Context, inPath, outPath string, o Options, sync bool) (*Pending, error) {
	var res *Result
	p, err := writePending(inPath, outPath, sync, func(in io.ReaderAt, size int64, out io.Writer) (err error) {
		res, err = Sign(ctx, in, size, out, o)
		return err
	})
	if err != nil {
		return nil, err
	}
	p.Result = res
	return p, nil
}

// writePending opens inPath, refuses to write over it, and has write produce the output into a
// temporary file next to outPath, returned as a Pending (or removed on any failure).
func writePending(inPath, outPath string, sync bool, write func(in io.ReaderAt, size int64, out io.Writer) error) (*Pending, error) {
	f, err := os.Open(inPath)
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, "pades_input", "cannot open the input PDF", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, apperr.New(apperr.Invalid, "pades_input", "the input is not a regular file")
	}
	if ost, err := os.Stat(outPath); err == nil && os.SameFile(st, ost) {
		return nil, apperr.New(apperr.Invalid, "pades_same_file", "the output must be a different file from the input (the input is never changed)")
	}
	tmp, err := os.CreateTemp(filepath.Dir(outPath), "."+filepath.Base(outPath)+".*.tmp")
	if err != nil {
		return nil, apperr.Wrap(apperr.Invalid, "pades_output", "cannot create the output file", err)
	}
	p := &Pending{tmp: tmp.Name(), out: outPath}
	err = write(f, st.Size(), tmp)
	if err == nil && sync {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(p.tmp, 0o644)
	}
	if err != nil {
		p.Discard()
		return nil, err
	}
	return p, nil
}

// Commit renames the temporary file to its final name; on failure the temporary file is removed.
func (p *Pending) Commit() error {
	if err := os.Rename(p.tmp, p.out); err != nil {
		p.Discard()
		return err
	}
	return nil
}

// Discard removes the temporary file.
func (p *Pending) Discard() { _ = os.Remove(p.tmp) }

// SyncDir makes the renames into dir durable (best effort: a failure leaves complete files).
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// prepare builds the update: the signature dictionary, the field and widget, page /Annots, AcroForm
// and catalog changes.
// buildIncrement opens the document and serialises the signature revision (field, widget, signature
// dictionary with its placeholder) at the signing time fixed here; Sign and Prepare share it.
func buildIncrement(in io.ReaderAt, size int64, o *Options) (*pdf.Reader, *pdf.Increment, string, time.Time, error) {
	return buildIncrementInto(in, size, o, nil)
}

// incPool holds increment buffers for Sign (a signature increment is mostly its /Contents
// placeholder, 16 KB and more); maxPooledIncrement bounds what is kept.
var incPool = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledIncrement = 256 << 10

// buildIncrementInto is buildIncrement serialising into buf's storage when it is large enough.
func buildIncrementInto(in io.ReaderAt, size int64, o *Options, buf []byte) (*pdf.Reader, *pdf.Increment, string, time.Time, error) {
	rd, err := pdf.Open(in, size)
	if err != nil {
		return nil, nil, "", time.Time{}, err
	}
	now := o.Now().In(o.Zone).Truncate(time.Second)
	u, field, err := prepare(rd, o, now)
	if err != nil {
		return nil, nil, "", time.Time{}, err
	}
	inc, err := u.AppendBytes(buf)
	if err != nil {
		return nil, nil, "", time.Time{}, fmt.Errorf("pades: writing the update: %w", err)
	}
	return rd, inc, field, now, nil
}

func prepare(rd *pdf.Reader, o *Options, now time.Time) (*pdf.Update, string, error) {
	mdp, err := rd.DocMDP()
	if err != nil {
		return nil, "", err
	}
	if mdp == 1 {
		return nil, "", apperr.New(apperr.Conflict, "pades_certified_p1", "the document is certified with no changes allowed (DocMDP P=1); it cannot be signed again")
	}
	last := len(rd.Revisions()) - 1
	fields, err := rd.Fields(last)
	if err != nil {
		return nil, "", err
	}
	signed := 0
	for _, f := range fields {
		if f.Type == "Sig" && f.Value != nil {
			signed++
		}
	}
	if o.Certify != 0 && (signed > 0 || mdp != 0) {
		return nil, "", apperr.New(apperr.Conflict, "pades_certify_not_first", "only the first signature of a document can certify it; this document is already signed")
	}
	pages, err := rd.Pages(last)
	if err != nil {
		return nil, "", err
	}
	if len(pages) == 0 {
		return nil, "", apperr.New(apperr.Invalid, "pdf_no_pages", "the PDF has no pages")
	}
	u := rd.NewUpdate()

	room := cms.MaxSize(o.Chain, o.Signer.Public(), o.TSA != nil)
	room = room + room/4 + o.ExtraRoom
	room = max(room, 8192)
	sig := pdf.Dict{
		"Type":      pdf.Name("Sig"),
		"Filter":    pdf.Name("Adobe.PPKLite"),
		"SubFilter": pdf.Name("ETSI.CAdES.detached"),
		"ByteRange": pdf.ByteRangePlaceholder{},
		"Contents":  pdf.ContentsPlaceholder{Size: room},
		"M":         pdf.Str(PDFDate(now)),
	}
	if cn := o.Chain[0].Subject.CommonName; cn != "" {
		sig["Name"] = pdf.Text(cn)
	}
	if o.Reason != "" {
		sig["Reason"] = pdf.Text(o.Reason)
	}
	if o.Location != "" {
		sig["Location"] = pdf.Text(o.Location)
	}
	if o.ContactInfo != "" {
		sig["ContactInfo"] = pdf.Text(o.ContactInfo)
	}
	if o.Certify != 0 {
		sig["Reference"] = pdf.Array{pdf.Dict{
			"Type":            pdf.Name("SigRef"),
			"TransformMethod": pdf.Name("DocMDP"),
			"TransformParams": pdf.Dict{"Type": pdf.Name("TransformParams"), "P": int64(o.Certify), "V": pdf.Name("1.2")},
		}}
	}
	sigRef := u.Add(sig)

	// Find the field to sign into, or name a new one.
	name := o.Field
	var target *pdf.Field
	names := map[string]bool{}
	for i := range fields {
		names[fields[i].Name] = true
		if name != "" && fields[i].Name == name {
			target = &fields[i]
		}
	}
	if name == "" {
		for n := signed + 1; ; n++ {
			if c := fmt.Sprintf("Signature%d", n); !names[c] {
				name = c
				break
			}
		}
	}
	if target != nil {
		if target.Type != "Sig" {
			return nil, "", apperr.New(apperr.Invalid, "pades_field_type", fmt.Sprintf("the field %q is not a signature field", name))
		}
		if target.Value != nil {
			return nil, "", apperr.New(apperr.Conflict, "pades_field_signed", fmt.Sprintf("the field %q is already signed; choose another field name", name))
		}
		if err := signExistingField(u, rd, target, sigRef, pages, o); err != nil {
			return nil, "", err
		}
	} else {
		if mdp == 2 {
			// Under DocMDP P=2 only existing fields may be signed: a new field and widget is a
			// disallowed change for Acrobat and for our verifier.
			return nil, "", apperr.New(apperr.Conflict, "pades_certified_p2_new_field", "the document is certified allowing only form filling and signing of its existing fields (DocMDP P=2); sign into one of its empty signature fields with --field NAME")
		}
		if o.Page > len(pages) {
			return nil, "", apperr.New(apperr.Invalid, "pades_page", fmt.Sprintf("page %d does not exist; the document has %d page(s)", o.Page, len(pages)))
		}
		if err := addField(u, rd, name, sigRef, pages[o.Page-1], o); err != nil {
			return nil, "", err
		}
	}
	if err := updateForm(u, rd, o, sigRef); err != nil {
		return nil, "", err
	}
	return u, name, nil
}

// widgetAppearance returns the /AP dictionary for a widget of the given rect on a page shown rotated
// by rotate degrees: the appearance is drawn upright for the reader, in a wrapper form whose matrix
// undoes the page rotation.
func widgetAppearance(u *pdf.Update, o *Options, rect [4]float64, rotate int) (pdf.Dict, error) {
	w, h := rect[2]-rect[0], rect[3]-rect[1]
	if o.Appearance == nil || w <= 0 || h <= 0 {
		empty := u.Add(pdf.NewStream(pdf.Dict{"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Form"),
			"BBox": pdf.Array{int64(0), int64(0), pdf.Real(max(w, 0)), pdf.Real(max(h, 0))}}, nil))
		return pdf.Dict{"N": empty}, nil
	}
	iw, ih := w, h
	if rotate == 90 || rotate == 270 {
		iw, ih = h, w
	}
	ap, err := o.Appearance.Build(u, iw, ih)
	if err != nil {
		return nil, fmt.Errorf("pades: drawing the appearance: %w", err)
	}
	var m string
	switch rotate {
	case 90:
		m = fmt.Sprintf("0 1 -1 0 %s 0", num(w))
	case 180:
		m = fmt.Sprintf("-1 0 0 -1 %s %s", num(w), num(h))
	case 270:
		m = fmt.Sprintf("0 -1 1 0 0 %s", num(h))
	default:
		return pdf.Dict{"N": ap}, nil
	}
	outer := u.Add(pdf.NewStream(pdf.Dict{
		"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Form"),
		"BBox":      pdf.Array{int64(0), int64(0), pdf.Real(w), pdf.Real(h)},
		"Resources": pdf.Dict{"XObject": pdf.Dict{"Upright": ap}},
	}, []byte("q "+m+" cm /Upright Do Q\n")))
	return pdf.Dict{"N": outer}, nil
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// topRight places a w×h box (reader's orientation) at the top right corner of the page as the reader
// sees it, margin points from both edges, and returns the rectangle in user space.
func topRight(box [4]float64, rotate int, w, h, margin float64) [4]float64 {
	switch rotate {
	case 90:
		return [4]float64{box[0] + margin, box[3] - margin - w, box[0] + margin + h, box[3] - margin}
	case 180:
		return [4]float64{box[0] + margin, box[1] + margin, box[0] + margin + w, box[1] + margin + h}
	case 270:
		return [4]float64{box[2] - margin - h, box[1] + margin, box[2] - margin, box[1] + margin + w}
	}
	return [4]float64{box[2] - margin - w, box[3] - margin - h, box[2] - margin, box[3] - margin}
}

func rectArray(r [4]float64) pdf.Array {
	return pdf.Array{pdf.Real(r[0]), pdf.Real(r[1]), pdf.Real(r[2]), pdf.Real(r[3])}
}

func addField(u *pdf.Update, rd *pdf.Reader, name string, sigRef pdf.Ref, page pdf.Page, o *Options) error {
	rect := o.Rect
	if rect == [4]float64{} && o.Appearance != nil {
		if s, ok := o.Appearance.(Sizer); ok {
			w, h := s.NaturalSize()
			rect = topRight(page.CropBox, page.Rotate, w, h, 20)
		} else {
			return apperr.New(apperr.Invalid, "pades_rect", "a visible signature needs a rectangle (--rect x1,y1,x2,y2)")
		}
	}
	ap, err := widgetAppearance(u, o, rect, page.Rotate)
	if err != nil {
		return err
	}
	widget := pdf.Dict{
		"Type":    pdf.Name("Annot"),
		"Subtype": pdf.Name("Widget"),
		"FT":      pdf.Name("Sig"),
		"T":       pdf.Text(name),
		"V":       sigRef,
		"P":       page.Ref,
		"Rect":    rectArray(rect),
		"F":       int64(132), // print, locked
		"AP":      ap,
	}
	wref := u.Add(widget)
	// Page /Annots: an indirect array is rewritten in place, otherwise the page gets a new array.
	annots := page.Dict["Annots"]
	if ar, ok := annots.(pdf.Ref); ok {
		ao, err := u.Get(ar)
		if err != nil {
			return err
		}
		arr, _ := ao.(pdf.Array)
		u.Set(ar, append(append(make(pdf.Array, 0, len(arr)+1), arr...), wref))
	} else {
		arr, _ := annots.(pdf.Array)
		pd, err := u.Get(page.Ref)
		if err != nil {
			return err
		}
		pdict, _ := pd.(pdf.Dict)
		pdict = pdict.Clone()
		pdict["Annots"] = append(append(make(pdf.Array, 0, len(arr)+1), arr...), wref)
		u.Set(page.Ref, pdict)
	}
	return addToFields(u, rd, wref)
}

func signExistingField(u *pdf.Update, rd *pdf.Reader, f *pdf.Field, sigRef pdf.Ref, pages []pdf.Page, o *Options) error {
	fd := f.Dict.Clone()
	fd["V"] = sigRef
	if len(f.Widgets) == 0 {
		u.Set(f.Ref, fd)
		return nil
	}
	wref := f.Widgets[0]
	var wd pdf.Dict
	if wref == f.Ref {
		wd = fd
	} else {
		wo, err := rd.Object(wref)
		if err != nil {
			return err
		}
		wd, _ = wo.(pdf.Dict)
		wd = wd.Clone()
		u.Set(f.Ref, fd)
	}
	if wd == nil {
		return apperr.New(apperr.Invalid, "pdf_malformed", "the signature field's widget is damaged")
	}
	rect := o.Rect
	if rect == [4]float64{} {
		rect = readRect(wd["Rect"])
		if o.Appearance != nil && (rect[2]-rect[0] <= 0 || rect[3]-rect[1] <= 0) {
			return apperr.New(apperr.Invalid, "pades_rect", "the field is invisible (no area); give a rectangle for the visible signature (--rect x1,y1,x2,y2)")
		}
	} else {
		wd["Rect"] = rectArray(rect)
	}
	rotate := 0
	if pr, ok := wd["P"].(pdf.Ref); ok {
		for _, p := range pages {
			if p.Ref == pr {
				rotate = p.Rotate
			}
		}
	}
	if o.Appearance != nil || wd["AP"] == nil {
		ap, err := widgetAppearance(u, o, rect, rotate)
		if err != nil {
			return err
		}
		wd["AP"] = ap
	}
	u.Set(wref, wd)
	return nil
}

func readRect(o pdf.Object) [4]float64 {
	a, _ := o.(pdf.Array)
	var r [4]float64
	if len(a) != 4 {
		return r
	}
	for i := range r {
		r[i], _ = pdf.AsFloat(a[i])
	}
	return [4]float64{min(r[0], r[2]), min(r[1], r[3]), max(r[0], r[2]), max(r[1], r[3])}
}

// addToFields appends a field to the AcroForm's /Fields, creating the AcroForm when needed.
func addToFields(u *pdf.Update, rd *pdf.Reader, field pdf.Ref) error {
	cat, root, err := rd.Catalog(len(rd.Revisions()) - 1)
	if err != nil {
		return err
	}
	af, afRef, err := formDict(u, cat, root)
	if err != nil {
		return err
	}
	if fr, ok := af["Fields"].(pdf.Ref); ok {
		fo, err := u.Get(fr)
		if err != nil {
			return err
		}
		arr, _ := fo.(pdf.Array)
		u.Set(fr, append(append(make(pdf.Array, 0, len(arr)+1), arr...), field))
	} else {
		arr, _ := af["Fields"].(pdf.Array)
		af["Fields"] = append(append(make(pdf.Array, 0, len(arr)+1), arr...), field)
	}
	return storeForm(u, root, af, afRef)
}

// formDict returns a modifiable copy of the AcroForm (pending version first) and its reference (zero
// when inline or absent).
func formDict(u *pdf.Update, cat pdf.Dict, root pdf.Ref) (pdf.Dict, pdf.Ref, error) {
	co, err := u.Get(root)
	if err != nil {
		return nil, pdf.Ref{}, err
	}
	if c, ok := co.(pdf.Dict); ok {
		cat = c
	}
	ref, _ := cat["AcroForm"].(pdf.Ref)
	o, err := u.Resolve(cat["AcroForm"])
	if err != nil {
		return nil, pdf.Ref{}, err
	}
	d, _ := o.(pdf.Dict)
	if d == nil {
		return pdf.Dict{"Fields": pdf.Array{}}, ref, nil
	}
	return d.Clone(), ref, nil
}

func storeForm(u *pdf.Update, root pdf.Ref, af pdf.Dict, afRef pdf.Ref) error {
	if afRef.Num != 0 {
		u.Set(afRef, af)
		return nil
	}
	co, err := u.Get(root)
	if err != nil {
		return err
	}
	cat, _ := co.(pdf.Dict)
	if cat == nil {
		return apperr.New(apperr.Invalid, "pdf_malformed", "the PDF catalog is damaged")
	}
	cat = cat.Clone()
	cat["AcroForm"] = u.Add(af)
	u.Set(root, cat)
	return nil
}

// updateForm sets /SigFlags 3 and, for certification, the catalog's /Perms.
func updateForm(u *pdf.Update, rd *pdf.Reader, o *Options, sigRef pdf.Ref) error {
	cat, root, err := rd.Catalog(len(rd.Revisions()) - 1)
	if err != nil {
		return err
	}
	af, afRef, err := formDict(u, cat, root)
	if err != nil {
		return err
	}
	if n, _ := pdf.AsInt(af["SigFlags"]); n != 3 {
		af["SigFlags"] = int64(3)
		if err := storeForm(u, root, af, afRef); err != nil {
			return err
		}
	}
	if o.Certify != 0 {
		co, err := u.Get(root)
		if err != nil {
			return err
		}
		c, _ := co.(pdf.Dict)
		c = c.Clone()
		perms, _ := c["Perms"].(pdf.Dict)
		perms = perms.Clone()
		perms["DocMDP"] = sigRef
		c["Perms"] = perms
		u.Set(root, c)
	}
	return nil
}

// PDFDate formats t as a PDF date string, e.g. D:20260312120000+07'00'.
func PDFDate(t time.Time) string {
	_, off := t.Zone()
	b := t.AppendFormat(make([]byte, 0, 24), "D:20060102150405")
	if off == 0 {
		return string(append(b, 'Z'))
	}
	sign := byte('+')
	if off < 0 {
		sign = '-'
		off = -off
	}
	h, m := off/3600, off%3600/60
	if h > 99 {
		return fmt.Sprintf("%s%c%02d'%02d'", b, sign, h, m)
	}
	b = append(b, sign, byte('0'+h/10%10), byte('0'+h%10), '\'', byte('0'+m/10), byte('0'+m%10), '\'')
	return string(b)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// appendedReaderAt presents base followed by tail as one file, so the signed result can be re-read
// without writing it first.
type appendedReaderAt struct {
	base     io.ReaderAt
	baseSize int64
	tail     []byte
}

func (a *appendedReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	if off < a.baseSize {
		m := min(int64(len(p)), a.baseSize-off)
		k, err := a.base.ReadAt(p[:m], off)
		n += k
		if err != nil && !(errors.Is(err, io.EOF) && int64(k) == m) {
			return n, err
		}
		off += int64(k)
		p = p[k:]
	}
	if len(p) == 0 {
		return n, nil
	}
	t := off - a.baseSize
	if t >= int64(len(a.tail)) {
		return n, io.EOF
	}
	k := copy(p, a.tail[t:])
	n += k
	if k < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// dssIncrement builds the B-LT increment: a /DSS with the signer chain, the timestamp's chain and the
// revocation material.
func dssIncrement(ctx context.Context, r io.ReaderAt, size int64, sigDER []byte, o *Options) ([]byte, error) {
	certs := append([]*x509.Certificate(nil), o.Chain...)
	certs = append(certs, timestampCerts(sigDER)...)
	return dssIncrementFor(ctx, r, size, certs, o.Revocation)
}

// dssIncrementFor builds an increment that adds certs and their revocation material (from fetch, when
// set) to the document's /DSS, keeping what the DSS already holds.
func dssIncrementFor(ctx context.Context, r io.ReaderAt, size int64, certs []*x509.Certificate, fetch RevocationFunc) ([]byte, error) {
	rd, err := pdf.Open(r, size)
	if err != nil {
		return nil, err
	}
	cat, root, err := rd.Catalog(len(rd.Revisions()) - 1)
	if err != nil {
		return nil, err
	}
	// What the DSS already holds is kept (its arrays may be direct or indirect, as other signers write
	// them) and not added a second time.
	var old pdf.Dict
	if o, err := rd.Resolve(cat["DSS"]); err == nil {
		old, _ = o.(pdf.Dict)
	}
	lists := map[pdf.Name]pdf.Array{}
	have := map[[sha256.Size]byte]bool{}
	key := func(k pdf.Name, b []byte) [sha256.Size]byte { return sha256.Sum256(append([]byte(k+":"), b...)) }
	budget := int64(maxDSSDecoded) // an existing DSS is only inflated this far to find duplicates
	for _, k := range dssLists {
		ao, err := rd.Resolve(old[k])
		if err != nil {
			continue
		}
		arr, _ := ao.(pdf.Array)
		lists[k] = append(pdf.Array{}, arr...)
		for _, e := range arr {
			if budget <= 0 {
				break
			}
			if so, err := rd.Resolve(e); err == nil {
				if st, ok := so.(*pdf.Stream); ok {
					if b, err := rd.Decode(st, min(budget, maxDSSEntry)); err == nil {
						budget -= int64(len(b))
						have[key(k, b)] = true
					}
				}
			}
		}
	}
	var rev Revocation
	if fetch != nil {
		if rev, err = fetch(ctx, certs); err != nil {
			return nil, apperr.Wrap(apperr.Unavailable, "pades_revocation", "revocation data (OCSP/CRL) for the DSS could not be fetched", err)
		}
	}
	u := rd.NewUpdate()
	add := func(k pdf.Name, b []byte) {
		if len(b) == 0 || have[key(k, b)] {
			return
		}
		have[key(k, b)] = true
		lists[k] = append(lists[k], u.Add(pdf.NewStream(nil, b)))
	}
	for _, c := range append(certs, rev.Certs...) {
		if c != nil {
			add("Certs", c.Raw)
		}
	}
	for _, b := range rev.OCSPs {
		add("OCSPs", b)
	}
	for _, b := range rev.CRLs {
		add("CRLs", b)
	}
	dss := pdf.Dict{"Type": pdf.Name("DSS")}
	for _, k := range dssLists {
		if len(lists[k]) > 0 {
			dss[k] = lists[k]
		}
	}
	// A per-signature /VRI is optional in PAdES; the document-wide lists are enough for validators.
	// One another signer wrote is kept.
	if v, ok := old["VRI"]; ok {
		dss["VRI"] = v
	}
	cat = cat.Clone()
	cat["DSS"] = u.Add(dss)
	u.Set(root, cat)
	inc, err := u.Bytes()
	if err != nil {
		return nil, err
	}
	return inc.Data, nil
}

// dssLists are the DSS arrays this signer reads and writes.
var dssLists = []pdf.Name{"Certs", "OCSPs", "CRLs"}

// maxDSSEntry bounds one decoded DSS stream (a large CRL is a few MiB); maxDSSDecoded bounds all of
// an existing DSS decoded to find duplicates (beyond it, entries may be added a second time).
const (
	maxDSSEntry   = 64 << 20
	maxDSSDecoded = 128 << 20
)

// timestampCerts returns the certificates inside the signature-timestamp token of a CMS signature.
func timestampCerts(sigDER []byte) []*x509.Certificate {
	sd, err := cms.Parse(sigDER)
	if err != nil || len(sd.Signers) == 0 {
		return nil
	}
	var out []*x509.Certificate
	for _, a := range sd.Signers[0].Unsigned {
		if !a.Type.Equal(cms.OIDAttrTimeStampToken) {
			continue
		}
		for _, v := range a.Values {
			if tsd, err := cms.Parse(v); err == nil {
				out = append(out, tsd.Certificates...)
			}
		}
	}
	return out
}

// DigestRanges hashes the bytes a /ByteRange covers by streaming them from r (used by tests and by
// callers re-checking a written file).
func DigestRanges(r io.ReaderAt, br []int64, h hash.Hash) ([]byte, error) {
	if len(br)%2 != 0 {
		return nil, errors.New("pades: odd ByteRange")
	}
	for i := 0; i < len(br); i += 2 {
		if _, err := io.Copy(h, io.NewSectionReader(r, br[i], br[i+1])); err != nil {
			return nil, err
		}
	}
	return h.Sum(nil), nil
}
