package main

import (
	"runtime"
	"testing"
)

func TestAtLeastTwoProcs(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	t.Setenv("GOMAXPROCS", "")
	for _, c := range []struct{ before, want int }{{1, 2}, {2, 2}, {3, 3}} {
		runtime.GOMAXPROCS(c.before)
		atLeastTwoProcs()
		if got := runtime.GOMAXPROCS(0); got != c.want {
			t.Errorf("GOMAXPROCS %d became %d, want %d", c.before, got, c.want)
		}
	}
	// An operator's explicit choice stands.
	t.Setenv("GOMAXPROCS", "1")
	runtime.GOMAXPROCS(1)
	atLeastTwoProcs()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("GOMAXPROCS=1 in the environment became %d", got)
	}
}
