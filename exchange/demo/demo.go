// Package demo is `lienthong demo`: the whole story on embedded defaults. A private PostgreSQL cluster
// holds one database per organisation (a province, one of its districts and one of its communes) and
// one for the reference axis, which runs in-process over real HTTP; a SoftHSM token is made on the fly
// with a leader's key and the organisation's seal. For each document the province's leader signs, the
// organisation seals, the clerk issues and dispatches it to the district and the commune; their nodes
// pull it, verify the PAdES signatures, file it, register it and answer with statuses 01, 03, 04, 05
// and 06, which travel back to the province. With Faults the axis fails or stalls on about 30% of calls
// and resets connections, and the province's delivery worker runs as a separate process that is
// killed mid-delivery and restarted.
package demo

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/exchange/axis"
	"github.com/lienthong/lienthong/exchange/blobs"
	"github.com/lienthong/lienthong/exchange/delivery"
	"github.com/lienthong/lienthong/exchange/hub"
	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/softhsm"
	"github.com/lienthong/lienthong/internal/pgcluster"
	"github.com/lienthong/lienthong/migrations"
	"github.com/lienthong/lienthong/signing/pades"
	"github.com/lienthong/lienthong/signing/verify"
	"github.com/lienthong/lienthong/workflow"
)

var (
	sqlCountDoneStatusesFromSender     = queries.Must("CountDoneStatusesFromSender")
	sqlCountSentEdocs                  = queries.Must("CountSentEdocs")
	sqlCountIncomingFromSender         = queries.Must("CountIncomingFromSender")
	sqlCountDistinctIncomingFromSender = queries.Must("CountDistinctIncomingFromSender")
	sqlSummariseInboundVerdicts        = queries.Must("SummariseInboundVerdicts")
	sqlCountRegisteredIncoming         = queries.Must("CountRegisteredIncoming")
	sqlCountInboundPackets             = queries.Must("CountInboundPackets")
	sqlCountSentEdocDeliveries         = queries.Must("CountSentEdocDeliveries")
	sqlCountInboundStatusEvents        = queries.Must("CountInboundStatusEvents")
	sqlCountRunningJobs                = queries.Must("CountRunningJobs")
)

// Options configure a run.
type Options struct {
	Documents int
	Faults    bool
	Trail     io.Writer    // the human-readable trail
	Log       *slog.Logger // diagnostics (stderr); nil discards
	// WorkerCmd builds the command that runs the province's delivery worker in its own process
	// (`lienthong demo worker ...`); required with Faults.
	WorkerCmd func(args ...string) *exec.Cmd
	PDFSize   int           // bytes per document; 30 KB by default
	Timeout   time.Duration // for the whole exchange; 10 minutes by default
}

// Summary is the contract's last line.
type Summary struct {
	Documents        int     `json:"documents"`
	Recipients       int     `json:"recipients"`
	Delivered        int     `json:"delivered"`
	Lost             int     `json:"lost"`
	Duplicates       int     `json:"duplicates"`
	PacketsPerSecond float64 `json:"packets_per_second"`
	Seconds          float64 `json:"seconds"`
}

type org struct {
	code, name, abbr, level, parent string
	url                             string
	packetDir                       string // its node's packet store (shared with its worker process)
	packets                         *blobs.Store
	pool                            *pgxpool.Pool
	svc                             *workflow.Service
	node                            *delivery.Node
	token                           string
	clerk, leader, specialist       workflow.Principal
	specialistID                    int64
}

// Orgs of the scenario: a province, a district under it and a commune under the district.
func newOrgs() []*org {
	return []*org{
		{code: "000.00.00.H53", name: "UBND tỉnh Tây Ninh", abbr: "UBND", level: "province"},
		{code: "000.00.02.H53", name: "UBND huyện Hòa Thành", abbr: "UBND", level: "district", parent: "000.00.00.H53"},
		{code: "000.05.02.H53", name: "UBND xã Long Thành Bắc", abbr: "UBND", level: "commune", parent: "000.00.02.H53"},
	}
}

