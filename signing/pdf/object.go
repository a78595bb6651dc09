package pdf

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
)

// Object is one PDF value: nil (null), bool, int64, Real, Name, String, Array, Dict, *Stream or Ref.
type Object any

// Name is a PDF name without its leading slash, with #xx escapes decoded.
type Name string

// Real is a PDF real number.
type Real float64

// Ref is an indirect reference "Num Gen R".
type Ref struct {
	Num int
	Gen int
}

func (r Ref) String() string { return fmt.Sprintf("%d %d R", r.Num, r.Gen) }

// String is a PDF string. Pos and End locate the token in the file ('(' or '<' up to just past ')' or
// '>'); both are -1 when the string did not come from a file offset (object streams, built objects).
type String struct {
	Bytes []byte
	Hex   bool
	Pos   int64
	End   int64
}

// Str builds a String that is not tied to a file position.
func Str(s string) String { return String{Bytes: []byte(s), Pos: -1, End: -1} }

// Array is a PDF array.
type Array []Object

// Dict is a PDF dictionary.
type Dict map[Name]Object

// Stream is a stream object: its dictionary and where its raw (still encoded) data lies in the file.
// Data is only set for streams built in memory for writing.
type Stream struct {
	Dict   Dict
	Offset int64 // first byte of the data in the file; -1 for built streams
	Length int64 // raw data length
	Data   []byte
}

// Clone returns a shallow copy of d, so a caller can modify keys without touching a cached object.
func (d Dict) Clone() Dict {
	c := make(Dict, len(d))
	for k, v := range d {
		c[k] = v
	}
	return c
}

// Name returns d[k] as a Name, or "".
func (d Dict) Name(k Name) Name {
	n, _ := d[k].(Name)
	return n
}

// Int returns d[k] as an integer when it is a direct integer.
func (d Dict) Int(k Name) (int64, bool) {
	n, ok := d[k].(int64)
	return n, ok
}

// AsInt converts an integer object (or a real with an integral value) to int64.
func AsInt(o Object) (int64, bool) {
	switch v := o.(type) {
	case int64:
		return v, true
	case Real:
		if float64(int64(v)) == float64(v) {
			return int64(v), true
		}
	}
	return 0, false
}

// AsFloat converts a number object to float64.
func AsFloat(o Object) (float64, bool) {
	switch v := o.(type) {
	case int64:
		return float64(v), true
	case Real:
		return float64(v), true
	}
	return 0, false
}

// TextString decodes a PDF text string (UTF-16BE with BOM, UTF-8 with BOM, or PDFDocEncoding, read as
// Latin-1 which matches it for printable ASCII).
func TextString(s String) string {
	b := s.Bytes
	if len(b) >= 2 && b[0] == 0xFE && b[1] == 0xFF {
		u := make([]rune, 0, len(b)/2)
		for i := 2; i+1 < len(b); i += 2 {
			c := rune(b[i])<<8 | rune(b[i+1])
			if c >= 0xD800 && c < 0xDC00 && i+3 < len(b) {
				c2 := rune(b[i+2])<<8 | rune(b[i+3])
				if c2 >= 0xDC00 && c2 < 0xE000 {
					c = 0x10000 + (c-0xD800)<<10 + (c2 - 0xDC00)
					i += 2
				}
			}
			u = append(u, c)
		}
		return string(u)
	}
	if len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF {
		return string(b[3:])
	}
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// Text encodes s as a PDF text string: plain bytes when ASCII, UTF-16BE with a BOM otherwise.
func Text(s string) String {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if ascii {
		return Str(s)
	}
	b := []byte{0xFE, 0xFF}
	for _, r := range s {
		if r >= 0x10000 {
			r -= 0x10000
			hi, lo := 0xD800+(r>>10), 0xDC00+(r&0x3FF)
			b = append(b, byte(hi>>8), byte(hi), byte(lo>>8), byte(lo))
			continue
		}
		b = append(b, byte(r>>8), byte(r))
	}
	return String{Bytes: b, Hex: true, Pos: -1, End: -1}
}

// AppendObject serialises o in PDF syntax. Dictionary keys are written in sorted order, with /Type
// first, so output is deterministic.
func AppendObject(b []byte, o Object) []byte { return appendObj(b, o, nil) }

// marks records where the writer's placeholders land while serialising.
type marks struct {
	contents  [2]int // '<' and just past '>'
	byteRange [2]int // '[' and just past ']'
	nContents int
	nByteRng  int
}

func appendObj(b []byte, o Object, m *marks) []byte {
	switch v := o.(type) {
	case ContentsPlaceholder:
		if m != nil {
			m.contents[0] = len(b)
			m.nContents++
		}
		b = append(b, '<')
		b = appendZeros(b, 2*v.Size)
		b = append(b, '>')
		if m != nil {
			m.contents[1] = len(b)
		}
		return b
	case ByteRangePlaceholder:
		if m != nil {
			m.byteRange[0] = len(b)
			m.nByteRng++
		}
		b = append(b, byteRangeBlank...)
		if m != nil {
			m.byteRange[1] = len(b)
		}
		return b
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case Real:
		return appendReal(b, float64(v))
	case float64:
		return appendReal(b, v)
	case Name:
		return appendName(b, v)
	case String:
		return appendString(b, v)
	case Ref:
		b = strconv.AppendInt(b, int64(v.Num), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(v.Gen), 10)
		return append(b, " R"...)
	case Array:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ' ')
			}
			b = appendObj(b, e, m)
		}
		return append(b, ']')
	case Dict:
		return appendDict(b, v, m)
	case *Stream:
		// Streams are written by the writer, which knows the data; here only the dictionary.
		return appendDict(b, v.Dict, m)
	case raw:
		return append(b, v...)
	}
	panic(fmt.Sprintf("pdf: cannot serialise %T", o))
}

