package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/signing/agent"
	"github.com/lienthong/lienthong/signing/cms/tsp"
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
//	LIENTHONG_SIGNING_TSA     RFC 3161 timestamp authority URL: signatures become PAdES B-T
const (
	envSigningRoots = "LIENTHONG_SIGNING_ROOTS"
	envPublicURL    = "LIENTHONG_PUBLIC_URL"
	envSigningTTL   = "LIENTHONG_SIGNING_TTL"
	envSigningTSA   = "LIENTHONG_SIGNING_TSA"
)

func init() {
	register(command{name: "agent", summary: "local signing agent for a leader's USB token: agent --origin https://SERVER [--listen 127.0.0.1:8987]", run: runAgent})
	register(command{name: "agent sign", summary: "sign a draft sent to you through the running agent (what the web page does): agent sign --server URL --doc ID", run: runAgentSign})
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
	if u := os.Getenv(envSigningTSA); u != "" {
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			return nil, fmt.Errorf("%s must be an http(s) URL", envSigningTSA)
		}
		cfg.TSA = (&tsp.Client{URL: u}).Timestamp
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

// runAgentSign does what the web page does, from a terminal: read the certificate through the agent,
// prepare on the server, have the agent sign, complete on the server. The API token comes from
// LIENTHONG_TOKEN or --token-file, never from the command line.
func runAgentSign(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("agent sign", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	server := fs.String("server", "", "the lienthong server, e.g. https://vanban.tayninh.gov.vn")
	agentURL := fs.String("agent", "http://127.0.0.1:8987", "the running agent")
	doc := fs.String("doc", "", "id of the approved draft sent to you for signature")
	tokenFile := fs.String("token-file", "", "file holding your API token (default: $LIENTHONG_TOKEN)")
	serial := fs.String("token-serial", "", "token serial (default: the only token with a certificate and its key)")
	keyID := fs.String("key-id", "", "CKA_ID of the key, hex (default: the only certificate with a key)")
	image := fs.String("image", "", "PNG of your signature for a visible signature")
	page := fs.Int("page", 1, "page of the visible signature")
	rect := fs.String("rect", "", "x1,y1,x2,y2 in points for the visible signature")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 || *server == "" || *doc == "" {
		fmt.Fprintln(e.Stderr, "usage: lienthong agent sign --server URL --doc ID [--agent http://127.0.0.1:8987] [--token-file F] [--token-serial S --key-id HEX] [--image PNG --page N --rect x1,y1,x2,y2]")
		return exitUsage
	}
	token := os.Getenv("LIENTHONG_TOKEN")
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintln(e.Stderr, "lienthong agent sign:", err)
			return exitUsage
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		fmt.Fprintln(e.Stderr, "lienthong agent sign: give your API token in LIENTHONG_TOKEN or --token-file")
		return exitUsage
	}
	origin, err := agent.NormalizeOrigin(*server)
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong agent sign:", err)
		return exitUsage
	}
	prepReq := remote.PrepareRequest{}
	if *image != "" || *rect != "" {
		ap := &remote.AppearanceIn{Page: *page}
		if *image != "" {
			if ap.ImagePNG, err = os.ReadFile(*image); err != nil {
				fmt.Fprintln(e.Stderr, "lienthong agent sign:", err)
				return exitUsage
			}
		}
		if _, err := fmt.Sscanf(*rect, "%g,%g,%g,%g", &ap.Rect[0], &ap.Rect[1], &ap.Rect[2], &ap.Rect[3]); err != nil {
			fmt.Fprintln(e.Stderr, "lienthong agent sign: --rect must be x1,y1,x2,y2")
			return exitUsage
		}
		prepReq.Appearance = ap
	}
	c := &pageClient{http: &http.Client{Timeout: 10 * time.Minute}, server: strings.TrimRight(*server, "/"), agent: strings.TrimRight(*agentURL, "/"),
		origin: origin, token: token}
	out, err := c.sign(ctx, e, *doc, *serial, *keyID, prepReq)
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong agent sign:", err)
		return exitNo
	}
	enc := json.NewEncoder(e.Stdout)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(out)
	return exitOK
}

