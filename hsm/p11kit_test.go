package hsm_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/hsmtest"
	"github.com/lienthong/lienthong/hsm/softhsm"
	"github.com/lienthong/lienthong/internal/apperr"
)

// remoteToken is a SoftHSM token served by `p11-kit server` from its own process, reached through
// p11-kit's RPC client module (Debian: p11-kit, p11-kit-modules): a second PKCS#11 module, which signs
// in another process as a network HSM or a token shared by a service does.
type remoteToken struct {
	*softhsm.Token
	client string // path of p11-kit-client.so
	sock   string
	stop   func() // stops the server and its connections: the token pulled out
}

func newRemoteToken(t *testing.T) *remoteToken {
	t.Helper()
	m, _ := filepath.Glob("/usr/lib/*/pkcs11/p11-kit-client.so")
	if len(m) == 0 {
		t.Fatal("p11-kit-client.so not found: install p11-kit and p11-kit-modules (make deps does)")
	}
	r := &remoteToken{Token: hsmtest.Token(t), client: m[0], sock: filepath.Join(t.TempDir(), "p11.sock")}
	r.serve(t)
	// The client module reads the server's address at C_Initialize.
	t.Setenv("P11_KIT_SERVER_ADDRESS", "unix:path="+r.sock)
	return r
}

// serve starts the server (again) on the token's socket and waits for it.
func (r *remoteToken) serve(t *testing.T) {
	t.Helper()
	bin, err := exec.LookPath("p11-kit")
	if err != nil {
		t.Fatal("p11-kit not found: install p11-kit (make deps does)")
	}
	cmd := exec.Command(bin, "server", "--foreground", "--provider", r.Store.Module, "--name", r.sock, "pkcs11:token="+r.Label)
	cmd.Stderr = os.Stderr // stdout only repeats the address
	// Its own process group: the server hands each connection to a p11-kit-remote child, and stopping
	// the token means stopping those too.
	// Pdeathsig: the server goes with this test binary, even when it dies without cleaning up.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	r.stop = func() {
		once.Do(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait(); _ = os.Remove(r.sock) })
	}
	t.Cleanup(r.stop)
	// Ready when it accepts a connection (the socket file exists from bind, before listen).
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("unix", r.sock); err == nil {
			_ = c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("p11-kit server did not open its socket within 10 s")
		}
	}
}

// issue makes a key and its certificate on the token; the URI names p11-kit's client module.
func (r *remoteToken) issue(t *testing.T, label string, id byte, kt hsm.KeyType) *softhsm.Issued {
	t.Helper()
	iss, err := r.IssueKey(context.Background(), label, []byte{id}, kt, hsmtest.CA(t), subject)
	if err != nil {
		t.Fatal(err)
	}
	u, err := hsm.ParseURI(iss.URI)
	if err != nil {
		t.Fatal(err)
	}
	u.ModulePath = r.client
	iss.URI = u.String()
	return iss
}

// signVerified signs a digest of msg with k and checks the signature with the certificate's key.
func signVerified(k *hsm.Key, iss *softhsm.Issued, msg string) error {
	d := sha256.Sum256([]byte(msg))
	sig, err := k.Sign(nil, d[:], crypto.SHA256)
	if err == nil {
		err = rsa.VerifyPKCS1v15(iss.Cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, d[:], sig)
	}
	return err
}

// TestP11KitRemoteModule: everything package hsm needs (slots, login, finding the key and its
// certificate by CKA_ID, RSA and ECDSA mechanisms, concurrent sessions, a refused PIN) works through a
// module other than SoftHSM, unchanged.
func TestP11KitRemoteModule(t *testing.T) {
	tok := newRemoteToken(t)
	rsaKey := tok.issue(t, "rsa", 1, hsm.RSA2048)
	ecKey := tok.issue(t, "ec", 2, hsm.ECP256)

	// A PIN the token refuses is the same typed error as with the module loaded in-process. (Checked
	// first: once a key of this process is logged in, PKCS#11 shares that login with every session.)
	wrong := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(wrong, []byte("000000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	u, _ := hsm.ParseURI(rsaKey.URI)
	u.PINSource = "file:" + wrong
	if _, err := hsm.Open(context.Background(), u.String()); !errors.Is(err, hsm.ErrWrongPIN) {
		t.Errorf("wrong PIN through the client: %v, want ErrWrongPIN", err)
	}

	for name, iss := range map[string]*softhsm.Issued{"rsa2048": rsaKey, "ecp256": ecKey} {
		t.Run(name, func(t *testing.T) {
			k := hsmtest.Open(t, iss.URI, hsm.WithPoolSize(4))
			if k.TokenLabel() != tok.Label {
				t.Errorf("token label %q through the client, want %q", k.TokenLabel(), tok.Label)
			}
			if !hsm.Loaded(tok.client) {
				t.Fatal("the key was not opened through p11-kit's client module")
			}
			checkSigner(t, k, iss.CA.Cert)
		})
	}

	// Concurrent signatures over the pool's four sessions, each over its own digest.
	k := hsmtest.Open(t, rsaKey.URI, hsm.WithPoolSize(4))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				if err := signVerified(k, rsaKey, fmt.Sprintf("công văn %d/%d", w, i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent signature through the client: %v", err)
	}
}

// TestP11KitTokenGoneAndBack stops the process that holds the token (as a USB token is pulled out or
// an HSM's connection drops) while a key is open, then starts it again: signing fails with the typed
// ErrTokenRemoved, not a bare CKR_DEVICE_ERROR, and the same Key signs again once the token is back,
// without being reopened.
func TestP11KitTokenGoneAndBack(t *testing.T) {
	tok := newRemoteToken(t)
	key := tok.issue(t, "rsa", 1, hsm.RSA2048)
	k := hsmtest.Open(t, key.URI, hsm.WithPoolSize(2))
	const msg = "Tờ trình số 12/TTr-UBND"
	if err := signVerified(k, key, msg); err != nil {
		t.Fatal(err)
	}

	tok.stop()
	for i := range 2 {
		err := signVerified(k, key, msg)
		if !errors.Is(err, hsm.ErrTokenRemoved) || apperr.KindOf(err) != apperr.Unavailable {
			t.Fatalf("signature %d with the token gone: %v, want ErrTokenRemoved", i+1, err)
		}
	}

	tok.serve(t)
	for i := range 2 {
		if err := signVerified(k, key, msg); err != nil {
			t.Fatalf("signature %d after the token came back, same key: %v", i+1, err)
		}
	}

	// Again with eight signers at once on four sessions: the reconnect's C_Finalize must wait for the
	// signers' calls (p11-kit's client aborts the process otherwise), and every signer that saw the
	// token go gets ErrTokenRemoved, from one reconnect, not one each. (The first key is closed: a
	// module is re-initialised, which p11-kit's client needs to reach a restarted server, only when
	// one Key uses it.)
	k.Close()
	k4 := hsmtest.Open(t, key.URI, hsm.WithPoolSize(4))
	tok.stop()
	for round := range 3 {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Add(1)
			go func() { defer wg.Done(); errs <- signVerified(k4, key, msg) }()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if !errors.Is(err, hsm.ErrTokenRemoved) {
				t.Fatalf("round %d, concurrent signer with the token gone: %v, want ErrTokenRemoved", round, err)
			}
		}
	}
	tok.serve(t)
	if err := signVerified(k4, key, msg); err != nil {
		t.Fatalf("after the token came back: %v", err)
	}
}
