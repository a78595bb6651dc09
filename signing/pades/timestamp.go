package pades

import (
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"path/filepath"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/signing/cms"
	"github.com/lienthong/lienthong/signing/pdf"
)

// TimestampOptions configure AddDocTimestamp.
type TimestampOptions struct {
	TSA  cms.TimestampFunc // required
	Hash crypto.Hash       // of the covered bytes; default SHA-256
	// Revocation, when set, first adds a DSS increment with the certificates of every signature and
	// document timestamp already in the file and their revocation material: what renewing an archived
	// file needs, the proof that the previous timestamp's certificate was good while it still is.
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
	// No DocMDP check: PDF 2.0 (12.8.2.2.2) lets DSS and document timestamp increments follow any
	// certification, P=1 included, and these are the only increments added here.
	res := &TimestampResult{}
	var dss []byte
	if o.Revocation != nil {
		sigs, err := rd.Signatures(len(rd.Revisions()) - 1)
		if err != nil {
			return nil, err
		}
		var certs []*x509.Certificate
		for _, s := range sigs {
			der, _, err := cms.NormalizeBER(s.Contents)
			if err != nil {
				continue // a broken signature has no material worth keeping; the verifier reports it
			}
			if sd, err := cms.Parse(der); err == nil {
				certs = append(certs, sd.Certificates...)
				certs = append(certs, timestampCerts(der)...)
			}
		}
		if dss, err = dssIncrementFor(ctx, in, size, certs, o.Revocation); err != nil {
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
	w := &countWriter{w: out}
	if _, err := io.Copy(w, io.NewSectionReader(in, 0, size)); err != nil {
		return nil, fmt.Errorf("pades: copying the document: %w", err)
	}
	for _, b := range [][]byte{dss, dts.data} {
		if _, err := w.Write(b); err != nil {
			return nil, err
		}
	}
	res.Size = w.n
	return res, nil
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
