package main

// The `token` commands: list tokens and keys, make a key pair, make a CSR with it, store the issued
// certificate beside it, and benchmark signing. keygen + csr + import-cert let an organisation enrol
// its certificate without any other tool.

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"golang.org/x/term"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/internal/apperr"
)

func init() {
	register(command{name: "token list", summary: "list PKCS#11 slots and tokens; --keys adds key and certificate objects", run: tokenList})
	register(command{name: "token keygen", summary: "make a key pair on a token (--key URI --type rsa2048|rsa3072|ecp256|ecp384)", run: tokenKeygen})
	register(command{name: "token csr", summary: "print a PKCS#10 request signed by a token key (--key URI --subject /C=VN/O=.../CN=...)", run: tokenCSR})
	register(command{name: "token import-cert", summary: "store a certificate beside its token key (--key URI CERT.pem)", run: tokenImportCert})
	register(command{name: "token bench", summary: "sign digests in N workers and report signatures per second", run: tokenBench})
}

// parseInterspersed parses flags that may come before or after the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// tokenFail prints err for a person and returns the exit code: input and usage errors 2, the rest 1.
func tokenFail(e env, cmd string, err error) int {
	fmt.Fprintf(e.Stderr, "lienthong %s: %v\n", cmd, err)
	if apperr.KindOf(err) == apperr.Invalid {
		return exitUsage
	}
	return exitNo
}

// pinPrompt asks for the PIN on the terminal without echo when stdin is a terminal; otherwise the
// command needs a pin-source.
func pinPrompt(e env, what string) []hsm.Option {
	f, ok := e.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return []hsm.Option{hsm.WithPINPrompt(func() ([]byte, error) {
		fmt.Fprintf(e.Stderr, "PIN for %s: ", what)
		pin, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(e.Stderr)
		return pin, err
	})}
}

func keyFlags(fs *flag.FlagSet) (key *string, finalTry *bool) {
	key = fs.String("key", "", "key URI: pkcs11:token=LABEL;object=KEY[;id=%01]?module-path=PATH&pin-source=file:PATH|env:VAR")
	finalTry = fs.Bool("allow-final-try", false, "log in even when the token says one PIN try is left")
	return key, finalTry
}

func commonOpts(e env, uri string, finalTry bool) []hsm.Option {
	opts := pinPrompt(e, redactedURI(uri))
	if finalTry {
		opts = append(opts, hsm.WithAllowFinalTry())
	}
	return opts
}

func newFlagSet(e env, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.Stderr, "usage: lienthong %s\n", usage)
		fs.PrintDefaults()
	}
	return fs
}

