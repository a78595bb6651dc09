package delivery

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

var (
	sqlCountOutboxByKindAndState = queries.Must("CountOutboxByKindAndState")
	sqlCountUnresolvedFailed     = queries.Must("CountUnresolvedFailed")
	// $1: the exchange's queue names (the Queue constants)
	sqlCountRiverJobsByQueueAndState = queries.Must("CountRiverJobsByQueueAndState")
)

// MetricsHandler serves the node's counters since start and the state of its queues in the Prometheus
// text format (GET): what an operator watches to see deliveries pile up or fail. Counts only; no
// document content.
func (n *Node) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return
		}
		var b strings.Builder
		if err := n.WriteMetrics(r.Context(), &b); err != nil {
			n.log.WarnContext(r.Context(), "metrics unavailable", "err", err)
			http.Error(w, "metrics unavailable: the database is not answering", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = io.WriteString(w, b.String())
	})
}

// WriteMetrics writes the metrics MetricsHandler serves.
func (n *Node) WriteMetrics(ctx context.Context, w io.Writer) error {
	org := strconv.Quote(n.cfg.Org)
	counters := []struct {
		name, help string
		v          *atomic.Int64
	}{
		{"sent", "packets the axis accepted", &n.Metrics.Sent},
		{"duplicate_receipts", "pushes the axis already had (a retry after a lost answer)", &n.Metrics.DuplicateReceipts},
		{"retries", "pushes that failed for a temporary reason and will be retried", &n.Metrics.Retries},
		{"snoozed", "pushes put off because the axis asked to wait (429/503 Retry-After)", &n.Metrics.Snoozed},
		{"refused", "pushes the axis refused for good", &n.Metrics.Refused},
		{"failed", "deliveries that used their last attempt", &n.Metrics.Failed},
		{"expired", "deliveries past their deadline", &n.Metrics.Expired},
		{"received", "documents received and filed", &n.Metrics.Received},
		{"duplicates", "documents received again and only acknowledged", &n.Metrics.Duplicates},
		{"rejected", "documents refused (status 02) or unreadable", &n.Metrics.Rejected},
		{"statuses_in", "status packets applied", &n.Metrics.StatusesIn},
		{"statuses_ignored", "status packets not applied (repeats, invalid, out of order)", &n.Metrics.StatusesIgnored},
	}
	for _, c := range counters {
		fmt.Fprintf(w, "# HELP lienthong_exchange_%s_total %s.\n# TYPE lienthong_exchange_%s_total counter\nlienthong_exchange_%s_total{org=%s} %d\n",
			c.name, c.help, c.name, c.name, org, c.v.Load())
	}
	gauge := func(name, help, query string, args []any, labels ...string) error {
		rows, err := n.pool.Query(ctx, query, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		fmt.Fprintf(w, "# HELP lienthong_exchange_%s %s.\n# TYPE lienthong_exchange_%s gauge\n", name, help, name)
		for rows.Next() {
			vals := make([]any, len(labels)+1)
			strs := make([]string, len(labels))
			var count int64
			for i := range labels {
				vals[i] = &strs[i]
			}
			vals[len(labels)] = &count
			if err := rows.Scan(vals...); err != nil {
				return err
			}
			lbl := "org=" + org
			for i, l := range labels {
				lbl += "," + l + "=" + strconv.Quote(strs[i])
			}
			fmt.Fprintf(w, "lienthong_exchange_%s{%s} %d\n", name, lbl, count)
		}
		return rows.Err()
	}
	if err := gauge("outbox", "outbox rows by kind and state", sqlCountOutboxByKindAndState, nil, "kind", "state"); err != nil {
		return err
	}
	if err := gauge("failed_unresolved", "failed deliveries waiting for a clerk", sqlCountUnresolvedFailed, nil); err != nil {
		return err
	}
	return gauge("river_jobs", "River jobs of the exchange queues by queue and state",
		sqlCountRiverJobsByQueueAndState, []any{[]string{QueueOutbound, QueueStatus, QueueInbound}}, "queue", "state")
}
