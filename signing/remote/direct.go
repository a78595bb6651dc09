package remote

import (
	"context"
	"errors"

	"github.com/lienthong/lienthong/workflow"
)

// CheckDirectSign guards the plain upload route (POST /api/v1/outgoing/{id}/sign), through which a
// signed PDF made elsewhere is handed in whole. Once a draft has been sent to a leader for signing, that
// route must not become a way around the remote-signing rules: only that leader may use it, and the file
// must be the stored draft with exactly one added signature that verifies, like a government signing
// service upload. A draft never sent to a leader keeps the organisation's own rule (any of its leaders).
func (s *Service) CheckDirectSign(ctx context.Context, p workflow.Principal, id string, signed []byte) error {
	_, main, err := s.signable(ctx, p, id)
	if errors.Is(err, ErrNotSent) {
		return nil
	}
	if err != nil {
		return err
	}
	_, orig, err := s.wf.GetFile(ctx, p, main.SHA256)
	if err != nil {
		return err
	}
	sig, err := onlySignatureAdded(orig, signed)
	if err != nil {
		return err
	}
	signer, err := signerCertificate(sig.Contents)
	if err != nil {
		return err
	}
	if _, err := s.checkCertificate(signer.Raw, certsDER(sig.Contents), s.now()); err != nil {
		return err
	}
	_, err = s.check(ctx, signed, sig.Field)
	return err
}
