package pdf

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"

	"github.com/lienthong/lienthong/internal/apperr"
)

// decode reads and decodes a stream (FlateDecode with PNG/TIFF predictors, or no filter).
func (rd *Reader) decode(s *Stream, limit int64) ([]byte, error) {
	if s.Length > limit && s.Offset >= 0 {
		return nil, apperr.New(apperr.TooLarge, "pdf_stream_too_large", "a structural stream of the PDF is too large")
	}
	var filters Array
	switch f := s.Dict["Filter"].(type) {
	case Name:
		filters = Array{f}
	case Array:
		filters = f
	case nil:
	default:
		return nil, synErr(s.Offset, "bad /Filter")
	}
	var parms Array
	switch p := s.Dict["DecodeParms"].(type) {
	case Dict:
		parms = Array{p}
	case Array:
		parms = p
	}
	raw, err := io.ReadAll(io.LimitReader(rd.RawStream(s), limit+1))
	if err != nil {
		return nil, err
	}
	data := raw
	for i, f := range filters {
		var p Dict
		if i < len(parms) {
			p, _ = parms[i].(Dict)
		}
		switch f {
		case Name("FlateDecode"), Name("Fl"):
			data, err = inflate(data, limit)
			if err != nil {
				return nil, err
			}
			if data, err = unpredict(data, p); err != nil {
				return nil, err
			}
		default:
			return nil, synErr(s.Offset, "unsupported filter %v on a structural stream", f)
		}
	}
	if int64(len(data)) > limit {
		return nil, apperr.New(apperr.TooLarge, "pdf_stream_too_large", "a structural stream of the PDF is too large")
	}
	return data, nil
}

func inflate(b []byte, limit int64) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("pdf: bad compressed stream: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, limit+1))
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("pdf: bad compressed stream: %w", err)
	}
	return out, nil
}

// unpredict undoes PNG (10-15) and TIFF (2) predictors.
func unpredict(b []byte, p Dict) ([]byte, error) {
	if p == nil {
		return b, nil
	}
	pred, _ := AsInt(p["Predictor"])
	if pred <= 1 {
		return b, nil
	}
	colors, ok := AsInt(p["Colors"])
	if !ok {
		colors = 1
	}
	bpc, ok := AsInt(p["BitsPerComponent"])
	if !ok {
		bpc = 8
	}
	cols, ok := AsInt(p["Columns"])
	if !ok {
		cols = 1
	}
	if colors < 1 || colors > 32 || bpc < 1 || bpc > 16 || cols < 1 || cols > 1<<20 {
		return nil, errors.New("pdf: bad predictor parameters")
	}
	bpp := int((colors*bpc + 7) / 8)
	row := int((colors*bpc*cols + 7) / 8)
	if row > len(b) {
		return nil, errors.New("pdf: predictor row longer than the data")
	}
	if pred == 2 {
		if bpc != 8 {
			return nil, errors.New("pdf: unsupported TIFF predictor depth")
		}
		for r := 0; r+row <= len(b); r += row {
			for i := bpp; i < row; i++ {
				b[r+i] += b[r+i-bpp]
			}
		}
		return b, nil
	}
	out := make([]byte, 0, len(b))
	prev := make([]byte, row)
	for r := 0; r < len(b); r += row + 1 {
		if r+1 > len(b) {
			break
		}
		ft := b[r]
		end := min(r+1+row, len(b))
		cur := make([]byte, row)
		copy(cur, b[r+1:end])
		for i := 0; i < row; i++ {
			var a, c byte
			if i >= bpp {
				a = cur[i-bpp]
				c = prev[i-bpp]
			}
			up := prev[i]
			switch ft {
			case 0:
			case 1:
				cur[i] += a
			case 2:
				cur[i] += up
			case 3:
				cur[i] += byte((int(a) + int(up)) / 2)
			case 4:
				cur[i] += paeth(a, up, c)
			default:
				return nil, errors.New("pdf: bad PNG predictor row")
			}
		}
		out = append(out, cur[:end-r-1]...)
		prev = cur
	}
	return out, nil
}

func paeth(a, b, c byte) byte {
	p := int(a) + int(b) - int(c)
	pa, pb, pc := abs(p-int(a)), abs(p-int(b)), abs(p-int(c))
	switch {
	case pa <= pb && pa <= pc:
		return a
	case pb <= pc:
		return b
	}
	return c
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
