package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/exchange/delivery"
	"github.com/lienthong/lienthong/exchange/demo"
	"github.com/lienthong/lienthong/workflow"
)

func init() {
	register(command{name: "demo", summary: "the end-to-end scenario: demo [--documents N] [--faults]", run: runDemo})
	register(command{name: "demo worker", summary: "(internal) the demo's province delivery worker process", run: runDemoWorker})
}

func runDemo(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	docs := fs.Int("documents", 20, "documents to issue")
	faults := fs.Bool("faults", false, "fail or stall ~30% of axis calls, reset connections, kill the delivery worker mid-way")
	size := fs.Int("pdf-size", 30<<10, "bytes per PDF")
	verbose := fs.Bool("v", false, "log diagnostics to stderr")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 || *docs < 1 || *docs > 100000 {
		if err == nil {
			fs.Usage()
		}
		return exitUsage
	}
	level := slog.LevelError
	if *verbose {
		level = slog.LevelInfo
	}
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong demo:", err)
		return exitNo
	}
	sum, err := demo.Run(ctx, demo.Options{Documents: *docs, Faults: *faults, Trail: e.Stdout, PDFSize: *size,
		Log: slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: level})),
		WorkerCmd: func(a ...string) *exec.Cmd {
			return exec.Command(self, append([]string{"demo", "worker"}, a...)...)
		}})
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong demo:", err)
	}
	if sum.Documents > 0 {
		b, _ := json.Marshal(sum)
		fmt.Fprintln(e.Stdout, string(b))
	}
	if err != nil {
		return exitNo
	}
	return exitOK
}

// runDemoWorker runs one organisation's delivery node (outbound deliveries, pulls, statuses) until
// SIGTERM or SIGKILL; the faulty demo kills it mid-delivery on purpose.
func runDemoWorker(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("demo worker", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	db := fs.String("db", "", "database URL")
	org := fs.String("org", "", "organisation code")
	orgName := fs.String("org-name", "", "organisation name")
	hubURL := fs.String("hub", "", "axis URL")
	token := fs.String("token", "", "node token")
	faults := fs.Bool("faults", false, "short client timeouts")
	if err := fs.Parse(args); err != nil || *db == "" || *org == "" || *hubURL == "" || *token == "" {
		return exitUsage
	}
	pool, err := pgxpool.New(ctx, *db)
	if err != nil {
		fmt.Fprintln(e.Stderr, "demo worker:", err)
		return exitNo
	}
	defer pool.Close()
	log := slog.New(slog.NewTextHandler(e.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	svc := workflow.New(pool, workflow.Config{Logger: log})
	cfg := demo.NodeConfig(*org, *orgName, *hubURL, *token, *faults, log)
	cfg.Filer = delivery.WorkflowFiler{Service: svc}
	cfg.Recorder = svc
	node, err := delivery.New(ctx, pool, cfg)
	if err != nil {
		fmt.Fprintln(e.Stderr, "demo worker:", err)
		return exitNo
	}
	svc.SetStatusNotifier(node)
	if err := node.Start(ctx); err != nil {
		fmt.Fprintln(e.Stderr, "demo worker:", err)
		return exitNo
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = node.Stop(sctx)
	return exitOK
}
