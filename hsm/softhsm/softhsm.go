// Package softhsm makes SoftHSM2 tokens, keys and certificates on the fly, for tests, the demo and
// anyone who wants a token key chained to a test CA in one call. It uses only the public API of package
// hsm (the same PKCS#11 code path a real token goes through) and never touches the system's token
// store: everything lives in a private SOFTHSM2_CONF and token directory.
//
// SoftHSM reads SOFTHSM2_CONF once, at C_Initialize, which package hsm runs once per process and module
// path. So: call Setup before anything in the process loads the SoftHSM module, use one Store per
// process (one token directory holds any number of tokens), and give each test binary its own (package
// hsmtest does this for tests). Setup with a second directory fails with ErrConfigLocked rather than
// silently hiding the first store's tokens.
//
// Usage (the demo, or a TestMain):
//
//	store, err := softhsm.Setup(dir)                     // sets SOFTHSM2_CONF for this process
//	tok, err := store.NewToken(ctx, "docsign")           // random SO/user PINs in 0600 files
//	ca, err := softhsm.NewCA("Lienthong Test CA")        // in-memory CA (cert + key)
//	iss, err := tok.IssueKey(ctx, "seal", []byte{1}, hsm.RSA2048, ca,
//		pkix.Name{Country: []string{"VN"}, Organization: []string{"Sở Nội vụ"}, CommonName: "Con dấu"})
//	key, err := hsm.Open(ctx, iss.URI)                   // key + certificate chained to ca.Cert
//	defer key.Close()
//
// iss.URI is "pkcs11:token=docsign;object=seal;id=%01;type=private?module-path=…&pin-source=file:…";
// tok.KeyURI(label, id) builds the same for any key label and id, tok.GenerateKey and
// tok.ImportCertificate do the two halves of IssueKey separately, and store.OpenToken(ctx, label)
// finds a token made by an earlier run that used the same directory.
package softhsm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/lienthong/lienthong/hsm"
)

// ModuleCandidates are where Debian and others install the SoftHSM2 module.
var ModuleCandidates = []string{
	"/usr/lib/softhsm/libsofthsm2.so",
	"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
	"/usr/local/lib/softhsm/libsofthsm2.so",
	"/usr/lib64/pkcs11/libsofthsm2.so",
}

// ErrNotInstalled: no SoftHSM2 module was found.
var ErrNotInstalled = errors.New("softhsm: libsofthsm2.so not found; install it with: apt-get install softhsm2")

// ErrConfigLocked: the process already loaded SoftHSM with another SOFTHSM2_CONF.
var ErrConfigLocked = errors.New("softhsm: this process already uses another SoftHSM store (SOFTHSM2_CONF is read at C_Initialize); use one Store per process")

// Module returns the path of the SoftHSM2 module.
func Module() (string, error) {
	for _, p := range ModuleCandidates {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", ErrNotInstalled
}

// Store is a private SoftHSM configuration and token directory.
type Store struct {
	Dir      string // holds softhsm2.conf, tokens/ and pins/
	Conf     string // the SOFTHSM2_CONF file
	TokenDir string
	Module   string // path of libsofthsm2.so

	mu sync.Mutex // token creation: SoftHSM names token directories itself, found by diffing
}

var current struct {
	mu    sync.Mutex
	store *Store
}

// Setup creates dir/softhsm2.conf and dir/tokens (if missing) and sets SOFTHSM2_CONF for this process.
// Calling it again with the same dir returns the same Store.
func Setup(dir string) (*Store, error) {
	mod, err := Module()
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	current.mu.Lock()
	defer current.mu.Unlock()
	if s := current.store; s != nil {
		if s.Dir == abs {
			return s, nil
		}
		// Even when the module happens to be unloaded right now, switching would hide this store's
		// tokens from everyone in the process: one store per process.
		return nil, fmt.Errorf("%w (in use: %s)", ErrConfigLocked, s.Conf)
	}
	if hsm.Loaded(mod) && os.Getenv("SOFTHSM2_CONF") != filepath.Join(abs, "softhsm2.conf") {
		return nil, ErrConfigLocked
	}
	s := &Store{Dir: abs, Conf: filepath.Join(abs, "softhsm2.conf"), TokenDir: filepath.Join(abs, "tokens"), Module: mod}
	for _, d := range []string{s.TokenDir, filepath.Join(abs, "pins")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	conf := "# private SoftHSM2 configuration written by lienthong (package hsm/softhsm)\n" +
		"directories.tokendir = " + s.TokenDir + "\n" +
		"objectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	if err := os.WriteFile(s.Conf, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	if err := os.Setenv("SOFTHSM2_CONF", s.Conf); err != nil {
		return nil, err
	}
	current.store = s
	return s, nil
}

// Token is an initialised SoftHSM token with its PINs in owner-only files.
type Token struct {
	Store     *Store
	Label     string
	Serial    string
	PINFile   string // user PIN, for pin-source=file:
	SOPINFile string
	dir       string // the token's own directory under TokenDir
}

// NewToken initialises a new token labelled label (1–32 bytes) with random SO and user PINs written
// to 0600 files under Store.Dir/pins.
func (s *Store) NewToken(ctx context.Context, label string) (*Token, error) {
	userPIN, err := randomPIN()
	if err != nil {
		return nil, err
	}
	soPIN, err := randomPIN()
	if err != nil {
		return nil, err
	}
	t := s.token(label)
	if _, err := os.Stat(t.PINFile); err == nil {
		return nil, fmt.Errorf("softhsm: token %q already exists in %s (use OpenToken)", label, s.Dir)
	}
	if err := os.WriteFile(t.PINFile, append(userPIN, '\n'), 0o600); err != nil {
		return nil, err
	}
	if err := os.WriteFile(t.SOPINFile, append(soPIN, '\n'), 0o600); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	before := dirSet(s.TokenDir)
	t.Serial, err = hsm.InitToken(ctx, s.Module, label, soPIN, userPIN)
	if err != nil {
		return nil, err
	}
	for d := range dirSet(s.TokenDir) {
		if !before[d] {
			t.dir = filepath.Join(s.TokenDir, d)
		}
	}
	return t, nil
}

// token returns the Token value for label with its deterministic PIN file names.
func (s *Store) token(label string) *Token {
	sum := sha256.Sum256([]byte(label))
	base := filepath.Join(s.Dir, "pins", fileSafe(label)+"-"+hex.EncodeToString(sum[:4]))
	return &Token{Store: s, Label: label, PINFile: base + ".pin", SOPINFile: base + ".so.pin"}
}

// OpenToken returns a token NewToken made earlier in this store (for example by a previous run of the
// demo with the same directory). Delete is a no-op on it.
func (s *Store) OpenToken(ctx context.Context, label string) (*Token, error) {
	t := s.token(label)
	if _, err := os.Stat(t.PINFile); err != nil {
		return nil, fmt.Errorf("softhsm: no token %q in %s: %w", label, s.Dir, err)
	}
	toks, err := hsm.ListTokens(ctx, s.Module, hsm.ListOptions{})
	if err != nil {
		return nil, err
	}
	for _, tk := range toks {
		if tk.Label == label {
			t.Serial = tk.Serial
			return t, nil
		}
	}
	return nil, fmt.Errorf("softhsm: token %q has a PIN file but is not in %s", label, s.TokenDir)
}

func randomPIN() ([]byte, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return []byte(hex.EncodeToString(b)), nil
}

func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return r
		}
		return '_'
	}, s)
}