type runner struct {
	o       Options
	trail   io.Writer
	log     *slog.Logger
	orgs    []*org
	hubURL  string
	hub     *hub.Hub
	faults  *hub.Faults
	roots   *x509.CertPool
	leader  *hsm.Key
	seal    *hsm.Key
	chainL  []*x509.Certificate
	chainS  []*x509.Certificate
	mu      sync.Mutex
	workers []*exec.Cmd
	cleanup []func()
}

func (r *runner) say(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.trail, format+"\n", args...)
}

// Run plays the scenario and returns the summary.
func Run(ctx context.Context, o Options) (sum Summary, err error) {
	if o.Documents <= 0 {
		o.Documents = 20
	}
	if o.PDFSize <= 0 {
		o.PDFSize = 30 << 10
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Minute
	}
	if o.Trail == nil {
		o.Trail = io.Discard
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Faults && o.WorkerCmd == nil {
		return sum, errors.New("demo: --faults needs a worker command")
	}
	r := &runner{o: o, trail: o.Trail, log: o.Log, orgs: newOrgs()}
	defer func() {
		for i := len(r.cleanup) - 1; i >= 0; i-- {
			r.cleanup[i]()
		}
	}()
	if err := r.setup(ctx); err != nil {
		return sum, err
	}
	return r.play(ctx)
}

func randSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func (r *runner) setup(ctx context.Context) error {
	// 1. PostgreSQL: DATABASE_URL's server, or a private cluster that lives as long as the demo.
	base := os.Getenv("DATABASE_URL")
	if base == "" {
		c, err := pgcluster.Start(ctx, "")
		if err != nil {
			return err
		}
		r.cleanup = append(r.cleanup, func() { _ = c.Stop() })
		base = c.URL("postgres")
		r.say("• PostgreSQL: private cluster on 127.0.0.1:%d (one database per organisation, one for the axis)", c.Port)
	} else {
		r.say("• PostgreSQL: DATABASE_URL (fresh databases, dropped afterwards)")
	}
	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		return fmt.Errorf("demo: connecting to PostgreSQL: %w", err)
	}
	r.cleanup = append(r.cleanup, func() { _ = admin.Close(context.Background()) })
	suffix := randSuffix()
	mkdb := func(name string) (string, error) {
		db := "lt_demo_" + suffix + "_" + name
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+db); err != nil {
			return "", err
		}
		r.cleanup = append(r.cleanup, func() {
			_, _ = admin.Exec(context.Background(), "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)")
		})
		u, _ := url.Parse(base)
		u.Path = "/" + db
		return u.String(), nil
	}
	openPool := func(u string, max int32) (*pgxpool.Pool, error) {
		cfg, err := pgxpool.ParseConfig(u)
		if err != nil {
			return nil, err
		}
		cfg.MaxConns = max
		p, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, err
		}
		r.cleanup = append(r.cleanup, p.Close)
		return p, nil
	}

	// 2. SoftHSM token with the leader's key and the organisation's seal, both from a demo CA.
	dir, err := os.MkdirTemp("", "lienthong-demo-hsm-")
	if err != nil {
		return err
	}
	r.cleanup = append(r.cleanup, func() { _ = os.RemoveAll(dir) })
	store, err := softhsm.Setup(dir)
	if err != nil {
		return err
	}
	tok, err := store.NewToken(ctx, "lienthong-demo")
	if err != nil {
		return err
	}
	ca, err := softhsm.NewCA("Lienthong Demo CA (not a real CA)")
	if err != nil {
		return err
	}
	li, err := tok.IssueKey(ctx, "leader", []byte{1}, hsm.ECP256, ca, pkix.Name{Country: []string{"VN"},
		Organization: []string{"UBND tỉnh Tây Ninh"}, CommonName: "Nguyễn Văn An"})
	if err != nil {
		return err
	}
	si, err := tok.IssueKey(ctx, "seal", []byte{2}, hsm.RSA2048, ca, pkix.Name{Country: []string{"VN"},
		Organization: []string{"UBND tỉnh Tây Ninh"}, CommonName: "UBND tỉnh Tây Ninh"})
	if err != nil {
		return err
	}
	if r.leader, err = hsm.Open(ctx, li.URI); err != nil {
		return err
	}
	r.cleanup = append(r.cleanup, func() { _ = r.leader.Close() })
	if r.seal, err = hsm.Open(ctx, si.URI); err != nil {
		return err
	}
	r.cleanup = append(r.cleanup, func() { _ = r.seal.Close() })
	r.chainL, r.chainS = li.Chain(), si.Chain()
	r.roots = x509.NewCertPool()
	r.roots.AddCert(ca.Cert)
	r.say("• SoftHSM token %q made on the fly: leader key (ECDSA P-256) and organisation seal (RSA 2048), certificates from a demo CA", "lienthong-demo")

	// 3. The reference axis, over real HTTP on a loopback port. Packet bytes go to segment stores (the
	// configuration for volume): one for the axis and one per organisation, shared by its worker process.
	pdir, err := os.MkdirTemp("", "lienthong-demo-packets-")
	if err != nil {
		return err
	}
	r.cleanup = append(r.cleanup, func() { _ = os.RemoveAll(pdir) })
	openStore := func(name string) (*blobs.Store, string, error) {
		d := filepath.Join(pdir, name)
		st, err := blobs.Open(d, false) // the private cluster runs with fsync off too
		if err == nil {
			r.cleanup = append(r.cleanup, func() { _ = st.Close() })
		}
		return st, d, err
	}
	axisURL, err := mkdb("axis")
	if err != nil {
		return err
	}
	hp, err := openPool(axisURL, 40)
	if err != nil {
		return err
	}
	hubStore, _, err := openStore("axis")
	if err != nil {
		return err
	}
	for _, g := range r.orgs {
		if g.packets, g.packetDir, err = openStore(g.code); err != nil {
			return err
		}
	}
	if r.hub, err = hub.Open(ctx, hp, hub.Config{Logger: r.log, Packets: hubStore}); err != nil {
		return err
	}
	r.cleanup = append(r.cleanup, r.hub.Close)
	var handler http.Handler = r.hub.Handler()
	if r.o.Faults {
		r.faults = hub.NewFaults(0.3, uint64(time.Now().UnixNano()))
		r.faults.Delay = 2 * time.Second
		handler = r.faults.Wrap(handler)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	r.cleanup = append(r.cleanup, func() { _ = srv.Close() })
	r.hubURL = "http://" + ln.Addr().String()
	if r.o.Faults {
		r.say("• reference axis on %s — FAULTS ON: ~30%% of calls answer 503/429, reset the connection (before or after storing), or stall past the client's timeout", r.hubURL)
	} else {
		r.say("• reference axis on %s", r.hubURL)
	}

	// 4. The organisations: a database each, the directory, users, a node on the axis.
	for _, g := range r.orgs {
		name := strings.ReplaceAll(g.level, " ", "_")
		if g.url, err = mkdb(name); err != nil {
			return err
		}
		if g.pool, err = openPool(g.url, 40); err != nil {
			return err
		}
		if _, err := migrations.Up(ctx, g.pool); err != nil {
			return fmt.Errorf("demo: migrations for %s: %w", g.code, err)
		}
		if err := delivery.Migrate(ctx, g.pool); err != nil {
			return err
		}
		g.svc = workflow.New(g.pool, workflow.Config{Logger: r.log})
		sys := workflow.System("demo")
		for _, x := range r.orgs {
			if _, err := g.svc.AddOrg(ctx, sys, workflow.NewOrg{Code: x.code, Name: x.name, Abbr: x.abbr, Level: x.level, ParentCode: x.parent}); err != nil {
				return fmt.Errorf("demo: directory of %s: %w", g.code, err)
			}
		}
		for _, u := range []struct {
			role, name, pos string
			dst             *workflow.Principal
		}{{"clerk", "Trần Thị Văn Thư", "Văn thư", &g.clerk}, {"leader", "Nguyễn Văn An", "Chủ tịch", &g.leader},
			{"specialist", "Lê Văn Chuyên", "Chuyên viên", &g.specialist}} {
			usr, token, err := g.svc.AddUser(ctx, sys, workflow.NewUser{OrgCode: g.code, Name: u.name, Position: u.pos, Role: u.role})
			if err != nil {
				return fmt.Errorf("demo: users of %s: %w", g.code, err)
			}
			if *u.dst, err = g.svc.Authenticate(ctx, token); err != nil {
				return err
			}
			if u.role == "specialist" {
				g.specialistID = usr.ID
			}
		}
		g.token = hub.NewToken()
		if err := r.hub.AddNode(ctx, g.code, g.name, g.token, ""); err != nil {
			return err
		}
		g.node, err = delivery.New(ctx, g.pool, r.nodeConfig(g))
		if err != nil {
			return err
		}
		g.svc.SetDispatcher(g.node)
		g.svc.SetStatusNotifier(g.node)
		r.say("• %s (%s, %s level): database, directory of 3 organisations, clerk/leader/specialist, node on the axis", g.name, g.code, g.level)
	}
	return nil
}

