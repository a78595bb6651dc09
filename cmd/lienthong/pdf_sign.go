package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/signing/appearance"
	"github.com/lienthong/lienthong/signing/cms/tsp"
	"github.com/lienthong/lienthong/signing/pades"
	"github.com/lienthong/lienthong/signing/pdf"
)

func init() {
	register(command{
		name:    "pdf sign",
		summary: "sign a PDF (PAdES B-B/B-T/B-LT/B-LTA) as an incremental update",
		run:     runPDFSign,
	})
}

const pdfSignUsage = `usage: lienthong pdf sign --key URI --in IN.pdf --out OUT.pdf [flags]

Signs IN.pdf with PAdES (ETSI.CAdES.detached) as an incremental update and writes OUT.pdf whole
(temporary file + rename) or not at all. IN.pdf is never changed.

The key is a PKCS#11 URI (pkcs11:token=...;object=...?module-path=...&pin-source=file:...) whose
certificate sits on the token with the same CKA_ID, or, for tests, file:KEY.pem with --cert.

Decree 30 appearances:
  --image SIG.png --page N --rect x1,y1,x2,y2      the signer's image (transparent PNG)
  --image SEAL.png --seal-over FIELD [--size W,H]  the organisation's seal over the left third of
                                                   the image of the earlier signature FIELD
  --stamp attachment --number "05/QĐ-UBND"          text stamp at the top right of page 1
  --stamp copy --copy-kind "SAO Y" --copy-org NAME

flags:
`

type pdfSignFlags struct {
	key, cert, chain, in, out, field, image, rect, reason, location, contact, tsa, level string
	sealOver, size, stamp, number, copyKind, copyOrg                                     string
	page, certify                                                                        int
	jsonOut                                                                              bool
}

func runPDFSign(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("pdf sign", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() { fmt.Fprint(e.Stderr, pdfSignUsage); fs.PrintDefaults() }
	var f pdfSignFlags
	pdfSignCommonFlags(fs, &f)
	fs.StringVar(&f.in, "in", "", "input PDF")
	fs.StringVar(&f.out, "out", "", "output PDF (must differ from --in)")
	fs.StringVar(&f.field, "field", "", "signature field to sign into (an existing empty one) or to create")
	fs.StringVar(&f.sealOver, "seal-over", "", "place --image over the left third of this earlier signature field's image")
	fs.StringVar(&f.size, "size", "100,100", "W,H in points of the seal for --seal-over (real seal size)")
	fs.StringVar(&f.number, "number", "", "number and notation for --stamp attachment, e.g. 05/QĐ-UBND")
	fs.BoolVar(&f.jsonOut, "json", false, "print the result as JSON")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.Stderr, "lienthong pdf sign: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	if f.key == "" || f.in == "" || f.out == "" {
		fmt.Fprintln(e.Stderr, "lienthong pdf sign: --key, --in and --out are required")
		fs.Usage()
		return exitUsage
	}
	res, err := pdfSign(ctx, f)
	if err != nil {
		return pdfSignFail(e, "pdf sign", err)
	}
	if f.jsonOut {
		out := map[string]any{
			"out": f.out, "field": res.Field, "level": res.Level, "size": res.Size,
			"byte_range": res.ByteRange, "cms_bytes": res.CMSSize, "reserved_bytes": res.Reserved,
			"signed_at": appearance.ISOTime(res.SignedAt), "digest_sha256": fmt.Sprintf("%x", res.Digest),
		}
		if res.DocTimestamp != "" {
			out["doc_timestamp"] = res.DocTimestamp
		}
		b, _ := json.Marshal(out)
		fmt.Fprintln(e.Stdout, string(b))
	} else {
		fmt.Fprintf(e.Stdout, "signed %s: field %s, %s, %d bytes, signed at %s\n", f.out, res.Field, res.Level, res.Size, appearance.ISOTime(res.SignedAt))
	}
	return exitOK
}

