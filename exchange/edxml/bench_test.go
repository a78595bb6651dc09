package edxml

import (
	"bytes"
	"strconv"
	"testing"
	"time"
)

// benchPacket is an edoc carrying a 100 KB PDF-like attachment, the size the exchange benchmark uses.
func benchPacket(b *testing.B) []byte {
	b.Helper()
	pdf := bytes.Repeat([]byte("%PDF-1.7 binary-ish \x00\xff\x10 content "), 100<<10/32)
	p := NewEdoc(Document{From: Organ{OrganID: "000.00.00.H53", OrganName: "UBND tỉnh Tây Ninh"},
		To: []Organ{{OrganID: "000.00.02.H53"}}, Code: Code{CodeNumber: strconv.Itoa(123), CodeNotation: "QĐ-UBND"},
		Date: time.Date(2026, 11, 25, 9, 0, 0, 0, Vietnam), TypeCode: "1", TypeName: "Quyết định", Subject: "Về việc thử nghiệm liên thông",
		Files: []Attachment{{Name: "qd.pdf", ContentType: "application/pdf", Data: pdf}}})
	raw, err := p.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

func BenchmarkParse(b *testing.B) {
	raw := benchPacket(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		p, err := ParseBytes(raw)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Attachments[0].Files(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseHeader(b *testing.B) {
	raw := benchPacket(b)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseHeader(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	raw := benchPacket(b)
	p, err := ParseBytes(raw)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}
