#!/usr/bin/env python3
"""Writes small hand-made PDFs with exact cross-reference tables (no external tools).

  raw.py base OUT          two pages of text, classic xref table
  raw.py emptyfield OUT    one page with an empty signature field named "Sig1" (AcroForm)
  raw.py hybrid OUT        a hybrid-reference file: xref table whose trailer names an /XRefStm that
                           lists objects stored in an object stream
  raw.py large OUT MIB     a MIB-mebibyte file of incompressible (random) image data on 4 pages,
                           written in chunks (for the signing benchmark; never committed)
"""
import sys, zlib

def content(text, y):
    return ("BT /F1 24 Tf 72 %d Td (%s) Tj ET\n0 0 1 RG 72 %d m 400 %d l S\n" % (y, text, y - 20, y - 20)).encode()

def write(path, objs, version="1.7", trailer_extra=b""):
    """objs: list of bytes bodies for objects 1..n."""
    out = bytearray(b"%PDF-" + version.encode() + b"\n%\xe2\xe3\xcf\xd3\n")
    offs = []
    for i, body in enumerate(objs, 1):
        offs.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    x = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f\r\n" % (len(objs) + 1)
    for o in offs:
        out += b"%010d 00000 n\r\n" % o
    out += b"trailer\n<< /Size %d /Root 1 0 R /Info 2 0 R /ID [<0123456789ABCDEF0123456789ABCDEF> <0123456789ABCDEF0123456789ABCDEF>] %s>>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, trailer_extra, x)
    open(path, "wb").write(out)

def stream(d, data):
    return b"<< " + d + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"

def base(path):
    c1 = content("Cong van so 123/UBND-VP", 700)
    c2 = content("Trang hai", 700)
    write(path, [
        b"<< /Type /Catalog /Pages 3 0 R >>",
        b"<< /Producer (lienthong testdata raw.py) /Title (Test) >>",
        b"<< /Type /Pages /Kids [4 0 R 5 0 R] /Count 2 /MediaBox [0 0 595 842] >>",
        b"<< /Type /Page /Parent 3 0 R /Resources << /Font << /F1 6 0 R >> >> /Contents 7 0 R >>",
        b"<< /Type /Page /Parent 3 0 R /Resources << /Font << /F1 6 0 R >> >> /Contents 8 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman >>",
        stream(b"", c1),
        stream(b"", c2),
    ])

def emptyfield(path):
    write(path, [
        b"<< /Type /Catalog /Pages 3 0 R /AcroForm << /Fields [8 0 R] /DA (/Helv 0 Tf 0 g) >> >>",
        b"<< /Producer (lienthong testdata raw.py) >>",
        b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 3 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 6 0 R /Annots [8 0 R] >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman >>",
        stream(b"", content("Empty signature field below", 700)),
        b"<< /Type /Annot /Subtype /Link /Rect [0 0 0 0] /Border [0 0 0] >>",
        b"<< /Type /Annot /Subtype /Widget /FT /Sig /T (Sig1) /Rect [300 100 500 180] /F 4 /P 4 0 R >>",
    ])

def hybrid(path):
    # Objects 1-4 and 7 are plain; 5 (font) and 6 (info) live in object stream 8, listed by the
    # cross-reference stream 9 that the table's trailer names with /XRefStm.
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offs = {}
    def put(n, body):
        offs[n] = len(out)
        out.extend(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    put(1, b"<< /Type /Catalog /Pages 2 0 R >>")
    put(2, b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>")
    put(3, b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>")
    put(4, stream(b"", content("Hybrid reference file", 700)))
    o5 = b"<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman >>"
    o6 = b"<< /Producer (lienthong testdata raw.py hybrid) >>"
    hdr = b"5 0 6 %d " % (len(o5) + 1)
    body = hdr + o5 + b" " + o6
    comp = zlib.compress(body)
    put(8, stream(b"/Type /ObjStm /N 2 /First %d /Filter /FlateDecode" % len(hdr), comp))
    # xref stream (object 9) for objects 5, 6 (type 2) and 8, 9 (type 1)
    x9 = len(out)
    rows = bytearray()
    rows += bytes([2]) + (8).to_bytes(4, "big") + (0).to_bytes(2, "big")
    rows += bytes([2]) + (8).to_bytes(4, "big") + (1).to_bytes(2, "big")
    rows += bytes([1]) + offs[8].to_bytes(4, "big") + (0).to_bytes(2, "big")
    rows += bytes([1]) + x9.to_bytes(4, "big") + (0).to_bytes(2, "big")
    put(9, stream(b"/Type /XRef /Size 10 /W [1 4 2] /Index [5 2 8 2]", bytes(rows)))
    x = len(out)
    # Objects 5-9 are only in the cross-reference stream, as hybrid writers do.
    out += b"xref\n0 5\n0000000000 65535 f\r\n"
    for n in range(1, 5):
        out += b"%010d 00000 n\r\n" % offs[n]
    out += b"trailer\n<< /Size 10 /Root 1 0 R /Info 6 0 R /XRefStm %d >>\nstartxref\n%d\n%%%%EOF\n" % (x9, x)
    open(path, "wb").write(out)

def large(path, mib):
    import os
    mib = int(mib)
    npages = 4
    per = (mib << 20) // npages
    side = int((per // 3) ** 0.5)
    with open(path, "wb") as f:
        pos = 0
        def w(b):
            nonlocal pos
            f.write(b)
            pos += len(b)
        offs = {}
        w(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
        kids = " ".join("%d 0 R" % (3 + 3 * i) for i in range(npages)).encode()
        offs[1] = pos; w(b"1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n")
        offs[2] = pos; w(b"2 0 obj\n<< /Type /Pages /Kids [%s] /Count %d >>\nendobj\n" % (kids, npages))
        for i in range(npages):
            p, c, im = 3 + 3 * i, 4 + 3 * i, 5 + 3 * i
            offs[p] = pos
            w(b"%d 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>\nendobj\n" % (p, im, c))
            cs = b"q 500 0 0 500 47 171 cm /Im0 Do Q\n"
            offs[c] = pos; w(b"%d 0 obj\n" % c + stream(b"", cs) + b"\nendobj\n")
            n = side * side * 3
            offs[im] = pos
            w(b"%d 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB /BitsPerComponent 8 /Length %d >>\nstream\n" % (im, side, side, n))
            left = n
            while left > 0:
                k = min(left, 1 << 20)
                w(os.urandom(k))
                left -= k
            w(b"\nendstream\nendobj\n")
        total = 2 + 3 * npages
        x = pos
        w(b"xref\n0 %d\n0000000000 65535 f\r\n" % (total + 1))
        for n in range(1, total + 1):
            w(b"%010d 00000 n\r\n" % offs[n])
        w(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (total + 1, x))

if __name__ == "__main__":
    {"base": base, "emptyfield": emptyfield, "hybrid": hybrid, "large": large}[sys.argv[1]](*sys.argv[2:])
