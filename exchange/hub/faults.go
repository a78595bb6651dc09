package hub

import (
	"bytes"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Faults wraps a handler and makes about Rate of the calls fail the ways a real axis does: 503 or 429
// with Retry-After, a connection reset before the request is handled, a reset after it was handled (the
// hub stored the packet but the answer is lost, so the sender retries), and an answer slower than the
// client's timeout. It is for tests and `lienthong demo --faults`.
type Faults struct {
	Rate  float64
	Delay time.Duration // how long a "slow" answer takes; 0 means 3 s
	// Counters of injected faults.
	Unavailable, TooMany, ResetBefore, ResetAfter, Slow atomic.Int64

	mu  sync.Mutex
	rnd *rand.Rand
}

// NewFaults returns a fault injector with a seeded random source.
func NewFaults(rate float64, seed uint64) *Faults {
	return &Faults{Rate: rate, rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// Injected is the total number of faults so far.
func (f *Faults) Injected() int64 {
	return f.Unavailable.Load() + f.TooMany.Load() + f.ResetBefore.Load() + f.ResetAfter.Load() + f.Slow.Load()
}

func (f *Faults) roll() (bool, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rnd.Float64() < f.Rate, f.rnd.IntN(5)
}

// Wrap returns next with faults injected.
func (f *Faults) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit, kind := f.roll()
		if !hit || r.URL.Path == "/healthz" {
			next.ServeHTTP(w, r)
			return
		}
		switch kind {
		case 0:
			f.Unavailable.Add(1)
			w.Header().Set("Retry-After", "1")
			http.Error(w, "injected: unavailable", http.StatusServiceUnavailable)
		case 1:
			f.TooMany.Add(1)
			w.Header().Set("Retry-After", "1")
			http.Error(w, "injected: too many requests", http.StatusTooManyRequests)
		case 2:
			f.ResetBefore.Add(1)
			reset(w)
		case 3:
			f.ResetAfter.Add(1)
			rec := &recorder{header: http.Header{}}
			next.ServeHTTP(rec, r) // the hub does the work; the caller never hears about it
			reset(w)
		case 4:
			f.Slow.Add(1)
			d := f.Delay
			if d == 0 {
				d = 3 * time.Second
			}
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
			next.ServeHTTP(w, r)
		}
	})
}

// reset closes the connection abruptly (RST, not FIN) so the client sees "connection reset by peer".
func reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "injected", http.StatusBadGateway)
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

type recorder struct {
	header http.Header
	body   bytes.Buffer
	code   int
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.code = code }
