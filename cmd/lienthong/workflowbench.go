package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"time"

	"github.com/lienthong/lienthong/internal/pgcluster"
	"github.com/lienthong/lienthong/workflow/bench"
)

func init() {
	register(command{name: "workflow bench", summary: "incoming registrations/s through the HTTP API beside plain pgx inserts [--clients 16 --seconds 10 --json]", run: runWorkflowBench})
}

func runWorkflowBench(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("workflow bench", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	clients := fs.Int("clients", 16, "concurrent clients")
	seconds := fs.Float64("seconds", 10, "seconds per phase")
	asJSON := fs.Bool("json", false, "print one JSON object")
	poolSize := fs.Int("pool", 0, "database connections (default 8)")
	cpuProfile := fs.String("cpuprofile", "", "write a Go CPU profile of the run to this file")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *clients < 1 || *clients > 256 || *seconds <= 0 || *seconds > 600 || fs.NArg() > 0 {
		fmt.Fprintln(e.Stderr, "usage: lienthong workflow bench [--clients 1..256] [--seconds S] [--json]")
		return exitUsage
	}
	base := os.Getenv("DATABASE_URL")
	if base == "" {
		// A throw-away cluster of its own, so the figures are not mixed with a running serve.
		c, err := pgcluster.Start(ctx, "")
		if err != nil {
			fmt.Fprintln(e.Stderr, "lienthong workflow bench:", err)
			return exitNo
		}
		defer func() { _ = c.Stop() }()
		base = c.URL("postgres")
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(e.Stderr, "lienthong workflow bench:", err)
			return exitUsage
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(e.Stderr, "lienthong workflow bench:", err)
			return exitNo
		}
		defer pprof.StopCPUProfile()
	}
	res, err := bench.Run(ctx, bench.Config{BaseURL: base, Clients: *clients, Duration: time.Duration(*seconds * float64(time.Second)), PoolSize: *poolSize})
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong workflow bench:", err)
		return exitNo
	}
	if *asJSON {
		_ = json.NewEncoder(e.Stdout).Encode(res)
	} else {
		fmt.Fprintf(e.Stdout, "clients %d, pool %d, %.0f s per phase\n", res.Clients, res.PoolSize, res.Seconds)
		fmt.Fprintf(e.Stdout, "pgx autocommit INSERT            %8.0f rows/s\n", res.PgxInsertPerSecond)
		fmt.Fprintf(e.Stdout, "pgx counter UPDATE + INSERT tx   %8.0f rows/s\n", res.PgxNumberedPerSecond)
		fmt.Fprintf(e.Stdout, "workflow.RegisterIncoming        %8.0f docs/s\n", res.ServicePerSecond)
		fmt.Fprintf(e.Stdout, "HTTP POST /api/v1/incoming       %8.0f docs/s (p50 %.1f ms, p99 %.1f ms), %d registered, gapless %v\n",
			res.HTTPPerSecond, res.HTTPp50ms, res.HTTPp99ms, res.HTTPRegistrations, res.Gapless)
		fmt.Fprintf(e.Stdout, "errors %d\n", res.Errors)
	}
	if !res.Gapless || res.Errors > 0 {
		return exitNo
	}
	return exitOK
}
