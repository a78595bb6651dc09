package verify_test

import (
	"errors"

	"github.com/lienthong/lienthong/signing/pdf"
)

type (
	pdfReader = pdf.Reader
	pdfUpdate = pdf.Update
)

// replaceFirstContent replaces the first page's (first) content stream with other text.
func replaceFirstContent(rd *pdf.Reader, u *pdf.Update) error {
	pages, err := rd.Pages(len(rd.Revisions()) - 1)
	if err != nil {
		return err
	}
	c := pages[0].Dict["Contents"]
	if a, ok := c.(pdf.Array); ok && len(a) > 0 {
		c = a[0]
	}
	ref, ok := c.(pdf.Ref)
	if !ok {
		return errors.New("no content reference")
	}
	u.Set(ref, pdf.NewStream(pdf.Dict{}, []byte("BT /F1 20 Tf 72 760 Td (FORGED) Tj ET")))
	return nil
}
