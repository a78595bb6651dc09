package main

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/lienthong/lienthong/exchange/delivery"
	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/softhsm"
	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/signing/verify"
	"github.com/lienthong/lienthong/web"
	"github.com/lienthong/lienthong/workflow"
)

// webConsole is the console mounted by `serve`. A hook that starts the exchange side's delivery node
// hands it over with webConsole.SetDeliveries(node), which turns on the failed-delivery list and the
// re-deliver button; it works whichever of the two hooks runs first (hooks run in file order).
var webConsole = &webMount{}

var _ web.Deliveries = (*delivery.Node)(nil)

type webMount struct {
	mu  sync.Mutex
	h   *web.Handler
	del web.Deliveries
}

// SetDeliveries gives the console the delivery node.
func (m *webMount) SetDeliveries(d web.Deliveries) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.del = d
	if m.h != nil {
		m.h.SetDeliveries(d)
	}
}

func (m *webMount) set(h *web.Handler) web.Deliveries {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.h = h
	return m.del
}

func (m *webMount) reset() {
	m.mu.Lock()
	m.h, m.del = nil, nil
	m.mu.Unlock()
}

// webRoots, when set (by `web demo`), are the trust anchors of the console's signature checks;
// otherwise LIENTHONG_WEB_ROOTS (or, when unset, LIENTHONG_SIGNING_ROOTS) names PEM files separated
// by ':'.
var webRoots *x509.CertPool

func init() {
	registerServeHook(serveHook{name: "web console", start: startWebConsole})
	register(command{name: "web demo", summary: "fill the database with demo data for the web console, print the sign-in tokens, then serve: web demo [serve flags]", run: runWebDemo})
}

// runWebDemo seeds the demo data (once per database), makes the leader a SoftHSM token for the local
// agent when SoftHSM is installed, prints how to sign in, and runs `serve` with the given flags.
func runWebDemo(ctx context.Context, e env, args []string) int {
	db, err := openDB(ctx, e, false)
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong web demo:", err)
		return exitNo
	}
	// The demo is for an empty database: bring its schema up to date first (what `migrate up` does).
	if err := migrateUp(ctx, io.Discard, db.Pool); err != nil {
		db.Close()
		fmt.Fprintln(e.Stderr, "lienthong web demo: migrations:", err)
		return exitNo
	}
	svc := workflow.New(db.Pool, workflow.Config{})
	demo, err := web.SeedDemo(ctx, svc)
	db.Close()
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong web demo:", apperr.Detail(err))
		return exitNo
	}
	webRoots = x509.NewCertPool()
	webRoots.AddCert(demo.CA.Cert)
	listen := "127.0.0.1:8080"
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, "--listen="); ok {
			listen = v
		} else if a == "--listen" && i+1 < len(args) {
			listen = args[i+1]
		}
	}
	base := "http://" + listen
	w := e.Stdout
	fmt.Fprintf(w, "Dữ liệu mẫu của %s (UBND tỉnh Tây Ninh) đã sẵn sàng / demo data ready.\n", demo.OrgCode)
	fmt.Fprintf(w, "Mở / open %s/ui/ và đăng nhập bằng mã truy cập / and sign in with a token:\n", base)
	for _, r := range []string{"clerk", "leader", "specialist"} {
		fmt.Fprintf(w, "  %-10s %-18s %s\n", r, demo.Users[r].Name, demo.Tokens[r])
	}
	// LIENTHONG_WEB_DEMO_TOKEN=0 skips the SoftHSM token (SoftHSM's configuration is process-wide).
	if dir, err := filepath.Abs(filepath.Join(dataDir(), "web-demo-hsm")); err == nil && os.Getenv("LIENTHONG_WEB_DEMO_TOKEN") != "0" {
		if tok, err := webDemoToken(ctx, dir, demo); err != nil {
			fmt.Fprintf(w, "(no SoftHSM token for the leader: %v; signing in the browser needs a real token and `lienthong agent`)\n", err)
		} else {
			fmt.Fprintf(w, "Ký số / signing: the leader's demo USB token is SoftHSM token %q. In another terminal run:\n", tok.Label)
			fmt.Fprintf(w, "  SOFTHSM2_CONF=%s lienthong agent --origin %s --module %s --pin-source file:%s\n",
				tok.Store.Conf, base, tok.Store.Module, tok.PINFile)
		}
	}
	fmt.Fprintln(w, "Then / sau đó: lienthong serve as below (Ctrl-C to stop).")
	return runServe(ctx, e, args)
}

// webDemoToken makes a SoftHSM token with the leader's key, certified by the demo CA.
func webDemoToken(ctx context.Context, dir string, demo web.Demo) (*softhsm.Token, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	store, err := softhsm.Setup(dir)
	if err != nil {
		return nil, err
	}
	tok, err := store.NewToken(ctx, "lienthong-demo-leader")
	if err != nil {
		return nil, err
	}
	if _, err := tok.IssueKey(ctx, "leader", []byte{1}, hsm.ECP256, demo.CA, pkix.Name{Country: []string{"VN"},
		Organization: []string{"UBND tỉnh Tây Ninh"}, CommonName: demo.Users["leader"].Name}); err != nil {
		return nil, err
	}
	return tok, nil
}

func startWebConsole(ctx context.Context, d *serveDeps) (func(context.Context) error, error) {
	roots := webRoots
	if roots == nil {
		v := strings.TrimSpace(os.Getenv("LIENTHONG_WEB_ROOTS"))
		if v == "" {
			v = strings.TrimSpace(os.Getenv(envSigningRoots))
		}
		if v != "" {
			var err error
			if roots, err = verify.LoadRoots(strings.Split(v, ":")...); err != nil {
				return nil, fmt.Errorf("LIENTHONG_WEB_ROOTS: %w", err)
			}
		}
	}
	h, err := web.New(web.Config{Service: d.Service, API: d.API, Roots: roots, Logger: d.Logger,
		AgentURL: os.Getenv("LIENTHONG_AGENT_URL"), SecureCookies: os.Getenv("LIENTHONG_WEB_SECURE") == "1"})
	if err != nil {
		return nil, err
	}
	if del := webConsole.set(h); del != nil {
		h.SetDeliveries(del)
	}
	d.API.Handle("/ui/", h)
	d.API.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
	d.Logger.Info("web console at /ui/")
	return func(context.Context) error { webConsole.reset(); return nil }, nil
}
