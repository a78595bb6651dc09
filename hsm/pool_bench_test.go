package hsm

import (
	"context"
	"crypto"
	"crypto/sha256"
	"syscall"
	"testing"
	"time"
)

// BenchmarkPoolPath measures what the pool adds to one signature, with a module whose C_Sign costs
// nothing: "bare" is C_SignInit+C_Sign on one session, "pool" is Key.Sign (digest check, mechanism,
// session pool, epoch bookkeeping, ECDSA r||s to ASN.1). pool minus bare is the overhead per signature,
// to compare with what one signature costs on a real token (BenchmarkPoolOverhead, bench-hsm.md).
func BenchmarkPoolPath(b *testing.B) {
	f := newFake(b, true, true)
	uri := f.install(b)
	k, err := Open(context.Background(), uri, WithPoolSize(1))
	if err != nil {
		b.Fatal(err)
	}
	defer k.Close()
	f.mu.Lock()
	f.nullSign = true
	f.mu.Unlock()
	digest := sha256.Sum256([]byte("bench"))
	b.Run("bare", func(b *testing.B) {
		mech, data, _ := k.mechanismFor(digest[:], crypto.SHA256)
		sh, err := f.OpenSession(k.slot, ckfSerialSession)
		if err != nil {
			b.Fatal(err)
		}
		defer f.CloseSession(sh)
		cpu := userCPUTime()
		defer reportCPUPerOp(b, cpu)
		for b.Loop() {
			if err := f.SignInit(sh, mech, k.handle); err != nil {
				b.Fatal(err)
			}
			if _, err := f.Sign(sh, data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pool", func(b *testing.B) {
		cpu := userCPUTime()
		defer reportCPUPerOp(b, cpu)
		for b.Loop() {
			if _, err := k.Sign(nil, digest[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func userCPUTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano()) + time.Duration(ru.Stime.Nano())
}

// reportCPUPerOp adds "cpu-ns/op": CPU time (user+sys) per operation, which a busy machine inflates far
// less than wall time.
func reportCPUPerOp(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(userCPUTime()-start)/float64(b.N), "cpu-ns/op")
}
