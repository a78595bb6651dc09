package hsm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// Key is a private key on a PKCS#11 token, used through a bounded pool of sessions. It implements
// crypto.Signer and is safe for concurrent use. Open it with Open and Close it when done.
type Key struct {
	uri  *URI
	mod  *module
	opts options
	log  *slog.Logger

	pub        crypto.PublicKey
	cert       *x509.Certificate
	id         []byte
	label      string
	keyType    uint
	alwaysAuth bool
	mechs      map[uint]bool
	tokenLabel string
	serial     string

	sem      chan struct{}  // one slot per pooled session: bounds the pool, FIFO-ish waiting
	inflight sync.WaitGroup // signatures running; Close waits for them

	recMu sync.Mutex // serialises (re)connecting and everything done on the anchor session

	mu     sync.Mutex // guards the fields below
	slot   uint
	anchor sessionHandle
	idle   []pooled
	gen    uint64 // connection generation: bumps on reconnect, invalidating every pooled session
	epoch  uint64 // login epoch: bumps on every recovery; key handles belong to one epoch
	handle objectHandle
	pin    []byte
	prompt bool  // the PIN prompt was used (it is never used twice)
	fatal  error // a PIN failure during recovery: never log in again
	// When the last reconnect ended, and its error: a signer that started before it failed gets that
	// error instead of trying again in turn (32 signers, one removal: one reconnect, not 32).
	recAt   time.Time
	recErr  error
	closed  bool
	poolCap int

	qmu     sync.Mutex // guards queue and runners
	queue   []*signReq // signatures waiting for a session runner, oldest first
	runners int        // goroutines serving the queue, at most poolCap
}

// signReq is one signature handed to a session runner; done is buffered so that a runner never waits
// for a caller that gave up.
type signReq struct {
	ctx     context.Context
	m       mechanism
	data    []byte
	done    chan signDone
	started atomic.Bool // a runner took it: giving up no longer keeps it off the token
}

type signDone struct {
	sig   []byte
	epoch uint64
	err   error
}

type pooled struct {
	h   sessionHandle
	gen uint64
}

// Open loads the module (once per process and path), finds the token by serial or label, logs in on an
// anchor session after checking the PIN flags, finds the private key by label and/or id and its
// certificate by the same CKA_ID, and proves they belong together with a test signature. Without
// WithoutCertificate a key with no certificate fails with ErrCertificateMissing.
func Open(ctx context.Context, uri string, opts ...Option) (*Key, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, err
	}
	return OpenURI(ctx, u, opts...)
}

// OpenURI is Open for an already parsed URI.
func OpenURI(ctx context.Context, u *URI, opts ...Option) (*Key, error) {
	o := buildOptions(opts)
	path, err := resolveModule(u, &o)
	if err != nil {
		return nil, err
	}
	pin, _, err := u.ReadPIN()
	if err != nil {
		return nil, err
	}
	mod, err := acquireModule(path)
	if err != nil {
		return nil, err
	}
	k := &Key{uri: u, mod: mod, opts: o, log: o.logger, pin: pin}
	k.recMu.Lock()
	err = k.connect(ctx, true)
	k.recMu.Unlock()
	if err != nil {
		k.mu.Lock()
		k.closeSessionsLocked()
		k.mu.Unlock()
		wipe(k.pin)
		mod.release()
		return nil, err
	}
	k.sem = make(chan struct{}, k.poolCap)
	return k, nil
}

