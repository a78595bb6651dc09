package corpus

import (
	"context"
	"crypto/rand"

	"github.com/lienthong/lienthong/signing/pdf"
)

// Large returns a signed PDF of about mib MiB: the base page plus an image XObject of random,
// incompressible bytes, signed (B-B, RSA) by the project's signer. It is the benchmark input.
func (e *Env) Large(ctx context.Context, mib int) ([]byte, error) {
	base := BasePDF("LARGE FILE")
	withImage, err := Update(base, func(rd *pdf.Reader, u *pdf.Update) error {
		n := mib << 20
		side := 1
		for side*side*3 < n {
			side++
		}
		data := make([]byte, side*side*3)
		if _, err := rand.Read(data); err != nil {
			return err
		}
		img := u.Add(pdf.NewStream(pdf.Dict{"Type": pdf.Name("XObject"), "Subtype": pdf.Name("Image"), "Width": int64(side),
			"Height": int64(side), "ColorSpace": pdf.Name("DeviceRGB"), "BitsPerComponent": int64(8)}, data))
		pages, err := rd.Pages(0)
		if err != nil {
			return err
		}
		pd := pages[0].Dict.Clone()
		pd["Resources"] = pdf.Dict{"Font": pdf.Dict{"F1": pdf.Ref{Num: 5}}, "XObject": pdf.Dict{"Im0": img}}
		pd["Contents"] = pdf.Array{pdf.Ref{Num: 4}, pdf.Ref{Num: 6}, u.Add(pdf.NewStream(pdf.Dict{}, []byte("q 400 0 0 400 100 200 cm /Im0 Do Q")))}
		u.Set(pages[0].Ref, pd)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return Sign(ctx, withImage, e.Options(e.RSA))
}