func tokenList(ctx context.Context, e env, args []string) int {
	fs := newFlagSet(e, "token list", "token list [--module PATH] [--keys] [--token LABEL --pin-source file:PATH|env:VAR] [--json]")
	module := fs.String("module", os.Getenv(hsm.ModuleEnv), "PKCS#11 module (.so); default $"+hsm.ModuleEnv)
	keys := fs.Bool("keys", false, "also list key and certificate objects")
	token := fs.String("token", "", "with --keys: log in to this token (label) to list its private keys too")
	pinSource := fs.String("pin-source", "", "with --token: where the PIN is (file:PATH or env:VAR)")
	asJSON := fs.Bool("json", false, "print JSON")
	if _, err := parseInterspersed(fs, args); err != nil {
		return exitUsage
	}
	if *module == "" {
		fmt.Fprintf(e.Stderr, "lienthong token list: give --module PATH or set %s\n", hsm.ModuleEnv)
		return exitUsage
	}
	lo := hsm.ListOptions{Objects: *keys}
	var opts []hsm.Option
	if *token != "" {
		u := &hsm.URI{Token: *token, PINSource: *pinSource}
		if *pinSource != "" {
			var err error
			if u, err = hsm.ParseURI(hsm.BuildURI(*token, "", nil, "", *pinSource)); err != nil {
				return tokenFail(e, "token list", err)
			}
		}
		lo.Login = u
		opts = append(opts, pinPrompt(e, "token "+*token)...)
	}
	toks, err := hsm.ListTokens(ctx, *module, lo, opts...)
	if err != nil {
		return tokenFail(e, "token list", err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		if toks == nil {
			toks = []hsm.TokenInfo{}
		}
		_ = enc.Encode(toks)
		return exitOK
	}
	fmt.Fprintf(e.Stdout, "module %s: %d slot(s) with a token\n", *module, len(toks))
	for _, t := range toks {
		if !slices.Contains(t.Flags, "initialized") {
			fmt.Fprintf(e.Stdout, "slot %d: uninitialised token (%s)\n", t.Slot, t.SlotDescription)
			continue
		}
		fmt.Fprintf(e.Stdout, "slot %d: token %q serial %s (%s %s) flags %s\n", t.Slot, t.Label, t.Serial, t.Manufacturer, t.Model, strings.Join(t.Flags, ","))
		if !*keys {
			continue
		}
		if t.ObjectsError != "" {
			fmt.Fprintf(e.Stdout, "  objects not listed: the token is busy (%s); try again\n", t.ObjectsError)
			continue
		}
		if len(t.Objects) == 0 {
			fmt.Fprintln(e.Stdout, "  no public objects (private keys show with --token LABEL --pin-source ...)")
		}
		for _, o := range t.Objects {
			line := fmt.Sprintf("  %-7s label %q id %s", o.Class, o.Label, hex.EncodeToString(o.ID))
			if o.KeyType != "" {
				line += " type " + o.KeyType
			}
			if o.Subject != "" {
				line += fmt.Sprintf(" subject %q expires %s", o.Subject, o.NotAfter.Format("2006-01-02"))
			}
			fmt.Fprintln(e.Stdout, line)
		}
		if !t.LoggedIn && *token == "" {
			fmt.Fprintln(e.Stdout, "  (not logged in: private keys are not shown)")
		}
	}
	return exitOK
}

func tokenKeygen(ctx context.Context, e env, args []string) int {
	fs := newFlagSet(e, "token keygen", "token keygen --key URI --type rsa2048|rsa3072|ecp256|ecp384")
	key, finalTry := keyFlags(fs)
	typ := fs.String("type", "", "rsa2048, rsa3072, ecp256 or ecp384")
	if pos, err := parseInterspersed(fs, args); err != nil || len(pos) > 0 || *key == "" || *typ == "" {
		fs.Usage()
		return exitUsage
	}
	kt, err := hsm.ParseKeyType(*typ)
	if err != nil {
		return tokenFail(e, "token keygen", err)
	}
	pub, id, err := hsm.GenerateKeyPair(ctx, *key, kt, commonOpts(e, *key, *finalTry)...)
	if err != nil {
		return tokenFail(e, "token keygen", err)
	}
	u, _ := hsm.ParseURI(*key)
	u.ID = id
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return tokenFail(e, "token keygen", err)
	}
	sum := sha256.Sum256(der)
	fmt.Fprintf(e.Stderr, "made a %s key %q with id %s on token %q; public key SHA-256 %s\n", kt, u.Object, hex.EncodeToString(id), u.Token, hex.EncodeToString(sum[:]))
	fmt.Fprintln(e.Stdout, u.String())
	return exitOK
}

func tokenCSR(ctx context.Context, e env, args []string) int {
	fs := newFlagSet(e, "token csr", `token csr --key URI --subject "/C=VN/O=.../CN=..."`)
	key, finalTry := keyFlags(fs)
	subj := fs.String("subject", "", `subject in OpenSSL form, e.g. "/C=VN/ST=Hà Giang/O=Sở Nội vụ/CN=Nguyễn Văn A"`)
	if pos, err := parseInterspersed(fs, args); err != nil || len(pos) > 0 || *key == "" || *subj == "" {
		fs.Usage()
		return exitUsage
	}
	raw, err := parseSubject(*subj)
	if err != nil {
		fmt.Fprintf(e.Stderr, "lienthong token csr: --subject: %v\n", err)
		return exitUsage
	}
	k, err := hsm.Open(ctx, *key, append(commonOpts(e, *key, *finalTry), hsm.WithoutCertificate(), hsm.WithPoolSize(1))...)
	if err != nil {
		return tokenFail(e, "token csr", err)
	}
	defer k.Close()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{RawSubject: raw}, k)
	if err != nil {
		return tokenFail(e, "token csr", fmt.Errorf("signing the request with the token key: %w", err))
	}
	if err := pem.Encode(e.Stdout, &pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}); err != nil {
		return tokenFail(e, "token csr", err)
	}
	return exitOK
}

// subjectOIDs are the attribute names parseSubject accepts (OpenSSL's short names, plus the long ones
// Vietnamese CAs print).
var subjectOIDs = map[string]asn1.ObjectIdentifier{
	"C": {2, 5, 4, 6}, "ST": {2, 5, 4, 8}, "L": {2, 5, 4, 7}, "O": {2, 5, 4, 10}, "OU": {2, 5, 4, 11},
	"CN": {2, 5, 4, 3}, "SERIALNUMBER": {2, 5, 4, 5}, "STREET": {2, 5, 4, 9}, "TITLE": {2, 5, 4, 12},
	"SN": {2, 5, 4, 4}, "GN": {2, 5, 4, 42}, "POSTALCODE": {2, 5, 4, 17},
	"UID": {0, 9, 2342, 19200300, 100, 1, 1}, "DC": {0, 9, 2342, 19200300, 100, 1, 25},
	"EMAILADDRESS": {1, 2, 840, 113549, 1, 9, 1},
}

