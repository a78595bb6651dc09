package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"

	"github.com/lienthong/lienthong/exchange/demo"
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

// runDemoWorker is the demo's province delivery worker process (see demo.RunWorker).
func runDemoWorker(ctx context.Context, e env, args []string) int {
	if err := demo.RunWorker(ctx, args, e.Stderr); err != nil {
		fmt.Fprintln(e.Stderr, "lienthong demo worker:", err)
		return exitUsage
	}
	return exitOK
}