// NodeConfig is the delivery configuration the demo uses (the worker process builds the same one).
func NodeConfig(org, orgName, hubURL, token string, faults bool, log *slog.Logger) delivery.Config {
	timeout := 10 * time.Second
	if faults {
		timeout = time.Second // stalls past this count as timeouts
	}
	return delivery.Config{Org: org, OrgName: orgName, Logger: log,
		Axis:         &axis.Reference{BaseURL: hubURL, Token: token, Client: &http.Client{Timeout: timeout}},
		PullInterval: 200 * time.Millisecond, MaxAttempts: 40,
		Backoff:       delivery.Backoff{Base: 50 * time.Millisecond, Cap: 1500 * time.Millisecond},
		FetchCooldown: 10 * time.Millisecond, FetchPollInterval: 100 * time.Millisecond,
		Workers: 50, InWorkers: 20, JobTimeout: 5 * time.Second, RescueAfter: 6 * time.Second, SoftStop: 3 * time.Second,
	}
}

func (r *runner) nodeConfig(g *org) delivery.Config {
	c := NodeConfig(g.code, g.name, r.hubURL, g.token, r.o.Faults, r.log)
	c.Packets = g.packets
	c.Filer = delivery.WorkflowFiler{Service: g.svc}
	c.Recorder = g.svc
	c.Verifier = PDFVerifier{Roots: r.roots}
	return c
}

