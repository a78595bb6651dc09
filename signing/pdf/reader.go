package pdf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/lienthong/lienthong/internal/apperr"
)

// XRefKind is the shape of a cross-reference section.
type XRefKind int

const (
	XRefTable  XRefKind = iota + 1 // classic "xref" table with a "trailer" dictionary
	XRefStream                     // a /Type /XRef stream (PDF 1.5)
	XRefHybrid                     // a table whose trailer names an /XRefStm (hybrid-reference file)
)

func (k XRefKind) String() string {
	switch k {
	case XRefTable:
		return "table"
	case XRefStream:
		return "stream"
	case XRefHybrid:
		return "hybrid"
	}
	return "unknown"
}

// Limits on what the reader accepts; beyond them a file is treated as damaged.
const (
	maxObjects      = 8_000_000
	maxSections     = 100_000
	maxDecoded      = 32 << 20 // decoded xref or object stream
	objectCacheSize = 4096
	// smallFile is the size up to which Open reads the whole file once and parses it in place,
	// instead of many small reads through the io.ReaderAt (a signer's typical one-page letter).
	smallFile = 256 << 10
)

// entry is one cross-reference entry.
type entry struct {
	typ byte  // 0 free, 1 in file, 2 in object stream
	off int64 // file offset (typ 1) or object stream number (typ 2)
	gen int   // generation (typ 1) or index in the object stream (typ 2)
}

// section is one parsed cross-reference section.
type section struct {
	offset  int64
	kind    XRefKind
	trailer Dict
	entries map[int]entry
	stmRef  Ref // the xref stream object, for XRefStream
	end     int64
}

// Revision is one version of the document: the original file or one incremental update. Revisions are
// numbered from 0 (the original) in file order.
type Revision struct {
	Index int
	// XRefOffset is the startxref value that designates this revision.
	XRefOffset int64
	// End is the offset just past this revision's "%%EOF" marker and its end-of-line.
	End int64
	// Kind is the shape of the section XRefOffset points to.
	Kind XRefKind
	// Trailer is that section's trailer (for xref streams: the stream dictionary).
	Trailer Dict
	// XRefStream is the xref stream object of a stream revision (zero otherwise).
	XRefStream Ref
	// Sections holds the offsets of all xref sections of this revision (several for linearized and
	// hybrid files), in chain order.
	Sections []int64

	entries map[int]entry
}

// Reader reads a PDF through an io.ReaderAt. It keeps cross-reference maps and a bounded object cache
// in memory, never the file, except a small one (at most 256 KiB), which Open reads once and parses in
// place. A Reader is safe for concurrent use.
type Reader struct {
	r    io.ReaderAt
	size int64
	mem  []byte // the whole file when it is small (a snapshot read once by Open), else nil

	version    string
	revs       []*Revision
	linearized bool

	mu     sync.Mutex
	cache  map[entry]Object
	objstm map[int]*objStream
}

type objStream struct {
	data  []byte
	first int64
	offs  map[int]int64 // index -> offset
	nums  []int
}

// Open reads the structure of the PDF in r (size bytes): the header, every cross-reference section back
// through /Prev, and groups them into revisions. Malformed files give an apperr.Invalid error;
// encrypted files give an apperr.Invalid wrapping ErrEncrypted.
func Open(r io.ReaderAt, size int64) (*Reader, error) {
	rd := &Reader{r: r, size: size, cache: map[entry]Object{}, objstm: map[int]*objStream{}}
	if size > 0 && size <= smallFile {
		mem := make([]byte, size)
		if n, err := r.ReadAt(mem, 0); n == len(mem) && (err == nil || errors.Is(err, io.EOF)) {
			rd.mem = mem
			rd.r = bytes.NewReader(mem)
		}
	}
	if err := rd.open(); err != nil {
		return nil, malformed(err)
	}
	if _, ok := rd.Trailer()["Encrypt"]; ok {
		return nil, apperr.Wrap(apperr.Invalid, "pdf_encrypted", "the PDF is encrypted (password-protected); remove the protection before signing", ErrEncrypted)
	}
	return rd, nil
}

