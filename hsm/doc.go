// Package hsm signs with private keys that never leave a PKCS#11 token or HSM: an organisation's seal
// key in an HSM, a leader's key in a USB token, or a SoftHSM token in tests and the demo.
//
// Keys are named by RFC 7512 URIs (ParseURI; the accepted form is fixed in contract.md):
//
//	pkcs11:token=docsign;object=seal;id=%01;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=file:/etc/lienthong/seal.pin
//
// module-path may be left out when LIENTHONG_PKCS11_MODULE is set; pin-source is file:PATH (exactly one
// trailing newline trimmed, the file must be owner-only) or env:VAR.
//
// Open returns a *Key, a crypto.Signer (RSA PKCS#1 v1.5 over SHA-256/384/512 DigestInfo, RSA-PSS, ECDSA
// P-256/P-384 with the token's raw r||s turned into ASN.1) that is safe for concurrent use:
//
//	key, err := hsm.Open(ctx, uri, hsm.WithPoolSize(1)) // 1 for a USB token
//	if err != nil { ... }                               // errors.Is(err, hsm.ErrWrongPIN) etc.
//	defer key.Close()
//	sig, err := key.Sign(nil, digest, crypto.SHA256)
//	cert := key.Certificate() // the certificate with the key's CKA_ID
//
// What Open guarantees:
//   - the module is loaded and C_Initialize'd once per process and path, shared by reference count, and
//     finalised when its last Key is closed;
//   - the token is chosen by serial or label, never by slot index;
//   - the private key is found by label and/or id (exactly one must match), its certificate by the same
//     CKA_ID, and a test signature verified with the certificate proves they belong together
//     (ErrKeyMismatch otherwise); the self-test is repeated after every reconnect;
//   - the token's PIN flags are read before every login: a locked PIN is refused (ErrPINLocked), a
//     final try is refused unless WithAllowFinalTry (ErrPINFinalTry), and a wrong PIN is never retried:
//     after ErrWrongPIN the Key never logs in again. A PIN is held as []byte, wiped at Close, and never
//     appears in an error or a log line.
//
// Sessions: a Key keeps one logged-in anchor session for its whole life (it is never logged out: the
// login belongs to the process) and a bounded pool of read-only signing sessions (WithPoolSize, lowered
// to what the token allows). A signature that fails because its session died is retried once on a new
// session; one that fails because the login was lost (CKR_USER_NOT_LOGGED_IN, stale handles) logs in
// again once and retries once; one that fails because the token went away reconnects once (finding the
// token again by serial/label, Finalize+Initialize when no other Key uses the module) and retries once.
// Concurrent signers that saw the same failure share one recovery. A signer that finds every session
// busy is queued, and runner goroutines sign queued requests back to back, so a token with one session
// never waits for the next caller to be scheduled.
//
// Errors are exported sentinels usable with errors.Is (ErrModuleNotFound, ErrTokenNotFound,
// ErrKeyNotFound, ErrCertificateMissing, ErrWrongPIN, ErrPINLocked, ErrPINFinalTry, ErrTokenRemoved, …);
// each is also an *apperr.Error, so apperr.KindOf gives the Kind to map to an exit code or HTTP status.
//
// The PKCS#11 calls go through a small internal interface (p11) of the ~20 miekg/pkcs11 calls used; the
// miekg adapter is the only cgo file, so the package builds with CGO_ENABLED=0 (Open then fails with
// ErrModuleNotFound) and its unit tests run against a fault-injecting fake module that simulates what
// SoftHSM cannot: token removal and re-insertion, PIN final-try and locked flags, a slow token.
//
// Package hsm/softhsm makes SoftHSM tokens, keys and certificates for tests and the demo; hsm/hsmtest
// wraps it for tests.
package hsm
