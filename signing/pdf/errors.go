package pdf

import (
	"errors"
	"fmt"

	"github.com/lienthong/lienthong/internal/apperr"
)

// SyntaxError is a malformed-PDF finding at a byte offset (-1 when the offset is unknown, e.g. inside a
// decoded object stream).
type SyntaxError struct {
	Offset int64
	Msg    string
}

func (e *SyntaxError) Error() string {
	if e.Offset < 0 {
		return "pdf: " + e.Msg
	}
	return fmt.Sprintf("pdf: %s at byte %d", e.Msg, e.Offset)
}

// ErrEncrypted is returned for encrypted PDFs, which the signer does not handle.
var ErrEncrypted = errors.New("pdf: the file is encrypted")

// malformed wraps a cause as an apperr.Invalid with a message a clerk can act on.
func malformed(err error) error {
	if err == nil {
		return nil
	}
	var ae *apperr.Error
	if errors.As(err, &ae) {
		return err
	}
	detail := "the file is not a readable PDF (" + err.Error() + "); open it in a PDF viewer and save or print it to a new PDF, then try again"
	return apperr.Wrap(apperr.Invalid, "pdf_malformed", detail, err)
}

func synErr(off int64, format string, a ...any) error {
	return &SyntaxError{Offset: off, Msg: fmt.Sprintf(format, a...)}
}
