package verify

import (
	"context"
	"crypto"
	"fmt"
	"io"

	"github.com/lienthong/lienthong/signing/cms"
)

// Detached validates a detached CMS signature (a .p7s beside an attachment) over content. A signature
// that is not a well-formed CMS is reported as TOTAL_FAILED / FORMAT_FAILURE; only a failure to read
// content is returned as an error. content is read once, streamed into the hash.
func Detached(ctx context.Context, content io.Reader, sig []byte, opts Options) (*Report, error) {
	v := &validator{opts: opts, now: opts.now()}
	rep := &Report{File: opts.File}
	sr := SignatureReport{Index: 0, Type: "detached", Indication: TotalPassed, ValidationTime: v.now}
	f := &sigFacts{}
	sd, err := cms.Parse(sig)
	if err != nil {
		sr.fail("CMS_PARSE", TotalFailed, FormatFailure, "the signature file is not a well-formed CMS SignedData: "+err.Error())
		rep.Signatures = []SignatureReport{sr}
		rep.finish()
		// Drain nothing: the content is irrelevant when the signature is unreadable.
		return rep, nil
	}
	sr.add("CMS_PARSE", OK, "")
	var n int64
	var readErr error
	v.checkSignedData(ctx, &sr, f, sd, func(h crypto.Hash) ([]byte, error) {
		hh := h.New()
		n, readErr = io.Copy(hh, content)
		if readErr != nil {
			return nil, readErr
		}
		return hh.Sum(nil), nil
	}, evidence{}, false)
	if readErr != nil {
		return nil, fmt.Errorf("verify: reading the signed content: %w", readErr)
	}
	rep.Size = n
	if f.valid {
		sr.Level = "B-B"
		if f.tsTime != nil {
			sr.Level = "B-T"
		}
	}
	rep.Signatures = []SignatureReport{sr}
	rep.finish()
	return rep, nil
}
