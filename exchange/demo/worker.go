package demo

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/exchange/blobs"
	"github.com/lienthong/lienthong/exchange/delivery"
	"github.com/lienthong/lienthong/workflow"
)

// RunWorker runs one organisation's delivery node (outbound deliveries, pulls, statuses) until ctx ends
// or the process is killed: the faulty demo runs the province's worker this way and SIGKILLs it.
// args: --db URL --org CODE --org-name NAME --hub URL --token T [--packets DIR] [--faults].
func RunWorker(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := fs.String("db", "", "database URL")
	org := fs.String("org", "", "organisation code")
	orgName := fs.String("org-name", "", "organisation name")
	hubURL := fs.String("hub", "", "axis URL")
	token := fs.String("token", "", "node token")
	faults := fs.Bool("faults", false, "short client timeouts")
	packets := fs.String("packets", "", "the organisation's packet store folder (shared with the demo process)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *db == "" || *org == "" || *hubURL == "" || *token == "" {
		return errors.New("demo worker: --db, --org, --hub and --token are required")
	}
	pool, err := pgxpool.New(ctx, *db)
	if err != nil {
		return err
	}
	defer pool.Close()
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	svc := workflow.New(pool, workflow.Config{Logger: log})
	cfg := NodeConfig(*org, *orgName, *hubURL, *token, *faults, log)
	if *packets != "" {
		st, err := blobs.Open(*packets, false)
		if err != nil {
			return err
		}
		defer st.Close()
		cfg.Packets = st
	}
	cfg.Filer = delivery.WorkflowFiler{Service: svc}
	cfg.Recorder = svc
	node, err := delivery.New(ctx, pool, cfg)
	if err != nil {
		return err
	}
	svc.SetStatusNotifier(node)
	if err := node.Start(ctx); err != nil {
		return err
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return node.Stop(sctx)
}
