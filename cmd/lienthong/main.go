// Command lienthong is the single binary of the document-exchange engine. Each subcommand lives in its
// own file and registers itself in init(); main only dispatches.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"sort"
	"strings"
	"syscall"
)

// Exit codes shared by every subcommand (contract.md).
const (
	exitOK    = 0 // success
	exitNo    = 1 // the operation's negative answer or failure
	exitUsage = 2 // usage or input error
)

// env is what a subcommand gets from main: streams and the process context, so tests can run
// subcommands in-process.
type env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

type command struct {
	name    string // may contain a space for nested commands, e.g. "token list"
	summary string
	run     func(ctx context.Context, e env, args []string) int
}

var commands = map[string]command{}

// register adds a subcommand; called from init() in each command file.
func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("lienthong: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

func main() {
	atLeastTwoProcs()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

// atLeastTwoProcs gives the Go scheduler two Ps on a one-CPU machine (or affinity, or container
// limit) unless GOMAXPROCS is set. A token signs inside a cgo call; with a single P, the goroutine
// coming back from the token waits until the goroutine preparing the next document gives the P up,
// and the token sits idle meanwhile. With two Ps it takes the free one at once and the kernel shares
// the CPU. Measured (docs/bench-signing.md): one-session pdf bench on one CPU, the token on its own,
// 0.89–0.97 of the token's rate with one P, 1.00–1.05 with two (alternating in one series).
//
// Setting GOMAXPROCS stops the runtime from following later changes of the CPU limit; this happens
// only where the limit is one CPU already.
func atLeastTwoProcs() {
	if os.Getenv("GOMAXPROCS") == "" && runtime.GOMAXPROCS(0) < 2 {
		runtime.GOMAXPROCS(2)
	}
}

// run finds the longest registered command name matching the leading arguments.
func run(ctx context.Context, e env, args []string) int {
	for n := min(2, len(args)); n >= 1; n-- {
		if c, ok := commands[strings.Join(args[:n], " ")]; ok {
			return c.run(ctx, e, args[n:])
		}
	}
	if len(args) > 0 && args[0] != "help" && args[0] != "-h" && args[0] != "--help" {
		fmt.Fprintf(e.Stderr, "lienthong: unknown command %q\n\n", strings.Join(args, " "))
		usage(e.Stderr)
		return exitUsage
	}
	usage(e.Stdout)
	if len(args) == 0 {
		return exitUsage
	}
	return exitOK
}

func usage(w io.Writer) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintln(w, "usage: lienthong <command> [flags]\n\ncommands:")
	for _, n := range names {
		fmt.Fprintf(w, "  %-18s %s\n", n, commands[n].summary)
	}
}
