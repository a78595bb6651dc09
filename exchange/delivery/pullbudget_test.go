package delivery

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/lienthong/lienthong/exchange/axis"
	"github.com/lienthong/lienthong/exchange/edxml"
)

// busyAxis yields one (unreadable, so refused and acknowledged) packet per listing and, while it
// does, another pull of the kind comes during every listing (a notification's follow-up, a periodic
// pull): the running pull is asked to list once more each time. Each listing takes a fake second.
type busyAxis struct {
	axis.Axis
	mu    sync.Mutex
	clock time.Time
	stop  time.Time
	n     *Node
}

func (a *busyAxis) now() time.Time { a.mu.Lock(); defer a.mu.Unlock(); return a.clock }

func (a *busyAxis) List(ctx context.Context, kind edxml.Kind, limit int) ([]axis.Item, error) {
	a.mu.Lock()
	a.clock = a.clock.Add(time.Second)
	busy := a.clock.Before(a.stop)
	a.mu.Unlock()
	if !busy {
		return nil, nil
	}
	a.n.pull(ctx, kind, 0) // finds this pull running: leaves word and returns
	return []axis.Item{{ID: "x", Body: []byte("not xml")}}, nil
}

func (a *busyAxis) Ack(context.Context, string, bool, string) error { return nil }

// A stream of pulls arriving while one runs must not keep it looping past the pull job's timeout
// (2 min): it stops within its budget.
func TestPullLoopIsBounded(t *testing.T) {
	start := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	ax := &busyAxis{clock: start, stop: start.Add(10 * time.Minute)}
	n := &Node{cfg: Config{Axis: ax, InWorkers: 2}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	n.now = ax.now
	ax.n = n
	done := make(chan struct{})
	go func() { defer close(done); n.Pull(context.Background(), edxml.KindEdoc) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("pull did not return")
	}
	if took := ax.now().Sub(start); took > time.Minute+5*time.Second {
		t.Fatalf("one pull kept listing for %s (the job times out after 2m0s)", took)
	}
}