// pdfSignCommonFlags registers the flags pdf sign and pdf sign-batch share: the key and everything that
// is the same for every document of a batch.
func pdfSignCommonFlags(fs *flag.FlagSet, f *pdfSignFlags) {
	fs.StringVar(&f.key, "key", "", "PKCS#11 URI of the signing key, or file:KEY.pem (tests)")
	fs.StringVar(&f.cert, "cert", "", "PEM signer certificate (first) and chain; required with file: keys, overrides the token's")
	fs.StringVar(&f.chain, "chain", "", "PEM intermediate certificates to embed after the signer's")
	fs.StringVar(&f.image, "image", "", "PNG image for a visible signature (signer's handwriting or organisation's seal)")
	fs.IntVar(&f.page, "page", 1, "page (1-based) of a new visible signature")
	fs.StringVar(&f.rect, "rect", "", "x1,y1,x2,y2 in points from the page's lower left corner")
	fs.StringVar(&f.stamp, "stamp", "", "text stamp at the top right of page 1: attachment or copy")
	fs.StringVar(&f.copyKind, "copy-kind", "SAO Y", "for --stamp copy: SAO Y, SAO LỤC or TRÍCH SAO")
	fs.StringVar(&f.copyOrg, "copy-org", "", "for --stamp copy: the copying organisation")
	fs.StringVar(&f.reason, "reason", "", "reason for signing")
	fs.StringVar(&f.location, "location", "", "signing location")
	fs.StringVar(&f.contact, "contact", "", "contact information")
	fs.IntVar(&f.certify, "certify", 0, "certify the document with DocMDP permissions 1, 2 or 3 (first signature only)")
	fs.StringVar(&f.tsa, "tsa", "", "RFC 3161 timestamp authority URL (needed for B-T, B-LT and B-LTA)")
	fs.StringVar(&f.level, "level", "", "PAdES level B-B, B-T, B-LT or B-LTA (default B-B, or B-T with --tsa)")
}

// pdfSignFail prints err for the operator and returns the exit code: input and usage errors 2, the
// rest 1.
func pdfSignFail(e env, cmd string, err error) int {
	fmt.Fprintf(e.Stderr, "lienthong %s: %s\n", cmd, pdfSignMessage(err))
	if apperr.KindOf(err) == apperr.Invalid {
		return exitUsage
	}
	return exitNo
}

// pdfSignMessage is the message for the operator: the clerk-safe detail followed by its cause (the
// hsm package guarantees no PIN in any error text; our own causes name files and offsets).
func pdfSignMessage(err error) string {
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Err != nil && !strings.Contains(ae.Detail, ae.Err.Error()) {
		return ae.Detail + " (" + ae.Err.Error() + ")"
	}
	if errors.As(err, &ae) {
		return ae.Detail
	}
	return err.Error()
}

func pdfUsageErr(format string, a ...any) error {
	return apperr.New(apperr.Invalid, "usage", fmt.Sprintf(format, a...))
}

func pdfSign(ctx context.Context, f pdfSignFlags) (*pades.Result, error) {
	o, closeKey, err := pdfSignOptions(ctx, f)
	if err != nil {
		return nil, err
	}
	defer closeKey()
	return pades.SignFile(ctx, f.in, f.out, o)
}

// pdfSignOptions turns the flags into signing options and opens the key; the caller closes it.
func pdfSignOptions(ctx context.Context, f pdfSignFlags, keyOpts ...hsm.Option) (pades.Options, func(), error) {
	o, err := pdfAppearanceOptions(f)
	if err != nil {
		return pades.Options{}, nil, err
	}
	signer, chain, closeKey, err := loadSigningKey(ctx, f.key, f.cert, f.chain, keyOpts...)
	if err != nil {
		return pades.Options{}, nil, err
	}
	o.Signer, o.Chain = signer, chain
	return o, closeKey, nil
}

