package pdf

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
)

// maxDepth bounds nesting of arrays and dictionaries so junk input cannot exhaust the stack.
const maxDepth = 64

// maxToken bounds a single string or name token; larger ones are treated as damage.
const maxToken = 16 << 20

// lexer reads PDF tokens from an io.ReaderAt through a small window, so memory does not depend on the
// file size. base is added to positions when the lexer reads from a decoded object stream.
type lexer struct {
	r       io.ReaderAt
	size    int64
	pos     int64
	buf     []byte
	bufOff  int64
	inFile  bool     // positions are file offsets (false inside decoded object streams)
	pendBuf [2]token // tokens put back (the parser puts back at most two), newest last
	npend   int
	pending []token // more put-back tokens, beyond pendBuf (not expected; kept for safety)
	win     int     // next refill size: small objects need one small read, long scans grow it
}

type tokKind int

const (
	tEOF tokKind = iota
	tInt
	tReal
	tName
	tString
	tKeyword
	tDictOpen
	tDictClose
	tArrOpen
	tArrClose
)

type token struct {
	kind tokKind
	i    int64
	f    float64
	s    string // name or keyword
	str  String
	pos  int64
}

const window = 64 << 10

func newLexer(r io.ReaderAt, size, pos int64, inFile bool) *lexer {
	return &lexer{r: r, size: size, pos: pos, inFile: inFile, bufOff: -1}
}

// newBytesLexer lexes data in place: its window is data itself, never copied or refilled (the lexer
// only reads its window).
func newBytesLexer(data []byte, pos int64, inFile bool) *lexer {
	return &lexer{size: int64(len(data)), pos: pos, inFile: inFile, buf: data, bufOff: 0}
}

// peekByte returns the byte at l.pos, or -1 at the end.
func (l *lexer) byteAt(p int64) int {
	if p < 0 || p >= l.size {
		return -1
	}
	if l.bufOff < 0 || p < l.bufOff || p >= l.bufOff+int64(len(l.buf)) {
		if l.win == 0 {
			l.win = 512
		} else if l.win < window {
			l.win *= 2
		}
		n := int64(l.win)
		if p+n > l.size {
			n = l.size - p
		}
		if int64(cap(l.buf)) < n {
			l.buf = make([]byte, n)
		}
		l.buf = l.buf[:n]
		m, err := l.r.ReadAt(l.buf, p)
		if m < int(n) && err != nil && !errors.Is(err, io.EOF) {
			l.buf = l.buf[:0]
			l.bufOff = -1
			return -1
		}
		l.buf = l.buf[:m]
		l.bufOff = p
		if m == 0 {
			return -1
		}
	}
	return int(l.buf[p-l.bufOff])
}

func (l *lexer) peek() int { return l.byteAt(l.pos) }

func (l *lexer) next() int {
	c := l.byteAt(l.pos)
	if c >= 0 {
		l.pos++
	}
	return c
}

func isSpace(c int) bool {
	return c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0
}

func isDelim(c byte) bool {
	switch c {
	case '(', ')', '<', '>', '[', ']', '{', '}', '/', '%':
		return true
	}
	return false
}

func isRegular(c int) bool {
	return c >= 0 && !isSpace(c) && !isDelim(byte(c))
}

func (l *lexer) skipSpace() {
	for {
		c := l.peek()
		switch {
		case isSpace(c):
			l.pos++
		case c == '%':
			for c >= 0 && c != '\n' && c != '\r' {
				l.pos++
				c = l.peek()
			}
		default:
			return
		}
	}
}

