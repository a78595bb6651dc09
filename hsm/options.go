package hsm

import (
	"log/slog"
	"time"
)

// Option configures Open and the token commands.
type Option func(*options)

type options struct {
	poolSize       int
	allowFinalTry  bool
	pinPrompt      func() ([]byte, error)
	withoutCert    bool
	logger         *slog.Logger
	allowedModules []string
	signTimeout    time.Duration
}

// DefaultPoolSize is the number of signing sessions when WithPoolSize is not given: enough for the two
// cores of a small server; an HSM with many cores wants more, a USB token wants 1.
const DefaultPoolSize = 4

func buildOptions(opts []Option) options {
	o := options{poolSize: DefaultPoolSize, logger: slog.Default()}
	for _, f := range opts {
		f(&o)
	}
	if o.poolSize < 1 {
		o.poolSize = 1
	}
	return o
}

// WithPoolSize bounds the signing sessions a Key keeps open besides its logged-in anchor session. Use 1
// for a USB token (signatures then queue, first come first served); the token's own session limit
// lowers it further.
func WithPoolSize(n int) Option { return func(o *options) { o.poolSize = n } }

// WithAllowFinalTry lets a login go ahead when the token reports that one PIN try is left. Without it
// such a login is refused with ErrPINFinalTry; only use it after a person confirmed the PIN.
func WithAllowFinalTry() Option { return func(o *options) { o.allowFinalTry = true } }

// WithPINPrompt supplies the PIN when the URI has no pin-source, for example a no-echo terminal prompt.
// It is called at most once per Open, only when the token needs a login, and never again after a wrong
// PIN. The returned slice is wiped when the Key is closed.
func WithPINPrompt(f func() ([]byte, error)) Option { return func(o *options) { o.pinPrompt = f } }

// WithoutCertificate lets Open succeed for a key that has no certificate yet (to make a CSR, or to
// benchmark). The pairing is then proven against the token's public key object, or, for RSA, the
// private key's public attributes; Certificate returns nil.
func WithoutCertificate() Option { return func(o *options) { o.withoutCert = true } }

// WithLogger sets where warnings go (PIN counter low, sessions replaced, reconnects). Nothing logged
// ever contains a PIN.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithAllowedModules restricts which module paths a URI may name (a config allowlist: request data must
// never choose the library the process loads). Without it any module path is accepted.
func WithAllowedModules(paths ...string) Option {
	return func(o *options) { o.allowedModules = append(o.allowedModules, paths...) }
}

// WithSignTimeout bounds how long crypto.Signer's Sign (which has no context) waits for a session and
// the token; SignContext uses its context instead. Zero means no limit.
func WithSignTimeout(d time.Duration) Option { return func(o *options) { o.signTimeout = d } }
