package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/lienthong/lienthong/exchange/axis"
	"github.com/lienthong/lienthong/exchange/blobs"
	"github.com/lienthong/lienthong/exchange/delivery"
	"github.com/lienthong/lienthong/exchange/demo"
	"github.com/lienthong/lienthong/exchange/hub"
	"github.com/lienthong/lienthong/signing/verify"
	"github.com/lienthong/lienthong/workflow"
)

func init() {
	register(command{name: "axis", summary: "run the reference interchange axis (hub): axis --listen ADDR [--nodes FILE]", run: runAxis})
	register(command{name: "axis node", summary: "register a node on the reference axis: axis node add --code CODE [--name N] [--push-url URL]", run: runAxisNode})
	// River's schema and the exchange ledger migrate with ours (`lienthong migrate`).
	registerMigrateHook(migrateHook{name: "exchange", up: delivery.Migrate, down: delivery.MigrateDown, status: delivery.Status})
	// `serve` runs the organisation's delivery node when LIENTHONG_ORG is set.
	registerServeHook(serveHook{name: "exchange", start: startExchange})
}

// exchangeAxis builds the axis client from the environment: LIENTHONG_AXIS = reference (default),
// national or lgsp, with the variables named in docs/exchange.md. Secrets are read from files.
func exchangeAxis(org string) (axis.Axis, error) {
	secret := func(name string) (string, error) {
		p := os.Getenv(name)
		if p == "" {
			return "", fmt.Errorf("%s (a file holding the secret) is required", name)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	client := &http.Client{Timeout: 60 * time.Second}
	switch kind := os.Getenv("LIENTHONG_AXIS"); kind {
	case "", "reference":
		tok, err := secret("LIENTHONG_AXIS_TOKEN_FILE")
		if err != nil {
			return nil, err
		}
		u := os.Getenv("LIENTHONG_AXIS_URL")
		if u == "" {
			return nil, errors.New("LIENTHONG_AXIS_URL (the reference axis) is required")
		}
		return &axis.Reference{BaseURL: u, Token: tok, Client: client}, nil
	case "national":
		sec, err := secret("LIENTHONG_VDXP_SECRET_FILE")
		if err != nil {
			return nil, err
		}
		return &axis.National{Endpoint: os.Getenv("LIENTHONG_VDXP_ENDPOINT"), SystemID: os.Getenv("LIENTHONG_VDXP_SYSTEM_ID"),
			Secret: []byte(sec), From: org, HashCompat: os.Getenv("LIENTHONG_VDXP_HASH_COMPAT") == "1", Client: client}, nil
	case "lgsp":
		cs, err := secret("LIENTHONG_LGSP_CLIENT_SECRET_FILE")
		if err != nil {
			return nil, err
		}
		us, err := secret("LIENTHONG_LGSP_UNIT_SECRET_FILE")
		if err != nil {
			return nil, err
		}
		return &axis.LGSP{TokenURL: os.Getenv("LIENTHONG_LGSP_TOKEN_URL"), ClientID: os.Getenv("LIENTHONG_LGSP_CLIENT_ID"),
			ClientSecret: cs, Base: os.Getenv("LIENTHONG_LGSP_BASE"), Unit: org, UnitSecret: us, Client: client}, nil
	default:
		return nil, fmt.Errorf("LIENTHONG_AXIS=%q: use reference, national or lgsp", kind)
	}
}

// startExchange is the serve hook: the delivery node is the workflow's Dispatcher and StatusNotifier,
// files what arrives, verifies signatures against LIENTHONG_SIGNING_ROOTS, serves the axis push
// endpoint and the failed-deliveries list, and (unless --workers=false) runs the River workers.
func startExchange(ctx context.Context, d *serveDeps) (func(context.Context) error, error) {
	org := os.Getenv("LIENTHONG_ORG")
	if org == "" {
		d.Logger.Info("exchange disabled: set LIENTHONG_ORG (and the axis variables) to deliver and receive over the axis")
		return nil, nil
	}
	ax, err := exchangeAxis(org)
	if err != nil {
		return nil, err
	}
	if err := delivery.Migrate(ctx, d.Pool); err != nil {
		return nil, err
	}
	cfg := delivery.Config{Org: org, Axis: ax, Filer: delivery.WorkflowFiler{Service: d.Service}, Recorder: d.Service,
		Logger: d.Logger, WorkersOnly: false}
	if dir := os.Getenv("LIENTHONG_PACKET_DIR"); dir != "" {
		if cfg.Packets, err = blobs.Open(dir, true); err != nil {
			return nil, fmt.Errorf("LIENTHONG_PACKET_DIR: %w", err)
		}
	}
	if roots := os.Getenv("LIENTHONG_SIGNING_ROOTS"); roots != "" {
		pool, err := verify.LoadRoots(strings.Split(roots, ":")...)
		if err != nil {
			return nil, err
		}
		cfg.Verifier = demo.PDFVerifier{Roots: pool}
	}
	if v := os.Getenv("LIENTHONG_PULL_INTERVAL"); v != "" {
		if cfg.PullInterval, err = time.ParseDuration(v); err != nil {
			return nil, fmt.Errorf("LIENTHONG_PULL_INTERVAL: %w", err)
		}
	}
	node, err := delivery.New(ctx, d.Pool, cfg)
	if err != nil {
		return nil, err
	}
	d.Service.SetDispatcher(node)
	d.Service.SetStatusNotifier(node)
	webConsole.SetDeliveries(node) // works whether or not the console's hook has run yet
	d.API.Handle("POST /api/v1/exchange/push", node.PushHandler())
	d.API.Handle("GET /api/v1/exchange/metrics", node.MetricsHandler())
	d.API.HandleAuth("GET /api/v1/exchange/failed", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		if p.OrgCode != org || (p.Role != workflow.RoleClerk && p.Role != workflow.RoleAdmin) {
			http.Error(w, "clerks of "+org+" only", http.StatusForbidden)
			return
		}
		list, err := node.FailedDeliveries(r.Context(), 500)
		if err != nil {
			http.Error(w, "the failed-deliveries list is unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"items": list})
	})
	d.API.HandleAuth("POST /api/v1/exchange/failed/{message_id}/redeliver", func(w http.ResponseWriter, r *http.Request, p workflow.Principal) {
		if p.OrgCode != org || p.Role != workflow.RoleClerk {
			http.Error(w, "clerks of "+org+" only", http.StatusForbidden)
			return
		}
		if err := node.Redeliver(r.Context(), r.PathValue("message_id")); err != nil {
			if errors.Is(err, delivery.ErrNotFailed) {
				http.Error(w, "no failed delivery with this message id", http.StatusNotFound)
				return
			}
			http.Error(w, "re-delivery could not be queued", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
	})
	if !d.Workers {
		return nil, nil
	}
	if err := node.Start(ctx); err != nil {
		return nil, err
	}
	d.Logger.Info("exchange node started", "org", org, "axis", fmt.Sprintf("%T", ax))
	return node.Stop, nil
}

// axisNodeFile is one entry of --nodes: a node's code and where its token is kept.
type axisNodeFile struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	TokenFile string `json:"token_file"`
	PushURL   string `json:"push_url"`
}

func runAxis(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("axis", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	listen := fs.String("listen", "", "address to serve the hub on, e.g. 127.0.0.1:7400 (required)")
	nodes := fs.String("nodes", "", `JSON file [{"code","name","token_file","push_url"}] of nodes to register at start`)
	faults := fs.Float64("faults", 0, "fraction of calls to fail on purpose (testing only), 0-1")
	packetDir := fs.String("packet-dir", "", "keep packet bodies as files in this folder (fsynced) instead of in the database")
	retention := fs.Duration("retention", 30*24*time.Hour, "remove a packet this long after it was accepted once every recipient acknowledged it (checked hourly); 0 keeps everything")
	fs.Usage = func() {
		fmt.Fprintln(e.Stderr, "usage: lienthong axis --listen ADDR [--nodes FILE] [--packet-dir DIR] [--retention 720h]\n\nThe hub keeps its state in DATABASE_URL (or the private cluster in $LIENTHONG_DATA).\nPackets still waiting for a recipient are kept however old; the nodes keep their own copies as evidence.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err == nil && *retention < 0 {
		fmt.Fprintln(e.Stderr, "lienthong axis: --retention must be 0 (keep everything) or a positive duration such as 720h")
		return exitUsage
	} else if err != nil || fs.NArg() > 0 || *listen == "" || *faults < 0 || *faults > 1 {
		if err == nil {
			fs.Usage()
		}
		return exitUsage
	}
	var entries []axisNodeFile
	if *nodes != "" {
		b, err := os.ReadFile(*nodes)
		if err != nil {
			fmt.Fprintf(e.Stderr, "lienthong axis: %v\n", err)
			return exitUsage
		}
		dec := json.NewDecoder(strings.NewReader(string(b)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&entries); err != nil {
			fmt.Fprintf(e.Stderr, "lienthong axis: %s: %v\n", *nodes, err)
			return exitUsage
		}
	}
	log := slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	db, err := openDB(ctx, e, false)
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong axis:", err)
		return exitNo
	}
	defer db.Close()
	hcfg := hub.Config{Logger: log, Retention: *retention}
	if *packetDir != "" {
		if hcfg.Packets, err = blobs.Open(*packetDir, true); err != nil {
			fmt.Fprintln(e.Stderr, "lienthong axis:", err)
			return exitNo
		}
		defer hcfg.Packets.Close()
	}
	h, err := hub.Open(ctx, db.Pool, hcfg)
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong axis:", err)
		return exitNo
	}
	defer h.Close()
	for _, n := range entries {
		tok, err := os.ReadFile(n.TokenFile)
		if err != nil {
			fmt.Fprintf(e.Stderr, "lienthong axis: node %s: %v\n", n.Code, err)
			return exitUsage
		}
		if err := h.AddNode(ctx, n.Code, n.Name, strings.TrimRight(string(tok), "\r\n"), n.PushURL); err != nil {
			fmt.Fprintln(e.Stderr, "lienthong axis:", err)
			return exitUsage
		}
	}
	var handler http.Handler = h.Handler()
	if *faults > 0 {
		handler = hub.NewFaults(*faults, uint64(time.Now().UnixNano())).Wrap(handler)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong axis:", err)
		return exitNo
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	log.Info("reference axis listening", "addr", ln.Addr().String())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return exitOK
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return exitOK
		}
		fmt.Fprintln(e.Stderr, "lienthong axis:", err)
		return exitNo
	}
}

func runAxisNode(ctx context.Context, e env, args []string) int {
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprintln(e.Stderr, "usage: lienthong axis node add --code CODE [--name NAME] [--push-url URL]")
		return exitUsage
	}
	fs := flag.NewFlagSet("axis node add", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	code := fs.String("code", "", "organisation code (required)")
	name := fs.String("name", "", "organisation name")
	push := fs.String("push-url", "", "URL the hub notifies when a packet arrives for this node")
	if err := fs.Parse(args[1:]); err != nil || *code == "" || fs.NArg() > 0 {
		if err == nil {
			fs.Usage()
		}
		return exitUsage
	}
	db, err := openDB(ctx, e, false)
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong axis node:", err)
		return exitNo
	}
	defer db.Close()
	h, err := hub.Open(ctx, db.Pool, hub.Config{})
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong axis node:", err)
		return exitNo
	}
	defer h.Close()
	tok := hub.NewToken()
	if err := h.AddNode(ctx, *code, *name, tok, *push); err != nil {
		fmt.Fprintln(e.Stderr, "lienthong axis node:", err)
		return exitUsage
	}
	fmt.Fprintf(e.Stdout, "node %s registered; its token (shown once):\n%s\n", *code, tok)
	return exitOK
}
