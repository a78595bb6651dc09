package corpus

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"fmt"

	"github.com/lienthong/lienthong/signing/cms"
	"github.com/lienthong/lienthong/signing/pdf"
)

// AddDocTimestamp appends a document timestamp (ETSI.RFC3161, PAdES B-LTA when it follows a DSS):
// a signature field whose /Contents is an RFC 3161 token over the ByteRange bytes. mutate, when set,
// may change the digest sent to the TSA (to forge a wrong imprint).
func (e *Env) AddDocTimestamp(ctx context.Context, in []byte, mutate func(digest []byte)) ([]byte, error) {
	rd, err := pdf.Open(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		return nil, err
	}
	u := rd.NewUpdate()
	sig := pdf.Dict{"Type": pdf.Name("DocTimeStamp"), "Filter": pdf.Name("Adobe.PPKLite"), "SubFilter": pdf.Name("ETSI.RFC3161"),
		"ByteRange": pdf.ByteRangePlaceholder{}, "Contents": pdf.ContentsPlaceholder{Size: 12 << 10}}
	if err := addSigField(rd, u, fmt.Sprintf("DocTimeStamp%d", len(rd.Revisions())), sig); err != nil {
		return nil, err
	}
	inc, err := u.Bytes()
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	if err := inc.SignedRanges(rd, h); err != nil {
		return nil, err
	}
	digest := h.Sum(nil)
	if mutate != nil {
		mutate(digest)
	}
	token, err := e.TSA.Stamp(ctx, crypto.SHA256, digest, nil)
	if err != nil {
		return nil, err
	}
	if err := inc.SetContents(token); err != nil {
		return nil, err
	}
	out := append([]byte{}, in...)
	if len(out) > 0 && out[len(out)-1] != '\n' && out[len(out)-1] != '\r' {
		out = append(out, '\n')
	}
	return append(out, inc.Data...), nil
}

// SmallSigned returns a small signed PDF (about 4 KB: one ECDSA certificate, a tight /Contents),
// used as a fuzzing seed where the signer's 8 KiB minimum placeholder would slow the fuzzer down.
func (e *Env) SmallSigned(ctx context.Context) ([]byte, error) {
	in := BasePDF("FUZZ")
	rd, err := pdf.Open(bytes.NewReader(in), int64(len(in)))
	if err != nil {
		return nil, err
	}
	u := rd.NewUpdate()
	sig := pdf.Dict{"Type": pdf.Name("Sig"), "Filter": pdf.Name("Adobe.PPKLite"), "SubFilter": pdf.Name("ETSI.CAdES.detached"),
		"ByteRange": pdf.ByteRangePlaceholder{}, "Contents": pdf.ContentsPlaceholder{Size: 1400}}
	if err := addSigField(rd, u, "S", sig); err != nil {
		return nil, err
	}
	inc, err := u.Bytes()
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	if err := inc.SignedRanges(rd, h); err != nil {
		return nil, err
	}
	der, err := cms.SignDetached(ctx, cms.Request{Digest: h.Sum(nil), Hash: crypto.SHA256, Signer: e.EC.Key, Chain: e.EC.Full()[:1]})
	if err != nil {
		return nil, err
	}
	if err := inc.SetContents(der); err != nil {
		return nil, err
	}
	return append(append([]byte{}, in...), inc.Data...), nil
}