// connect finds the token, opens and logs in the anchor session, finds the key (and, the first time,
// its certificate and public key) and runs the self-test. Called with recMu held.
func (k *Key) connect(ctx context.Context, first bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := k.mod.p11
	slot, ti, err := findToken(p, k.uri)
	if err != nil && !first {
		// Some modules notice a re-inserted token (p11-kit's client a restarted server) only after
		// Finalize+Initialize; done only when no other Key uses this module (recover holds calls).
		if done, rerr := k.mod.reinitialize(); done && rerr == nil {
			slot, ti, err = findToken(p, k.uri)
		}
	}
	if err != nil {
		if !first && errors.Is(err, ErrTokenNotFound) {
			return wrapf(ErrTokenRemoved, err, "token %s", tokenName(k.uri))
		}
		return err
	}
	anchor, err := p.OpenSession(slot, ckfSerialSession)
	if err != nil {
		return fmt.Errorf("opening a session on token %q: %w", ti.Label, err)
	}
	k.mu.Lock()
	k.slot, k.anchor = slot, anchor
	k.mu.Unlock()
	if first {
		// Read without a lock afterwards (messages): set once, it is the same token after a reconnect.
		k.tokenLabel, k.serial = ti.Label, ti.Serial
	}

	if first {
		mechs, err := p.GetMechanismList(slot)
		if err != nil {
			return fmt.Errorf("token %q: listing mechanisms: %w", ti.Label, err)
		}
		k.mechs = map[uint]bool{}
		for _, m := range mechs {
			k.mechs[m] = true
		}
		k.poolCap = k.opts.poolSize
		// MaxSessionCount 0 means "effectively infinite" and ^0 "unavailable": no limit then.
		if mx := ti.MaxSessionCount; mx != 0 && mx != ckfUnavailableInfoValue && ti.SessionCount < mx {
			k.poolCap = max(1, min(k.poolCap, int(mx-ti.SessionCount)-1))
		}
	}
	if err := k.loginAnchor(); err != nil {
		return err
	}
	ko, err := findPrivateKey(p, anchor, k.uri)
	if err != nil {
		return err
	}
	if first {
		if err := k.describe(p, anchor, ko); err != nil {
			return err
		}
	} else if string(ko.id) != string(k.id) || ko.keyType != k.keyType {
		return wrapf(ErrKeyMismatch, nil, "after reconnecting, the key %s is a different key", objectName(k.uri))
	}
	// The handle is published only once the self-test signed with it: after a re-initialisation an old
	// or unchecked handle may name another object.
	if err := k.selfTest(anchor, ko.handle); err != nil {
		return err
	}
	k.mu.Lock()
	k.handle = ko.handle
	k.mu.Unlock()
	return nil
}

// loginAnchor logs in on the anchor, asking the prompt for a PIN at most once. Called with recMu held.
func (k *Key) loginAnchor() error {
	k.mu.Lock()
	pin, slot, anchor, label := k.pin, k.slot, k.anchor, k.tokenLabel
	k.mu.Unlock()
	if pin == nil && k.opts.pinPrompt != nil && !k.prompt {
		ti, err := k.mod.p11.GetTokenInfo(slot)
		if err != nil {
			return err
		}
		if ti.Flags&ckfLoginRequired != 0 && ti.Flags&ckfProtectedAuthPath == 0 &&
			ti.Flags&(ckfUserPINLocked) == 0 && (ti.Flags&ckfUserPINFinalTry == 0 || k.opts.allowFinalTry) {
			k.prompt = true
			if pin, err = k.opts.pinPrompt(); err != nil {
				return wrapf(ErrPINRequired, err, "token %q", label)
			}
			k.mu.Lock()
			k.pin = pin
			k.mu.Unlock()
		}
	}
	err := loginUser(k.mod.p11, slot, anchor, pin, k.opts.allowFinalTry, k.log, label)
	if errors.Is(err, ErrWrongPIN) || errors.Is(err, ErrPINLocked) {
		k.mu.Lock()
		k.fatal = err
		k.mu.Unlock()
	}
	return err
}

