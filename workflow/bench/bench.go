// Package bench measures incoming registrations per second through the real HTTP API (loopback, N
// concurrent clients, Bearer auth, JSON) beside plain pgx insert rates measured in the same run on the
// same server, and checks that the numbers handed out are exactly 1..N.
package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/migrations"
	"github.com/lienthong/lienthong/workflow"
	"github.com/lienthong/lienthong/workflow/api"
)

var (
	sqlCreateBenchPlainTable    = queries.Must("CreateBenchPlainTable")
	sqlInsertBenchPlainRow      = queries.Must("InsertBenchPlainRow")
	sqlCreateBenchCounter       = queries.Must("CreateBenchCounter")
	sqlNextBenchNumber          = queries.Must("NextBenchNumber")
	sqlSummariseRegisterNumbers = queries.Must("SummariseRegisterNumbers")
)

// Config of a run.
type Config struct {
	BaseURL  string        // a PostgreSQL URL on which a fresh database is created and dropped
	Clients  int           // concurrent HTTP clients (and pgx goroutines for the baselines)
	Duration time.Duration // per phase
	PoolSize int           // database connections; 8 when zero
}

// Result is what a run measured.
type Result struct {
	Clients              int     `json:"clients"`
	PoolSize             int32   `json:"pool_size"`
	Seconds              float64 `json:"seconds_per_phase"`
	HTTPRegistrations    int64   `json:"http_registrations"`
	HTTPPerSecond        float64 `json:"http_registrations_per_second"`
	HTTPp50ms            float64 `json:"http_p50_ms"`
	HTTPp99ms            float64 `json:"http_p99_ms"`
	Gapless              bool    `json:"gapless"`
	MaxNumber            int64   `json:"max_number"`
	ServicePerSecond     float64 `json:"service_registrations_per_second"`
	PgxInsertPerSecond   float64 `json:"pgx_insert_per_second"`
	PgxNumberedPerSecond float64 `json:"pgx_numbered_tx_per_second"`
	Errors               int64   `json:"errors"`
}

const body = `{"sender": {"code": "000.00.00.G22", "name": "Bộ Thông tin và Truyền thông"},
 "code_number": "123", "code_notation": "BTTTT-VP", "promulgation_date": "2026-11-20",
 "document_type": "Công văn", "subject": "Về việc triển khai chữ ký số",
 "urgency": "normal", "secrecy": "normal", "due_date": "2026-12-01"}`

