package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/signing/agent"
	"github.com/lienthong/lienthong/signing/remote"
	"github.com/lienthong/lienthong/signing/verify"
	"github.com/lienthong/lienthong/workflow/api"
)

// Remote signing on the server side is configured by environment variables, so `serve` needs no new
// flags:
//
//	LIENTHONG_SIGNING_ROOTS   PEM file(s) of the trusted CA roots, separated by ':' (production: the
//	                          government CA roots); unset: chains are not checked (a warning is logged)
//	LIENTHONG_PUBLIC_URL      https://... as leaders' PCs reach the server (for the signing service URLs)
//	LIENTHONG_SIGNING_TTL     lifetime of a prepared signature or file ticket (Go duration, default 5m)
const (
	envSigningRoots = "LIENTHONG_SIGNING_ROOTS"
	envPublicURL    = "LIENTHONG_PUBLIC_URL"
	envSigningTTL   = "LIENTHONG_SIGNING_TTL"
)

func init() {
	register(command{name: "agent", summary: "local signing agent for a leader's USB token: agent --origin https://SERVER [--listen 127.0.0.1:8987]", run: runAgent})
	registerServeHook(serveHook{name: "remote signing", start: startRemoteSigning})
}

func startRemoteSigning(_ context.Context, d *serveDeps) (func(context.Context) error, error) {
	cfg := remote.Config{Logger: d.Logger}
	if roots := os.Getenv(envSigningRoots); roots != "" {
		pool, err := verify.LoadRoots(strings.Split(roots, ":")...)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envSigningRoots, err)
		}
		cfg.Roots = pool
	} else {
		d.Logger.Warn("remote signing: no trusted roots configured; certificate chains are not checked (set " + envSigningRoots + ")")
	}
	if v := os.Getenv(envSigningTTL); v != "" {
		ttl, err := time.ParseDuration(v)
		if err != nil || ttl < 30*time.Second || ttl > time.Hour {
			return nil, fmt.Errorf("%s must be a duration between 30s and 1h, e.g. 5m", envSigningTTL)
		}
		cfg.TTL = ttl
	}
	d.API.SetRemoteSigning(remote.New(d.Service, cfg), api.RemoteSigningOptions{PublicURL: os.Getenv(envPublicURL)})
	return nil, nil
}

func runAgent(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	var origins multiFlag
	fs.Var(&origins, "origin", "the lienthong server origin allowed to use the agent, e.g. https://vanban.tayninh.gov.vn (repeatable)")
	listen := fs.String("listen", "127.0.0.1:8987", "loopback address to listen on")
	module := fs.String("module", os.Getenv(hsm.ModuleEnv), "PKCS#11 module (.so/.dll) of the token (default $"+hsm.ModuleEnv+")")
	pinSource := fs.String("pin-source", "", "file:PATH or env:VAR: take the PIN from there instead of asking (automation and tests)")
	yes := fs.Bool("yes", false, "do not ask for confirmation (automation and tests only: the leader is not shown what is signed)")
	cache := fs.Duration("pin-cache", 0, "keep the logged-in token open this long after use so the PIN is asked once per batch (memory only; 0: only between reading the certificate and the signature)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 || len(origins) == 0 {
		fmt.Fprintln(e.Stderr, "usage: lienthong agent --origin https://SERVER [--origin ...] [--listen 127.0.0.1:8987] [--module PATH] [--pin-source file:PATH|env:VAR] [--pin-cache 2m] [--yes]")
		return exitUsage
	}
	if *module == "" {
		fmt.Fprintln(e.Stderr, "lienthong agent: give the token's PKCS#11 module with --module or "+hsm.ModuleEnv)
		return exitUsage
	}
	if *cache < 0 || *cache > 30*time.Minute {
		fmt.Fprintln(e.Stderr, "lienthong agent: --pin-cache must be between 0 and 30m")
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	var prompter agent.Prompter = agent.Auto{}
	if !*yes || *pinSource == "" {
		tp, err := newTerminalPrompter(e, *yes)
		if err != nil {
			fmt.Fprintln(e.Stderr, "lienthong agent:", err)
			return exitUsage
		}
		prompter = tp
	}
	a, err := agent.New(agent.Config{Module: *module, Origins: origins, PINSource: *pinSource, Prompter: prompter, KeyCache: *cache, Logger: log})
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong agent:", err)
		return exitUsage
	}
	defer a.Close()
	ln, err := agent.Listen(*listen)
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong agent:", err)
		return exitUsage
	}
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 10 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.Info("agent listening", slog.String("url", "http://"+ln.Addr().String()), slog.Any("origins", []string(origins)))
	select {
	case err = <-done:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(e.Stderr, "lienthong agent:", err)
		return exitNo
	}
	return exitOK
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// terminalPrompter asks on the agent's terminal: the summary, a yes/no, and the PIN without echo.
type terminalPrompter struct {
	mu  sync.Mutex
	in  *os.File
	out io.Writer
	rd  *bufio.Reader
	yes bool
}

func newTerminalPrompter(e env, yes bool) (*terminalPrompter, error) {
	f, ok := e.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil, errors.New("the agent asks for confirmation and the PIN on its terminal; run it in a terminal (or, for automation, give --yes and --pin-source)")
	}
	return &terminalPrompter{in: f, out: e.Stderr, rd: bufio.NewReader(f), yes: yes}, nil
}

func (p *terminalPrompter) Confirm(ctx context.Context, c agent.Confirmation) (bool, error) {
	if p.yes {
		return true, nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, "\n%s\nĐồng ý? / Proceed? [c/y = có/yes, khác/else = không/no]: ", c.Text())
	line, err := p.rd.ReadString('\n')
	if err != nil {
		return false, err
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "c", "co", "có", "y", "yes":
		return true, nil
	}
	return false, nil
}

func (p *terminalPrompter) PIN(ctx context.Context, token string) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.out, "Nhập mã PIN của token %s / PIN for token %s: ", token, token)
	pin, err := term.ReadPassword(int(p.in.Fd()))
	fmt.Fprintln(p.out)
	return pin, err
}