// describe fills in what the first connect learns about the key: public key, certificate, mechanisms.
func (k *Key) describe(p p11, sh sessionHandle, ko keyObject) error {
	k.id, k.label, k.keyType, k.alwaysAuth = ko.id, ko.label, ko.keyType, ko.alwaysAuth
	switch ko.keyType {
	case ckkRSA:
		if !k.mechs[ckmRSAPKCS] {
			return wrapf(ErrUnsupported, nil, "token %q does not offer CKM_RSA_PKCS", k.tokenLabel)
		}
	case ckkEC:
		if !k.mechs[ckmECDSA] {
			return wrapf(ErrUnsupported, nil, "token %q does not offer CKM_ECDSA", k.tokenLabel)
		}
	default:
		return wrapf(ErrUnsupported, nil, "key %q has type 0x%x; only RSA and EC keys sign", ko.label, ko.keyType)
	}
	certs, err := findCertificates(p, sh, ko.id)
	if err != nil {
		return err
	}
	var tokenPub crypto.PublicKey
	if len(certs) == 0 || len(certs) > 1 {
		tokenPub, err = publicKeyFromToken(p, sh, ko)
		if err != nil && len(certs) == 0 {
			if !k.opts.withoutCert {
				return wrapf(ErrCertificateMissing, nil, "key %q (id %X)", ko.label, ko.id)
			}
			return err
		}
	}
	switch {
	case len(certs) == 1:
		k.cert = certs[0]
	case len(certs) > 1:
		for _, c := range certs {
			if tokenPub != nil && samePublicKey(c.PublicKey, tokenPub) && (k.cert == nil || c.NotAfter.After(k.cert.NotAfter)) {
				k.cert = c
			}
		}
		if k.cert == nil {
			return wrapf(ErrKeyMismatch, nil, "key %q: %d certificates share its CKA_ID and none matches its public key", ko.label, len(certs))
		}
	case !k.opts.withoutCert:
		return wrapf(ErrCertificateMissing, nil, "key %q (id %X)", ko.label, ko.id)
	}
	if k.cert != nil {
		k.pub = k.cert.PublicKey
	} else {
		k.pub = tokenPub
	}
	switch pub := k.pub.(type) {
	case *rsa.PublicKey:
		if ko.keyType != ckkRSA {
			return wrapf(ErrKeyMismatch, nil, "key %q is not RSA but its certificate is", ko.label)
		}
		if pub.N.BitLen() < 2048 {
			return wrapf(ErrUnsupported, nil, "key %q is RSA-%d; at least 2048 bits are needed", ko.label, pub.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if ko.keyType != ckkEC {
			return wrapf(ErrKeyMismatch, nil, "key %q is not EC but its certificate is", ko.label)
		}
		if n := pub.Curve.Params().Name; n != "P-256" && n != "P-384" {
			return wrapf(ErrUnsupported, nil, "key %q uses curve %s (only P-256 and P-384)", ko.label, n)
		}
	default:
		return wrapf(ErrUnsupported, nil, "key %q: public key type %T", ko.label, k.pub)
	}
	return nil
}

// selfTest signs a random digest with the key and verifies it with the certificate's (or token's)
// public key: it proves the certificate belongs to the private key before anything is signed for real.
func (k *Key) selfTest(sh sessionHandle, h objectHandle) error {
	digest := make([]byte, sha256.Size)
	if _, err := rand.Read(digest); err != nil {
		return err
	}
	mech, data, err := k.mechanismFor(digest, crypto.SHA256)
	if err != nil {
		return err
	}
	raw, err := k.signOn(sh, h, mech, data)
	if err != nil {
		if classify(err) == classPIN {
			return pinError(err, k.tokenLabel)
		}
		return fmt.Errorf("self-test signature on token %q: %w", k.tokenLabel, err)
	}
	sig, err := k.finish(raw)
	if err != nil {
		return err
	}
	if !verify(k.pub, digest, sig) {
		return wrapf(ErrKeyMismatch, nil, "key %q on token %q: the self-test signature does not verify with the certificate", k.label, k.tokenLabel)
	}
	return nil
}

func verify(pub crypto.PublicKey, digest, sig []byte) bool {
	switch pub := pub.(type) {
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, sig) == nil
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(pub, digest, sig)
	}
	return false
}

// Public returns the public key (the certificate's when there is one).
func (k *Key) Public() crypto.PublicKey { return k.pub }

// Certificate returns the certificate stored with the key's CKA_ID, or nil when none is stored.
func (k *Key) Certificate() *x509.Certificate { return k.cert }

// Label and ID return the key's CKA_LABEL and CKA_ID; TokenLabel and TokenSerial name its token.
func (k *Key) Label() string       { return k.label }
func (k *Key) ID() []byte          { return append([]byte(nil), k.id...) }
func (k *Key) TokenLabel() string  { return k.tokenLabel }
func (k *Key) TokenSerial() string { return k.serial }

// URI returns the key's URI in canonical form, with any pin-value redacted.
func (k *Key) URI() string { return k.uri.String() }

// PoolSize is the number of signing sessions the key may open.
func (k *Key) PoolSize() int { return k.poolCap }

var (
	prefixSHA256 = []byte{0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20}
	prefixSHA384 = []byte{0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30}
	prefixSHA512 = []byte{0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40}
)

// mechanismFor chooses the mechanism and the bytes to hand C_Sign for a digest. RSA v1.5 gets the
// DigestInfo prefix here (CKM_RSA_PKCS), so the token never hashes the document itself.
func (k *Key) mechanismFor(digest []byte, opts crypto.SignerOpts) (mechanism, []byte, error) {
	h := opts.HashFunc()
	if h != 0 && len(digest) != h.Size() {
		return mechanism{}, nil, wrapf(ErrUnsupported, nil, "digest is %d bytes, %v needs %d", len(digest), h, h.Size())
	}
	switch k.keyType {
	case ckkRSA:
		if pss, ok := opts.(*rsa.PSSOptions); ok {
			var hm, mgf uint
			switch h {
			case crypto.SHA256:
				hm, mgf = ckmSHA256, ckgMGF1SHA256
			case crypto.SHA384:
				hm, mgf = ckmSHA384, ckgMGF1SHA384
			case crypto.SHA512:
				hm, mgf = ckmSHA512, ckgMGF1SHA512
			default:
				return mechanism{}, nil, wrapf(ErrUnsupported, nil, "RSA-PSS with %v", h)
			}
			if !k.mechs[ckmRSAPKCSPSS] {
				return mechanism{}, nil, wrapf(ErrUnsupported, nil, "token %q does not offer CKM_RSA_PKCS_PSS", k.tokenLabel)
			}
			salt := pss.SaltLength
			if salt == rsa.PSSSaltLengthAuto || salt == rsa.PSSSaltLengthEqualsHash {
				salt = h.Size()
			}
			if salt < 0 {
				return mechanism{}, nil, wrapf(ErrUnsupported, nil, "RSA-PSS salt length %d", salt)
			}
			return mechanism{Type: ckmRSAPKCSPSS, PSSHash: hm, PSSMGF: mgf, PSSSalt: uint(salt)}, digest, nil
		}
		var prefix []byte
		switch h {
		case crypto.SHA256:
			prefix = prefixSHA256
		case crypto.SHA384:
			prefix = prefixSHA384
		case crypto.SHA512:
			prefix = prefixSHA512
		default:
			return mechanism{}, nil, wrapf(ErrUnsupported, nil, "RSA PKCS#1 v1.5 with %v (SHA-256, SHA-384 or SHA-512 only)", h)
		}
		return mechanism{Type: ckmRSAPKCS}, append(append(make([]byte, 0, len(prefix)+len(digest)), prefix...), digest...), nil
	case ckkEC:
		if _, ok := opts.(*rsa.PSSOptions); ok {
			return mechanism{}, nil, wrapf(ErrUnsupported, nil, "RSA-PSS with an EC key")
		}
		if len(digest) == 0 || len(digest) > 64 {
			return mechanism{}, nil, wrapf(ErrUnsupported, nil, "ECDSA over a %d-byte digest", len(digest))
		}
		return mechanism{Type: ckmECDSA}, digest, nil
	}
	return mechanism{}, nil, wrapf(ErrUnsupported, nil, "key type 0x%x", k.keyType)
}

// finish turns the token's output into what crypto.Signer promises: ECDSA r||s becomes ASN.1.
func (k *Key) finish(raw []byte) ([]byte, error) {
	if k.keyType != ckkEC {
		return raw, nil
	}
	if len(raw) == 0 || len(raw)%2 != 0 {
		return nil, fmt.Errorf("pkcs11: ECDSA signature of odd length %d", len(raw))
	}
	r := new(big.Int).SetBytes(raw[:len(raw)/2])
	s := new(big.Int).SetBytes(raw[len(raw)/2:])
	var b cryptobyte.Builder
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		b.AddASN1BigInt(r)
		b.AddASN1BigInt(s)
	})
	return b.Bytes()
}

