package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/workflow"
	"github.com/lienthong/lienthong/workflow/api"
)

// serveDeps is what `serve` hands to hooks: everything already connected and migrated, before the
// listener opens.
type serveDeps struct {
	Pool        *pgxpool.Pool
	DatabaseURL string
	Service     *workflow.Service // call SetDispatcher / SetStatusNotifier here
	API         *api.Server       // add routes with Handle / HandleAuth here
	Logger      *slog.Logger
	Workers     bool // false with --workers=false: run no background workers in this process
}

// serveHook lets other parts of the binary (the exchange side's River client, dispatcher and routes)
// join `serve`. start runs before listening; the stop it returns runs after the HTTP server has shut
// down, in reverse order of registration.
type serveHook struct {
	name  string
	start func(ctx context.Context, d *serveDeps) (stop func(ctx context.Context) error, err error)
}

var serveHooks []serveHook

// registerServeHook is called from init() by other command files.
func registerServeHook(h serveHook) { serveHooks = append(serveHooks, h) }

func init() {
	register(command{name: "serve", summary: "the node's HTTP API (and its workers): serve --listen ADDR", run: runServe})
}

func runServe(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "address to listen on")
	workers := fs.Bool("workers", true, "run background workers (delivery) in this process")
	debug := fs.Bool("debug", false, "log every request")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(e.Stderr, "usage: lienthong serve [--listen ADDR] [--workers=false] [--debug]")
		return exitUsage
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: level}))
	db, err := openDB(ctx, e, true)
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong serve:", err)
		return exitNo
	}
	defer db.Close()
	if db.cluster != nil {
		fmt.Fprintf(e.Stderr, "lienthong serve: private PostgreSQL at %s (other lienthong commands find it through %s)\n", db.URL, dataDir())
	}
	svc := workflow.New(db.Pool, workflow.Config{Logger: log})
	deps := &serveDeps{Pool: db.Pool, DatabaseURL: db.URL, Service: svc, API: api.New(api.Deps{Service: svc, Logger: log}),
		Logger: log, Workers: *workers}
	var stops []func(context.Context) error
	stopAll := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		for i := len(stops) - 1; i >= 0; i-- {
			if err := stops[i](sctx); err != nil {
				log.Error("stopping", slog.Any("error", err))
			}
		}
	}
	defer stopAll()
	for _, h := range serveHooks {
		stop, err := h.start(ctx, deps)
		if err != nil {
			fmt.Fprintf(e.Stderr, "lienthong serve: %s: %v\n", h.name, err)
			return exitNo
		}
		if stop != nil {
			stops = append(stops, stop)
		}
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong serve:", err)
		return exitNo
	}
	srv := &http.Server{Handler: deps.API, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 5 * time.Minute,
		WriteTimeout: 5 * time.Minute, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	log.Info("listening", slog.String("url", "http://"+ln.Addr().String()))
	select {
	case err = <-done:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		err = srv.Shutdown(sctx)
		cancel()
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(e.Stderr, "lienthong serve:", err)
		return exitNo
	}
	log.Info("stopped")
	return exitOK
}
