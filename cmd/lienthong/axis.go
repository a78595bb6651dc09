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

	"github.com/lienthong/lienthong/exchange/delivery"
	"github.com/lienthong/lienthong/exchange/hub"
)

func init() {
	register(command{name: "axis", summary: "run the reference interchange axis (hub): axis --listen ADDR [--nodes FILE]", run: runAxis})
	register(command{name: "axis node", summary: "register a node on the reference axis: axis node add --code CODE [--name N] [--push-url URL]", run: runAxisNode})
	// River's schema and the exchange ledger migrate with ours (`lienthong migrate`).
	registerMigrateHook(migrateHook{name: "exchange", up: delivery.Migrate, down: delivery.MigrateDown, status: delivery.Status})
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
	fs.Usage = func() {
		fmt.Fprintln(e.Stderr, "usage: lienthong axis --listen ADDR [--nodes FILE]\n\nThe hub keeps its state in DATABASE_URL (or the private cluster in $LIENTHONG_DATA).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *listen == "" || *faults < 0 || *faults > 1 {
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
	h, err := hub.Open(ctx, db.Pool, hub.Config{Logger: log})
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