// signOn runs C_SignInit + C_Sign on one session, with a context-specific login in between for keys
// with CKA_ALWAYS_AUTHENTICATE.
func (k *Key) signOn(sh sessionHandle, h objectHandle, m mechanism, data []byte) ([]byte, error) {
	p := k.mod.p11
	if err := p.SignInit(sh, m, h); err != nil {
		return nil, err
	}
	if k.alwaysAuth {
		k.mu.Lock()
		pin, slot, fatal := k.pin, k.slot, k.fatal
		k.mu.Unlock()
		if fatal != nil {
			return nil, fatal
		}
		// A per-signature login is a login too: read the PIN flags first, and never try a PIN the token
		// rejected again (fatal).
		ti, err := p.GetTokenInfo(slot)
		if err != nil {
			return nil, err
		}
		if ti.Flags&ckfUserPINLocked != 0 {
			return nil, k.setFatal(wrapf(ErrPINLocked, nil, "token %q", k.tokenLabel))
		}
		if ti.Flags&ckfUserPINFinalTry != 0 && !k.opts.allowFinalTry {
			return nil, wrapf(ErrPINFinalTry, nil, "token %q", k.tokenLabel)
		}
		if err := p.Login(sh, ckuContextSpecific, pin); err != nil {
			if classify(err) == classPIN {
				return nil, k.setFatal(pinError(err, k.tokenLabel))
			}
			return nil, err
		}
	}
	return p.Sign(sh, data)
}

