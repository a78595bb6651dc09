// Package pdf reads the structure of PDF files and writes incremental updates, for signing and for
// verifying signatures. It is deliberately small: it parses what signing needs (cross-reference
// sections, the object graph, the page tree, form fields, signature dictionaries) and never renders.
//
// # Reading
//
// Open takes an io.ReaderAt and the file size; memory stays bounded by the cross-reference maps and a
// small object cache, never by the file (streams are located, not loaded); only a file of at most
// 256 KiB is read whole, once, and parsed in place (Reader.InMemory). It reads classic xref tables,
// xref streams (PDF 1.5), object streams, hybrid-reference files (/XRefStm), linearized files and any
// chain of incremental updates, for header versions 1.0 to 2.0. Malformed input gives an
// apperr.Invalid error with a message a clerk can act on; encrypted files are refused (ErrEncrypted).
// There is no repair mode: a file whose cross-reference data is wrong is reported, not guessed at,
// because repair is an attack surface for signatures.
//
// Revisions() lists the versions of the document oldest first. Each Revision gives its byte End (just
// past its %%EOF line), its trailer, the Kind of its cross-reference section (table, stream, hybrid) and
// the section offsets. A linearized file's two sections form one revision. Any object can be read as of
// any revision:
//
//	rd, err := pdf.Open(f, size)
//	for _, rev := range rd.Revisions() { ... rev.End, rev.Kind, rev.Trailer ... }
//	obj, err := rd.ObjectAt(rev.Index, pdf.Ref{Num: 12})
//	loc := rd.Locate(rev.Index, 12)         // in-file offset or object stream, and defining revision
//	nums := rd.ObjectNumbers(rev.Index)     // objects that revision's own sections define
//	cat, root, err := rd.Catalog(rev.Index)
//	pages, err := rd.Pages(rev.Index)       // inherited MediaBox/CropBox/Rotate resolved
//	fields, err := rd.Fields(rev.Index)     // terminal AcroForm fields, fully qualified names
//	sigs, err := rd.Signatures(rev.Index)   // /ByteRange, /Contents and its file offsets
//	p, err := rd.DocMDP()                   // certification level, 0 when not certified
//
// Values are nil (null), bool, int64, Real, Name, String, Array, Dict, *Stream and Ref. A String that
// came straight from the file carries its byte position (Pos, End), which is how a verifier checks that
// a /ByteRange gap is exactly the /Contents string. Equal compares objects structurally.
//
// # Writing
//
// NewUpdate starts an incremental update of the newest revision: Add new objects (numbers start at the
// trailer's /Size), Set replacements (generation kept), then Bytes serialises them followed by a
// cross-reference section of the same kind as the file's last one (a hybrid file gets a table), a
// trailer keeping /Root, /Info and /ID with /Prev, startxref and %%EOF. The original bytes are never
// rewritten; the caller appends Increment.Data after them.
//
// For signing, a signature dictionary holds ContentsPlaceholder{Size} and ByteRangePlaceholder{}:
// Bytes records where they land and fills the fixed-width /ByteRange at once, Increment.SignedRanges
// streams exactly the signed bytes into a hash, and Increment.SetContents fills the DER signature in
// place, refusing (TooSmallError) rather than truncating when it does not fit.
package pdf