func dirSet(dir string) map[string]bool {
	m := map[string]bool{}
	es, _ := os.ReadDir(dir)
	for _, e := range es {
		if e.IsDir() {
			m[e.Name()] = true
		}
	}
	return m
}

// KeyURI returns the key URI for a key label and id on this token, with module-path and
// pin-source=file: filled in. id may be nil.
func (t *Token) KeyURI(label string, id []byte) string {
	return hsm.BuildURI(t.Label, label, id, t.Store.Module, "file:"+t.PINFile)
}

// GenerateKey makes a key pair on the token (see hsm.GenerateKeyPair).
func (t *Token) GenerateKey(ctx context.Context, label string, id []byte, kt hsm.KeyType) (crypto.PublicKey, error) {
	// Token administration (init, key generation, certificate import) is serialised per store: SoftHSM
	// failed key generation with CKR_FUNCTION_FAILED now and then while another token of the same
	// process was being initialised or written (seen in parallel tests).
	t.Store.mu.Lock()
	defer t.Store.mu.Unlock()
	pub, _, err := hsm.GenerateKeyPair(ctx, t.KeyURI(label, id), kt)
	return pub, err
}

// ImportCertificate stores cert beside the key with this label and id (see hsm.ImportCertificate).
func (t *Token) ImportCertificate(ctx context.Context, label string, id []byte, cert *x509.Certificate) error {
	t.Store.mu.Lock()
	defer t.Store.mu.Unlock()
	return hsm.ImportCertificate(ctx, t.KeyURI(label, id), cert)
}

// Issued is a token key with a certificate from a test CA.
type Issued struct {
	URI  string            // the key URI, ready for hsm.Open
	Cert *x509.Certificate // the leaf, stored on the token with the key's CKA_ID
	CA   *CA               // its issuer
}

// Chain returns the leaf and the CA certificate.
func (i *Issued) Chain() []*x509.Certificate { return []*x509.Certificate{i.Cert, i.CA.Cert} }

// IssueKey makes a key pair on the token, has ca issue a certificate for it with subject, and stores
// the certificate beside the key: one call gives a token key chained to a test CA.
func (t *Token) IssueKey(ctx context.Context, label string, id []byte, kt hsm.KeyType, ca *CA, subject pkix.Name) (*Issued, error) {
	if len(id) == 0 {
		return nil, errors.New("softhsm: IssueKey needs a CKA_ID to pair the key and its certificate")
	}
	pub, err := t.GenerateKey(ctx, label, id, kt)
	if err != nil {
		return nil, err
	}
	cert, err := ca.Issue(pub, subject)
	if err != nil {
		return nil, err
	}
	if err := t.ImportCertificate(ctx, label, id, cert); err != nil {
		return nil, err
	}
	return &Issued{URI: t.KeyURI(label, id), Cert: cert, CA: ca}, nil
}

// Delete removes the token's files. Close every hsm.Key on it first.
func (t *Token) Delete() error {
	if t.dir == "" {
		return nil
	}
	err := os.RemoveAll(t.dir)
	_ = os.Remove(t.PINFile)
	_ = os.Remove(t.SOPINFile)
	return err
}

// CA is an in-memory test certification authority (ECDSA P-256).
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// NewCA makes a self-signed CA valid from an hour ago for ten years.
func NewCA(commonName string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Country: []string{"VN"}, Organization: []string{"Lienthong Test"}, CommonName: commonName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// Issue makes a document-signing leaf certificate (digitalSignature + nonRepudiation, one year) for pub.
func (ca *CA) Issue(pub crypto.PublicKey, subject pkix.Name) (*x509.Certificate, error) {
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               subject,
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.Key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	return n.Add(n, big.NewInt(1))
}