// xrefEntry reads a cross-reference table entry in its standard fixed form "oooooooooo ggggg n" (then
// an end-of-line) straight from the window: the same result as three tokens, without lexing them.
// Anything else (or a window boundary) reports !ok and consumes nothing; the caller lexes tokens.
func (l *lexer) xrefEntry() (off, gen int64, typ byte, ok bool) {
	if len(l.pending) > 0 || l.npend > 0 {
		return 0, 0, 0, false
	}
	l.skipSpace()
	p := l.pos - l.bufOff
	if l.bufOff < 0 || p < 0 || p+19 > int64(len(l.buf)) {
		return 0, 0, 0, false
	}
	e := l.buf[p : p+19]
	if e[10] != ' ' || e[16] != ' ' || (e[17] != 'n' && e[17] != 'f') || !isSpace(int(e[18])) {
		return 0, 0, 0, false
	}
	for i, c := range e[:16] {
		if i == 10 {
			continue
		}
		if c < '0' || c > '9' {
			return 0, 0, 0, false
		}
		if i < 10 {
			off = off*10 + int64(c-'0')
		} else {
			gen = gen*10 + int64(c-'0')
		}
	}
	l.pos += 18
	return off, gen, e[17], true
}

func (l *lexer) unread(t token) {
	if l.npend < len(l.pendBuf) && len(l.pending) == 0 {
		l.pendBuf[l.npend] = t
		l.npend++
		return
	}
	l.pending = append(l.pending, t)
}

func (l *lexer) token() (token, error) {
	if n := len(l.pending); n > 0 {
		t := l.pending[n-1]
		l.pending = l.pending[:n-1]
		return t, nil
	}
	if l.npend > 0 {
		l.npend--
		return l.pendBuf[l.npend], nil
	}
	l.skipSpace()
	start := l.pos
	c := l.peek()
	switch {
	case c < 0:
		return token{kind: tEOF, pos: start}, nil
	case c == '/':
		l.pos++
		s, err := l.readName()
		return token{kind: tName, s: s, pos: start}, err
	case c == '(':
		l.pos++
		b, err := l.readLiteral()
		if err != nil {
			return token{}, err
		}
		return token{kind: tString, str: l.mkString(b, false, start), pos: start}, nil
	case c == '<':
		if l.byteAt(l.pos+1) == '<' {
			l.pos += 2
			return token{kind: tDictOpen, pos: start}, nil
		}
		l.pos++
		b, err := l.readHex()
		if err != nil {
			return token{}, err
		}
		return token{kind: tString, str: l.mkString(b, true, start), pos: start}, nil
	case c == '>':
		if l.byteAt(l.pos+1) == '>' {
			l.pos += 2
			return token{kind: tDictClose, pos: start}, nil
		}
		return token{}, l.errf(start, "unexpected '>'")
	case c == '[':
		l.pos++
		return token{kind: tArrOpen, pos: start}, nil
	case c == ']':
		l.pos++
		return token{kind: tArrClose, pos: start}, nil
	case c == ')' || c == '{' || c == '}':
		l.pos++
		return token{kind: tKeyword, s: string(rune(c)), pos: start}, nil
	}
	// A number or a keyword: a run of regular characters, collected in a stack buffer.
	var small [64]byte
	b := small[:0]
	for isRegular(l.peek()) {
		b = append(b, byte(l.next()))
		if len(b) > 255 {
			return token{}, l.errf(start, "token too long")
		}
	}
	if i, ok := parseSmallInt(b); ok {
		return token{kind: tInt, i: i, pos: start}, nil
	}
	if looksNumeric(b) {
		s := string(b)
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return token{kind: tInt, i: i, pos: start}, nil
		}
		if f, ok := parseReal(s); ok {
			return token{kind: tReal, f: f, pos: start}, nil
		}
	}
	if k, ok := keywords[string(b)]; ok {
		return token{kind: tKeyword, s: k, pos: start}, nil
	}
	return token{kind: tKeyword, s: string(b), pos: start}, nil
}

// keywords interns the keywords the parser meets in every file, so lexing them does not allocate.
var keywords = map[string]string{}

func init() {
	for _, k := range []string{"obj", "endobj", "R", "n", "f", "stream", "endstream", "xref", "trailer",
		"startxref", "true", "false", "null"} {
		keywords[k] = k
	}
}

// parseSmallInt parses an optionally signed run of up to 18 decimal digits (what strconv.ParseInt
// accepts for such input), without allocating; anything else is left to the general path.
func parseSmallInt(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func (l *lexer) mkString(b []byte, hex bool, start int64) String {
	s := String{Bytes: b, Hex: hex, Pos: -1, End: -1}
	if l.inFile {
		s.Pos, s.End = start, l.pos
	}
	return s
}

func looksNumeric(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+') {
			return false
		}
	}
	return true
}