// pageClient plays the web page: it talks to the agent with the server's Origin and to the server
// with the user's token.
type pageClient struct {
	http                         *http.Client
	server, agent, origin, token string
}

func (c *pageClient) do(ctx context.Context, toAgent bool, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	base := c.server
	if toAgent {
		base = c.agent
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if toAgent {
		req.Header.Set("Origin", c.origin)
	} else {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		if toAgent {
			return fmt.Errorf("the agent does not answer at %s (start it with `lienthong agent --origin %s`): %w", c.agent, c.origin, err)
		}
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		var p struct {
			Detail string `json:"detail"`
			Code   string `json:"code"`
		}
		if json.Unmarshal(data, &p) == nil && p.Detail != "" {
			return fmt.Errorf("%s (%s, HTTP %d)", p.Detail, p.Code, res.StatusCode)
		}
		return fmt.Errorf("%s %s: HTTP %d", method, path, res.StatusCode)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

func (c *pageClient) sign(ctx context.Context, e env, doc, serial, keyID string, prepReq remote.PrepareRequest) (*remote.Completed, error) {
	var list struct {
		Items []agent.CertInfo `json:"items"`
	}
	if err := c.do(ctx, true, "GET", "/v1/certificates", nil, &list); err != nil {
		return nil, err
	}
	var chosen []agent.CertInfo
	for _, ci := range list.Items {
		if ci.HasKey && (serial == "" || ci.TokenSerial == serial) && (keyID == "" || strings.EqualFold(ci.KeyID, keyID)) {
			chosen = append(chosen, ci)
		}
	}
	switch {
	case len(chosen) == 0:
		return nil, errors.New("no certificate with its key on the plugged-in token matches")
	case len(chosen) > 1:
		var names []string
		for _, ci := range chosen {
			names = append(names, fmt.Sprintf("--token-serial %s --key-id %s (%s)", ci.TokenSerial, ci.KeyID, ci.Subject))
		}
		return nil, errors.New("several certificates; choose one of: " + strings.Join(names, "; "))
	}
	ref := map[string]string{"token_serial": chosen[0].TokenSerial, "key_id": chosen[0].KeyID}
	var cert struct {
		Certificate []byte `json:"certificate"`
	}
	if err := c.do(ctx, true, "POST", "/v1/certificate", ref, &cert); err != nil {
		return nil, err
	}
	prepReq.Certificate = cert.Certificate
	var prep remote.Prepared
	if err := c.do(ctx, false, "POST", "/api/v1/outgoing/"+url.PathEscape(doc)+"/signing/prepare", prepReq, &prep); err != nil {
		return nil, err
	}
	fmt.Fprintf(e.Stderr, "Prepared %s (expires %s): %s — %s, SHA-256 %s\n", prep.ID, prep.ExpiresAt.Format(time.RFC3339),
		prep.Summary.Number, prep.Summary.Subject, prep.Summary.DocumentSHA256)
	var sig struct {
		Signature []byte `json:"signature"`
	}
	if err := c.do(ctx, true, "POST", "/v1/sign", map[string]any{"token_serial": ref["token_serial"], "key_id": ref["key_id"],
		"session_id": prep.ID, "digest": prep.Digest, "digest_algorithm": prep.DigestAlgorithm,
		"signed_attributes": prep.SignedAttributes, "summary": prep.Summary}, &sig); err != nil {
		return nil, err
	}
	var done remote.Completed
	if err := c.do(ctx, false, "POST", "/api/v1/signing/sessions/"+url.PathEscape(prep.ID)+"/complete",
		remote.CompleteRequest{Certificate: cert.Certificate, Signature: sig.Signature}, &done); err != nil {
		return nil, err
	}
	return &done, nil
}
