package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/internal/pgcluster"
	"github.com/lienthong/lienthong/migrations"
)

// migrateHook lets another part of the binary (the exchange side's River schema) join `lienthong
// migrate`: up runs after ours, down before ours, status prints one line.
type migrateHook struct {
	name   string
	up     func(ctx context.Context, pool *pgxpool.Pool) error
	down   func(ctx context.Context, pool *pgxpool.Pool) error
	status func(ctx context.Context, pool *pgxpool.Pool) (string, error)
}

var migrateHooks []migrateHook

// registerMigrateHook is called from init() by other command files.
func registerMigrateHook(h migrateHook) { migrateHooks = append(migrateHooks, h) }

func init() {
	register(command{name: "migrate", summary: "database migrations: migrate [up|down|status] (default up)", run: runMigrate})
}

func runMigrate(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	steps := fs.Int("steps", 1, "down: how many of our migrations to revert, newest first")
	all := fs.Bool("all", false, "down: revert every migration (ours and the hooks'), leaving an empty schema")
	fs.Usage = func() {
		fmt.Fprintln(e.Stderr, "usage: lienthong migrate [up|down|status] [--steps N | --all]\n\nDATABASE_URL names the database; when unset, the private cluster in $LIENTHONG_DATA (default ./lienthong-data) is used.")
		fs.PrintDefaults()
	}
	verb := "up"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 || (verb != "up" && verb != "down" && verb != "status") {
		fs.Usage()
		return exitUsage
	}
	db, err := openDB(ctx, e, false)
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong migrate:", err)
		return exitNo
	}
	defer db.Close()
	switch verb {
	case "up":
		err = migrateUp(ctx, e.Stdout, db.Pool)
	case "down":
		if *steps < 1 && !*all {
			fmt.Fprintln(e.Stderr, "lienthong migrate: --steps must be at least 1 (or use --all)")
			return exitUsage
		}
		// Other parts' schemas (River) depend on nothing of ours, so they go only with --all.
		for i := len(migrateHooks) - 1; i >= 0 && err == nil && *all; i-- {
			if migrateHooks[i].down != nil {
				err = migrateHooks[i].down(ctx, db.Pool)
			}
		}
		if err == nil {
			n := *steps
			if *all {
				n = 0
			}
			var done []int
			done, err = migrations.Down(ctx, db.Pool, n)
			for _, v := range done {
				fmt.Fprintf(e.Stdout, "reverted %03d\n", v)
			}
		}
	case "status":
		var st []migrations.Status
		if st, err = migrations.List(ctx, db.Pool); err == nil {
			for _, s := range st {
				at := "pending"
				if s.Applied() {
					at = "applied " + s.AppliedAt.UTC().Format(time.RFC3339)
				}
				fmt.Fprintf(e.Stdout, "%03d_%s\t%s\n", s.Version, s.Name, at)
			}
			for _, h := range migrateHooks {
				if h.status != nil {
					line, herr := h.status(ctx, db.Pool)
					if herr != nil {
						err = herr
						break
					}
					fmt.Fprintf(e.Stdout, "%s\t%s\n", h.name, line)
				}
			}
		}
	}
	if err != nil {
		fmt.Fprintln(e.Stderr, "lienthong migrate:", err)
		return exitNo
	}
	return exitOK
}

func migrateUp(ctx context.Context, w io.Writer, pool *pgxpool.Pool) error {
	done, err := migrations.Up(ctx, pool)
	for _, v := range done {
		fmt.Fprintf(w, "applied %03d\n", v)
	}
	if err != nil {
		return err
	}
	for _, h := range migrateHooks {
		if h.up != nil {
			if err := h.up(ctx, pool); err != nil {
				return fmt.Errorf("%s: %w", h.name, err)
			}
		}
	}
	return nil
}

// database is an open database for a subcommand. Close stops the private cluster if this command
// started it.
type database struct {
	Pool    *pgxpool.Pool
	URL     string
	cluster *pgcluster.Cluster
}

func (d *database) Close() {
	d.Pool.Close()
	if d.cluster != nil {
		_ = d.cluster.Stop()
	}
}

// dataDir is where the embedded default keeps its cluster.
func dataDir() string {
	if d := os.Getenv("LIENTHONG_DATA"); d != "" {
		return d
	}
	return "lienthong-data"
}

// openDB connects to DATABASE_URL or, when it is unset, to the private cluster in dataDir()/pg: reusing
// one already running there (a `serve` in another terminal) or starting it and stopping it on Close.
// On a private cluster the schema is migrated automatically; on DATABASE_URL it must be current when
// needSchema is set (run `lienthong migrate` first).
func openDB(ctx context.Context, e env, needSchema bool) (*database, error) {
	url := os.Getenv("DATABASE_URL")
	db := &database{URL: url}
	private := url == ""
	if private {
		dir := filepath.Join(dataDir(), "pg")
		if port, ok := runningCluster(dir); ok {
			db.URL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
		} else {
			if err := os.MkdirAll(dataDir(), 0o755); err != nil {
				return nil, err
			}
			fmt.Fprintf(e.Stderr, "lienthong: DATABASE_URL is unset; starting the private PostgreSQL in %s\n", dir)
			c, err := pgcluster.Start(ctx, dir)
			if err != nil {
				return nil, err
			}
			db.cluster, db.URL = c, c.URL("postgres")
		}
	}
	cfg, err := pgxpool.ParseConfig(db.URL)
	if err != nil {
		db.stopCluster()
		return nil, apperr.Wrap(apperr.Invalid, "bad_database_url", "DATABASE_URL is not a valid PostgreSQL URL", errors.New("unparseable"))
	}
	// pgxpool's default is the CPU count (4 minimum); a server wants more, unless the URL says
	// otherwise with pool_max_conns.
	if !strings.Contains(db.URL, "pool_max_conns") {
		cfg.MaxConns = 16
	}
	if db.Pool, err = pgxpool.NewWithConfig(ctx, cfg); err == nil {
		err = db.Pool.Ping(ctx)
	}
	if err != nil {
		if db.Pool != nil {
			db.Pool.Close()
		}
		db.stopCluster()
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	if needSchema {
		if private {
			err = migrateUp(ctx, io.Discard, db.Pool)
		} else {
			err = migrations.Validate(ctx, db.Pool)
		}
		if err != nil {
			db.Close()
			return nil, err
		}
	}
	return db, nil
}

func (d *database) stopCluster() {
	if d.cluster != nil {
		_ = d.cluster.Stop()
	}
}

// runningCluster reads postmaster.pid of a cluster some other lienthong process started in dir.
func runningCluster(dir string) (int, bool) {
	f, err := os.Open(filepath.Join(dir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var lines []string
	for sc.Scan() && len(lines) < 4 {
		lines = append(lines, strings.TrimSpace(sc.Text()))
	}
	if len(lines) < 4 {
		return 0, false
	}
	pid, err1 := strconv.Atoi(lines[0])
	port, err2 := strconv.Atoi(lines[3])
	if err1 != nil || err2 != nil || pid <= 0 || syscall.Kill(pid, 0) != nil {
		return 0, false
	}
	return port, true
}

// exitFor maps an error to the contract's exit codes: bad input 2, everything else 1.
func exitFor(err error) int {
	switch apperr.KindOf(err) {
	case apperr.Invalid, apperr.TooLarge:
		return exitUsage
	}
	return exitNo
}