var oidEmail = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}

// parseSubject turns an OpenSSL-style subject ("/C=VN/O=Sở Nội vụ/CN=Nguyễn Văn A", "\/" for a
// literal slash, "+" joining attributes of one RDN, "\+" for a literal plus) into a DER Name in the
// order given. Text that is not PrintableString is encoded as UTF8String, so Vietnamese survives.
func parseSubject(s string) ([]byte, error) {
	if !utf8.ValidString(s) {
		return nil, errors.New("not valid UTF-8")
	}
	if !strings.HasPrefix(s, "/") {
		return nil, errors.New(`must start with "/", e.g. /C=VN/O=Org/CN=Name`)
	}
	var (
		seq pkix.RDNSequence
		cur strings.Builder
	)
	type part struct {
		text   string
		joined bool // joined to the previous attribute with "+"
	}
	var parts []part
	joined := false
	rs := []rune(s[1:])
	for i := 0; i < len(rs); i++ {
		switch c := rs[i]; {
		case c == '\\' && i+1 < len(rs):
			i++
			cur.WriteRune(rs[i])
		case c == '\\':
			return nil, errors.New("ends with a lone backslash")
		case c == '/' || c == '+':
			parts = append(parts, part{cur.String(), joined})
			cur.Reset()
			joined = c == '+'
		default:
			cur.WriteRune(c)
		}
	}
	parts = append(parts, part{cur.String(), joined})
	for _, p := range parts {
		if p.text == "" {
			return nil, errors.New("has an empty attribute (//)")
		}
		name, val, ok := strings.Cut(p.text, "=")
		if !ok || val == "" {
			return nil, fmt.Errorf("attribute %q has no NAME=value form", p.text)
		}
		oid, known := subjectOIDs[strings.ToUpper(strings.TrimSpace(name))]
		if !known {
			return nil, fmt.Errorf("unknown attribute %q (use C, ST, L, O, OU, CN, serialNumber, UID, emailAddress, ...)", name)
		}
		if oid.Equal(subjectOIDs["C"]) && (len(val) != 2 || strings.ToUpper(val) != val) {
			return nil, fmt.Errorf("the country C=%q must be a two-letter code such as VN", val)
		}
		var v any = val
		if oid.Equal(oidEmail) {
			ia5, err := asn1.MarshalWithParams(val, "ia5")
			if err != nil {
				return nil, fmt.Errorf("emailAddress %q is not ASCII", val)
			}
			v = asn1.RawValue{FullBytes: ia5}
		}
		atv := pkix.AttributeTypeAndValue{Type: oid, Value: v}
		if p.joined && len(seq) > 0 {
			seq[len(seq)-1] = append(seq[len(seq)-1], atv)
		} else {
			seq = append(seq, pkix.RelativeDistinguishedNameSET{atv})
		}
	}
	return asn1.Marshal(seq)
}

func tokenImportCert(ctx context.Context, e env, args []string) int {
	fs := newFlagSet(e, "token import-cert", "token import-cert --key URI CERT.pem")
	key, finalTry := keyFlags(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil || len(pos) != 1 || *key == "" {
		fs.Usage()
		return exitUsage
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		fmt.Fprintf(e.Stderr, "lienthong token import-cert: %v\n", err)
		return exitUsage
	}
	der := data
	if b, _ := pem.Decode(data); b != nil {
		if b.Type != "CERTIFICATE" {
			fmt.Fprintf(e.Stderr, "lienthong token import-cert: %s holds a %q PEM block, not a CERTIFICATE\n", pos[0], b.Type)
			return exitUsage
		}
		der = b.Bytes
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		fmt.Fprintf(e.Stderr, "lienthong token import-cert: %s is not an X.509 certificate: %v\n", pos[0], err)
		return exitUsage
	}
	if err := hsm.ImportCertificate(ctx, *key, cert, commonOpts(e, *key, *finalTry)...); err != nil {
		return tokenFail(e, "token import-cert", err)
	}
	fmt.Fprintf(e.Stderr, "stored certificate %q (serial %X, valid until %s) beside the key\n",
		cert.Subject.String(), cert.SerialNumber, cert.NotAfter.Format("2006-01-02"))
	return exitOK
}

// benchResult is what `token bench --json` prints.
type benchResult struct {
	SignaturesPerSecond float64 `json:"signatures_per_second"`
	Signatures          int64   `json:"signatures"`
	Errors              int64   `json:"errors"`
	Workers             int     `json:"workers"`
	Seconds             float64 `json:"seconds"`
	PoolSize            int     `json:"pool_size"`
	Key                 string  `json:"key"` // e.g. rsa2048, ecp256
	Token               string  `json:"token"`
	P50Millis           float64 `json:"p50_ms"`
	P99Millis           float64 `json:"p99_ms"`
	// CPU time of this process (Go, cgo and the PKCS#11 module in it) while signing. For a software
	// token such as SoftHSM, signatures / user CPU seconds × workers is what `workers` fully busy cores
	// would sign: comparable with `openssl speed -multi N` (which divides by user CPU time unless
	// -elapsed) even on a busy machine.
	UserCPUSeconds         float64 `json:"user_cpu_seconds"`
	SysCPUSeconds          float64 `json:"sys_cpu_seconds"`
	CPUSignaturesPerSecond float64 `json:"cpu_normalised_signatures_per_second"`
}

func cpuTimes() (user, sys time.Duration) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, 0
	}
	return time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())
}

