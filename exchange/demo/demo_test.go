package demo

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lienthong/lienthong/hsm/softhsm"
)

func init() {
	// The faulty demo re-executes this test binary as the province's delivery worker.
	if args := os.Getenv("DEMO_TEST_WORKER_ARGS"); args != "" {
		err := RunWorker(context.Background(), strings.Split(args, "\x1f"), os.Stderr)
		if err != nil {
			os.Exit(2)
		}
		os.Exit(0)
	}
}

func requireSoftHSM(t *testing.T) {
	if _, err := softhsm.Module(); err != nil {
		t.Skipf("SoftHSM not installed (make test installs it): %v", err)
	}
}

func workerCmd(a ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "DEMO_TEST_WORKER_ARGS="+strings.Join(a, "\x1f"))
	return cmd
}

// TestDemoWithFaults runs the whole scenario with the faulty axis and a killed worker process: every
// document reaches both recipients exactly once and every status comes back.
// demoRan: Run makes its own SoftHSM store, and SoftHSM reads its configuration once per process, so
// one test process runs the demo once (go test -count N repeats the other tests).
var demoRan atomic.Bool

func TestDemoWithFaults(t *testing.T) {
	requireSoftHSM(t)
	if os.Getenv("DATABASE_URL") == "" {
		t.Skip("DATABASE_URL unset: make test provides a server")
	}
	if demoRan.Swap(true) {
		t.Skip("the demo runs once per test process (one SoftHSM store per process)")
	}
	var trail bytes.Buffer
	sum, err := Run(context.Background(), Options{Documents: 6, Faults: true, Trail: &trail, WorkerCmd: workerCmd, Timeout: 4 * time.Minute})
	t.Log("\n" + trail.String())
	if err != nil {
		t.Fatal(err)
	}
	if sum.Documents != 6 || sum.Recipients != 2 || sum.Delivered != 12 || sum.Lost != 0 || sum.Duplicates != 0 {
		t.Fatalf("summary %+v", sum)
	}
	for _, want := range []string{"killed the province's delivery worker", "restarted it", "faults injected", "ended at 06 for 12/12"} {
		if !strings.Contains(trail.String(), want) {
			t.Errorf("trail lacks %q", want)
		}
	}
}