func (rd *Reader) open() error {
	if rd.size < 16 {
		return synErr(0, "file too short")
	}
	var head []byte
	if rd.mem != nil {
		head = rd.mem[:min(1024, rd.size)]
	} else {
		head = make([]byte, min(1024, rd.size))
		if _, err := rd.r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	i := bytes.Index(head, []byte("%PDF-"))
	if i < 0 {
		return synErr(0, "no %%PDF- header")
	}
	v := head[i+5:]
	j := 0
	for j < len(v) && j < 8 && (v[j] >= '0' && v[j] <= '9' || v[j] == '.') {
		j++
	}
	rd.version = string(v[:j])

	start, err := rd.findStartXRef()
	if err != nil {
		return err
	}
	var secs []*section
	seen := map[int64]bool{}
	off := start
	for {
		if seen[off] {
			break
		}
		if len(secs) >= maxSections {
			return synErr(off, "too many cross-reference sections")
		}
		seen[off] = true
		s, err := rd.parseSection(off)
		if err != nil {
			return err
		}
		secs = append(secs, s)
		if s.kind == XRefHybrid {
			if xo, ok := AsInt(s.trailer["XRefStm"]); ok && !seen[xo] {
				seen[xo] = true
				hs, err := rd.parseSection(xo)
				if err != nil {
					return fmt.Errorf("hybrid /XRefStm: %w", err)
				}
				// Merge: table entries win except free ones, then the stream's, then table frees.
				for n, e := range hs.entries {
					if te, ok := s.entries[n]; !ok || te.typ == 0 {
						s.entries[n] = e
					}
				}
			}
		}
		p, ok := AsInt(s.trailer["Prev"])
		if !ok {
			break
		}
		if p < 0 || p >= rd.size {
			return synErr(off, "/Prev %d points outside the file", p)
		}
		off = p
	}
	// Group sections into revisions: a /Prev pointing forward is the second half of a linearized file.
	var groups [][]*section
	for i, s := range secs {
		if i > 0 && s.offset > secs[i-1].offset {
			groups[len(groups)-1] = append(groups[len(groups)-1], s)
			rd.linearized = true
			continue
		}
		groups = append(groups, []*section{s})
	}
	// Some updaters point /Prev at a linearized file's main section, skipping its first-page section
	// (which holds the catalog and the first page). Find it after the linearization dictionary and
	// put it back at the head of the original revision.
	if fp, ok := rd.firstPageSection(); ok && !seen[fp] {
		s, err := rd.parseSection(fp)
		if err == nil {
			g := groups[len(groups)-1]
			groups[len(groups)-1] = append([]*section{s}, g...)
			rd.linearized = true
		}
	}
	for gi := len(groups) - 1; gi >= 0; gi-- {
		g := groups[gi]
		rev := &Revision{
			Index:      len(rd.revs),
			XRefOffset: g[0].offset,
			Kind:       g[0].kind,
			Trailer:    g[0].trailer,
			XRefStream: g[0].stmRef,
		}
		if len(g) == 1 {
			rev.entries = g[0].entries // the section is not used after open: share its map
		} else {
			rev.entries = map[int]entry{}
		}
		for _, s := range g {
			rev.Sections = append(rev.Sections, s.offset)
			rev.End = max(rev.End, s.end)
			if len(g) == 1 {
				continue
			}
			for n, e := range s.entries {
				if _, ok := rev.entries[n]; !ok {
					rev.entries[n] = e
				}
			}
		}
		// Trailer keys missing from the first section (linearized first-page trailers are complete,
		// but be lenient) come from the others.
		for _, s := range g[1:] {
			for k, v := range s.trailer {
				if _, ok := rev.Trailer[k]; !ok && k != "Prev" && k != "XRefStm" {
					rev.Trailer = rev.Trailer.Clone()
					rev.Trailer[k] = v
				}
			}
		}
		rd.revs = append(rd.revs, rev)
	}
	// Revisions were built oldest first; a broken chain can yield non-increasing ends, which we report.
	for i := 1; i < len(rd.revs); i++ {
		if rd.revs[i].End < rd.revs[i-1].End {
			return synErr(rd.revs[i].XRefOffset, "cross-reference sections are out of order")
		}
	}
	if _, ok := rd.Trailer()["Root"].(Ref); !ok {
		return synErr(start, "trailer has no /Root")
	}
	return nil
}

// firstPageSection returns the offset of the cross-reference section that follows a linearization
// dictionary at the start of the file.
func (rd *Reader) firstPageSection() (int64, bool) {
	l := rd.lexer(0)
	// Skip the header line and binary comment: the first token is the object number.
	a, err1 := l.token()
	b, err2 := l.token()
	c, err3 := l.token()
	if errors.Join(err1, err2, err3) != nil || a.kind != tInt || b.kind != tInt || c.kind != tKeyword || c.s != "obj" {
		return 0, false
	}
	o, err := l.object(0)
	if err != nil {
		return 0, false
	}
	d, ok := o.(Dict)
	if !ok || d["Linearized"] == nil {
		return 0, false
	}
	if t, err := l.token(); err != nil || t.kind != tKeyword || t.s != "endobj" {
		return 0, false
	}
	l.skipSpace()
	return l.pos, l.pos < rd.size
}

// findStartXRef reads the offset after the last "startxref" in the file's tail.
func (rd *Reader) findStartXRef() (int64, error) {
	n := min(rd.size, 4096)
	var tail []byte
	if rd.mem != nil {
		tail = rd.mem[rd.size-n:]
	} else {
		tail = make([]byte, n)
		if _, err := rd.r.ReadAt(tail, rd.size-n); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
	}
	i := bytes.LastIndex(tail, []byte("startxref"))
	if i < 0 {
		return 0, synErr(rd.size, "no startxref near the end of the file")
	}
	l := newBytesLexer(tail, int64(i+9), false)
	t, err := l.token()
	if err != nil || t.kind != tInt || t.i < 0 || t.i >= rd.size {
		return 0, synErr(rd.size-n+int64(i), "startxref is not followed by a valid offset")
	}
	return t.i, nil
}

func (rd *Reader) parseSection(off int64) (*section, error) {
	l := rd.lexer(off)
	l.skipSpace()
	if l.pos != off {
		// Tolerate leading whitespace, but note the real start.
		off = l.pos
	}
	t, err := l.token()
	if err != nil {
		return nil, err
	}
	var s *section
	switch {
	case t.kind == tKeyword && t.s == "xref":
		s, err = rd.parseTable(l, off)
	case t.kind == tInt:
		l.unread(t)
		s, err = rd.parseXRefStream(off)
	default:
		err = synErr(off, "startxref or /Prev does not point to a cross-reference section")
	}
	if err != nil {
		return nil, err
	}
	s.end = rd.eofAfter(off)
	return s, nil
}

func (rd *Reader) parseTable(l *lexer, off int64) (*section, error) {
	s := &section{offset: off, kind: XRefTable, entries: map[int]entry{}}
	for {
		t, err := l.token()
		if err != nil {
			return nil, err
		}
		if t.kind == tKeyword && t.s == "trailer" {
			o, err := l.object(0)
			if err != nil {
				return nil, err
			}
			d, ok := o.(Dict)
			if !ok {
				return nil, synErr(t.pos, "trailer is not a dictionary")
			}
			s.trailer = d
			if _, ok := d["XRefStm"]; ok {
				s.kind = XRefHybrid
			}
			return s, nil
		}
		t2, err := l.token()
		if err != nil {
			return nil, err
		}
		if t.kind != tInt || t2.kind != tInt || t.i < 0 || t2.i < 0 || t.i+t2.i > maxObjects || t2.i*18 > rd.size {
			return nil, synErr(t.pos, "bad cross-reference subsection header")
		}
		if len(s.entries) == 0 {
			s.entries = make(map[int]entry, min(t2.i, 4096)) // sized from the first subsection
		}
		for k := int64(0); k < t2.i; k++ {
			if off, gen, typ, ok := l.xrefEntry(); ok {
				num := int(t.i + k)
				if _, dup := s.entries[num]; dup {
					continue
				}
				switch {
				case typ == 'f':
					s.entries[num] = entry{typ: 0, gen: int(gen)}
				case off <= 0 || off >= rd.size:
					s.entries[num] = entry{typ: 0} // as below: a never-used object listed in use
				default:
					s.entries[num] = entry{typ: 1, off: off, gen: int(gen)}
				}
				continue
			}
			a, err1 := l.token()
			b, err2 := l.token()
			c, err3 := l.token()
			if err := errors.Join(err1, err2, err3); err != nil {
				return nil, err
			}
			if a.kind != tInt || b.kind != tInt || c.kind != tKeyword || (c.s != "n" && c.s != "f") {
				return nil, synErr(a.pos, "bad cross-reference entry")
			}
			num := int(t.i + k)
			if _, dup := s.entries[num]; dup {
				continue
			}
			if c.s == "n" {
				if a.i <= 0 || a.i >= rd.size {
					// Some writers list never-used objects as "0000000000 00000 n"; treat as free.
					s.entries[num] = entry{typ: 0}
					continue
				}
				s.entries[num] = entry{typ: 1, off: a.i, gen: int(b.i)}
			} else {
				s.entries[num] = entry{typ: 0, gen: int(b.i)}
			}
		}
	}
}

func (rd *Reader) parseXRefStream(off int64) (*section, error) {
	ref, o, err := rd.parseIndirect(off, nil, 0)
	if err != nil {
		return nil, err
	}
	st, ok := o.(*Stream)
	if !ok || st.Dict.Name("Type") != "XRef" {
		return nil, synErr(off, "object %d is not a cross-reference stream", ref.Num)
	}
	data, err := rd.decode(st, maxDecoded)
	if err != nil {
		return nil, fmt.Errorf("cross-reference stream %d: %w", ref.Num, err)
	}
	wa, _ := st.Dict["W"].(Array)
	if len(wa) != 3 {
		return nil, synErr(off, "cross-reference stream has a bad /W")
	}
	var w [3]int
	sum := 0
	for i := range w {
		n, ok := AsInt(wa[i])
		if !ok || n < 0 || n > 8 {
			return nil, synErr(off, "cross-reference stream has a bad /W")
		}
		w[i] = int(n)
		sum += w[i]
	}
	if sum == 0 {
		return nil, synErr(off, "cross-reference stream has a bad /W")
	}
	size, _ := AsInt(st.Dict["Size"])
	idx, _ := st.Dict["Index"].(Array)
	if idx == nil {
		idx = Array{int64(0), size}
	}
	if len(idx)%2 != 0 {
		return nil, synErr(off, "cross-reference stream has a bad /Index")
	}
	s := &section{offset: off, kind: XRefStream, trailer: st.Dict, entries: map[int]entry{}, stmRef: ref}
	p := 0
	for i := 0; i < len(idx); i += 2 {
		first, ok1 := AsInt(idx[i])
		count, ok2 := AsInt(idx[i+1])
		if !ok1 || !ok2 || first < 0 || count < 0 || first+count > maxObjects {
			return nil, synErr(off, "cross-reference stream has a bad /Index")
		}
		for k := int64(0); k < count; k++ {
			if p+sum > len(data) {
				return nil, synErr(off, "cross-reference stream is shorter than its /Index")
			}
			f := [3]int64{1, 0, 0}
			for j := 0; j < 3; j++ {
				if w[j] == 0 {
					continue
				}
				var v int64
				for b := 0; b < w[j]; b++ {
					v = v<<8 | int64(data[p])
					p++
				}
				f[j] = v
			}
			num := int(first + k)
			if _, dup := s.entries[num]; dup {
				continue
			}
			switch f[0] {
			case 0:
				s.entries[num] = entry{typ: 0, gen: int(f[2])}
			case 1:
				if f[1] <= 0 || f[1] >= rd.size {
					s.entries[num] = entry{typ: 0}
					continue
				}
				s.entries[num] = entry{typ: 1, off: f[1], gen: int(f[2])}
			case 2:
				s.entries[num] = entry{typ: 2, off: f[1], gen: int(f[2])}
			default:
				// Unknown types are null references per the specification.
			}
		}
	}
	return s, nil
}

// eofAfter returns the offset just past the first "%%EOF" (and its end-of-line) at or after off, or the
// file size when there is none.
func (rd *Reader) eofAfter(off int64) int64 {
	if rd.mem != nil {
		if off < 0 || off >= rd.size {
			return rd.size
		}
		i := bytes.Index(rd.mem[off:], []byte("%%EOF"))
		if i < 0 {
			return rd.size
		}
		e := off + int64(i) + 5
		switch {
		case e+1 < rd.size && rd.mem[e] == '\r' && rd.mem[e+1] == '\n':
			e += 2
		case e < rd.size && (rd.mem[e] == '\n' || rd.mem[e] == '\r'):
			e++
		}
		return e
	}
	chunk := int64(2048)
	buf := make([]byte, chunk+5)
	for p := off; p < rd.size; p += chunk {
		if chunk < 64<<10 && p > off {
			chunk *= 4
			buf = make([]byte, chunk+5)
		}
		n, _ := rd.r.ReadAt(buf[:min(int64(len(buf)), rd.size-p)], p)
		if i := bytes.Index(buf[:n], []byte("%%EOF")); i >= 0 {
			e := p + int64(i) + 5
			var eol [2]byte
			m, _ := rd.r.ReadAt(eol[:min(2, rd.size-e)], e)
			switch {
			case m >= 2 && eol[0] == '\r' && eol[1] == '\n':
				e += 2
			case m >= 1 && (eol[0] == '\n' || eol[0] == '\r'):
				e++
			}
			return e
		}
	}
	return rd.size
}

// parseIndirect parses "num gen obj ... endobj" at off. want, when set, must match the header.
func (rd *Reader) parseIndirect(off int64, want *Ref, depth int) (Ref, Object, error) {
	l := rd.lexer(off)
	a, err1 := l.token()
	b, err2 := l.token()
	c, err3 := l.token()
	if err := errors.Join(err1, err2, err3); err != nil {
		return Ref{}, nil, err
	}
	if a.kind != tInt || b.kind != tInt || c.kind != tKeyword || c.s != "obj" {
		if want != nil {
			return Ref{}, nil, synErr(off, "object %d is not where the cross-reference table says", want.Num)
		}
		return Ref{}, nil, synErr(off, "expected an indirect object")
	}
	ref := Ref{Num: int(a.i), Gen: int(b.i)}
	if want != nil && ref.Num != want.Num {
		return Ref{}, nil, synErr(off, "object %d is not where the cross-reference table says (found %d)", want.Num, ref.Num)
	}
	o, err := l.object(0)
	if err != nil {
		return Ref{}, nil, err
	}
	d, isDict := o.(Dict)
	if !isDict {
		return ref, o, nil
	}
	t, err := l.token()
	if err != nil {
		return Ref{}, nil, err
	}
	if t.kind != tKeyword || t.s != "stream" {
		return ref, d, nil
	}
	// The data starts after the end-of-line that follows "stream".
	p := l.pos
	if l.byteAt(p) == '\r' {
		p++
	}
	if l.byteAt(p) == '\n' {
		p++
	}
	st := &Stream{Dict: d, Offset: p, Length: -1}
	var length int64 = -1
	switch v := d["Length"].(type) {
	case int64:
		length = v
	case Ref:
		if v != ref { // a stream cannot give its own length
			if lo, err := rd.resolveDepth(len(rd.revs)-1, v, depth+1); err == nil {
				if n, ok := AsInt(lo); ok {
					length = n
				}
			}
		}
	}
	if length >= 0 && p+length <= rd.size && rd.endstreamAt(p+length) {
		st.Length = length
		return ref, st, nil
	}
	// The length is missing or wrong: find "endstream".
	e, ok := rd.findKeyword(p, "endstream")
	if !ok {
		return Ref{}, nil, synErr(p, "stream of object %d has no endstream", ref.Num)
	}
	n := e - p
	if n > 0 && rd.byteAt(p+n-1) == '\n' {
		n--
	}
	if n > 0 && rd.byteAt(p+n-1) == '\r' {
		n--
	}
	st.Length = n
	return ref, st, nil
}

// lexer returns a lexer of the file positioned at off.
func (rd *Reader) lexer(off int64) *lexer {
	if rd.mem != nil {
		return newBytesLexer(rd.mem, off, true)
	}
	return newLexer(rd.r, rd.size, off, true)
}

func (rd *Reader) byteAt(p int64) int {
	if rd.mem != nil {
		if p < 0 || p >= int64(len(rd.mem)) {
			return -1
		}
		return int(rd.mem[p])
	}
	var b [1]byte
	if _, err := rd.r.ReadAt(b[:], p); err != nil {
		return -1
	}
	return int(b[0])
}

func (rd *Reader) endstreamAt(p int64) bool {
	var b [12]byte
	n, _ := rd.r.ReadAt(b[:], p)
	s := b[:n]
	s = bytes.TrimLeft(s, "\r\n \t\f\x00")
	return bytes.HasPrefix(s, []byte("endstream"))
}

func (rd *Reader) findKeyword(from int64, kw string) (int64, bool) {
	const chunk = 64 << 10
	buf := make([]byte, chunk+len(kw))
	for p := from; p < rd.size; p += chunk {
		n, _ := rd.r.ReadAt(buf[:min(int64(len(buf)), rd.size-p)], p)
		if i := bytes.Index(buf[:n], []byte(kw)); i >= 0 {
			return p + int64(i), true
		}
	}
	return 0, false
}

// InMemory returns the whole file when Open read it into memory (small files), so a caller can hash and
// copy exactly the bytes that were parsed without reading them again. The slice must not be modified.
func (rd *Reader) InMemory() ([]byte, bool) { return rd.mem, rd.mem != nil }

// Size returns the file size given to Open.
func (rd *Reader) Size() int64 { return rd.size }

// Version returns the version in the file header, e.g. "1.7".
func (rd *Reader) Version() string { return rd.version }

// Linearized reports whether the file was written linearized ("fast web view").
func (rd *Reader) Linearized() bool { return rd.linearized }

// Revisions returns the document's revisions, oldest first. The slice and its elements must not be
// modified.
func (rd *Reader) Revisions() []*Revision { return rd.revs }

// Last returns the newest revision.
func (rd *Reader) Last() *Revision { return rd.revs[len(rd.revs)-1] }

// Trailer returns the newest revision's trailer.
func (rd *Reader) Trailer() Dict { return rd.Last().Trailer }

// Location is where an object of a revision lives.
type Location struct {
	Free      bool  // deleted or never defined
	Offset    int64 // file offset of "num gen obj", when not in an object stream
	ObjStream int   // containing object stream number, or 0
	Index     int   // index in the object stream
	Gen       int
	Revision  int // the revision whose section defines this entry
}

// Locate reports where object num lives as of revision rev (the newest section defining it wins).
func (rd *Reader) Locate(rev, num int) Location {
	for i := min(rev, len(rd.revs)-1); i >= 0; i-- {
		e, ok := rd.revs[i].entries[num]
		if !ok {
			continue
		}
		switch e.typ {
		case 1:
			return Location{Offset: e.off, Gen: e.gen, Revision: i}
		case 2:
			return Location{ObjStream: int(e.off), Index: e.gen, Revision: i}
		}
		return Location{Free: true, Revision: i}
	}
	return Location{Free: true, Revision: -1}
}

// ObjectNumbers returns the object numbers that revision rev's own sections define (in use or free),
// sorted.
func (rd *Reader) ObjectNumbers(rev int) []int {
	r := rd.revs[rev]
	nums := make([]int, 0, len(r.entries))
	for n := range r.entries {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	return nums
}

// Object returns object ref as of the newest revision; a free or missing object is nil (null).
func (rd *Reader) Object(ref Ref) (Object, error) {
	return rd.ObjectAt(len(rd.revs)-1, ref)
}

// ObjectAt returns object ref as it was in revision rev.
func (rd *Reader) ObjectAt(rev int, ref Ref) (Object, error) {
	if rev < 0 || rev >= len(rd.revs) {
		return nil, fmt.Errorf("pdf: no revision %d", rev)
	}
	o, err := rd.resolveDepth(rev, ref, 0)
	return o, malformed(err)
}

// Resolve follows references (as of the newest revision) until o is a direct object.
func (rd *Reader) Resolve(o Object) (Object, error) { return rd.ResolveAt(len(rd.revs)-1, o) }

// ResolveAt follows references as of revision rev.
func (rd *Reader) ResolveAt(rev int, o Object) (Object, error) {
	for i := 0; i < 32; i++ {
		r, ok := o.(Ref)
		if !ok {
			return o, nil
		}
		var err error
		if o, err = rd.ObjectAt(rev, r); err != nil {
			return nil, err
		}
	}
	return nil, malformed(synErr(-1, "reference chain too long"))
}

func (rd *Reader) resolveDepth(rev int, ref Ref, depth int) (Object, error) {
	if depth > 8 {
		return nil, synErr(-1, "object %d refers to itself", ref.Num)
	}
	loc := rd.Locate(rev, ref.Num)
	if loc.Free {
		return nil, nil
	}
	var key entry
	if loc.ObjStream != 0 {
		key = entry{typ: 2, off: int64(loc.ObjStream), gen: loc.Index}
	} else {
		if loc.Gen != ref.Gen {
			return nil, nil
		}
		key = entry{typ: 1, off: loc.Offset, gen: loc.Gen}
	}
	rd.mu.Lock()
	o, ok := rd.cache[key]
	rd.mu.Unlock()
	if ok {
		return o, nil
	}
	var err error
	if loc.ObjStream != 0 {
		if ref.Gen != 0 {
			return nil, nil
		}
		o, err = rd.fromObjStream(rev, loc.ObjStream, loc.Index, ref.Num, depth)
	} else {
		_, o, err = rd.parseIndirect(loc.Offset, &ref, depth)
	}
	if err != nil {
		return nil, err
	}
	rd.mu.Lock()
	if len(rd.cache) >= objectCacheSize {
		clear(rd.cache)
	}
	rd.cache[key] = o
	rd.mu.Unlock()
	return o, nil
}

func (rd *Reader) fromObjStream(rev, stmNum, index, num, depth int) (Object, error) {
	rd.mu.Lock()
	os := rd.objstm[stmNum]
	rd.mu.Unlock()
	if os == nil {
		so, err := rd.resolveDepth(rev, Ref{Num: stmNum}, depth+1)
		if err != nil {
			return nil, err
		}
		st, ok := so.(*Stream)
		if !ok {
			return nil, synErr(-1, "object stream %d is missing", stmNum)
		}
		n, ok1 := AsInt(st.Dict["N"])
		first, ok2 := AsInt(st.Dict["First"])
		if !ok1 || !ok2 || n < 0 || first < 0 || n > maxObjects {
			return nil, synErr(st.Offset, "object stream %d has a bad /N or /First", stmNum)
		}
		data, err := rd.decode(st, maxDecoded)
		if err != nil {
			return nil, fmt.Errorf("object stream %d: %w", stmNum, err)
		}
		if first > int64(len(data)) {
			return nil, synErr(st.Offset, "object stream %d has a bad /First", stmNum)
		}
		os = &objStream{data: data, first: first, offs: map[int]int64{}}
		l := newBytesLexer(data[:first], 0, false)
		for i := 0; i < int(n); i++ {
			a, err1 := l.token()
			b, err2 := l.token()
			if errors.Join(err1, err2) != nil || a.kind != tInt || b.kind != tInt || b.i < 0 || a.i < 0 {
				return nil, synErr(st.Offset, "object stream %d has a bad header", stmNum)
			}
			os.nums = append(os.nums, int(a.i))
			os.offs[i] = b.i
		}
		rd.mu.Lock()
		if len(rd.objstm) >= 16 {
			clear(rd.objstm)
		}
		rd.objstm[stmNum] = os
		rd.mu.Unlock()
	}
	off, ok := os.offs[index]
	if !ok || os.nums[index] != num {
		return nil, synErr(-1, "object %d is not in object stream %d", num, stmNum)
	}
	p := os.first + off
	if p > int64(len(os.data)) {
		return nil, synErr(-1, "object %d lies outside object stream %d", num, stmNum)
	}
	l := newBytesLexer(os.data, p, false)
	return l.object(0)
}

// ObjStreamMembers returns the object numbers stored in object stream num (as of the newest revision).
func (rd *Reader) ObjStreamMembers(num int) ([]int, error) {
	if _, err := rd.fromObjStream(len(rd.revs)-1, num, 0, -1, 0); err != nil {
		rd.mu.Lock()
		os := rd.objstm[num]
		rd.mu.Unlock()
		if os == nil {
			return nil, malformed(err)
		}
	}
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if os := rd.objstm[num]; os != nil {
		return append([]int(nil), os.nums...), nil
	}
	return nil, nil
}

// RawStream returns a reader of the stream's raw (encoded) bytes straight from the file.
func (rd *Reader) RawStream(s *Stream) io.Reader {
	if s.Offset < 0 {
		return bytes.NewReader(s.Data)
	}
	return io.NewSectionReader(rd.r, s.Offset, s.Length)
}

// Decode returns the stream's decoded data, refusing more than limit bytes.
func (rd *Reader) Decode(s *Stream, limit int64) ([]byte, error) {
	b, err := rd.decode(s, limit)
	return b, malformed(err)
}