// setFatal records a PIN failure after which the Key never logs in again, and returns it.
func (k *Key) setFatal(err error) error {
	k.mu.Lock()
	if k.fatal == nil {
		k.fatal = err
	}
	k.mu.Unlock()
	return err
}

// Sign implements crypto.Signer. rand is ignored: the token makes its own randomness.
func (k *Key) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	ctx := context.Background()
	if k.opts.signTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, k.opts.signTimeout)
		defer cancel()
	}
	return k.SignContext(ctx, digest, opts)
}

// SignContext is Sign with a context bounding the wait for a session and the recovery.
func (k *Key) SignContext(ctx context.Context, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts == nil {
		opts = crypto.Hash(0)
	}
	mech, data, err := k.mechanismFor(digest, opts)
	if err != nil {
		return nil, err
	}
	raw, err := k.signRaw(ctx, mech, data)
	if err != nil {
		return nil, err
	}
	return k.finish(raw)
}

// signRaw signs with a pooled session. When the call fails because the session died, the login was
// lost or the token went away, it recovers once (replace the session / log in again / reconnect) and
// retries once; it never logs in twice for one failure and never retries a wrong PIN. CKR_DEVICE_ERROR
// on a fresh session too is the device's, not the session's (a token that stopped answering, a module
// whose connection to the token is gone, as p11-kit's client reports): it reconnects once, as for a
// removed token, and reports ErrTokenRemoved when that fails. Other session-class codes
// (CKR_FUNCTION_FAILED can be one signature's own) never cost a reconnect.
func (k *Key) signRaw(ctx context.Context, m mechanism, data []byte) ([]byte, error) {
	start := time.Now()
	var prev CKR
	for attempt := 0; ; attempt++ {
		sig, epoch, err := k.signQueued(ctx, m, data)
		if err == nil {
			return sig, nil
		}
		var typed *hsmError
		code, isCKR := ckrOf(err)
		if !isCKR || errors.As(err, &typed) {
			return nil, err // context, closed, PIN verdicts, already explained: nothing to recover
		}
		class := classify(err)
		if class == classPIN {
			return nil, pinError(err, k.tokenLabel)
		}
		if attempt == 1 && code == ckrDeviceError && prev == ckrDeviceError {
			if rerr := k.recover(ctx, epoch, start, true); rerr != nil {
				return nil, rerr
			}
			continue
		}
		if attempt > 0 || class == classOther {
			if class == classToken {
				return nil, wrapf(ErrTokenRemoved, err, "token %q", k.tokenLabel)
			}
			return nil, fmt.Errorf("signing with key %q on token %q: %w", k.label, k.tokenLabel, err)
		}
		prev = code
		switch class {
		case classSession:
			k.log.Warn("pkcs11 session failed; replacing it", "token", k.tokenLabel, "err", err.Error())
		case classLogin, classToken:
			if rerr := k.recover(ctx, epoch, start, class == classToken); rerr != nil {
				return nil, rerr
			}
		}
	}
}

