// Package hsmtest gives tests SoftHSM tokens and token keys chained to a test CA, cleaned up with the
// test. All tokens of a test binary share one private token directory (SoftHSM reads SOFTHSM2_CONF
// once per process); each test gets its own token, with a unique label.
//
//	func TestSeal(t *testing.T) {
//		t.Parallel()
//		iss := hsmtest.Issue(t, hsm.RSA2048, pkix.Name{CommonName: "Con dấu Sở Nội vụ"})
//		key := hsmtest.Open(t, iss.URI)          // closed at cleanup
//		sig, err := key.Sign(nil, digest, crypto.SHA256)
//		// iss.Cert is the leaf, iss.CA.Cert its issuer
//	}
//
// Optionally `func TestMain(m *testing.M) { hsmtest.Main(m) }` removes the token directory at exit
// (without it, it stays in the system temp directory).
//
// Without cgo (where PKCS#11 cannot work) the helpers skip the test; when SoftHSM is missing they fail
// it, since `make test` installs SoftHSM.
package hsmtest

import (
	"context"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/softhsm"
)

var shared struct {
	once  sync.Once
	store *softhsm.Store
	err   error
	dir   string
}

// turn lets one top-level test (with its subtests) use SoftHSM at a time in a test binary. SoftHSM's
// object store is not safe under concurrent token creation, key generation and use across tokens:
// parallel tests failed now and then with CKR_FUNCTION_FAILED, CKR_OBJECT_HANDLE_INVALID or a
// certificate just imported not being found. Tests that do not use SoftHSM still run in parallel.
var turn struct {
	mu    sync.Mutex
	owner string // top-level test name holding the turn
	users int    // tests and subtests of owner that took it and have not ended
}

// turnWait bounds the wait for a turn: a test that took its turn before calling t.Parallel holds it
// while paused, and a sequential test waiting for it would otherwise wait for ever.
const turnWait = time.Minute

// takeTurn waits until no other top-level test uses SoftHSM; the turn is given back when t and every
// other test of its tree that took it have ended.
func takeTurn(t testing.TB) {
	top, _, _ := strings.Cut(t.Name(), "/")
	deadline := time.Now().Add(turnWait)
	turn.mu.Lock()
	for turn.owner != "" && turn.owner != top {
		if time.Now().After(deadline) {
			t.Logf("hsmtest: %s still holds the SoftHSM turn after %v; going ahead", turn.owner, turnWait)
			break
		}
		turn.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
		turn.mu.Lock()
	}
	if turn.owner == "" || turn.owner == top {
		turn.owner = top
		turn.users++
		t.Cleanup(func() {
			turn.mu.Lock()
			if turn.users--; turn.users == 0 {
				turn.owner = ""
			}
			turn.mu.Unlock()
		})
	}
	turn.mu.Unlock()
}

var turnTaken sync.Map // testing.TB → struct{}: a test takes its turn once

func ensureTurn(t testing.TB) {
	if _, loaded := turnTaken.LoadOrStore(t, struct{}{}); !loaded {
		takeTurn(t)
		t.Cleanup(func() { turnTaken.Delete(t) })
	}
}

// Store returns the test binary's SoftHSM store, creating it on first use, and gives the test its turn
// with SoftHSM (see turn).
func Store(t testing.TB) *softhsm.Store {
	t.Helper()
	if !cgoEnabled {
		t.Skip("PKCS#11 needs cgo (CGO_ENABLED=1)")
	}
	ensureTurn(t)
	shared.once.Do(func() {
		removeStale()
		shared.dir, shared.err = os.MkdirTemp("", "lienthong-softhsm-")
		if shared.err == nil {
			shared.err = os.WriteFile(filepath.Join(shared.dir, "pid"), []byte(strconv.Itoa(os.Getpid())), 0o600)
		}
		if shared.err == nil {
			shared.store, shared.err = softhsm.Setup(shared.dir)
		}
	})
	if shared.err != nil {
		t.Fatalf("hsmtest: %v", shared.err)
	}
	return shared.store
}

// removeStale deletes token directories left by test binaries that have exited (those that did not use
// Main), so repeated `go test` runs do not fill the temp directory.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "lienthong-softhsm-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(string(b))
		if err != nil || pid <= 0 {
			continue
		}
		if _, err := os.Stat(filepath.Join("/proc", strconv.Itoa(pid))); os.IsNotExist(err) {
			_ = os.RemoveAll(d)
		}
	}
}

// Main runs the tests and removes the shared token directory afterwards.
func Main(m *testing.M) {
	code := m.Run()
	if shared.dir != "" {
		_ = os.RemoveAll(shared.dir)
	}
	os.Exit(code)
}

var unsafeLabel = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// Token makes a new token with a unique label derived from the test name; it is deleted when its test
// ends, while the test still holds its SoftHSM turn (see turn), so no other test's calls see the token
// directory vanish.
func Token(t testing.TB) *softhsm.Token {
	t.Helper()
	s := Store(t)
	suffix := make([]byte, 3)
	_, _ = rand.Read(suffix)
	name := t.Name()
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	name = unsafeLabel.ReplaceAllString(name, "_")
	if len(name) > 24 {
		name = name[:24]
	}
	tok, err := s.NewToken(context.Background(), name+"-"+hex.EncodeToString(suffix))
	if err != nil {
		t.Fatalf("hsmtest: new token: %v", err)
	}
	t.Cleanup(func() { _ = tok.Delete() })
	return tok
}

// CA returns a new in-memory test CA.
func CA(t testing.TB) *softhsm.CA {
	t.Helper()
	ca, err := softhsm.NewCA("Lienthong Test CA")
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// Issue makes a new token holding key "signer" (CKA_ID 01) of type kt with a certificate for subject
// issued by a new test CA.
func Issue(t testing.TB, kt hsm.KeyType, subject pkix.Name) *softhsm.Issued {
	t.Helper()
	iss, err := Token(t).IssueKey(context.Background(), "signer", []byte{1}, kt, CA(t), subject)
	if err != nil {
		t.Fatalf("hsmtest: issue key: %v", err)
	}
	return iss
}

// Open opens a key and closes it at cleanup.
func Open(t testing.TB, uri string, opts ...hsm.Option) *hsm.Key {
	t.Helper()
	ensureTurn(t)
	k, err := hsm.Open(context.Background(), uri, opts...)
	if err != nil {
		t.Fatalf("hsmtest: open %s: %v", uri, err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}