// parseReal accepts PDF reals, including the sloppy forms writers emit ("--1", "1.2.3" are rejected).
func parseReal(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

func (l *lexer) readName() (string, error) {
	var small [64]byte
	b := small[:0]
	for {
		c := l.peek()
		if !isRegular(c) {
			break
		}
		l.pos++
		if c == '#' {
			h1, h2 := unhex(l.peek()), unhex(l.byteAt(l.pos+1))
			if h1 >= 0 && h2 >= 0 {
				l.pos += 2
				c = h1<<4 | h2
			}
		}
		b = append(b, byte(c))
		if len(b) > 4096 {
			return "", l.errf(l.pos, "name too long")
		}
	}
	if n, ok := commonNames[string(b)]; ok {
		return n, nil
	}
	return string(b), nil
}

// commonNames interns the names of the document structure a signer reads, so lexing them does not
// allocate.
var commonNames = map[string]string{}

func init() {
	for _, n := range []string{"Type", "Subtype", "Catalog", "Pages", "Page", "Kids", "Count", "Parent",
		"MediaBox", "CropBox", "Rotate", "Contents", "Resources", "Font", "XObject", "ExtGState",
		"ProcSet", "Length", "Filter", "FlateDecode", "DecodeParms", "Predictor", "Columns", "Root",
		"Info", "Size", "ID", "Prev", "XRef", "XRefStm", "W", "Index", "ObjStm", "N", "First",
		"Linearized", "Encrypt", "Metadata", "Outlines", "Names", "AcroForm", "Fields", "SigFlags",
		"Perms", "DocMDP", "Annots", "Annot", "Widget", "FT", "Sig", "T", "V", "P", "F", "Rect", "AP",
		"BBox", "Form", "Producer", "Creator", "Title", "CreationDate", "ModDate", "BaseFont", "Type1",
		"Encoding", "ByteRange", "SubFilter", "M", "Reference", "DSS", "Ff", "DA", "DR"} {
		commonNames[n] = n
		boxedNames[n] = Name(n)
	}
}

// boxedNames holds the common names already converted to Object, so a name value does not allocate.
var boxedNames = map[string]Object{}

// boxedRefs holds the references "n 0 R" for small n already converted to Object (a small document's
// references all fit), so parsing them does not allocate.
var boxedRefs = func() (b [1024]Object) {
	for i := range b {
		b[i] = Ref{Num: i}
	}
	return b
}()

func unhex(c int) int {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return -1
}

func (l *lexer) readHex() ([]byte, error) {
	start := l.pos
	// Fast path for the common case, a signature's /Contents of 16 KB or more: the whole string is in
	// the current window, without blanks and of even length. Anything else (blanks, odd length, bad
	// digits, a string crossing the window) takes the byte-by-byte loop, which also reports errors.
	if l.bufOff >= 0 && start >= l.bufOff && start < l.bufOff+int64(len(l.buf)) {
		w := l.buf[start-l.bufOff:]
		if end := bytes.IndexByte(w, '>'); end >= 0 && end%2 == 0 && end/2 <= maxToken {
			out := make([]byte, end/2)
			if _, err := hex.Decode(out, w[:end]); err == nil {
				l.pos = start + int64(end) + 1
				return out, nil
			}
		}
	}
	var b []byte
	hi := -1
	for {
		c := l.next()
		switch {
		case c < 0:
			return nil, l.errf(start, "unterminated hex string")
		case c == '>':
			if hi >= 0 {
				b = append(b, byte(hi<<4))
			}
			return b, nil
		case isSpace(c):
			continue
		}
		v := unhex(c)
		if v < 0 {
			return nil, l.errf(l.pos-1, "bad character in hex string")
		}
		if hi < 0 {
			hi = v
		} else {
			b = append(b, byte(hi<<4|v))
			hi = -1
		}
		if len(b) > maxToken {
			return nil, l.errf(start, "hex string too long")
		}
	}
}

func (l *lexer) readLiteral() ([]byte, error) {
	start := l.pos
	var b []byte
	depth := 1
	for {
		c := l.next()
		if c < 0 {
			return nil, l.errf(start, "unterminated string")
		}
		if len(b) > maxToken {
			return nil, l.errf(start, "string too long")
		}
		switch c {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return b, nil
			}
		case '\r':
			if l.peek() == '\n' {
				l.pos++
			}
			c = '\n'
		case '\\':
			e := l.next()
			switch e {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r':
				if l.peek() == '\n' {
					l.pos++
				}
				continue
			case '\n':
				continue
			case -1:
				return nil, l.errf(start, "unterminated string")
			default:
				if e >= '0' && e <= '7' {
					v := e - '0'
					for k := 0; k < 2; k++ {
						d := l.peek()
						if d < '0' || d > '7' {
							break
						}
						l.pos++
						v = v*8 + d - '0'
					}
					c = v & 0xff
				} else {
					c = e
				}
			}
		}
		b = append(b, byte(c))
	}
}

