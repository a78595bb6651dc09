package pades

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/signing/cms"
	"github.com/lienthong/lienthong/signing/pdf"
)

// Two-phase (remote) signing: the key is somewhere else, typically a leader's USB token behind a local
// agent. Prepare builds everything that goes inside the signed bytes (the revision with its zero-filled
// /Contents hole, the /M time, the appearance, the CMS signed attributes) and returns it as a Prepared
// value for the caller to store; the remote side signs ToBeSigned; Complete embeds the signature into
// exactly the stored bytes. Nothing is rebuilt between the two steps, so nothing can differ: the time,
// the appearance, the field name, the trailer /ID and the placeholder size are all fixed at Prepare.

// Prepared is the stored half of a two-phase signature. Every field is plain data so it can be kept in
// a database between the two requests.
type Prepared struct {
	Field    string      // signature field name
	Hash     crypto.Hash // digest algorithm of the content and of the signed attributes
	SignedAt time.Time   // the /M time (and the time drawn in an appearance)
	Level    Level       // B-B, or B-T when a timestamp is added at completion

	BaseSize  int64  // size of the original file the increment is appended to
	Increment []byte // the update, /ByteRange filled in, /Contents zero-filled
	// ContentsPos and ContentsEnd locate the /Contents hex string ('<' to just past '>') as offsets in
	// the whole signed file.
	ContentsPos, ContentsEnd int64

	Digest      []byte              // hash of the ByteRange bytes (the message-digest attribute)
	SignedAttrs []byte              // DER SET OF signed attributes: what the remote key signs (hashed with Hash)
	Chain       []*x509.Certificate // signer first
}

// ToBeSigned returns the digest the remote key signs: Hash(SignedAttrs). For RSA PKCS#1 v1.5 the agent
// wraps it in a DigestInfo (crypto.Signer with opts=Hash does); for ECDSA it signs it as is.
func (p *Prepared) ToBeSigned() []byte {
	h := p.Hash.New()
	h.Write(p.SignedAttrs)
	return h.Sum(nil)
}

// ByteRange returns the /ByteRange of the prepared signature.
func (p *Prepared) ByteRange() [4]int64 {
	size := p.BaseSize + int64(len(p.Increment))
	return [4]int64{0, p.ContentsPos, p.ContentsEnd, size - p.ContentsEnd}
}

// publicOnly stands in for a key that is elsewhere: Prepare needs the public key (to size /Contents)
// but must never sign.
type publicOnly struct{ pub crypto.PublicKey }

func (k publicOnly) Public() crypto.PublicKey { return k.pub }
func (publicOnly) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("pades: a prepared signature is signed remotely")
}

