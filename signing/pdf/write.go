package pdf

import (
	"bytes"
	"compress/zlib"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
)

// ContentsPlaceholder, used as the /Contents value of a signature dictionary, writes a hex string of
// Size zero bytes (2·Size hex digits) whose position the Increment reports.
type ContentsPlaceholder struct{ Size int }

// ByteRangePlaceholder, used as the /ByteRange value, writes a fixed-width array that
// Increment.SetByteRange fills in place.
type ByteRangePlaceholder struct{}

// Ten digits per number allow files up to 9.3 GiB; the first value is always 0.
const byteRangeBlank = "[0 0000000000 0000000000 0000000000]"

// Update collects new and replaced objects for one incremental update of the newest revision.
type Update struct {
	rd      *Reader
	next    int
	objs    map[int]pendingObj
	compact bool // compress new streams
}

type pendingObj struct {
	gen int
	obj Object
}

// NewUpdate starts an incremental update. New object numbers start at the trailer's /Size.
func (rd *Reader) NewUpdate() *Update {
	size, _ := AsInt(rd.Trailer()["Size"])
	next := int(size)
	// Be robust to a /Size smaller than the objects actually defined.
	for _, r := range rd.revs {
		for n := range r.entries {
			if n >= next {
				next = n + 1
			}
		}
	}
	if next < 1 {
		next = 1
	}
	return &Update{rd: rd, next: next, objs: map[int]pendingObj{}, compact: true}
}

// Reader returns the reader the update applies to.
func (u *Update) Reader() *Reader { return u.rd }

// Add stores o as a new object and returns its reference.
func (u *Update) Add(o Object) Ref {
	r := Ref{Num: u.next}
	u.next++
	u.objs[r.Num] = pendingObj{obj: o}
	return r
}

// Reserve allocates a new object number whose value is given later with Set.
func (u *Update) Reserve() Ref {
	r := Ref{Num: u.next}
	u.next++
	u.objs[r.Num] = pendingObj{}
	return r
}

// Set replaces (or defines) object ref in the update, keeping ref's generation.
func (u *Update) Set(ref Ref, o Object) {
	u.objs[ref.Num] = pendingObj{gen: ref.Gen, obj: o}
}

// Get returns the object as it will be after the update: the pending value, or the reader's.
func (u *Update) Get(ref Ref) (Object, error) {
	if p, ok := u.objs[ref.Num]; ok {
		return p.obj, nil
	}
	return u.rd.Object(ref)
}

// Resolve is Get for any object: it follows references through pending objects first.
func (u *Update) Resolve(o Object) (Object, error) {
	for i := 0; i < 32; i++ {
		r, ok := o.(Ref)
		if !ok {
			return o, nil
		}
		var err error
		if o, err = u.Get(r); err != nil {
			return nil, err
		}
	}
	return nil, malformed(synErr(-1, "reference chain too long"))
}

// NewStream makes a stream object for writing; Bytes compresses it with Flate unless the dictionary
// already has a /Filter.
func NewStream(d Dict, data []byte) *Stream {
	if d == nil {
		d = Dict{}
	}
	return &Stream{Dict: d, Offset: -1, Data: data}
}

// Increment is a serialised incremental update: the bytes to append after the original file.
type Increment struct {
	// Base is the original file size; Data is appended at Base.
	Base int64
	Data []byte
	// Kind is the cross-reference shape written.
	Kind XRefKind
	// ContentsPos/ContentsEnd locate the /Contents placeholder ('<' .. just past '>') as file
	// offsets; -1 when the update has none.
	ContentsPos, ContentsEnd int64
	byteRange                [2]int64
	// zeroed is set by Bytes, which writes the placeholder as zeros: then only the first hexLen
	// digits of it can differ from '0' (what SetContents wrote last), so SetContents need not rewrite
	// the rest. An Increment built otherwise is padded in full.
	zeroed bool
	hexLen int
}

// Size is the size of the whole updated file.
func (inc *Increment) Size() int64 { return inc.Base + int64(len(inc.Data)) }

// Bytes serialises the update: objects, a cross-reference section of the same kind as the newest
// revision's (a hybrid file gets a table), the trailer, startxref and %%EOF. When the update holds the
// placeholders, the ByteRange is filled in already: [0, '<', just past '>', rest].
func (u *Update) Bytes() (inc *Increment, err error) { return u.AppendBytes(nil) }

