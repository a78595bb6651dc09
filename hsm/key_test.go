package hsm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lienthong/lienthong/internal/apperr"
)

func openFake(t *testing.T, f *fakeModule, opts ...Option) *Key {
	t.Helper()
	opts = append([]Option{WithLogger(slog.New(slog.DiscardHandler))}, opts...)
	k, err := Open(context.Background(), f.install(t), opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}

// mustSign signs and verifies; it reports with t.Error so it may run in any goroutine.
func mustSign(t *testing.T, k *Key, opts crypto.SignerOpts) {
	t.Helper()
	h := sha256.Sum256([]byte("văn bản"))
	sig, err := k.Sign(nil, h[:], opts)
	if err != nil {
		t.Errorf("Sign: %v", err)
		return
	}
	if !verify(k.Public(), h[:], sig) {
		t.Error("signature does not verify")
	}
}

func TestSignFake(t *testing.T) {
	t.Parallel()
	t.Run("ok/rsa-pkcs1v15", func(t *testing.T) {
		t.Parallel()
		k := openFake(t, newFake(t, false, true))
		if k.Certificate() == nil || k.Certificate().Subject.CommonName != "fake" {
			t.Fatal("certificate not found")
		}
		pub := k.Public().(*rsa.PublicKey)
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			d := h.New()
			d.Write([]byte("x"))
			digest := d.Sum(nil)
			sig, err := k.Sign(nil, digest, h)
			if err != nil {
				t.Fatal(err)
			}
			if err := rsa.VerifyPKCS1v15(pub, h, digest, sig); err != nil {
				t.Fatalf("%v: %v", h, err)
			}
			pss, err := k.Sign(nil, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
			if err != nil {
				t.Fatal(err)
			}
			if err := rsa.VerifyPSS(pub, h, digest, pss, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
				t.Fatalf("PSS %v: %v", h, err)
			}
		}
	})
	t.Run("ok/ecdsa-p256-asn1", func(t *testing.T) {
		t.Parallel()
		k := openFake(t, newFake(t, true, true))
		d := sha512.Sum384([]byte("x"))
		sig, err := k.Sign(nil, d[:], crypto.SHA384)
		if err != nil {
			t.Fatal(err)
		}
		if !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d[:], sig) {
			t.Fatal("ECDSA signature is not valid ASN.1 r,s")
		}
	})
	t.Run("fail/unsupported-hash-and-length", func(t *testing.T) {
		t.Parallel()
		k := openFake(t, newFake(t, false, true))
		if _, err := k.Sign(nil, make([]byte, 20), crypto.SHA1); !errors.Is(err, ErrUnsupported) {
			t.Fatalf("SHA-1: %v", err)
		}
		if _, err := k.Sign(nil, make([]byte, 31), crypto.SHA256); !errors.Is(err, ErrUnsupported) {
			t.Fatalf("short digest: %v", err)
		}
	})
	t.Run("fail/certificate-missing", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, false, false)
		_, err := Open(context.Background(), f.install(t))
		if !errors.Is(err, ErrCertificateMissing) || apperr.KindOf(err) != apperr.NotFound {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("ok/without-certificate", func(t *testing.T) {
		t.Parallel()
		for _, ec := range []bool{false, true} {
			k := openFake(t, newFake(t, ec, false), WithoutCertificate())
			if k.Certificate() != nil {
				t.Fatal("certificate should be nil")
			}
			mustSign(t, k, crypto.SHA256)
		}
	})
	t.Run("fail/key-not-found", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, false, true)
		uri := f.install(t)
		_, err := Open(context.Background(), uri[:len("pkcs11:token=fake;object=")]+"other"+uri[len("pkcs11:token=fake;object=k"):])
		if !errors.Is(err, ErrKeyNotFound) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("fail/token-not-found", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, false, true)
		uri := f.install(t)
		_, err := Open(context.Background(), "pkcs11:token=nope"+uri[len("pkcs11:token=fake"):])
		if !errors.Is(err, ErrTokenNotFound) || apperr.KindOf(err) != apperr.NotFound {
			t.Fatalf("got %v", err)
		}
	})
}

