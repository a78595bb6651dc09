// Command gen writes the verifier's attack corpus (signing/verify/corpus) to a folder: one PDF per
// case, roots.pem (the trust anchor), and cases.json (name, class, expected verdict). With -big N it
// also writes big.pdf, an N MiB signed PDF with incompressible content, for the benchmark.
//
//	go run ./testdata/attacks/gen -out /tmp/attacks [-big 40]
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lienthong/lienthong/signing/verify/corpus"
)

func main() {
	out := flag.String("out", "", "output folder (created)")
	big := flag.Int("big", 0, "also write big.pdf of about this many MiB")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "usage: gen -out DIR [-big MiB]")
		os.Exit(2)
	}
	if err := run(*out, *big); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

type entry struct {
	File  string `json:"file"`
	Name  string `json:"name"`
	Class string `json:"class"`
	Valid bool   `json:"valid"`
	Sub   string `json:"sub_indication,omitempty"`
	Note  string `json:"note,omitempty"`
}

func run(dir string, bigMiB int) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	env, err := corpus.NewEnv()
	if err != nil {
		return err
	}
	defer env.Close()
	ctx := context.Background()
	cases, err := env.Cases(ctx)
	if err != nil {
		return err
	}
	var index []entry
	for _, c := range cases {
		file := strings.ReplaceAll(c.Name, "/", "_") + ".pdf"
		if err := os.WriteFile(filepath.Join(dir, file), c.Data, 0o644); err != nil {
			return err
		}
		index = append(index, entry{File: file, Name: c.Name, Class: c.Class, Valid: c.Valid, Sub: c.Sub, Note: c.Note})
	}
	if err := os.WriteFile(filepath.Join(dir, "roots.pem"), env.RootsPEM(), 0o644); err != nil {
		return err
	}
	if err := env.RSA.WriteFiles(filepath.Join(dir, "signer")); err != nil {
		return err
	}
	js, _ := json.MarshalIndent(index, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "cases.json"), js, 0o644); err != nil {
		return err
	}
	if bigMiB > 0 {
		if err := writeBig(ctx, env, filepath.Join(dir, "big.pdf"), bigMiB); err != nil {
			return err
		}
	}
	fmt.Printf("%d cases written to %s\n", len(index), dir)
	return nil
}

// writeBig writes corpus.Large's signed file.
func writeBig(ctx context.Context, env *corpus.Env, path string, mib int) error {
	signed, err := env.Large(ctx, mib)
	if err != nil {
		return err
	}
	return os.WriteFile(path, signed, 0o644)
}