// AppendBytes is Bytes writing the increment into buf's storage (from buf[:0]) when it is large enough,
// so a caller may reuse one buffer across updates; Increment.Data then aliases buf.
func (u *Update) AppendBytes(buf []byte) (inc *Increment, err error) {
	// A value of a type PDF cannot hold is a programming error in the caller; report it, never crash.
	defer func() {
		if r := recover(); r != nil {
			inc, err = nil, fmt.Errorf("pdf: %v", r)
		}
	}()
	rd := u.rd
	last := rd.Last()
	kind := last.Kind
	if kind == XRefHybrid {
		kind = XRefTable
	}
	inc = &Increment{Base: rd.size, Kind: kind, ContentsPos: -1, ContentsEnd: -1}
	est := 4096
	for _, p := range u.objs {
		if st, ok := p.obj.(*Stream); ok {
			est += len(st.Data) + 64
		}
		if d, ok := p.obj.(Dict); ok {
			if c, ok := d["Contents"].(ContentsPlaceholder); ok {
				est += 2*c.Size + 2
			}
		}
	}
	b := buf[:0]
	if cap(b) < est {
		b = make([]byte, 0, est)
	}
	if c := rd.byteAt(rd.size - 1); c != '\n' && c != '\r' {
		b = append(b, '\n')
	}
	var xrefNum int
	if kind == XRefStream {
		xrefNum = u.next
		u.next++
	}
	nums := make([]int, 0, len(u.objs))
	for n, p := range u.objs {
		if p.obj == nil {
			return nil, fmt.Errorf("pdf: object %d was reserved but never set", n)
		}
		nums = append(nums, n)
	}
	sort.Ints(nums)
	offs := make([]int64, len(nums)+1) // parallel to nums; the last slot is the xref stream's
	m := &marks{}
	for i, n := range nums {
		p := u.objs[n]
		offs[i] = rd.size + int64(len(b))
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(p.gen), 10)
		b = append(b, " obj\n"...)
		mm := &marks{}
		if st, ok := p.obj.(*Stream); ok {
			data := st.Data
			d := st.Dict.Clone()
			if _, has := d["Filter"]; !has && u.compact && len(data) > 64 {
				var z bytes.Buffer
				zw, _ := zlib.NewWriterLevel(&z, zlib.BestSpeed)
				if _, err := zw.Write(data); err != nil {
					return nil, err
				}
				if err := zw.Close(); err != nil {
					return nil, err
				}
				if z.Len() < len(data) {
					data = z.Bytes()
					d["Filter"] = Name("FlateDecode")
				}
			}
			d["Length"] = int64(len(data))
			b = appendDict(b, d, mm)
			b = append(b, "\nstream\n"...)
			b = append(b, data...)
			b = append(b, "\nendstream"...)
		} else {
			b = appendObj(b, p.obj, mm)
		}
		b = append(b, "\nendobj\n"...)
		if mm.nContents > 0 {
			m.nContents += mm.nContents
			m.contents = mm.contents
		}
		if mm.nByteRng > 0 {
			m.nByteRng += mm.nByteRng
			m.byteRange = mm.byteRange
		}
	}
	if m.nContents > 1 || m.nByteRng > 1 || (m.nContents == 1) != (m.nByteRng == 1) {
		return nil, errors.New("pdf: an update holds exactly one /Contents and one /ByteRange placeholder, or none")
	}
	size, _ := AsInt(last.Trailer["Size"])
	newSize := max(int64(u.next), size)
	trailer := Dict{"Size": newSize, "Prev": last.XRefOffset}
	for _, k := range []Name{"Root", "Info", "ID"} {
		if v, ok := last.Trailer[k]; ok {
			trailer[k] = v
		}
	}
	xrefOff := rd.size + int64(len(b))
	switch kind {
	case XRefTable:
		b = append(b, "xref\n0 1\n0000000000 65535 f\r\n"...)
		for i := 0; i < len(nums); {
			j := i + 1
			for j < len(nums) && nums[j] == nums[j-1]+1 {
				j++
			}
			b = strconv.AppendInt(b, int64(nums[i]), 10)
			b = append(b, ' ')
			b = strconv.AppendInt(b, int64(j-i), 10)
			b = append(b, '\n')
			for k := i; k < j; k++ {
				b = appendPadded(b, offs[k], 10)
				b = append(b, ' ')
				b = appendPadded(b, int64(u.objs[nums[k]].gen), 5)
				b = append(b, " n\r\n"...)
			}
			i = j
		}
		b = append(b, "trailer\n"...)
		b = appendDict(b, trailer, nil)
		b = append(b, '\n')
	case XRefStream:
		offs[len(nums)] = xrefOff
		all := append(nums, xrefNum)
		w := 4
		for xrefOff>>(8*w) != 0 {
			w++
		}
		var idx Array
		var data []byte
		for i := 0; i < len(all); {
			j := i + 1
			for j < len(all) && all[j] == all[j-1]+1 {
				j++
			}
			idx = append(idx, int64(all[i]), int64(j-i))
			for x, n := range all[i:j] {
				off := offs[i+x]
				data = append(data, 1)
				for k := w - 1; k >= 0; k-- {
					data = append(data, byte(off>>(8*k)))
				}
				g := 0
				if p, ok := u.objs[n]; ok {
					g = p.gen
				}
				data = append(data, byte(g>>8), byte(g))
			}
			i = j
		}
		trailer["Type"] = Name("XRef")
		trailer["W"] = Array{int64(1), int64(w), int64(2)}
		trailer["Index"] = idx
		trailer["Length"] = int64(len(data))
		b = strconv.AppendInt(b, int64(xrefNum), 10)
		b = append(b, " 0 obj\n"...)
		b = appendDict(b, trailer, nil)
		b = append(b, "\nstream\n"...)
		b = append(b, data...)
		b = append(b, "\nendstream\nendobj\n"...)
	}
	b = append(b, "startxref\n"...)
	b = strconv.AppendInt(b, xrefOff, 10)
	b = append(b, "\n%%EOF\n"...)
	inc.Data = b
	if m.nContents == 1 {
		inc.zeroed = true
		inc.ContentsPos = rd.size + int64(m.contents[0])
		inc.ContentsEnd = rd.size + int64(m.contents[1])
		inc.byteRange = [2]int64{int64(m.byteRange[0]), int64(m.byteRange[1])}
		br := [4]int64{0, inc.ContentsPos, inc.ContentsEnd, inc.Size() - inc.ContentsEnd}
		var s [len(byteRangeBlank)]byte
		f := append(s[:0], "[0"...)
		for _, v := range br[1:] {
			f = append(f, ' ')
			f = appendSpacePadded(f, v, 10)
		}
		f = append(f, ']')
		if len(f) != len(byteRangeBlank) {
			return nil, errors.New("pdf: file too large for the /ByteRange placeholder")
		}
		copy(inc.Data[inc.byteRange[0]:], f)
	}
	return inc, nil
}

