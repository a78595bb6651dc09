package corpus

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"fmt"

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
