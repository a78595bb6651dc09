package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/hsmtest"
	"github.com/lienthong/lienthong/internal/pgtest"
	"github.com/lienthong/lienthong/migrations"
	"github.com/lienthong/lienthong/signing/remote"
	"github.com/lienthong/lienthong/workflow"
	"github.com/lienthong/lienthong/workflow/api"
)

// syncBuffer collects a command's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// TestAgentCommands: `lienthong agent` on loopback with a SoftHSM token, then `lienthong agent sign`
// signs an approved draft sent to the leader on a real server; the draft ends up signed and verified.
func TestAgentCommands(t *testing.T) {
	if os.Getenv("DATABASE_URL") == "" {
		t.Skip("needs DATABASE_URL (make test sets it)")
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := migrations.Up(ctx, pool); err != nil {
		t.Fatal(err)
	}
	wf := workflow.New(pool, workflow.Config{})
	sys := workflow.System("test")
	if _, err := wf.AddOrg(ctx, sys, workflow.NewOrg{Code: "000.00.00.H53", Name: "UBND tỉnh Tây Ninh", Abbr: "UBND", Level: "province"}); err != nil {
		t.Fatal(err)
	}
	principal := func(name, role string) (workflow.Principal, string) {
		_, tok, err := wf.AddUser(ctx, sys, workflow.NewUser{OrgCode: "000.00.00.H53", Name: name, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		p, err := wf.Authenticate(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		return p, tok
	}
	spec, _ := principal("Chuyên viên", "specialist")
	clerk, _ := principal("Văn thư", "clerk")
	leader, leaderToken := principal("Nguyễn Văn A", "leader")

	tok := hsmtest.Token(t)
	ca := hsmtest.CA(t)
	if _, err := tok.IssueKey(ctx, "leader", []byte{0x20}, hsm.RSA2048, ca, pkix.Name{CommonName: "Nguyễn Văn A"}); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	srvAPI := api.New(api.Deps{Service: wf})
	srvAPI.SetRemoteSigning(remote.New(wf, remote.Config{Roots: roots}), api.RemoteSigningOptions{})
	srv := httptest.NewServer(srvAPI)
	t.Cleanup(srv.Close)

	pdfBytes, err := os.ReadFile("../../testdata/pdf/classic.pdf")
	if err != nil {
		t.Fatal(err)
	}
	d, err := wf.CreateOutgoing(ctx, spec, workflow.OutgoingIn{DocumentType: "Công văn", Subject: "Về việc thử ký số từ xa",
		Main: workflow.FileIn{Name: "cong-van.pdf", ContentType: "application/pdf", Data: pdfBytes}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wf.SubmitOutgoing(ctx, spec, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := wf.ReviewOutgoing(ctx, clerk, d.ID, workflow.Review{Approve: true}); err != nil {
		t.Fatal(err)
	}
	rs := remote.New(wf, remote.Config{})
	if _, err := rs.SendToLeader(ctx, clerk, d.ID, leader.UserID); err != nil {
		t.Fatal(err)
	}

	if code, _, errs := runLT(t, "agent", "--origin", srv.URL, "--listen", "0.0.0.0:0", "--module", tok.Store.Module, "--yes",
		"--pin-source", "file:"+tok.PINFile); code != exitUsage || !strings.Contains(errs, "loopback") {
		t.Fatalf("agent on a non-loopback address: %d %s", code, errs)
	}
	if code, _, _ := runLT(t, "agent", "--listen", "127.0.0.1:0"); code != exitUsage {
		t.Fatalf("agent without --origin: %d", code)
	}

	// Start the agent on a free loopback port.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	actx, stop := context.WithCancel(ctx)
	var agentErr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(actx, env{Stdin: strings.NewReader(""), Stdout: &agentErr, Stderr: &agentErr}, []string{"agent", "--origin", srv.URL,
			"--listen", addr, "--module", tok.Store.Module, "--yes", "--pin-source", "file:" + tok.PINFile})
	}()
	t.Cleanup(func() {
		stop()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("the agent did not stop")
		}
	})
	agentURL := "http://" + addr
	up := false
	for i := 0; i < 100 && !up; i++ {
		req, _ := http.NewRequest("GET", agentURL+"/v1/status", nil)
		req.Header.Set("Origin", srv.URL)
		if res, err := http.DefaultClient.Do(req); err == nil {
			res.Body.Close()
			up = res.StatusCode == 200
		}
		if !up {
			time.Sleep(50 * time.Millisecond) // waiting for a listener, not timing a result
		}
	}
	if !up {
		t.Fatalf("the agent did not start: %s", agentErr.String())
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(leaderToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runLT(t, "agent", "sign", "--server", srv.URL, "--agent", agentURL, "--doc", d.ID, "--token-file", tokenFile,
		"--rect", "350,60,530,130")
	if code != exitOK {
		t.Fatalf("agent sign: %d %s %s\nagent: %s", code, out, errs, agentErr.String())
	}
	var res remote.Completed
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Document.State != workflow.StSigned || res.Verification.Indication != "TOTAL_PASSED" {
		t.Fatalf("agent sign output: %v %s", err, out)
	}
	if !strings.Contains(errs, "Về việc thử ký số từ xa") {
		t.Errorf("agent sign did not show the subject: %s", errs)
	}
	// Signing again is refused by the server (the draft is signed now), with exit code 1.
	code, _, errs = runLT(t, "agent", "sign", "--server", srv.URL, "--agent", agentURL, "--doc", d.ID, "--token-file", tokenFile)
	if code != exitNo || !strings.Contains(errs, "wrong_state") {
		t.Fatalf("second agent sign: %d %s", code, errs)
	}
}