// PDFVerifier checks the PAdES signatures of received PDFs with signing/verify.
type PDFVerifier struct{ Roots *x509.CertPool }

// Verify reports whether every signature of the PDF passes.
func (v PDFVerifier) Verify(ctx context.Context, name string, data []byte) (bool, string, error) {
	rep, err := verify.PDF(ctx, bytes.NewReader(data), int64(len(data)), verify.Options{Roots: v.Roots, File: name})
	if err != nil {
		return false, "unreadable PDF: " + err.Error(), nil
	}
	var parts []string
	for _, s := range rep.Signatures {
		who := ""
		if s.Signer != nil {
			who = s.Signer.CommonName
		}
		parts = append(parts, fmt.Sprintf("%s %s", who, s.Indication))
	}
	if !rep.Valid {
		return false, strings.Join(append(parts, rep.Problems...), "; "), nil
	}
	return true, fmt.Sprintf("%d signatures valid (%s)", len(rep.Signatures), strings.Join(parts, ", ")), nil
}

// sign: the leader signs, then the organisation seals (two PAdES signatures, incremental updates).
func (r *runner) sign(ctx context.Context, pdf []byte) ([]byte, error) {
	var a bytes.Buffer
	if _, err := pades.Sign(ctx, bytes.NewReader(pdf), int64(len(pdf)), &a, pades.Options{Signer: r.leader, Chain: r.chainL,
		Field: "LanhDao", Reason: "Ký ban hành", Location: "Tây Ninh"}); err != nil {
		return nil, fmt.Errorf("leader signature: %w", err)
	}
	var b bytes.Buffer
	if _, err := pades.Sign(ctx, bytes.NewReader(a.Bytes()), int64(a.Len()), &b, pades.Options{Signer: r.seal, Chain: r.chainS,
		Field: "CoQuan", Reason: "Đóng dấu cơ quan", Location: "Tây Ninh"}); err != nil {
		return nil, fmt.Errorf("organisation seal: %w", err)
	}
	return b.Bytes(), nil
}