// object parses one object. Integers followed by "G R" become references.
func (l *lexer) object(depth int) (Object, error) {
	if depth > maxDepth {
		return nil, l.errf(l.pos, "objects nested too deeply")
	}
	t, err := l.token()
	if err != nil {
		return nil, err
	}
	return l.objectFrom(t, depth)
}

func (l *lexer) objectFrom(t token, depth int) (Object, error) {
	switch t.kind {
	case tEOF:
		return nil, l.errf(t.pos, "unexpected end of data")
	case tInt:
		t2, err := l.token()
		if err != nil {
			return nil, err
		}
		if t2.kind == tInt {
			t3, err := l.token()
			if err != nil {
				return nil, err
			}
			if t3.kind == tKeyword && t3.s == "R" {
				if t.i < 0 || t.i > 1<<31 || t2.i < 0 || t2.i > 65535 {
					return nil, l.errf(t.pos, "bad object reference")
				}
				if t2.i == 0 && t.i < int64(len(boxedRefs)) {
					return boxedRefs[t.i], nil
				}
				return Ref{Num: int(t.i), Gen: int(t2.i)}, nil
			}
			l.unread(t3)
		}
		l.unread(t2)
		return t.i, nil
	case tReal:
		return Real(t.f), nil
	case tName:
		if o, ok := boxedNames[t.s]; ok {
			return o, nil
		}
		return Name(t.s), nil
	case tString:
		return t.str, nil
	case tArrOpen:
		// Collect the elements in a stack buffer, then copy them into an array of the exact size.
		var small [8]Object
		a := small[:0]
		for {
			t, err := l.token()
			if err != nil {
				return nil, err
			}
			if t.kind == tArrClose {
				return append(make(Array, 0, len(a)), a...), nil
			}
			o, err := l.objectFrom(t, depth+1)
			if err != nil {
				return nil, err
			}
			a = append(a, o)
		}
	case tDictOpen:
		// Collect the entries first so the map is made at its final size (no incremental growth).
		type kv struct {
			k Name
			v Object
		}
		var small [12]kv
		kvs := small[:0]
		for {
			t, err := l.token()
			if err != nil {
				return nil, err
			}
			if t.kind == tDictClose {
				d := make(Dict, len(kvs))
				for _, e := range kvs {
					d[e.k] = e.v
				}
				return d, nil
			}
			if t.kind != tName {
				return nil, l.errf(t.pos, "dictionary key is not a name")
			}
			o, err := l.object(depth + 1)
			if err != nil {
				return nil, err
			}
			if o != nil { // a null value means the key is absent
				kvs = append(kvs, kv{Name(t.s), o})
			}
		}
	case tKeyword:
		switch t.s {
		case "true":
			return true, nil
		case "false":
			return false, nil
		case "null":
			return nil, nil
		}
		return nil, l.errf(t.pos, "unexpected keyword "+strconv.Quote(t.s))
	}
	return nil, l.errf(t.pos, "unexpected token")
}

func (l *lexer) errf(pos int64, msg string) error {
	if !l.inFile {
		return &SyntaxError{Offset: -1, Msg: msg + " (inside an object stream)"}
	}
	return &SyntaxError{Offset: pos, Msg: msg}
}