// signQueued signs on the caller's goroutine when a session is free and nobody waits, and otherwise
// queues the signature for a runner, a goroutine that signs queued requests back to back. When callers
// only took turns at the sessions, the token sat idle after each signature until the next waiter was
// woken on another thread (≈ 0.1 ms on the test VM, an eighth of an RSA-2048 signature on SoftHSM); a
// runner picks the next request up as soon as C_Sign returns, so a batch keeps the token busy while
// callers prepare and finish their documents.
func (k *Key) signQueued(ctx context.Context, m mechanism, data []byte) ([]byte, uint64, error) {
	k.qmu.Lock()
	if len(k.queue) == 0 && k.runners < k.poolCap {
		k.runners++ // this goroutine is the runner for its own signature
		k.qmu.Unlock()
		sig, epoch, err := k.signPooled(ctx, m, data)
		k.qmu.Lock()
		handOver := len(k.queue) > 0
		if !handOver {
			k.runners--
		}
		k.qmu.Unlock()
		if handOver {
			// Others queued meanwhile: a runner takes over this slot, and yielding lets it reach the
			// token now instead of after this caller's own work.
			go k.runQueue()
			runtime.Gosched()
		}
		return sig, epoch, err
	}
	r := &signReq{ctx: ctx, m: m, data: data, done: make(chan signDone, 1)}
	k.queue = append(k.queue, r)
	start := k.runners < k.poolCap
	if start {
		k.runners++
	}
	k.qmu.Unlock()
	if start {
		go k.runQueue()
	}
	select {
	case d := <-r.done:
		return d.sig, d.epoch, d.err
	case <-ctx.Done():
		if r.started.Load() {
			return nil, 0, wrapf(ErrTokenBusy, ctx.Err(), "token %q: the signature did not finish in time", k.tokenLabel)
		}
		return nil, 0, wrapf(ErrTokenBusy, ctx.Err(), "token %q: no signing session became free", k.tokenLabel)
	}
}

// runQueue serves queued signatures until the queue is empty.
func (k *Key) runQueue() {
	for {
		k.qmu.Lock()
		if len(k.queue) == 0 {
			k.runners--
			k.qmu.Unlock()
			return
		}
		r := k.queue[0]
		k.queue[0] = nil
		k.queue = k.queue[1:]
		k.qmu.Unlock()
		var d signDone
		if err := r.ctx.Err(); err != nil {
			d.err = wrapf(ErrTokenBusy, err, "token %q: no signing session became free", k.tokenLabel)
		} else {
			r.started.Store(true)
			d.sig, d.epoch, d.err = k.signPooled(r.ctx, r.m, r.data)
		}
		r.done <- d
	}
}

// signPooled takes a session from the pool (opening one if the pool has room), signs, and returns the
// session to the pool, or closes it if the call failed.
func (k *Key) signPooled(ctx context.Context, m mechanism, data []byte) ([]byte, uint64, error) {
	select {
	case k.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, wrapf(ErrTokenBusy, ctx.Err(), "token %q: no signing session became free", k.tokenLabel)
	}
	defer func() { <-k.sem }()
	if err := k.mod.rlockCalls(ctx); err != nil {
		return nil, 0, wrapf(ErrTokenBusy, err, "token %q: waiting for the token to reconnect", k.tokenLabel)
	}
	defer k.mod.calls.RUnlock()

	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil, 0, ErrClosed
	}
	if k.fatal != nil {
		err := k.fatal
		k.mu.Unlock()
		return nil, 0, err
	}
	k.inflight.Add(1)
	defer k.inflight.Done()
	epoch, gen, slot, h := k.epoch, k.gen, k.slot, k.handle
	if h == 0 {
		// The last reconnect failed: there is no checked key handle until one succeeds. Answered as a
		// token that is not present, which makes signRaw reconnect.
		k.mu.Unlock()
		return nil, epoch, fmt.Errorf("key %s not reconnected yet: %w", objectName(k.uri), ckrTokenNotPresent)
	}
	var s pooled
	if n := len(k.idle); n > 0 {
		s, k.idle = k.idle[n-1], k.idle[:n-1]
	}
	k.mu.Unlock()

	p := k.mod.p11
	if s.h == 0 {
		sh, err := p.OpenSession(slot, ckfSerialSession)
		if err != nil {
			return nil, epoch, err
		}
		s = pooled{h: sh, gen: gen}
	}
	sig, err := k.signOn(s.h, h, m, data)
	k.mu.Lock()
	if err == nil && s.gen == k.gen && !k.closed {
		k.idle = append(k.idle, s)
		s.h = 0
	}
	k.mu.Unlock()
	if s.h != 0 {
		// A failed session may hold an active operation or be dead: never put it back.
		_ = p.CloseSession(s.h)
	}
	return sig, epoch, err
}