// Prepare builds the signature revision of the PDF in (size bytes) for the certificate o.Chain[0],
// whose private key is not here (o.Signer is ignored). o.Level is B-B (the signing time is the claimed
// /M time) or B-T (o.TSA must be set: room is reserved for the signature timestamp that
// CompleteTimestamped adds). The original is read once (hashed), not copied.
func Prepare(ctx context.Context, in io.ReaderAt, size int64, o Options) (*Prepared, error) {
	if len(o.Chain) == 0 || o.Chain[0] == nil {
		return nil, apperr.New(apperr.Invalid, "pades_no_certificate", "no signer certificate")
	}
	o.Signer = publicOnly{o.Chain[0].PublicKey}
	if o.Level == LevelBLT || o.Level == LevelBLTA {
		return nil, apperr.New(apperr.Invalid, "pades_level", "remote signing prepares PAdES B-B or B-T")
	}
	if o.Level != LevelBT {
		o.TSA = nil // B-B: no room for a timestamp
	}
	if err := o.validate(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	rd, inc, field, now, err := buildIncrement(in, size, &o)
	if err != nil {
		return nil, err
	}
	if inc.ContentsPos < 0 {
		return nil, errors.New("pades: the update has no /Contents placeholder")
	}
	h := o.Hash.New()
	if err := inc.SignedRanges(rd, h); err != nil {
		return nil, fmt.Errorf("pades: hashing the document: %w", err)
	}
	digest := h.Sum(nil)
	attrs, err := cms.BuildSignedAttributes(digest, o.Hash, o.Chain[0])
	if err != nil {
		return nil, classifySignError(err)
	}
	return &Prepared{
		Field: field, Hash: o.Hash, SignedAt: now, Level: o.Level,
		BaseSize: size, Increment: inc.Data, ContentsPos: inc.ContentsPos, ContentsEnd: inc.ContentsEnd,
		Digest: digest, SignedAttrs: attrs, Chain: append([]*x509.Certificate(nil), o.Chain...),
	}, nil
}

// Errors of Complete, for callers that map them to answers.
var (
	// ErrSignatureMismatch: the signature does not verify with the prepared certificate over the
	// prepared attributes (another key signed, or something else was signed).
	ErrSignatureMismatch = apperr.New(apperr.Invalid, "pades_signature_mismatch",
		"the signature was not made by the prepared certificate's key over the prepared data")
	// ErrDocumentChanged: the original bytes handed to Complete are not those Prepare hashed.
	ErrDocumentChanged = apperr.New(apperr.Conflict, "pades_document_changed",
		"the document is not the version that was prepared for signing")
)

// Complete embeds signature (made by the prepared certificate's key over ToBeSigned; ECDSA as DER or
// raw r‖s) and writes the whole signed file to out: the original, then the prepared increment with
// the CMS in its /Contents. The original is hashed again and must give the prepared digest, and the
// signature must verify, before a byte is written.
func Complete(ctx context.Context, p *Prepared, original io.ReaderAt, signature []byte, out io.Writer) (*Result, error) {
	return CompleteTimestamped(ctx, p, original, signature, nil, out)
}

// CompleteTimestamped is Complete for a B-T preparation: the signature value is timestamped by tsa
// (RFC 3161) at once and the token goes into the CMS as the signature-time-stamp attribute, so the
// signing time no longer rests on the server's claim alone.
func CompleteTimestamped(ctx context.Context, p *Prepared, original io.ReaderAt, signature []byte, tsa cms.TimestampFunc, out io.Writer) (*Result, error) {
	if p != nil && p.Level == LevelBT && tsa == nil {
		return nil, apperr.New(apperr.Invalid, "pades_no_tsa", "a B-T signature needs a timestamp authority")
	}
	if p == nil || len(p.Chain) == 0 || p.Chain[0] == nil || len(p.Increment) == 0 {
		return nil, apperr.New(apperr.Invalid, "pades_not_prepared", "nothing was prepared for signing")
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	inc := &pdf.Increment{Base: p.BaseSize, Data: append([]byte(nil), p.Increment...), ContentsPos: p.ContentsPos, ContentsEnd: p.ContentsEnd}
	if p.ContentsPos < p.BaseSize || p.ContentsEnd <= p.ContentsPos || p.ContentsEnd > inc.Size() {
		return nil, apperr.New(apperr.Invalid, "pades_not_prepared", "the prepared signature is damaged")
	}
	h := p.Hash.New()
	if _, err := io.Copy(h, io.NewSectionReader(original, 0, p.BaseSize)); err != nil {
		return nil, fmt.Errorf("pades: reading the document: %w", err)
	}
	if err := inc.HashAround(h); err != nil {
		return nil, err
	}
	if !bytes.Equal(h.Sum(nil), p.Digest) {
		return nil, ErrDocumentChanged
	}
	der, err := cms.Assemble(p.SignedAttrs, signature, p.Hash, p.Chain, nil)
	if err != nil {
		if errors.Is(err, cms.ErrBadSignature) {
			return nil, fmt.Errorf("%w: %w", ErrSignatureMismatch, err)
		}
		return nil, classifySignError(err)
	}
	level := LevelBB
	if tsa != nil && p.Level == LevelBT {
		// The token covers the signature value exactly as the SignerInfo carries it (ECDSA as DER).
		sd, err := cms.Parse(der)
		if err != nil || len(sd.Signers) != 1 {
			return nil, fmt.Errorf("pades: re-reading the assembled signature: %w", err)
		}
		h := p.Hash.New()
		h.Write(sd.Signers[0].Signature)
		token, err := tsa(ctx, p.Hash, h.Sum(nil))
		if err != nil {
			return nil, apperr.Wrap(apperr.Unavailable, "pades_tsa", "the timestamp authority did not answer; nothing was written", err)
		}
		if der, err = cms.Assemble(p.SignedAttrs, signature, p.Hash, p.Chain, token); err != nil {
			return nil, classifySignError(err)
		}
		level = LevelBT
	}
	if err := inc.SetContents(der); err != nil {
		var ts *pdf.TooSmallError
		if errors.As(err, &ts) {
			return nil, apperr.Wrap(apperr.Internal, "pades_placeholder", "the signature is larger than the space reserved for it; nothing was written", err)
		}
		return nil, err
	}
	bw := &countWriter{w: out}
	if _, err := io.Copy(bw, io.NewSectionReader(original, 0, p.BaseSize)); err != nil {
		return nil, fmt.Errorf("pades: copying the document: %w", err)
	}
	if _, err := bw.Write(inc.Data); err != nil {
		return nil, err
	}
	return &Result{
		Field: p.Field, ByteRange: p.ByteRange(), Digest: p.Digest, CMSSize: len(der),
		Reserved: int(p.ContentsEnd-p.ContentsPos-2) / 2, Size: inc.Size(), Level: level, SignedAt: p.SignedAt,
	}, nil
}