func (r *runner) startWorker(ctx context.Context, g *org) (*exec.Cmd, error) {
	args := []string{"--db", g.url, "--org", g.code, "--org-name", g.name, "--hub", r.hubURL, "--token", g.token, "--packets", g.packetDir}
	if r.o.Faults {
		args = append(args, "--faults")
	}
	cmd := r.o.WorkerCmd(args...)
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r.mu.Lock()
	r.workers = append(r.workers, cmd)
	r.mu.Unlock()
	return cmd, nil
}

func count(ctx context.Context, p *pgxpool.Pool, q string, args ...any) int {
	var n int
	_ = p.QueryRow(ctx, q, args...).Scan(&n)
	return n
}

func (r *runner) play(ctx context.Context) (Summary, error) {
	ctx, cancel := context.WithTimeout(ctx, r.o.Timeout)
	defer cancel()
	prov, recips := r.orgs[0], r.orgs[1:]
	n := r.o.Documents
	sum := Summary{Documents: n, Recipients: len(recips)}

	// Start the nodes. In the faulty run the province's worker is a separate process we can kill.
	for _, g := range recips {
		if err := g.node.Start(ctx); err != nil {
			return sum, err
		}
		node := g.node
		r.cleanup = append(r.cleanup, func() { _ = node.Stop(context.Background()) })
	}
	var provWorker *exec.Cmd
	if r.o.Faults {
		var err error
		if provWorker, err = r.startWorker(ctx, prov); err != nil {
			return sum, err
		}
		r.cleanup = append(r.cleanup, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			for _, w := range r.workers {
				if w.ProcessState == nil {
					_ = w.Process.Signal(syscall.SIGTERM)
					_ = w.Wait()
				}
			}
		})
		r.say("• province delivery worker started as process %d", provWorker.Process.Pid)
	} else {
		if err := prov.node.Start(ctx); err != nil {
			return sum, err
		}
		r.cleanup = append(r.cleanup, func() { _ = prov.node.Stop(context.Background()) })
	}

	// The recipients' clerks and leaders work through what arrives.
	var handled atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, g := range recips {
		wg.Add(1)
		go func(g *org) {
			defer wg.Done()
			r.office(ctx, g, stop, &handled)
		}(g)
	}
	defer func() { close(stop); wg.Wait() }()

	r.say("")
	r.say("── %d documents from %s to %s and %s ──", n, prov.name, recips[0].name, recips[1].name)
	start := time.Now()
	pdf := MakePDF("Cong van so thu nghiem lien thong", r.o.PDFSize)
	docIDs := make([]string, 0, n)
	killed := false
	for i := 0; i < n; i++ {
		d, err := prov.svc.CreateOutgoing(ctx, prov.specialist, workflow.OutgoingIn{DocumentType: "Công văn",
			Subject: fmt.Sprintf("Về việc triển khai văn bản điện tử liên thông (đợt %d)", i+1), Urgency: "normal", Secrecy: "normal",
			SignerName: "Nguyễn Văn An", SignerPosition: "Chủ tịch", Competence: "TM.", Places: "Như trên",
			Main: workflow.FileIn{Name: "congvan.pdf", ContentType: "application/pdf", Data: pdf}})
		if err != nil {
			return sum, fmt.Errorf("demo: drafting: %w", err)
		}
		if _, err := prov.svc.SubmitOutgoing(ctx, prov.specialist, d.ID); err != nil {
			return sum, fmt.Errorf("demo: submitting: %w", err)
		}
		if _, err := prov.svc.ReviewOutgoing(ctx, prov.leader, d.ID, workflow.Review{Approve: true}); err != nil {
			return sum, fmt.Errorf("demo: review: %w", err)
		}
		signed, err := r.sign(ctx, pdf)
		if err != nil {
			return sum, err
		}
		if _, err := prov.svc.SignOutgoing(ctx, prov.leader, d.ID, workflow.Signature{Signed: workflow.FileIn{Name: "congvan-signed.pdf",
			ContentType: "application/pdf", Data: signed}, KeyLabel: "leader"}); err != nil {
			return sum, fmt.Errorf("demo: storing the signed PDF: %w", err)
		}
		issued, err := prov.svc.IssueOutgoing(ctx, prov.clerk, d.ID)
		if err != nil {
			return sum, fmt.Errorf("demo: issuing: %w", err)
		}
		if _, err := prov.svc.DispatchOutgoing(ctx, prov.clerk, d.ID, workflow.DispatchTo{Codes: []string{recips[0].code, recips[1].code}}); err != nil {
			return sum, fmt.Errorf("demo: dispatching: %w", err)
		}
		docIDs = append(docIDs, d.ID)
		if i < 2 || i == n-1 {
			r.say("  [%s] số %s: signed by the leader (ECDSA), sealed (RSA), issued and dispatched — 2 deliveries queued in the issuing transaction",
				prov.code, issued.Number)
		} else if i == 2 {
			r.say("  …")
		}
		if r.o.Faults && !killed && i >= n/3 {
			killed = r.killAndRestart(ctx, prov, &provWorker)
		}
	}
	if r.o.Faults && !killed {
		killed = r.killAndRestart(ctx, prov, &provWorker)
	}

	// Wait until every recipient reported 06 (done) back to the province.
	want := n * len(recips)
	lastSay := time.Now()
	for {
		done := count(ctx, prov.pool, sqlCountDoneStatusesFromSender, prov.code)
		if done >= want {
			break
		}
		if ctx.Err() != nil {
			r.say("!! timed out with %d of %d (document, recipient) pairs done", done, want)
			break
		}
		if time.Since(lastSay) > 3*time.Second {
			sent := count(ctx, prov.pool, sqlCountSentEdocs)
			r.say("  … %d/%d delivered to the axis, %d/%d answered 06 (done)", sent, want, done, want)
			lastSay = time.Now()
		}
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)

	// The summary comes from the recipients' own registers, not from the sender's hopes.
	bg := context.Background()
	for _, g := range recips {
		total := count(bg, g.pool, sqlCountIncomingFromSender, prov.code)
		distinct := count(bg, g.pool, sqlCountDistinctIncomingFromSender, prov.code)
		sum.Delivered += distinct
		sum.Duplicates += total - distinct
	}
	hs, _ := r.hub.Stats(bg)
	sum.Duplicates += int(hs.Duplicates)
	sum.Lost = want - sum.Delivered
	sum.Seconds = round(elapsed.Seconds(), 2)
	if elapsed > 0 {
		sum.PacketsPerSecond = round(float64(hs.Packets)/elapsed.Seconds(), 1)
	}

	r.say("")
	r.say("── what happened ──")
	for _, g := range recips {
		var verdicts string
		_ = g.pool.QueryRow(bg, sqlSummariseInboundVerdicts).Scan(&verdicts)
		reg := count(bg, g.pool, sqlCountRegisteredIncoming)
		r.say("  %s: %d packets received (%s), %d registered in the incoming register, %d duplicate packets ignored",
			g.name, count(bg, g.pool, sqlCountInboundPackets), verdicts, reg, g.node.Metrics.Duplicates.Load())
	}
	r.say("  %s: %d deliveries sent, %d statuses received; per recipient the state machine ended at 06 for %d/%d pairs",
		prov.name, count(bg, prov.pool, sqlCountSentEdocDeliveries),
		count(bg, prov.pool, sqlCountInboundStatusEvents),
		count(bg, prov.pool, sqlCountDoneStatusesFromSender, prov.code), want)
	r.say("  axis: %d packets stored (%d documents, rest statuses), 0 duplicates allowed: %d found", hs.Packets, hs.Edocs, hs.Duplicates)
	if r.faults != nil {
		r.say("  faults injected: %d (503 %d, 429 %d, reset before %d, reset after storing %d, stalls %d); worker killed and restarted: %v",
			r.faults.Injected(), r.faults.Unavailable.Load(), r.faults.TooMany.Load(), r.faults.ResetBefore.Load(),
			r.faults.ResetAfter.Load(), r.faults.Slow.Load(), killed)
	}
	if len(docIDs) > 0 {
		d, err := prov.svc.GetOutgoing(bg, prov.clerk, docIDs[0])
		if err == nil {
			for _, rc := range d.Recipients {
				r.say("  first document, %s: status %s (%s)", rc.Code, rc.Status, rc.StatusDetail)
			}
		}
	}
	if sum.Lost != 0 || sum.Duplicates != 0 {
		return sum, fmt.Errorf("demo: %d lost, %d duplicated", sum.Lost, sum.Duplicates)
	}
	return sum, nil
}

