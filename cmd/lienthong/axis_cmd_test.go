package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lienthong/lienthong/exchange/axis"
	"github.com/lienthong/lienthong/exchange/edxml"
	"github.com/lienthong/lienthong/exchange/hub"
	"github.com/lienthong/lienthong/internal/pgtest"
)

// `lienthong axis --packet-dir` serves the reference axis with packet bodies in segment files: a large
// packet pushed by one node reaches the other intact and its bytes are in the folder, not the database.
func TestAxisCommandWithPacketDir(t *testing.T) {
	if os.Getenv("DATABASE_URL") == "" {
		t.Skip("needs DATABASE_URL (make test sets it)")
	}
	t.Setenv("DATABASE_URL", pgtest.NewDatabase(t))
	if code, _, _ := runLT(t, "axis", "--packet-dir", t.TempDir()); code != exitUsage {
		t.Fatalf("axis without --listen: exit %d, want %d", code, exitUsage)
	}
	if code, _, stderr := runLT(t, "axis", "--listen", "127.0.0.1:0", "--retention", "-1h"); code != exitUsage || !strings.Contains(stderr, "--retention") {
		t.Fatalf("axis with a negative retention: exit %d, want %d (%s)", code, exitUsage, stderr)
	}
	dir := t.TempDir()
	packets := filepath.Join(dir, "packets")
	var nodes []axisNodeFile
	tokens := map[string]string{}
	for _, code := range []string{"000.00.00.H53", "000.00.02.H53"} {
		tokens[code] = hub.NewToken()
		f := filepath.Join(dir, code+".token")
		if err := os.WriteFile(f, []byte(tokens[code]+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, axisNodeFile{Code: code, Name: code, TokenFile: f})
	}
	nf := filepath.Join(dir, "nodes.json")
	b, _ := json.Marshal(nodes)
	if err := os.WriteFile(nf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errb bytes.Buffer
	go func() {
		done <- run(ctx, env{Stdin: strings.NewReader(""), Stdout: &bytes.Buffer{}, Stderr: &errb},
			[]string{"axis", "--listen", addr, "--nodes", nf, "--packet-dir", packets})
	}()
	defer func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("axis exited %d: %s", code, errb.String())
		}
	}()
	base := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the axis did not come up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	from := &axis.Reference{BaseURL: base, Token: tokens["000.00.00.H53"]}
	to := &axis.Reference{BaseURL: base, Token: tokens["000.00.02.H53"]}
	p := edxml.NewEdoc(edxml.Document{From: edxml.Organ{OrganID: "000.00.00.H53", OrganName: "UBND tỉnh"},
		To: []edxml.Organ{{OrganID: "000.00.02.H53"}}, Code: edxml.Code{CodeNumber: "7", CodeNotation: "UBND"},
		Date: time.Now(), TypeCode: "1", TypeName: "Công văn", Subject: "Thử trục",
		Files: []edxml.Attachment{{Name: "vb.pdf", ContentType: "application/pdf", Data: bytes.Repeat([]byte("%PDF-1.7 dòng "), 4000)}}})
	raw, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := from.Send(context.Background(), axis.Outgoing{MessageID: "m1", Kind: edxml.KindEdoc, From: "000.00.00.H53", Body: raw}); err != nil {
		t.Fatal(err)
	}
	items, err := to.List(context.Background(), edxml.KindEdoc, 10)
	if err != nil || len(items) != 1 {
		t.Fatalf("inbox: %v %+v", err, items)
	}
	got, err := to.Fetch(context.Background(), items[0].ID)
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("fetched %d bytes (%v), want the %d pushed", len(got), err, len(raw))
	}
	segs, _ := filepath.Glob(filepath.Join(packets, "seg-*"))
	if len(segs) != 1 {
		t.Fatalf("segments in --packet-dir: %v", segs)
	}
	if st, err := os.Stat(segs[0]); err != nil || st.Size() < int64(len(raw)) {
		t.Fatalf("segment %v: %v", st, err)
	}
}
