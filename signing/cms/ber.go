package cms

import (
	"errors"
	"fmt"
)

// maxBERDepth bounds nesting so hostile input cannot exhaust the stack. Real CMS nests about 15 deep.
const maxBERDepth = 64

var errBER = errors.New("cms: malformed BER")

// NormalizeBER reads one BER element from the front of in and returns it re-encoded with definite,
// minimal lengths and with constructed strings (OCTET STRING and the character strings, which NSS
// and some tokens write in pieces) joined into primitive ones, followed by the bytes after it.
// Element order is kept (SET OF is not re-sorted), so signed attributes stay exactly as signed when
// their signer wrote DER.
func NormalizeBER(in []byte) (der, rest []byte, err error) {
	// Most signatures are DER already; checking costs no allocation, re-encoding costs a copy per
	// nesting level.
	if n, ok := isDER(in, 0); ok {
		return in[:n:n], in[n:], nil
	}
	out, n, err := normalize(in, 0)
	if err != nil {
		return nil, nil, err
	}
	return out, in[n:], nil
}

type header struct {
	id          []byte // identifier octets as read
	constructed bool
	class       byte // top two bits of the first identifier octet
	tag         uint32
	length      int // -1: indefinite
	hdrLen      int
}

func readHeader(in []byte) (header, error) {
	var h header
	if len(in) < 2 {
		return h, fmt.Errorf("%w: truncated header", errBER)
	}
	b := in[0]
	h.class = b & 0xc0
	h.constructed = b&0x20 != 0
	i := 1
	if b&0x1f == 0x1f {
		var t uint32
		for {
			if i >= len(in) || i > 5 {
				return h, fmt.Errorf("%w: bad tag", errBER)
			}
			c := in[i]
			i++
			t = t<<7 | uint32(c&0x7f)
			if c&0x80 == 0 {
				break
			}
		}
		h.tag = t
	} else {
		h.tag = uint32(b & 0x1f)
	}
	h.id = in[:i]
	if i >= len(in) {
		return h, fmt.Errorf("%w: truncated length", errBER)
	}
	l := in[i]
	i++
	switch {
	case l < 0x80:
		h.length = int(l)
	case l == 0x80:
		if !h.constructed {
			return h, fmt.Errorf("%w: indefinite length on a primitive element", errBER)
		}
		h.length = -1
	default:
		n := int(l & 0x7f)
		if n > 4 || i+n > len(in) {
			return h, fmt.Errorf("%w: bad length", errBER)
		}
		v := 0
		for _, c := range in[i : i+n] {
			v = v<<8 | int(c)
		}
		i += n
		if v < 0 || v > len(in) {
			return h, fmt.Errorf("%w: length past the end", errBER)
		}
		h.length = v
	}
	h.hdrLen = i
	if h.length >= 0 && i+h.length > len(in) {
		return h, fmt.Errorf("%w: element past the end of the data", errBER)
	}
	return h, nil
}

// isString reports universal string types that BER may split into constructed pieces.
func isString(h header) bool {
	if h.class != 0 {
		return false
	}
	switch h.tag {
	case 3, 4, 12, 18, 19, 20, 21, 22, 25, 26, 27, 28, 30:
		return true
	}
	return false
}

// isDER reports whether the element at the front of in already has definite, minimal lengths and no
// constructed strings, and how long it is.
func isDER(in []byte, depth int) (int, bool) {
	if depth > maxBERDepth {
		return 0, false
	}
	h, err := readHeader(in)
	if err != nil || h.length < 0 {
		return 0, false
	}
	// Minimal length encoding: short form below 128, long form without leading zero bytes.
	lenBytes := h.hdrLen - len(h.id)
	switch {
	case h.length < 0x80 && lenBytes != 1:
		return 0, false
	case h.length >= 0x80 && (lenBytes < 2 || in[len(h.id)+1] == 0):
		return 0, false
	}
	if !h.constructed {
		return h.hdrLen + h.length, true
	}
	if isString(h) {
		return 0, false
	}
	body := in[h.hdrLen : h.hdrLen+h.length]
	for len(body) > 0 {
		n, ok := isDER(body, depth+1)
		if !ok {
			return 0, false
		}
		body = body[n:]
	}
	return h.hdrLen + h.length, true
}

// normalize returns the DER form of the element at the front of in and how many input bytes it used.
func normalize(in []byte, depth int) ([]byte, int, error) {
	if depth > maxBERDepth {
		return nil, 0, fmt.Errorf("%w: nested too deep", errBER)
	}
	h, err := readHeader(in)
	if err != nil {
		return nil, 0, err
	}
	if !h.constructed {
		body := in[h.hdrLen : h.hdrLen+h.length]
		return appendTLV(nil, h.id, body), h.hdrLen + h.length, nil
	}
	var children [][]byte
	pos := h.hdrLen
	end := len(in)
	if h.length >= 0 {
		end = h.hdrLen + h.length
	}
	for {
		if h.length >= 0 && pos == end {
			break
		}
		if h.length < 0 {
			if pos+2 > len(in) {
				return nil, 0, fmt.Errorf("%w: missing end-of-contents", errBER)
			}
			if in[pos] == 0 && in[pos+1] == 0 {
				pos += 2
				break
			}
		}
		child, n, err := normalize(in[pos:end], depth+1)
		if err != nil {
			return nil, 0, err
		}
		children = append(children, child)
		pos += n
	}
	if isString(h) {
		// Join the pieces into one primitive string of the same type.
		var body []byte
		for _, c := range children {
			ch, err := readHeader(c)
			if err != nil || ch.constructed || ch.class != 0 || ch.tag != h.tag {
				return nil, 0, fmt.Errorf("%w: constructed string with a foreign piece", errBER)
			}
			body = append(body, c[ch.hdrLen:]...)
		}
		id := append([]byte(nil), h.id...)
		id[0] &^= 0x20
		return appendTLV(nil, id, body), pos, nil
	}
	size := 0
	for _, c := range children {
		size += len(c)
	}
	body := make([]byte, 0, size)
	for _, c := range children {
		body = append(body, c...)
	}
	return appendTLV(nil, h.id, body), pos, nil
}

func appendTLV(dst, id, body []byte) []byte {
	dst = append(dst, id...)
	n := len(body)
	switch {
	case n < 0x80:
		dst = append(dst, byte(n))
	case n < 0x100:
		dst = append(dst, 0x81, byte(n))
	case n < 0x10000:
		dst = append(dst, 0x82, byte(n>>8), byte(n))
	case n < 0x1000000:
		dst = append(dst, 0x83, byte(n>>16), byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x84, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	return append(dst, body...)
}