// recover starts a new login epoch, once per failure however many signers saw it: log in again on the
// anchor (reconnecting when the anchor is dead too, or the token went away), find the key handle again
// and repeat the self-test. since is when the failed signature began.
func (k *Key) recover(ctx context.Context, seen uint64, since time.Time, reconnect bool) error {
	k.recMu.Lock()
	defer k.recMu.Unlock()
	k.mu.Lock()
	switch {
	case k.closed:
		k.mu.Unlock()
		return ErrClosed
	case k.fatal != nil:
		k.mu.Unlock()
		return k.fatal
	case k.recErr != nil && k.recAt.After(since):
		err := k.recErr
		k.mu.Unlock()
		return err // a reconnect since this signature began could not reach the token
	case k.epoch != seen:
		k.mu.Unlock()
		return nil // another signer already recovered from this failure
	}
	anchor := k.anchor
	k.mu.Unlock()

	p := k.mod.p11
	if !reconnect {
		err := k.loginAnchor()
		if err == nil {
			var ko keyObject
			if ko, err = findPrivateKey(p, anchor, k.uri); err == nil {
				if string(ko.id) != string(k.id) {
					return wrapf(ErrKeyMismatch, nil, "key %s changed on the token", objectName(k.uri))
				}
				k.mu.Lock()
				k.handle = ko.handle
				k.epoch++
				k.recErr = nil // the token answers again
				k.mu.Unlock()
				k.log.Warn("pkcs11 login was lost; logged in again", "token", k.tokenLabel)
				return nil
			}
		}
		if c := classify(err); c != classSession && c != classToken && c != classLogin {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err // this caller gave up: nothing tried, nothing for the others to learn
	}
	k.log.Warn("pkcs11 token unavailable; reconnecting once", "token", k.tokenLabel)
	// No signature on this module runs while the module may be re-initialised and this Key's slot,
	// sessions and key handle are replaced: signers wait, then read the new state.
	k.mod.calls.Lock()
	k.mu.Lock()
	k.gen++
	k.epoch++
	k.handle = 0 // until connect has found the key again and its self-test signed
	k.closeSessionsLocked()
	k.mu.Unlock()
	err := k.connect(ctx, false)
	k.mod.calls.Unlock()
	if err != nil {
		if c, _ := ckrOf(err); classify(err) == classToken || c == ckrDeviceError {
			err = wrapf(ErrTokenRemoved, err, "token %q", k.tokenLabel)
		}
	}
	if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		k.mu.Lock()
		k.recAt, k.recErr = time.Now(), err
		k.mu.Unlock()
	}
	return err
}

// closeSessionsLocked closes the anchor and idle sessions; k.mu held.
func (k *Key) closeSessionsLocked() {
	p := k.mod.p11
	for _, s := range k.idle {
		_ = p.CloseSession(s.h)
	}
	k.idle = nil
	if k.anchor != 0 {
		_ = p.CloseSession(k.anchor)
		k.anchor = 0
	}
}

// Close waits for running signatures, closes the sessions (without C_Logout: the login belongs to
// the process), wipes the PIN and releases the module, finalising it when this was its last user.
func (k *Key) Close() error {
	k.recMu.Lock()
	defer k.recMu.Unlock()
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil
	}
	k.closed = true
	k.mu.Unlock()
	k.inflight.Wait()
	k.mu.Lock()
	k.closeSessionsLocked()
	wipe(k.pin)
	k.pin = nil
	k.mu.Unlock()
	k.mod.release()
	return nil
}
