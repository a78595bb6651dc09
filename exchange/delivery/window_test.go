package delivery

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lienthong/lienthong/exchange/axis"
)

func TestWindowsBoundCountAndBytes(t *testing.T) {
	sizes := func(ss ...int) []axis.Item {
		var it []axis.Item
		for _, s := range ss {
			it = append(it, axis.Item{Size: s})
		}
		return it
	}
	many := make([]int, 120)
	for i := range many {
		many[i] = 160 << 10
	}
	for _, tc := range []struct {
		name  string
		items []axis.Item
		want  []int // window lengths
	}{
		{"empty", nil, nil},
		{"by count", sizes(many...), []int{50, 50, 20}},
		{"by bytes", sizes(40<<20, 30<<20, 10<<20, 20<<20), []int{1, 3}},
		{"one packet over the bound", sizes(90<<20, 1), []int{1, 1}},
		{"unknown sizes count as 1 MiB", sizes(make([]int, 70)...), []int{50, 20}},
		{"unknown sizes by bytes", append(sizes(63<<20), sizes(0, 0)...), []int{2, 1}},
	} {
		var got []int
		total := 0
		for _, w := range windows(tc.items) {
			got = append(got, len(w))
			total += len(w)
		}
		if total != len(tc.items) || len(got) != len(tc.want) {
			t.Errorf("%s: windows %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: windows %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
}

// countingAxis counts fetches; its packets are not edXML (arrive refuses them after fetching).
type countingAxis struct {
	axis.Axis
	fetches int
}

func (c *countingAxis) Fetch(ctx context.Context, id string) ([]byte, error) {
	c.fetches++
	return []byte("not a packet"), nil
}

// Once a window holds windowBytes of fetched packets, the rest wait for the next listing unfetched
// (axes that list no sizes cannot be bounded by the listing); the first packet always goes.
func TestArriveDefersPastTheWindowBound(t *testing.T) {
	ax := &countingAxis{}
	n := &Node{cfg: Config{Axis: ax}, log: slog.New(slog.DiscardHandler), now: time.Now}
	var held atomic.Int64
	held.Store(windowBytes)
	if a := n.arrive(context.Background(), axis.Item{ID: "x"}, &held, false); !a.deferred || ax.fetches != 0 {
		t.Fatalf("past the bound: deferred %v after %d fetches", a.deferred, ax.fetches)
	}
	if a := n.arrive(context.Background(), axis.Item{ID: "y"}, &held, true); a.deferred || ax.fetches != 1 || !a.settled || a.ackOK {
		t.Fatalf("the first packet of a window: deferred %v, fetches %d, settled %v ok %v", a.deferred, ax.fetches, a.settled, a.ackOK)
	}
	held.Store(0)
	if a := n.arrive(context.Background(), axis.Item{ID: "z"}, &held, false); a.deferred || held.Load() != int64(len("not a packet")) {
		t.Fatalf("under the bound: deferred %v, held %d", a.deferred, held.Load())
	}
}