func TestPINSafetyFake(t *testing.T) {
	t.Parallel()
	t.Run("fail/wrong-pin-never-retried", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, false, true)
		f.pin = "9999"
		_, err := Open(context.Background(), f.install(t))
		if !errors.Is(err, ErrWrongPIN) || apperr.KindOf(err) != apperr.Unauthorized {
			t.Fatalf("got %v", err)
		}
		if n := f.count("Login"); n != 1 {
			t.Fatalf("Login called %d times, want 1", n)
		}
	})
	t.Run("fail/locked-no-login", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, false, true)
		f.setFlags(ckfUserPINLocked)
		_, err := Open(context.Background(), f.install(t))
		if !errors.Is(err, ErrPINLocked) || f.count("Login") != 0 {
			t.Fatalf("got %v after %d logins", err, f.count("Login"))
		}
	})
	t.Run("fail/final-try-refused", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, false, true)
		f.setFlags(ckfUserPINFinalTry)
		_, err := Open(context.Background(), f.install(t))
		if !errors.Is(err, ErrPINFinalTry) || f.count("Login") != 0 {
			t.Fatalf("got %v after %d logins", err, f.count("Login"))
		}
	})
	t.Run("ok/final-try-allowed", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, false, true)
		f.setFlags(ckfUserPINFinalTry)
		k := openFake(t, f, WithAllowFinalTry())
		mustSign(t, k, crypto.SHA256)
	})
	t.Run("fail/prompt-asked-once", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, false, true)
		uri := f.install(t)
		uri = uri[:len(uri)-len("&pin-value=1234")]
		asked := 0
		_, err := Open(context.Background(), uri, WithPINPrompt(func() ([]byte, error) { asked++; return []byte("0000"), nil }))
		if !errors.Is(err, ErrWrongPIN) || asked != 1 || f.count("Login") != 1 {
			t.Fatalf("err %v, asked %d, logins %d", err, asked, f.count("Login"))
		}
	})
	t.Run("fail/wrong-pin-during-recovery-is-final", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, false, true)
		k := openFake(t, f)
		f.mu.Lock()
		f.pin = "changed"
		f.mu.Unlock()
		f.dropLogin()
		d := sha256.Sum256(nil)
		for range 3 {
			if _, err := k.Sign(nil, d[:], crypto.SHA256); !errors.Is(err, ErrWrongPIN) {
				t.Fatalf("got %v", err)
			}
		}
		if n := f.count("Login"); n != 2 { // the one at Open, one recovery attempt, never more
			t.Fatalf("Login called %d times, want 2", n)
		}
	})
	t.Run("fail/locked-during-recovery", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, false, true)
		k := openFake(t, f)
		f.setFlags(ckfUserPINLocked)
		f.dropLogin()
		d := sha256.Sum256(nil)
		if _, err := k.Sign(nil, d[:], crypto.SHA256); !errors.Is(err, ErrPINLocked) || apperr.KindOf(err) != apperr.Forbidden {
			t.Fatalf("got %v", err)
		}
		if n := f.count("Login"); n != 1 {
			t.Fatalf("Login called %d times, want 1", n)
		}
	})
}

func TestAlwaysAuthenticateFake(t *testing.T) {
	t.Parallel()
	alwaysAuth := func(t *testing.T) *fakeModule {
		f := newFake(t, true, true)
		f.objects[1].attrs[ckaAlwaysAuthenticate] = []byte{1}
		return f
	}
	t.Run("ok/login-per-signature", func(t *testing.T) {
		t.Parallel()
		f := alwaysAuth(t)
		k := openFake(t, f)
		for range 3 {
			mustSign(t, k, crypto.SHA256)
		}
		if n := f.count("Login"); n != 5 { // user login, self-test, 3 signatures
			t.Fatalf("Login called %d times, want 5", n)
		}
	})
	t.Run("fail/wrong-pin-once", func(t *testing.T) {
		t.Parallel()
		f := alwaysAuth(t)
		k := openFake(t, f)
		f.mu.Lock()
		f.pin = "changed"
		f.mu.Unlock()
		d := sha256.Sum256(nil)
		for range 3 {
			if _, err := k.Sign(nil, d[:], crypto.SHA256); !errors.Is(err, ErrWrongPIN) {
				t.Fatalf("got %v", err)
			}
		}
		if n := f.count("Login"); n != 3 { // user login, self-test, one rejected try
			t.Fatalf("Login called %d times, want 3", n)
		}
	})
	t.Run("fail/final-try-flag", func(t *testing.T) {
		t.Parallel()
		f := alwaysAuth(t)
		k := openFake(t, f)
		f.setFlags(ckfUserPINFinalTry)
		d := sha256.Sum256(nil)
		if _, err := k.Sign(nil, d[:], crypto.SHA256); !errors.Is(err, ErrPINFinalTry) {
			t.Fatalf("got %v", err)
		}
		if n := f.count("Login"); n != 2 {
			t.Fatalf("Login called %d times, want 2", n)
		}
	})
}