// ByteRange returns the four /ByteRange numbers of a signing increment.
func (inc *Increment) ByteRange() [4]int64 {
	return [4]int64{0, inc.ContentsPos, inc.ContentsEnd, inc.Size() - inc.ContentsEnd}
}

// SetContents writes hex-encoded der into the /Contents placeholder, zero-padded. It fails, never
// truncates, when der does not fit.
func (inc *Increment) SetContents(der []byte) error {
	if inc.ContentsPos < 0 {
		return errors.New("pdf: the update has no /Contents placeholder")
	}
	room := int(inc.ContentsEnd-inc.ContentsPos-2) / 2
	if len(der) > room {
		return &TooSmallError{Need: len(der), Room: room}
	}
	p := int(inc.ContentsPos-inc.Base) + 1
	e := int(inc.ContentsEnd-inc.Base) - 1
	hex.Encode(inc.Data[p:], der)
	end := e
	if inc.zeroed {
		end = min(e, p+max(inc.hexLen, 2*len(der))) // beyond the longest earlier value: zeros already
		inc.hexLen = 2 * len(der)
	}
	for i := p + 2*len(der); i < end; i += copy(inc.Data[i:end], zeroDigits) {
	}
	return nil
}

// TooSmallError reports a signature that does not fit the reserved /Contents.
type TooSmallError struct{ Need, Room int }

func (e *TooSmallError) Error() string {
	return fmt.Sprintf("pdf: the signature needs %d bytes but only %d were reserved", e.Need, e.Room)
}

// SignedRanges streams the bytes covered by the increment's /ByteRange — original file first, then the
// increment around the placeholder — into w (typically a hash). The original is read in 1 MiB chunks
// through the reader's io.ReaderAt, never held whole.
func (inc *Increment) SignedRanges(rd *Reader, w io.Writer) error {
	if _, err := io.Copy(w, io.NewSectionReader(rd.r, 0, inc.Base)); err != nil {
		return err
	}
	return inc.writeAround(w)
}

func (inc *Increment) writeAround(w io.Writer) error {
	if inc.ContentsPos < 0 {
		_, err := w.Write(inc.Data)
		return err
	}
	a := inc.ContentsPos - inc.Base
	c := inc.ContentsEnd - inc.Base
	if _, err := w.Write(inc.Data[:a]); err != nil {
		return err
	}
	_, err := w.Write(inc.Data[c:])
	return err
}

// HashAround writes the increment's signed parts (everything but the /Contents placeholder) to w.
func (inc *Increment) HashAround(w io.Writer) error { return inc.writeAround(w) }

// appendPadded appends n in decimal, zero-padded on the left to width digits (like %0*d).
func appendPadded(b []byte, n int64, width int) []byte {
	var d [20]byte
	t := strconv.AppendInt(d[:0], n, 10)
	for i := len(t); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, t...)
}

// appendSpacePadded appends n in decimal, space-padded on the left to width characters (like %*d).
func appendSpacePadded(b []byte, n int64, width int) []byte {
	var d [20]byte
	t := strconv.AppendInt(d[:0], n, 10)
	for i := len(t); i < width; i++ {
		b = append(b, ' ')
	}
	return append(b, t...)
}
