package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lienthong/lienthong/internal/pgtest"
)

type webDemoBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *webDemoBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *webDemoBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// `web demo` seeds the database, prints the tokens and serves the console at /ui/ (and / redirects
// there); a printed clerk token signs in and sees the demo inbox. A second run refuses to seed again.
func TestWebDemoServesTheConsole(t *testing.T) {
	if os.Getenv("DATABASE_URL") == "" {
		t.Skip("needs DATABASE_URL (make test sets it)")
	}
	t.Setenv("DATABASE_URL", pgtest.NewDatabase(t))
	t.Setenv("LIENTHONG_WEB_DEMO_TOKEN", "0")
	t.Setenv("LIENTHONG_DATA", t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb webDemoBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, []string{"web", "demo", "--listen", addr, "--workers=false"})
	}()
	defer func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("web demo exit %d: %s", code, errb.String())
		}
	}()
	base := "http://" + addr
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := c.Get(base + "/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/ui/login" {
				t.Fatalf("/ led to %s (%d)", resp.Request.URL, resp.StatusCode)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not start: %v\n%s", err, errb.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	m := regexp.MustCompile(`(?m)^\s+clerk\s+.*?\s(lt_\S+)$`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no clerk token printed:\n%s", out.String())
	}
	resp, err := c.Get(base + "/ui/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
	if csrf == nil {
		t.Fatal("no csrf field on the sign-in page")
	}
	resp, err = c.PostForm(base+"/ui/login", url.Values{"csrf": {string(csrf[1])}, "token": {m[1]}, "next": {"/ui/"}})
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Request.URL.Path != "/ui/incoming" || !strings.Contains(string(page), "con dấu số hợp lệ của Văn phòng Chính phủ") {
		t.Fatalf("after sign-in: %s %d", resp.Request.URL, resp.StatusCode)
	}
	// Seeding twice is refused with guidance.
	if code, _, errs := runLT(t, "web", "demo", "--listen", "127.0.0.1:1"); code != exitNo || !strings.Contains(errs, "user add") {
		t.Fatalf("second web demo: %d %s", code, errs)
	}
}