var zeroDigits = bytes.Repeat([]byte{'0'}, 4096)

// appendZeros appends n '0' digits in chunks (the /Contents placeholder is tens of kilobytes).
func appendZeros(b []byte, n int) []byte {
	b = slices.Grow(b, n)
	for n > 0 {
		k := min(n, len(zeroDigits))
		b = append(b, zeroDigits[:k]...)
		n -= k
	}
	return b
}

// raw is pre-serialised PDF syntax, used by the writer for fixed-width placeholders.
type raw []byte

func appendDict(b []byte, d Dict, m *marks) []byte {
	// Sort the keys in a stack array (dictionaries written here have a handful of keys), /Type first;
	// insertion sort keeps small dictionaries free of allocations.
	var small [16]Name
	keys := small[:0]
	if len(d) > len(small) {
		keys = make([]Name, 0, len(d))
	}
	_, hasType := d["Type"]
	for k := range d {
		if k != "Type" {
			keys = append(keys, k)
		}
	}
	if len(keys) > len(small) {
		slices.Sort(keys)
	} else {
		for i := 1; i < len(keys); i++ {
			k := keys[i]
			j := i
			for ; j > 0 && keys[j-1] > k; j-- {
				keys[j] = keys[j-1]
			}
			keys[j] = k
		}
	}
	b = append(b, "<<"...)
	if hasType {
		b = appendName(b, "Type")
		b = append(b, ' ')
		b = appendObj(b, d["Type"], m)
	}
	for _, k := range keys {
		b = appendName(b, k)
		b = append(b, ' ')
		b = appendObj(b, d[k], m)
	}
	return append(b, ">>"...)
}

func appendReal(b []byte, f float64) []byte {
	if f == float64(int64(f)) {
		return strconv.AppendInt(b, int64(f), 10)
	}
	return strconv.AppendFloat(b, f, 'f', -1, 64)
}

func appendName(b []byte, n Name) []byte {
	b = append(b, '/')
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c < '!' || c > '~' || c == '#' || isDelim(c) {
			b = append(b, '#', hexDigits[c>>4], hexDigits[c&15])
			continue
		}
		b = append(b, c)
	}
	return b
}

const hexDigits = "0123456789ABCDEF"

func appendString(b []byte, s String) []byte {
	if s.Hex || !printable(s.Bytes) {
		b = append(b, '<')
		for _, c := range s.Bytes {
			b = append(b, hexDigits[c>>4], hexDigits[c&15])
		}
		return append(b, '>')
	}
	b = append(b, '(')
	for _, c := range s.Bytes {
		if c == '(' || c == ')' || c == '\\' {
			b = append(b, '\\')
		}
		b = append(b, c)
	}
	return append(b, ')')
}

func printable(p []byte) bool {
	for _, c := range p {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// equalObjects compares two objects structurally (streams by dictionary and data location).
func equalObjects(a, b Object) bool {
	switch x := a.(type) {
	case String:
		y, ok := b.(String)
		return ok && bytes.Equal(x.Bytes, y.Bytes)
	case Array:
		y, ok := b.(Array)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalObjects(x[i], y[i]) {
				return false
			}
		}
		return true
	case Dict:
		y, ok := b.(Dict)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equalObjects(v, w) {
				return false
			}
		}
		return true
	case *Stream:
		y, ok := b.(*Stream)
		return ok && equalObjects(x.Dict, y.Dict) && x.Offset == y.Offset && x.Length == y.Length && bytes.Equal(x.Data, y.Data)
	case int64, Real:
		x, ok1 := AsFloat(a)
		y, ok2 := AsFloat(b)
		return ok1 && ok2 && x == y
	default:
		return a == b
	}
}

// Equal reports whether two objects are structurally equal. Verifiers use it to compare an object in
// two revisions. Strings compare by value, streams by dictionary and raw data location.
func Equal(a, b Object) bool { return equalObjects(a, b) }