func round(x float64, places int) float64 {
	p := 1.0
	for i := 0; i < places; i++ {
		p *= 10
	}
	return float64(int64(x*p+0.5)) / p
}

// killAndRestart SIGKILLs the province's worker once some deliveries went out and starts a new one.
func (r *runner) killAndRestart(ctx context.Context, prov *org, w **exec.Cmd) bool {
	deadline := time.Now().Add(30 * time.Second)
	for count(ctx, prov.pool, sqlCountSentEdocs) < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	running := count(ctx, prov.pool, sqlCountRunningJobs)
	old := *w
	_ = old.Process.Signal(syscall.SIGKILL)
	_ = old.Wait()
	sent := count(ctx, prov.pool, sqlCountSentEdocs)
	r.say("  ✗ killed the province's delivery worker (pid %d, SIGKILL) with %d jobs running and %d deliveries done", old.Process.Pid, running, sent)
	nw, err := r.startWorker(ctx, prov)
	if err != nil {
		r.say("!! restarting the worker failed: %v", err)
		return true
	}
	*w = nw
	r.say("  ↻ restarted it as pid %d; River rescues the interrupted jobs and the axis deduplicates by message id", nw.Process.Pid)
	return true
}

// office is a recipient's clerk and leader: register what arrived (03), present, assign (04), start
// (05) and complete (06).
func (r *runner) office(ctx context.Context, g *org, stop <-chan struct{}, handled *atomic.Int64) {
	said := 0
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		case <-time.After(100 * time.Millisecond):
		}
		page, err := g.svc.ListIncoming(ctx, g.clerk, workflow.ListQuery{State: workflow.StReceived, Limit: 100})
		if err != nil {
			continue
		}
		for _, d := range page.Items {
			reg, err := g.svc.MoveIncoming(ctx, g.clerk, d.ID, "register", workflow.Action{})
			if err != nil {
				r.log.Warn("register failed", "org", g.code, "err", err)
				continue
			}
			steps := []func() error{
				func() error {
					_, err := g.svc.MoveIncoming(ctx, g.clerk, d.ID, "present", workflow.Action{})
					return err
				},
				func() error {
					_, err := g.svc.AssignIncoming(ctx, g.leader, d.ID, workflow.Assignment{LeadUserID: g.specialistID,
						Deadline: time.Now().AddDate(0, 0, 7).Format("2006-01-02"), Instruction: "Đề nghị chuyên viên xử lý"})
					return err
				},
				func() error {
					_, err := g.svc.MoveIncoming(ctx, g.leader, d.ID, "start", workflow.Action{})
					return err
				},
				func() error {
					_, err := g.svc.MoveIncoming(ctx, g.leader, d.ID, "complete", workflow.Action{Result: "Đã triển khai"})
					return err
				},
			}
			ok := true
			for _, s := range steps {
				if err := s(); err != nil {
					r.log.Warn("office step failed", "org", g.code, "err", err)
					ok = false
					break
				}
			}
			handled.Add(1)
			if ok && said < 2 {
				said++
				num := ""
				if reg.RegisterNumber != nil {
					num = fmt.Sprint(*reg.RegisterNumber)
				}
				r.say("  [%s] received %s/%s from %s: signatures verified, filed, status 01; registered as số đến %s (03), assigned (04), processing (05), done (06)",
					g.code, d.CodeNumber, d.CodeNotation, d.Sender.Code, num)
			}
		}
	}
}
