package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/lienthong/lienthong/internal/pgtest"
)

func runLT(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

// migrate, org add, user add and audit verify against a real database, with the contract's exit codes.
func TestWorkflowCommands(t *testing.T) {
	if os.Getenv("DATABASE_URL") == "" {
		t.Skip("needs DATABASE_URL (make test sets it)")
	}
	t.Setenv("DATABASE_URL", pgtest.NewDatabase(t))
	if code, _, errs := runLT(t, "org", "add", "--code", "000.00.00.H53", "--name", "x", "--level", "province"); code != exitNo ||
		!strings.Contains(errs, "migrate up") {
		t.Fatalf("org add before migrate: %d %s", code, errs)
	}
	if code, out, errs := runLT(t, "migrate"); code != 0 || !strings.Contains(out, "applied 001") {
		t.Fatalf("migrate: %d %s %s", code, out, errs)
	}
	if code, out, _ := runLT(t, "migrate", "status"); code != 0 || strings.Contains(out, "pending") {
		t.Fatalf("status: %d %s", code, out)
	}
	if code, _, _ := runLT(t, "migrate", "sideways"); code != exitUsage {
		t.Fatalf("bad verb: %d", code)
	}
	if code, out, errs := runLT(t, "org", "add", "--code", "000.00.00.H53", "--name", "UBND tỉnh Tây Ninh", "--level", "province", "--abbr", "UBND"); code != 0 {
		t.Fatalf("org add: %d %s %s", code, out, errs)
	}
	if code, _, errs := runLT(t, "org", "add", "--code", "nonsense", "--name", "x", "--level", "province"); code != exitUsage || !strings.Contains(errs, "QCVN 102") {
		t.Fatalf("bad code: %d %s", code, errs)
	}
	if code, _, _ := runLT(t, "org", "add", "--code", "000.00.00.H53", "--name", "x", "--level", "province"); code != exitNo {
		t.Fatalf("duplicate org: %d", code)
	}
	if code, _, _ := runLT(t, "org", "add", "--name", "x"); code != exitUsage {
		t.Fatalf("missing flags: %d", code)
	}
	code, out, errs := runLT(t, "user", "add", "--org", "000.00.00.H53", "--name", "Văn thư", "--role", "clerk")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || !strings.HasPrefix(lines[len(lines)-1], "lt_") {
		t.Fatalf("user add: %d %q %s", code, out, errs)
	}
	oldToken := lines[len(lines)-1]
	code, out, _ = runLT(t, "user", "token", "--id", strings.Fields(lines[0])[1])
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || !strings.HasPrefix(lines[len(lines)-1], "lt_") || lines[len(lines)-1] == oldToken {
		t.Fatalf("user token: %d %q", code, out)
	}
	if code, _, _ := runLT(t, "user", "token", "--id", "999"); code != exitNo {
		t.Fatalf("token for unknown user: %d", code)
	}
	if code, _, _ := runLT(t, "user", "add", "--org", "000.00.00.H53", "--name", "x", "--role", "boss"); code != exitUsage {
		t.Fatalf("bad role: %d", code)
	}
	if code, out, _ := runLT(t, "audit", "verify"); code != 0 || !strings.HasPrefix(out, "ok: 3 records") {
		t.Fatalf("audit verify: %d %s", code, out)
	}
	if code, out, _ := runLT(t, "audit", "verify", "--expect-head", strings.Repeat("ab", 32)); code != exitNo {
		t.Fatalf("audit verify with a foreign head: %d %s", code, out)
	}
	if code, out, _ := runLT(t, "migrate", "down"); code != 0 || strings.Count(out, "reverted") != 1 || strings.Contains(out, "reverted 001") {
		t.Fatalf("down (one step): %d %s", code, out)
	}
	if code, out, _ := runLT(t, "migrate", "status"); code != 0 || !strings.Contains(out, "pending") {
		t.Fatalf("status after one step down: %d %s", code, out)
	}
	if code, out, _ := runLT(t, "migrate", "down", "--all"); code != 0 || !strings.Contains(out, "reverted 001") {
		t.Fatalf("down --all: %d %s", code, out)
	}
	if code, _, _ := runLT(t, "migrate", "down", "--steps", "0"); code != exitUsage {
		t.Fatalf("down --steps 0: %d", code)
	}
}
