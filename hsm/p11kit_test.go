package hsm_test

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/hsmtest"
	"github.com/lienthong/lienthong/hsm/softhsm"
	"github.com/lienthong/lienthong/internal/apperr"
)

// p11KitClient is p11-kit's RPC client module (Debian: p11-kit-modules).
func p11KitClient(t *testing.T) string {
	t.Helper()
	m, _ := filepath.Glob("/usr/lib/*/pkcs11/p11-kit-client.so")
	if len(m) == 0 {
		t.Fatal("p11-kit-client.so not found: install p11-kit and p11-kit-modules (make deps does)")
	}
	return m[0]
}

// serveToken runs `p11-kit server` for the token in its own process and returns the address its
// client module connects to. The server loads the token's module (SoftHSM) itself.
func serveToken(t *testing.T, module, token string) string {
	t.Helper()
	addr, _ := serveTokenStop(t, module, token, "")
	return addr
}

// serveTokenStop is serveToken with a func that stops the server (the token "pulled out"); sock
// reuses a socket path, empty makes one.
func serveTokenStop(t *testing.T, module, token, sock string) (string, func()) {
	t.Helper()
	bin, err := exec.LookPath("p11-kit")
	if err != nil {
		t.Fatal("p11-kit not found: install p11-kit (make deps does)")
	}
	if sock == "" {
		sock = filepath.Join(t.TempDir(), "p11.sock")
	}
	cmd := exec.Command(bin, "server", "--foreground", "--provider", module, "--name", sock, "pkcs11:token="+token)
	cmd.Stderr = os.Stderr // stdout only repeats the address
	// Its own process group: the server hands each connection to a p11-kit-remote child, and stopping
	// the token means stopping those too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait(); _ = os.Remove(sock) })
	}
	t.Cleanup(stop)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			return "unix:path=" + sock, stop
		}
		if time.Now().After(deadline) {
			t.Fatal("p11-kit server did not open its socket within 10 s")
		}
	}
}

// TestP11KitRemoteModule uses a second PKCS#11 module: the SoftHSM token reached through p11-kit's
// RPC client, which signs in another process, as a network HSM or a token shared by a service does.
// Everything package hsm needs (slots, login, finding the key and its certificate by CKA_ID, RSA and
// ECDSA mechanisms, concurrent sessions, a refused PIN) must work through it unchanged.
func TestP11KitRemoteModule(t *testing.T) {
	client := p11KitClient(t)
	ctx := context.Background()
	tok := hsmtest.Token(t)
	rsaKey, err := tok.IssueKey(ctx, "rsa", []byte{1}, hsm.RSA2048, hsmtest.CA(t), subject)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := tok.IssueKey(ctx, "ec", []byte{2}, hsm.ECP256, hsmtest.CA(t), subject)
	if err != nil {
		t.Fatal(err)
	}
	// The client module reads the server's address at C_Initialize.
	t.Setenv("P11_KIT_SERVER_ADDRESS", serveToken(t, tok.Store.Module, tok.Label))
	remote := func(uri string) string {
		u, err := hsm.ParseURI(uri)
		if err != nil {
			t.Fatal(err)
		}
		u.ModulePath = client
		return u.String()
	}

	// A PIN the token refuses is the same typed error as with the module loaded in-process. (Checked
	// first: once a key of this process is logged in, PKCS#11 shares that login with every session.)
	wrong := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(wrong, []byte("000000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	u, _ := hsm.ParseURI(remote(rsaKey.URI))
	u.PINSource = "file:" + wrong
	if _, err := hsm.Open(ctx, u.String()); !errors.Is(err, hsm.ErrWrongPIN) {
		t.Errorf("wrong PIN through the client: %v, want ErrWrongPIN", err)
	}

	for name, iss := range map[string]*softhsm.Issued{"rsa2048": rsaKey, "ecp256": ecKey} {
		t.Run(name, func(t *testing.T) {
			k := hsmtest.Open(t, remote(iss.URI), hsm.WithPoolSize(4))
			if k.TokenLabel() != tok.Label {
				t.Errorf("token label %q through the client, want %q", k.TokenLabel(), tok.Label)
			}
			if !hsm.Loaded(client) {
				t.Fatal("the key was not opened through p11-kit's client module")
			}
			checkSigner(t, k, iss.CA.Cert)
		})
	}

	// Concurrent signatures over the pool's four sessions, each over its own digest.
	k := hsmtest.Open(t, remote(rsaKey.URI), hsm.WithPoolSize(4))
	pub := rsaKey.Cert.PublicKey.(*rsa.PublicKey)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 5 {
				d := sha256.Sum256(fmt.Appendf(nil, "công văn %d/%d", w, i))
				sig, err := k.Sign(nil, d[:], crypto.SHA256)
				if err == nil {
					err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig)
				}
				if err != nil {
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
	client := p11KitClient(t)
	ctx := context.Background()
	tok := hsmtest.Token(t)
	key, err := tok.IssueKey(ctx, "rsa", []byte{1}, hsm.RSA2048, hsmtest.CA(t), subject)
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := serveTokenStop(t, tok.Store.Module, tok.Label, "")
	t.Setenv("P11_KIT_SERVER_ADDRESS", addr)
	u, err := hsm.ParseURI(key.URI)
	if err != nil {
		t.Fatal(err)
	}
	u.ModulePath = client
	k := hsmtest.Open(t, u.String(), hsm.WithPoolSize(2))
	pub := key.Cert.PublicKey.(*rsa.PublicKey)
	sign := func() error {
		d := sha256.Sum256([]byte("Tờ trình số 12/TTr-UBND"))
		sig, err := k.Sign(nil, d[:], crypto.SHA256)
		if err == nil {
			err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, d[:], sig)
		}
		return err
	}
	if err := sign(); err != nil {
		t.Fatal(err)
	}

	stop()
	for i := range 2 {
		err := sign()
		if !errors.Is(err, hsm.ErrTokenRemoved) || apperr.KindOf(err) != apperr.Unavailable {
			t.Fatalf("signature %d with the token gone: %v, want ErrTokenRemoved", i+1, err)
		}
	}

	serveTokenStop(t, tok.Store.Module, tok.Label, strings.TrimPrefix(addr, "unix:path="))
	if err := sign(); err != nil {
		t.Fatalf("the token is back, the same key: %v", err)
	}
	if err := sign(); err != nil {
		t.Fatalf("second signature after the token came back: %v", err)
	}
}
