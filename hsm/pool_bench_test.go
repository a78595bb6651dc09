package hsm

import (
	"context"
	"crypto"
	"crypto/sha256"
	"testing"
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
		for b.Loop() {
			if _, err := k.Sign(nil, digest[:], crypto.SHA256); err != nil {
				b.Fatal(err)
			}
		}
	})
}