func TestRecoveryFake(t *testing.T) {
	t.Parallel()
	t.Run("ok/dead-session-replaced", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, false, true)
		k := openFake(t, f)
		mustSign(t, k, crypto.SHA256)
		f.fail("Sign", ckrSessionHandleInvalid)
		mustSign(t, k, crypto.SHA256)
		if n := f.count("Login"); n != 1 {
			t.Fatalf("a dead session must not cost a login; Login called %d times", n)
		}
	})
	t.Run("ok/operation-active-session-not-reused", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, false, true)
		k := openFake(t, f, WithPoolSize(1))
		f.fail("Sign", ckrDataLenRange)
		d := sha256.Sum256(nil)
		if _, err := k.Sign(nil, d[:], crypto.SHA256); err == nil {
			t.Fatal("want the injected error")
		}
		mustSign(t, k, crypto.SHA256)
	})
	t.Run("ok/login-lost", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, false, true)
		k := openFake(t, f)
		mustSign(t, k, crypto.SHA256)
		f.dropLogin()
		mustSign(t, k, crypto.SHA256)
		if n := f.count("Login"); n != 2 {
			t.Fatalf("Login called %d times, want 2", n)
		}
	})
	t.Run("ok/login-lost-shared-recovery", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, true, true)
		k := openFake(t, f, WithPoolSize(4))
		mustSign(t, k, crypto.SHA256)
		f.dropLogin()
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				mustSign(t, k, crypto.SHA256)
			}()
		}
		wg.Wait()
		if n := f.count("Login"); n != 2 {
			t.Fatalf("8 signers saw one lost login; Login called %d times, want 2", n)
		}
	})
	t.Run("fail/login-lost-twice-gives-up", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, false, true)
		k := openFake(t, f)
		f.fail("Sign", ckrUserNotLoggedIn, ckrUserNotLoggedIn, ckrUserNotLoggedIn)
		d := sha256.Sum256(nil)
		if _, err := k.Sign(nil, d[:], crypto.SHA256); err == nil {
			t.Fatal("want an error")
		}
		if n := f.count("Login"); n != 2 {
			t.Fatalf("Login called %d times, want 2 (open + one recovery)", n)
		}
	})
	t.Run("ok/device-error-twice-reconnects", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, true, true)
		k := openFake(t, f)
		mustSign(t, k, crypto.SHA256)
		// The fresh session fails too: the device is at fault, so one reconnect (one login) follows.
		f.fail("Sign", ckrDeviceError, ckrDeviceError)
		mustSign(t, k, crypto.SHA256)
		if n := f.count("Login"); n != 2 {
			t.Fatalf("Login called %d times, want 2 (open + the reconnect)", n)
		}
	})
	t.Run("fail/device-error-persists-is-token-removed", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, true, true)
		k := openFake(t, f)
		// The signature, its retry on a fresh session, and the reconnect's self-test all fail.
		f.fail("Sign", ckrDeviceError, ckrDeviceError, ckrDeviceError)
		d := sha256.Sum256(nil)
		_, err := k.Sign(nil, d[:], crypto.SHA256)
		if !errors.Is(err, ErrTokenRemoved) || apperr.KindOf(err) != apperr.Unavailable {
			t.Fatalf("got %v, want ErrTokenRemoved", err)
		}
		// The device answers again: the next signature reconnects (its key handle was never checked
		// after the failed reconnect) and signs.
		logins := f.count("Login")
		mustSign(t, k, crypto.SHA256)
		if n := f.count("Login") - logins; n != 1 {
			t.Fatalf("Login called %d times for the reconnect, want 1", n)
		}
	})
	t.Run("fail/function-failed-twice-is-the-signatures-own", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, true, true)
		k := openFake(t, f)
		f.fail("Sign", ckrFunctionFailed, ckrFunctionFailed)
		d := sha256.Sum256(nil)
		_, err := k.Sign(nil, d[:], crypto.SHA256)
		if err == nil || errors.Is(err, ErrTokenRemoved) {
			t.Fatalf("got %v, want the bare CKR_FUNCTION_FAILED", err)
		}
		if n := f.count("Login"); n != 1 {
			t.Fatalf("Login called %d times: a failing signature must not cost a reconnect", n)
		}
	})
	t.Run("fail/login-lost-then-device-error-logs-in-once", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, true, true)
		k := openFake(t, f)
		f.fail("Sign", ckrUserNotLoggedIn, ckrDeviceError)
		d := sha256.Sum256(nil)
		if _, err := k.Sign(nil, d[:], crypto.SHA256); err == nil {
			t.Fatal("want an error")
		}
		if n := f.count("Login"); n != 2 {
			t.Fatalf("Login called %d times, want 2 (open + the one recovery of this failure)", n)
		}
	})
	t.Run("fail/removal-seen-by-32-signers-is-one-reconnect", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, true, true)
		k := openFake(t, f, WithPoolSize(4))
		mustSign(t, k, crypto.SHA256)
		f.mu.Lock()
		f.slotDelay = 100 * time.Millisecond
		f.mu.Unlock()
		f.remove()
		before := f.count("GetSlotList")
		var wg sync.WaitGroup
		errs := make(chan error, 32)
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d := sha256.Sum256(nil)
				_, err := k.Sign(nil, d[:], crypto.SHA256)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if !errors.Is(err, ErrTokenRemoved) {
				t.Fatalf("got %v, want ErrTokenRemoved", err)
			}
		}
		// Every signer began within the reconnect's 100 ms listing, so that one reconnect answers all.
		if n := f.count("GetSlotList") - before; n > 1 {
			t.Fatalf("%d slot listings for one removal: the signers reconnected in turn", n)
		}
	})
	t.Run("ok/a-caller-that-gave-up-does-not-answer-for-others", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, true, true)
		k := openFake(t, f, WithPoolSize(2))
		mustSign(t, k, crypto.SHA256)
		k.mu.Lock()
		seen := k.epoch
		k.mu.Unlock()
		gone, cancel := context.WithCancel(context.Background())
		cancel()
		start := time.Now()
		if err := k.recover(gone, seen, start, true); !errors.Is(err, context.Canceled) {
			t.Fatalf("the caller that gave up: %v", err)
		}
		if err := k.recover(context.Background(), seen, start, true); err != nil {
			t.Fatalf("another signer of the same failure got %v, want a reconnect of its own", err)
		}
		mustSign(t, k, crypto.SHA256)
	})
	t.Run("fail/sign-deadline-holds-while-a-reconnect-waits", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, true, true)
		k := openFake(t, f, WithPoolSize(2))
		mustSign(t, k, crypto.SHA256)
		gate, in := make(chan struct{}), make(chan struct{}, 4)
		f.mu.Lock()
		f.signGate, f.signIn = gate, in
		f.mu.Unlock()
		slow := make(chan error, 1)
		go func() { d := sha256.Sum256(nil); _, err := k.Sign(nil, d[:], crypto.SHA256); slow <- err }()
		<-in // a slow C_Sign holds the module's call lock for reading
		f.mu.Lock()
		f.signGate = nil
		f.mu.Unlock()
		k.mu.Lock()
		seen := k.epoch
		k.mu.Unlock()
		reconnected := make(chan error, 1)
		go func() { reconnected <- k.recover(context.Background(), seen, time.Now(), true) }()
		time.Sleep(50 * time.Millisecond) // the reconnect now waits for the slow signature
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		d := sha256.Sum256(nil)
		t0 := time.Now()
		_, err := k.SignContext(ctx, d[:], crypto.SHA256)
		if !errors.Is(err, ErrTokenBusy) || !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) > 2*time.Second {
			t.Fatalf("after %v: %v, want ErrTokenBusy at the deadline", time.Since(t0), err)
		}
		close(gate)
		if err := <-slow; err != nil {
			t.Fatalf("the slow signature: %v", err)
		}
		if err := <-reconnected; err != nil {
			t.Fatalf("the reconnect: %v", err)
		}
		mustSign(t, k, crypto.SHA256)
	})
	t.Run("ok/removed-and-reinserted", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, true, true)
		k := openFake(t, f)
		mustSign(t, k, crypto.SHA256)
		f.remove()
		d := sha256.Sum256(nil)
		_, err := k.Sign(nil, d[:], crypto.SHA256)
		if !errors.Is(err, ErrTokenRemoved) || apperr.KindOf(err) != apperr.Unavailable {
			t.Fatalf("removed: got %v", err)
		}
		f.reinsert()
		signs := f.count("Sign")
		mustSign(t, k, crypto.SHA256)
		if got := f.count("Sign") - signs; got < 2 {
			t.Fatalf("reconnect must repeat the self-test; %d signatures", got)
		}
		if n := f.count("Login"); n != 2 {
			t.Fatalf("Login called %d times, want 2", n)
		}
	})
	t.Run("ok/concurrent-bounded", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, true, true)
		k := openFake(t, f, WithPoolSize(2))
		var wg sync.WaitGroup
		var mu sync.Mutex
		peak := 0
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 25 {
					mustSign(t, k, crypto.SHA256)
					f.mu.Lock()
					o := f.open
					f.mu.Unlock()
					mu.Lock()
					peak = max(peak, o)
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if peak > 3 {
			t.Fatalf("%d sessions open, want at most pool 2 + anchor", peak)
		}
	})
	t.Run("fail/slow-token-deadline", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, true, true)
		k := openFake(t, f, WithPoolSize(1))
		gate, in := make(chan struct{}), make(chan struct{})
		f.mu.Lock()
		f.signGate, f.signIn = gate, in
		f.mu.Unlock()
		d := sha256.Sum256(nil)
		done := make(chan error, 1)
		go func() {
			_, err := k.Sign(nil, d[:], crypto.SHA256)
			done <- err
		}()
		<-in // the first signer holds the only session inside a slow C_Sign
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		defer cancel()
		_, err := k.SignContext(ctx, d[:], crypto.SHA256)
		if !errors.Is(err, ErrTokenBusy) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("got %v", err)
		}
		close(gate)
		if err := <-done; err != nil {
			t.Fatalf("first signer: %v", err)
		}
	})
	t.Run("ok/queued-signers-get-their-own-signatures", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, true, true)
		k := openFake(t, f, WithPoolSize(1))
		gate, in := make(chan struct{}), make(chan struct{}, 16)
		f.mu.Lock()
		f.signGate, f.signIn = gate, in
		f.mu.Unlock()
		signs := f.count("Sign")
		var onRunner atomic.Int32
		f.mu.Lock()
		f.onSign = func() {
			// The queued signatures must be started by a runner right after the previous one, not by
			// their callers' goroutines once the scheduler gets round to them.
			buf := make([]byte, 64<<10)
			if strings.Contains(string(buf[:runtime.Stack(buf, false)]), ").runQueue(") {
				onRunner.Add(1)
			}
		}
		f.mu.Unlock()
		type answer struct {
			i   int
			sig []byte
			err error
		}
		answers := make(chan answer, 6)
		digest := func(i int) []byte { d := sha256.Sum256([]byte{byte(i)}); return d[:] }
		sign := func(ctx context.Context, i int) {
			sig, err := k.SignContext(ctx, digest(i), crypto.SHA256)
			answers <- answer{i, sig, err}
		}
		go sign(context.Background(), 0)
		<-in // the only session is inside C_Sign for signer 0
		gaveUp, cancel := context.WithCancel(context.Background())
		for i := 1; i <= 5; i++ {
			ctx := context.Background()
			if i == 3 {
				ctx = gaveUp
			}
			go sign(ctx, i)
		}
		waitQueued(t, k, 5)
		cancel() // signer 3 gives up while queued: its digest must never reach the token
		a := <-answers
		if a.i != 3 || !errors.Is(a.err, ErrTokenBusy) || !errors.Is(a.err, context.Canceled) {
			t.Fatalf("signer %d: %v, want signer 3 to give up with ErrTokenBusy", a.i, a.err)
		}
		close(gate)
		for range 5 {
			a := <-answers
			if a.err != nil {
				t.Fatalf("signer %d: %v", a.i, a.err)
			}
			if !verify(k.Public(), digest(a.i), a.sig) {
				t.Fatalf("signer %d got a signature that is not over its own digest", a.i)
			}
		}
		if n := f.count("Sign") - signs; n != 5 {
			t.Fatalf("%d C_Sign calls, want 5 (the one that gave up while queued is skipped)", n)
		}
		if n := onRunner.Load(); n != 4 {
			t.Fatalf("%d of the 4 queued signatures were made by a session runner", n)
		}
	})
	t.Run("ok/close-then-sign", func(t *testing.T) {
		t.Parallel()
		f := newFake(t, false, true)
		k := openFake(t, f)
		_ = k.Close()
		d := sha256.Sum256(nil)
		if _, err := k.Sign(nil, d[:], crypto.SHA256); !errors.Is(err, ErrClosed) {
			t.Fatalf("got %v", err)
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.open != 0 {
			t.Fatalf("%d sessions left open", f.open)
		}
	})
}

