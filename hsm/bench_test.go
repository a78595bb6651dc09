package hsm_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509/pkix"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/hsmtest"
)

// userCPU is the process's user CPU time so far.
func userCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano())
}

// reportCPU adds "sig/cpu-s": signatures per second of user CPU time of this process (SoftHSM runs
// in it), comparable with what `openssl speed` reports per core, and steady on a busy machine.
func reportCPU(b *testing.B, start time.Duration) {
	if used := (userCPU() - start).Seconds(); used > 0 {
		b.ReportMetric(float64(b.N)/used, "sig/cpu-s")
	}
}

var benchKeys struct {
	sync.Mutex
	m map[hsm.KeyType]string
}

func benchURI(b *testing.B, kt hsm.KeyType) string {
	benchKeys.Lock()
	defer benchKeys.Unlock()
	if benchKeys.m == nil {
		benchKeys.m = map[hsm.KeyType]string{}
	}
	if u, ok := benchKeys.m[kt]; ok {
		return u
	}
	// Shared by every benchmark of the binary, so not tied to one benchmark's cleanup; hsmtest.Main
	// removes the store at exit.
	tok, err := hsmtest.Store(b).NewToken(context.Background(), "bench-"+string(kt))
	if err != nil {
		b.Fatal(err)
	}
	iss, err := tok.IssueKey(context.Background(), "signer", []byte{1}, kt, hsmtest.CA(b), pkix.Name{CommonName: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	benchKeys.m[kt] = iss.URI
	return iss.URI
}

// BenchmarkPoolOverhead compares one signature through the pool (Key.Sign: DigestInfo, session pool,
// recovery bookkeeping) with a bare C_SignInit+C_Sign loop on one session, one goroutine each, on the
// same SoftHSM key. The difference per op is the pool's overhead (target < 5 %).
func BenchmarkPoolOverhead(b *testing.B) {
	for _, kt := range []hsm.KeyType{hsm.RSA2048, hsm.ECP256} {
		uri := benchURI(b, kt)
		digest := sha256.Sum256([]byte("bench"))
		b.Run(string(kt)+"/bare", func(b *testing.B) {
			k := hsmtest.Open(b, uri, hsm.WithPoolSize(1))
			sign, done, err := hsm.BareSign(k, digest[:])
			if err != nil {
				b.Fatal(err)
			}
			defer done()
			cpu := userCPU()
			for b.Loop() {
				if err := sign(); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
		b.Run(string(kt)+"/pool", func(b *testing.B) {
			k := hsmtest.Open(b, uri, hsm.WithPoolSize(1))
			cpu := userCPU()
			for b.Loop() {
				if _, err := k.Sign(nil, digest[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, cpu)
		})
	}
}

// BenchmarkSignParallel signs from GOMAXPROCS goroutines through a pool of that size.
func BenchmarkSignParallel(b *testing.B) {
	for _, kt := range []hsm.KeyType{hsm.RSA2048, hsm.ECP256} {
		uri := benchURI(b, kt)
		b.Run(string(kt), func(b *testing.B) {
			k := hsmtest.Open(b, uri, hsm.WithPoolSize(4))
			digest := sha256.Sum256([]byte("bench"))
			b.ResetTimer()
			cpu := userCPU()
			defer reportCPU(b, cpu)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := k.Sign(nil, digest[:], crypto.SHA256); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkBareParallel is SoftHSM's own ceiling: every goroutine runs a bare C_SignInit+C_Sign loop on
// its own session, with no pool. `token bench` is compared with it and with openssl speed.
func BenchmarkBareParallel(b *testing.B) {
	for _, kt := range []hsm.KeyType{hsm.RSA2048, hsm.ECP256} {
		uri := benchURI(b, kt)
		b.Run(string(kt), func(b *testing.B) {
			k := hsmtest.Open(b, uri, hsm.WithPoolSize(1))
			digest := sha256.Sum256([]byte("bench"))
			b.ResetTimer()
			cpu := userCPU()
			defer reportCPU(b, cpu)
			b.RunParallel(func(pb *testing.PB) {
				sign, done, err := hsm.BareSign(k, digest[:])
				if err != nil {
					b.Error(err)
					return
				}
				defer done()
				for pb.Next() {
					if err := sign(); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