// Run creates a scratch database, measures, checks and drops it.
func Run(ctx context.Context, cfg Config) (Result, error) {
	res := Result{Clients: cfg.Clients, Seconds: cfg.Duration.Seconds()}
	dbURL, drop, err := scratchDB(ctx, cfg.BaseURL)
	if err != nil {
		return res, err
	}
	defer drop()
	pcfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		return res, err
	}
	pcfg.MaxConns = 8
	if cfg.PoolSize > 0 {
		pcfg.MaxConns = int32(cfg.PoolSize)
	}
	res.PoolSize = pcfg.MaxConns
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return res, err
	}
	defer pool.Close()
	if _, err := migrations.Up(ctx, pool); err != nil {
		return res, err
	}
	svc := workflow.New(pool, workflow.Config{})
	sys := workflow.System("bench")
	for _, code := range []string{"000.00.00.H53", "000.00.00.H37"} {
		if _, err := svc.AddOrg(ctx, sys, workflow.NewOrg{Code: code, Name: "UBND " + code, Abbr: "UBND", Level: "province"}); err != nil {
			return res, err
		}
	}
	_, token, err := svc.AddUser(ctx, sys, workflow.NewUser{OrgCode: "000.00.00.H53", Name: "Văn thư", Role: "clerk"})
	if err != nil {
		return res, err
	}
	_, token2, err := svc.AddUser(ctx, sys, workflow.NewUser{OrgCode: "000.00.00.H37", Name: "Văn thư", Role: "clerk"})
	if err != nil {
		return res, err
	}

	// Phase 1: plain pgx, one autocommit INSERT per row, Clients goroutines.
	if _, err := pool.Exec(ctx, sqlCreateBenchPlainTable); err != nil {
		return res, err
	}
	n, secs := parallel(ctx, cfg, func(ctx context.Context) error {
		_, err := pool.Exec(ctx, sqlInsertBenchPlainRow,
			"Bộ Thông tin và Truyền thông", "123/BTTTT-VP", "Về việc triển khai chữ ký số")
		return err
	}, &res.Errors)
	res.PgxInsertPerSecond = float64(n) / secs

	// Phase 2: plain pgx, a gapless number and a row in one transaction (the bare cost of numbering).
	if _, err := pool.Exec(ctx, sqlCreateBenchCounter); err != nil {
		return res, err
	}
	n, secs = parallel(ctx, cfg, func(ctx context.Context) error {
		return workflow.WithTx(ctx, pool, func(tx pgx.Tx) error {
			var num int
			if err := tx.QueryRow(ctx, sqlNextBenchNumber).Scan(&num); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, sqlInsertBenchPlainRow,
				"Bộ Thông tin và Truyền thông", fmt.Sprint(num), "Về việc triển khai chữ ký số")
			return err
		})
	}, &res.Errors)
	res.PgxNumberedPerSecond = float64(n) / secs

	// Phase 3: the workflow service in-process (no HTTP), second organisation.
	p2, err := svc.Authenticate(ctx, token2)
	if err != nil {
		return res, err
	}
	var in workflow.IncomingIn
	_ = json.Unmarshal([]byte(body), &in)
	n, secs = parallel(ctx, cfg, func(ctx context.Context) error {
		_, err := svc.RegisterIncoming(ctx, p2, in)
		return err
	}, &res.Errors)
	res.ServicePerSecond = float64(n) / secs

	// Phase 4: through HTTP on loopback.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	srv := &http.Server{Handler: api.New(api.Deps{Service: svc}), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	endpoint := "http://" + ln.Addr().String() + "/api/v1/incoming"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: cfg.Clients * 2, MaxConnsPerHost: cfg.Clients * 2}}
	var latMu sync.Mutex
	var lats []time.Duration
	n, secs = parallel(ctx, cfg, func(ctx context.Context) error {
		req, _ := http.NewRequestWithContext(ctx, "POST", endpoint, bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/json")
		t0 := time.Now()
		r, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, r.Body)
		r.Body.Close()
		if r.StatusCode != http.StatusCreated {
			return fmt.Errorf("status %d", r.StatusCode)
		}
		d := time.Since(t0)
		latMu.Lock()
		lats = append(lats, d)
		latMu.Unlock()
		return nil
	}, &res.Errors)
	res.HTTPRegistrations, res.HTTPPerSecond = n, float64(n)/secs
	res.HTTPp50ms, res.HTTPp99ms = percentile(lats, 0.50), percentile(lats, 0.99)

	// Gapless: the organisation's numbers are exactly 1..count.
	var count, distinct, lo, hi int64
	if err := pool.QueryRow(ctx, sqlSummariseRegisterNumbers).Scan(&count, &distinct, &lo, &hi); err != nil {
		return res, err
	}
	res.MaxNumber = hi
	res.Gapless = count == n && distinct == count && lo == 1 && hi == count
	return res, nil
}

// parallel runs fn in cfg.Clients goroutines for cfg.Duration and returns the successes and seconds.
func parallel(ctx context.Context, cfg Config, fn func(context.Context) error, errs *int64) (int64, float64) {
	var ok atomic.Int64
	deadline := time.Now().Add(cfg.Duration)
	start := time.Now()
	var wg sync.WaitGroup
	for range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) && ctx.Err() == nil {
				if err := fn(ctx); err != nil {
					atomic.AddInt64(errs, 1)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	return ok.Load(), time.Since(start).Seconds()
}

func percentile(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	// insertion into buckets would be faster; a sort is fine for a few hundred thousand samples
	sortDurations(s)
	return float64(s[int(float64(len(s)-1)*p)].Microseconds()) / 1000
}

func scratchDB(ctx context.Context, base string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return "", nil, err
	}
	defer conn.Close(ctx)
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "lienthong_bench_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, err
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", nil, err
	}
	u.Path = "/" + name
	drop := func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		_, _ = c.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	return u.String(), drop, nil
}
