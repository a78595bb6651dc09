//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/hsmtest"
)

// openPTY opens a pseudo-terminal pair without any extra dependency.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	var unlock int32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); e != 0 {
		t.Fatal(e)
	}
	var n uint32
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, m.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); e != 0 {
		t.Fatal(e)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(); _ = m.Close() })
	return m, s
}

func echoOn(t *testing.T, tty *os.File) bool {
	var tio syscall.Termios
	if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, tty.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&tio))); e != 0 {
		t.Fatal(e)
	}
	return tio.Lflag&syscall.ECHO != 0
}

// lockedBuffer is a bytes.Buffer safe to poll while the command writes to it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestTokenPINPromptNoEcho: with no pin-source and a terminal on stdin, the command asks for the PIN,
// reads it with echo off, and the PIN never shows on the terminal or in any output.
func TestTokenPINPromptNoEcho(t *testing.T) {
	// Not parallel: SoftHSM aborts the process if a C_Initialize scans a token being deleted.
	tok := hsmtest.Token(t)
	if code, _, errs := runCmd(t, "token", "keygen", "--key", tok.KeyURI("k", []byte{1}), "--type", "ecp256"); code != exitOK {
		t.Fatalf("keygen: %s", errs)
	}
	pin, err := os.ReadFile(tok.PINFile)
	if err != nil {
		t.Fatal(err)
	}
	pin = hsm.TrimPINNewline(pin)
	master, slave := openPTY(t)
	echo := make(chan []byte, 1)
	go func() { // collect everything the terminal shows
		var seen []byte
		buf := make([]byte, 1024)
		for {
			n, err := master.Read(buf)
			seen = append(seen, buf[:n]...)
			if err != nil {
				echo <- seen
				return
			}
		}
	}()

	var out, errb lockedBuffer
	done := make(chan int, 1)
	noSource := hsm.BuildURI(tok.Label, "k", nil, tok.Store.Module, "")
	go func() {
		done <- run(context.Background(), env{Stdin: slave, Stdout: &out, Stderr: &errb}, []string{"token", "csr", "--key", noSource, "--subject", "/CN=Nguyễn Văn A"})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(errb.String(), "PIN for") {
		if time.Now().After(deadline) {
			t.Fatalf("no prompt; stderr %q", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// ReadPassword turns echo off right after printing the prompt: wait for that, not for a fixed time.
	for echoOn(t, slave) {
		if time.Now().After(deadline) {
			t.Fatal("echo never turned off")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := master.Write(append(append([]byte{}, pin...), '\n')); err != nil {
		t.Fatal(err)
	}
	if code := <-done; code != exitOK {
		t.Fatalf("csr with a prompted PIN: exit %d, stderr %q", code, errb.String())
	}
	if !strings.Contains(out.String(), "BEGIN CERTIFICATE REQUEST") {
		t.Fatalf("no CSR: %q", out.String())
	}
	// Whatever the terminal echoed is readable on the master side: it must not contain the PIN. Closing
	// the slave makes the master's reader stop (EIO).
	_ = slave.Close()
	echoed := <-echo
	if bytes.Contains(echoed, pin) || strings.Contains(out.String()+errb.String(), string(pin)) {
		t.Fatalf("the PIN was echoed or printed (terminal %q)", echoed)
	}
}