func TestModuleRefCount(t *testing.T) { // not parallel: swaps openModule
	f := newFake(t, false, true)
	saved := openModule
	defer func() { openModule = saved }()
	loads := 0
	openModule = func(string) (p11, error) { loads++; return f, nil }
	uri := "pkcs11:token=fake;object=k?module-path=/refcount.so&pin-value=1234"
	a, err := Open(context.Background(), uri)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(context.Background(), uri)
	if err != nil {
		t.Fatal(err)
	}
	if loads != 1 {
		t.Fatalf("module loaded %d times", loads)
	}
	_ = a.Close()
	modules.mu.Lock()
	_, still := modules.m["/refcount.so"]
	modules.mu.Unlock()
	if !still {
		t.Fatal("module released while a key still uses it")
	}
	_ = b.Close()
	modules.mu.Lock()
	_, still = modules.m["/refcount.so"]
	modules.mu.Unlock()
	if still {
		t.Fatal("module kept after its last user closed")
	}
}

func TestSentinelKinds(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		kind apperr.Kind
	}{
		{ErrModuleNotFound, apperr.Unavailable}, {ErrTokenNotFound, apperr.NotFound}, {ErrKeyNotFound, apperr.NotFound},
		{ErrCertificateMissing, apperr.NotFound}, {ErrWrongPIN, apperr.Unauthorized}, {ErrPINLocked, apperr.Forbidden},
		{ErrTokenRemoved, apperr.Unavailable},
	} {
		w := wrapf(c.err.(*apperr.Error), ckrPINIncorrect, "token %q", "x")
		if !errors.Is(w, c.err) || apperr.KindOf(w) != c.kind || !apperr.IsKind(w, c.kind) {
			t.Errorf("%v: kind %v", c.err, apperr.KindOf(w))
		}
		if _, ok := ckrOf(w); !ok {
			t.Errorf("%v: cause lost", c.err)
		}
	}
}