func tokenBench(ctx context.Context, e env, args []string) int {
	fs := newFlagSet(e, "token bench", "token bench --key URI --workers N --seconds S [--json]")
	key, finalTry := keyFlags(fs)
	workers := fs.Int("workers", 1, "concurrent signers (and pool sessions)")
	seconds := fs.Float64("seconds", 5, "how long to sign")
	asJSON := fs.Bool("json", false, `print {"signatures_per_second": X, ...}`)
	if pos, err := parseInterspersed(fs, args); err != nil || len(pos) > 0 || *key == "" || *workers < 1 || *seconds <= 0 {
		fs.Usage()
		return exitUsage
	}
	k, err := hsm.Open(ctx, *key, append(commonOpts(e, *key, *finalTry), hsm.WithoutCertificate(), hsm.WithPoolSize(*workers))...)
	if err != nil {
		return tokenFail(e, "token bench", err)
	}
	defer k.Close()
	res := benchResult{Workers: *workers, PoolSize: k.PoolSize(), Token: k.TokenLabel(), Key: keyName(k.Public())}
	var (
		count, fails atomic.Int64
		mu           sync.Mutex
		lat          []time.Duration
		wg           sync.WaitGroup
		firstErr     error
	)
	deadline := time.Now().Add(time.Duration(*seconds * float64(time.Second)))
	bctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	u0, s0 := cpuTimes()
	start := time.Now()
	for w := range *workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			digest := sha256.Sum256([]byte(fmt.Sprintf("lienthong bench %d", w)))
			var mine []time.Duration
			for bctx.Err() == nil {
				t0 := time.Now()
				if _, err := k.SignContext(bctx, digest[:], crypto.SHA256); err != nil {
					if bctx.Err() != nil {
						break
					}
					fails.Add(1)
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				mine = append(mine, time.Since(t0))
				count.Add(1)
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	u1, s1 := cpuTimes()
	res.UserCPUSeconds, res.SysCPUSeconds = (u1 - u0).Seconds(), (s1 - s0).Seconds()
	res.Signatures, res.Errors, res.Seconds = count.Load(), fails.Load(), elapsed
	res.SignaturesPerSecond = float64(res.Signatures) / elapsed
	if res.UserCPUSeconds > 0 {
		res.CPUSignaturesPerSecond = float64(res.Signatures) / res.UserCPUSeconds * float64(*workers)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		res.P50Millis = float64(lat[len(lat)/2].Microseconds()) / 1000
		res.P99Millis = float64(lat[len(lat)*99/100].Microseconds()) / 1000
	}
	if firstErr != nil {
		fmt.Fprintf(e.Stderr, "lienthong token bench: %d signatures failed; first: %v\n", res.Errors, firstErr)
	}
	if *asJSON {
		_ = json.NewEncoder(e.Stdout).Encode(res)
	} else {
		fmt.Fprintf(e.Stdout, "%s on token %q: %.1f signatures/s (%d in %.2f s, %d workers, pool %d, p50 %.2f ms, p99 %.2f ms, %d errors)\n",
			res.Key, res.Token, res.SignaturesPerSecond, res.Signatures, res.Seconds, res.Workers, res.PoolSize, res.P50Millis, res.P99Millis, res.Errors)
	}
	if res.Errors > 0 {
		return exitNo
	}
	return exitOK
}

func keyName(pub crypto.PublicKey) string {
	switch p := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("rsa%d", p.N.BitLen())
	case *ecdsa.PublicKey:
		return strings.ToLower("ec" + strings.ReplaceAll(p.Curve.Params().Name, "-", ""))
	}
	return fmt.Sprintf("%T", pub)
}

// redactedURI is the key URI as shown in a prompt: canonical, pin-value hidden.
func redactedURI(s string) string {
	if u, err := hsm.ParseURI(s); err == nil {
		return u.String()
	}
	return "the key"
}