// pdfAppearanceOptions is everything of pdfSignOptions but the key.
func pdfAppearanceOptions(f pdfSignFlags) (pades.Options, error) {
	o := pades.Options{Field: f.field, Page: f.page, Reason: f.reason, Location: f.location, ContactInfo: f.contact, Certify: f.certify}
	if f.certify < 0 || f.certify > 3 {
		return o, pdfUsageErr("--certify must be 1, 2 or 3")
	}
	switch strings.ToUpper(f.level) {
	case "":
		o.Level = pades.LevelBB
		if f.tsa != "" {
			o.Level = pades.LevelBT
		}
	case "B-B", "B-T", "B-LT", "B-LTA":
		o.Level = pades.Level(strings.ToUpper(f.level))
	default:
		return o, pdfUsageErr("--level must be B-B, B-T, B-LT or B-LTA")
	}
	if f.tsa != "" {
		o.TSA = (&tsp.Client{URL: f.tsa}).Timestamp
	}
	if o.Level == pades.LevelBLT || o.Level == pades.LevelBLTA {
		o.Revocation = pades.FetchRevocation(nil)
	}
	if f.rect != "" {
		r, err := pdfParseFloats(f.rect, 4)
		if err != nil {
			return o, pdfUsageErr("--rect must be x1,y1,x2,y2 in points")
		}
		o.Rect = [4]float64{r[0], r[1], r[2], r[3]}
	}
	// Appearance.
	switch {
	case f.stamp != "" && f.image != "":
		return o, pdfUsageErr("--stamp and --image exclude each other (Decree 30: attachments and copies carry no image)")
	case f.stamp != "":
		var lines string
		switch f.stamp {
		case "attachment":
			if f.number == "" {
				return o, pdfUsageErr("--stamp attachment needs --number (the document's number and notation)")
			}
			lines = f.number
		case "copy":
			if f.copyOrg == "" {
				return o, pdfUsageErr("--stamp copy needs --copy-org (the copying organisation)")
			}
			switch k := appearance.CopyKind(strings.ToUpper(f.copyKind)); k {
			case appearance.CopyExact, appearance.CopyExtract, appearance.CopyTransc:
				f.copyKind = string(k)
			default:
				return o, pdfUsageErr("--copy-kind must be SAO Y, SAO LỤC or TRÍCH SAO")
			}
			lines = f.copyKind + f.copyOrg
		default:
			return o, pdfUsageErr("--stamp must be attachment or copy")
		}
		font, err := appearance.DefaultFont(lines + "Số: Thời gian ký")
		if err != nil {
			return o, apperr.Wrap(apperr.Unavailable, "font_missing", "no font for the Vietnamese text stamp; install fonts-liberation2", err)
		}
		now := time.Now()
		o.Now = func() time.Time { return now }
		if f.stamp == "attachment" {
			o.Appearance = appearance.AttachmentStamp(font, f.number, now)
		} else {
			o.Appearance = appearance.CopyStamp(font, appearance.CopyKind(f.copyKind), f.copyOrg, now)
		}
	case f.image != "":
		img, err := appearance.LoadPNG(f.image)
		if err != nil {
			return o, err
		}
		o.Appearance = &appearance.Image{Img: img}
		if f.sealOver != "" {
			sz, err := pdfParseFloats(f.size, 2)
			if err != nil || sz[0] <= 0 || sz[1] <= 0 {
				return o, pdfUsageErr("--size must be W,H in points")
			}
			page, rect, err := pdfWidgetRect(f.in, f.sealOver)
			if err != nil {
				return o, err
			}
			o.Page, o.Rect = page, appearance.SealRect(rect, sz[0], sz[1])
		} else if o.Rect == [4]float64{} && f.field == "" {
			return o, pdfUsageErr("--image needs --rect x1,y1,x2,y2, --seal-over FIELD, or --field naming an existing field")
		}
	}
	return o, nil
}

func pdfParseFloats(s string, n int) ([]float64, error) {
	parts := strings.Split(s, ",")
	if len(parts) != n {
		return nil, fmt.Errorf("want %d numbers", n)
	}
	out := make([]float64, n)
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// widgetRect finds the page number and rectangle of a signature field's widget in the input.
func pdfWidgetRect(path, field string) (int, [4]float64, error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, [4]float64{}, apperr.Wrap(apperr.Invalid, "pades_input", "cannot open the input PDF", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return 0, [4]float64{}, err
	}
	rd, err := pdf.Open(fh, st.Size())
	if err != nil {
		return 0, [4]float64{}, err
	}
	fl, err := rd.FieldByName(field)
	if err != nil {
		return 0, [4]float64{}, err
	}
	if fl == nil || len(fl.Widgets) == 0 {
		return 0, [4]float64{}, pdfUsageErr("--seal-over: the document has no field %q with a widget", field)
	}
	wo, err := rd.Object(fl.Widgets[0])
	if err != nil {
		return 0, [4]float64{}, err
	}
	wd, _ := wo.(pdf.Dict)
	ra, _ := wd["Rect"].(pdf.Array)
	if len(ra) != 4 {
		return 0, [4]float64{}, pdfUsageErr("--seal-over: field %q is invisible", field)
	}
	var r [4]float64
	for i := range r {
		r[i], _ = pdf.AsFloat(ra[i])
	}
	page := 1
	if pr, ok := wd["P"].(pdf.Ref); ok {
		pages, err := rd.Pages(len(rd.Revisions()) - 1)
		if err != nil {
			return 0, [4]float64{}, err
		}
		for i, p := range pages {
			if p.Ref == pr {
				page = i + 1
			}
		}
	}
	return page, [4]float64{min(r[0], r[2]), min(r[1], r[3]), max(r[0], r[2]), max(r[1], r[3])}, nil
}