// Listing the objects of a token that is busy (another process holds a security officer's session, or
// is initialising it) marks that token and goes on; only the token the caller logs into fails the call.
func TestListTokensToleratesABusyToken(t *testing.T) {
	f := newFake(t, true, true)
	uri := f.install(t)
	u, err := ParseURI(uri)
	if err != nil {
		t.Fatal(err)
	}
	f.fail("OpenSession", CKR(0x0B8)) // CKR_SESSION_READ_WRITE_SO_EXISTS
	toks, err := ListTokens(context.Background(), u.ModulePath, ListOptions{Objects: true})
	if err != nil || len(toks) != 1 || toks[0].ObjectsError == "" || len(toks[0].Objects) != 0 {
		t.Fatalf("busy token without login: %v %+v", err, toks)
	}
	f.fail("OpenSession", CKR(0x0B8))
	if _, err := ListTokens(context.Background(), u.ModulePath, ListOptions{Objects: true, Login: u}); err == nil {
		t.Fatal("the token asked for with Login was busy, yet the listing succeeded")
	}
	toks, err = ListTokens(context.Background(), u.ModulePath, ListOptions{Objects: true, Login: u})
	if err != nil || len(toks) != 1 || toks[0].ObjectsError != "" || !toks[0].LoggedIn || len(toks[0].Objects) == 0 {
		t.Fatalf("once free: %v %+v", err, toks)
	}
}

// waitQueued waits until n signatures wait for a session runner.
func waitQueued(t *testing.T, k *Key, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		k.qmu.Lock()
		q := len(k.queue)
		k.qmu.Unlock()
		if q == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d signatures queued, want %d", q, n)
		}
	}
}
