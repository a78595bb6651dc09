package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/signing/cms"
	"github.com/lienthong/lienthong/signing/pdf"
)

// TimestampOptions configure AddDocTimestamp.
type TimestampOptions struct {
	TSA  cms.TimestampFunc // required
	Hash crypto.Hash       // of the covered bytes; default SHA-256
	// Revocation, when set, first adds a DSS increment with the chain of the newest document timestamp
	// (on a file without one, of every signature) and its revocation material: what renewing an
	// archived file needs, the proof that the previous timestamp's certificate was good while it still
	// is. The requests go to URLs named in the file's certificates, within revocationDeadline.
	Revocation RevocationFunc
	// ExtraRoom adds bytes to the room kept for the token (cms.TimestampReserve).
	ExtraRoom int
}

// TimestampResult describes a written document timestamp.
type TimestampResult struct {
	Field        string
	ByteRange    [4]int64
	Size         int64 // of the whole output
	DSSIncrement bool
}

// AddDocTimestamp reads the PDF in (size bytes) and writes it to out followed by, when o.Revocation is
// set, a DSS increment, and then a document timestamp increment (PAdES B-LTA; on a file that already
// has one, the renewal that keeps it verifiable after the earlier TSA certificate expires). Every
// original byte is kept and every earlier signature stays valid. Nothing is written unless the
// increments could all be built.
func AddDocTimestamp(ctx context.Context, in io.ReaderAt, size int64, out io.Writer, o TimestampOptions) (*TimestampResult, error) {
	if o.TSA == nil {
		return nil, apperr.New(apperr.Invalid, "pades_no_tsa", "a document timestamp needs a timestamp authority (--tsa URL)")
	}
	if o.Hash == 0 {
		o.Hash = crypto.SHA256
	}
	rd, err := pdf.Open(in, size)
	if err != nil {
		return nil, err
	}
	last := len(rd.Revisions()) - 1
	if pages, err := rd.Pages(last); err != nil {
		return nil, err
	} else if len(pages) == 0 {
		return nil, apperr.New(apperr.Invalid, "pdf_no_pages", "the PDF has no pages")
	}
	// No DocMDP check: PDF 2.0 (12.8.2.2.2) lets DSS and document timestamp increments follow any
	// certification, P=1 included, and these are the only increments added here.
	res := &TimestampResult{}
	var dss []byte
	if o.Revocation != nil {
		certs, err := renewalCerts(rd, last)
		if err != nil {
			return nil, err
		}
		fctx, cancel := context.WithTimeout(ctx, revocationDeadline)
		dss, err = dssIncrementFor(fctx, in, size, certs, o.Revocation)
		cancel()
		if err != nil {
			return nil, err
		}
		res.DSSIncrement = true
	}
	var withDSS io.ReaderAt = in
	if len(dss) > 0 {
		withDSS = &appendedReaderAt{base: in, baseSize: size, tail: dss}
	}
	po := Options{Hash: o.Hash, TSA: o.TSA, ExtraRoom: o.ExtraRoom}
	dts, err := docTimestampIncrement(ctx, withDSS, size+int64(len(dss)), &po)
	if err != nil {
		return nil, err
	}
	res.Field, res.ByteRange = dts.field, dts.byteRange
	// The file is read a second time to be copied: hash what is copied and check it is what the
	// timestamp covers, so a file changed in between is an error, not a timestamp over other bytes.
	w := &countWriter{w: out}
	h := o.Hash.New()
	if n, err := io.Copy(io.MultiWriter(w, h), io.NewSectionReader(in, 0, size)); err != nil {
		return nil, fmt.Errorf("pades: copying the document: %w", err)
	} else if n != size {
		return nil, errInputChanged
	}
	h.Write(dss)
	if err := dts.inc.HashAround(h); err != nil {
		return nil, err
	}
	if !bytes.Equal(h.Sum(nil), dts.digest) {
		return nil, errInputChanged
	}
	for _, b := range [][]byte{dss, dts.data} {
		if _, err := w.Write(b); err != nil {
			return nil, err
		}
	}
	res.Size = w.n
	return res, nil
}

// revocationDeadline bounds all the network requests of one DSS: the URLs come from certificates in
// the file, which may have come from anywhere.
const revocationDeadline = 2 * time.Minute

// maxRenewalCerts bounds how many certificates of a file a renewal asks revocation data for.
const maxRenewalCerts = 32

// renewalCerts picks the certificates whose validation material a new document timestamp should
// record: those of the newest document timestamp (the one about to be protected before its TSA
// certificate expires) and of every signature added after it, or on a file without one, of all its
// signatures (with their signature timestamps). Each once.
func renewalCerts(rd *pdf.Reader, rev int) ([]*x509.Certificate, error) {
	all, err := rd.Signatures(rev)
	if err != nil {
		return nil, err
	}
	newest := -1 // revision of the newest document timestamp
	for _, s := range all {
		if (s.Dict.Name("Type") == "DocTimeStamp" || s.SubFilter == "ETSI.RFC3161") && s.Revision > newest {
			newest = s.Revision
		}
	}
	var sigs []pdf.Signature
	for _, s := range all {
		if s.Revision >= newest {
			sigs = append(sigs, s)
		}
	}
	var certs []*x509.Certificate
	seen := map[string]bool{}
	for _, s := range sigs {
		der, _, err := cms.NormalizeBER(s.Contents)
		if err != nil {
			continue // a broken signature has no material worth keeping; the verifier reports it
		}
		sd, err := cms.Parse(der)
		if err != nil {
			continue
		}
		for _, c := range append(sd.Certificates, timestampCerts(der)...) {
			if !seen[string(c.Raw)] {
				seen[string(c.Raw)] = true
				certs = append(certs, c)
			}
		}
	}
	if len(certs) > maxRenewalCerts {
		return nil, apperr.New(apperr.Invalid, "pades_too_many_certs", fmt.Sprintf("the file's signatures carry %d certificates; a DSS is fetched for at most %d (timestamp without --dss)", len(certs), maxRenewalCerts))
	}
	return certs, nil
}

// TimestampFile adds a document timestamp to inPath and writes the result to outPath whole (temporary
// file, synced and renamed) or not at all; inPath is only read.
func TimestampFile(ctx context.Context, inPath, outPath string, o TimestampOptions) (*TimestampResult, error) {
	var res *TimestampResult
	p, err := writePending(inPath, outPath, true, func(in io.ReaderAt, size int64, out io.Writer) (err error) {
		res, err = AddDocTimestamp(ctx, in, size, out, o)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := p.Commit(); err != nil {
		return nil, err
	}
	SyncDir(filepath.Dir(outPath))
	return res, nil
}
