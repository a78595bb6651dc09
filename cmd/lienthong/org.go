package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/workflow"
)

func init() {
	register(command{name: "org add", summary: "add an organisation: --code CODE --name NAME --level LEVEL [--parent CODE] [--abbr UBND]", run: runOrgAdd})
	register(command{name: "org alias", summary: "make an old organisation code resolve to a current one: --old CODE --new CODE", run: runOrgAlias})
	register(command{name: "org dept", summary: "add a department: --org CODE --code VP --name NAME", run: runOrgDept})
	register(command{name: "org list", summary: "list the organisation directory [--under CODE] [--level LEVEL]", run: runOrgList})
}

func withService(ctx context.Context, e env, name string, fn func(s *workflow.Service) error) int {
	db, err := openDB(ctx, e, true)
	if err != nil {
		fmt.Fprintf(e.Stderr, "lienthong %s: %v\n", name, err)
		return exitNo
	}
	defer db.Close()
	if err := fn(workflow.New(db.Pool, workflow.Config{})); err != nil {
		fmt.Fprintf(e.Stderr, "lienthong %s: %s\n", name, apperr.Detail(err))
		if apperr.KindOf(err) == apperr.Internal {
			fmt.Fprintf(e.Stderr, "  cause: %v\n", err)
		}
		return exitFor(err)
	}
	return exitOK
}

func runOrgAdd(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("org add", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	var in workflow.NewOrg
	fs.StringVar(&in.Code, "code", "", "organisation code (QCVN 102 000.00.00.H53 or QĐ 20 H37.02)")
	fs.StringVar(&in.Name, "name", "", "name")
	fs.StringVar(&in.Level, "level", "", "central|province|district|commune")
	fs.StringVar(&in.ParentCode, "parent", "", "parent organisation code")
	fs.StringVar(&in.Abbr, "abbr", "", "abbreviation used in notations, e.g. UBND")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 || in.Code == "" || in.Name == "" || in.Level == "" {
		fmt.Fprintln(e.Stderr, "usage: lienthong org add --code CODE --name NAME --level central|province|district|commune [--parent CODE] [--abbr ABBR]")
		return exitUsage
	}
	return withService(ctx, e, "org add", func(s *workflow.Service) error {
		o, err := s.AddOrg(ctx, workflow.System("cli"), in)
		if err == nil {
			fmt.Fprintf(e.Stdout, "%s\t%s\t%s\n", o.Code, o.Level, o.Name)
		}
		return err
	})
}

func runOrgAlias(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("org alias", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	old := fs.String("old", "", "old code")
	cur := fs.String("new", "", "current code")
	note := fs.String("note", "", "note (e.g. the decision that re-coded it)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *old == "" || *cur == "" || fs.NArg() > 0 {
		fmt.Fprintln(e.Stderr, "usage: lienthong org alias --old CODE --new CODE [--note TEXT]")
		return exitUsage
	}
	return withService(ctx, e, "org alias", func(s *workflow.Service) error {
		return s.AddAlias(ctx, workflow.System("cli"), *old, *cur, nil, *note)
	})
}

func runOrgDept(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("org dept", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	org := fs.String("org", "", "organisation code")
	code := fs.String("code", "", "department code, e.g. VP")
	name := fs.String("name", "", "department name")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *org == "" || *code == "" || *name == "" || fs.NArg() > 0 {
		fmt.Fprintln(e.Stderr, "usage: lienthong org dept --org CODE --code CODE --name NAME")
		return exitUsage
	}
	return withService(ctx, e, "org dept", func(s *workflow.Service) error {
		d, err := s.AddDepartment(ctx, workflow.System("cli"), *org, *code, *name)
		if err == nil {
			fmt.Fprintf(e.Stdout, "%d\t%s\t%s\n", d.ID, d.Code, d.Name)
		}
		return err
	})
}

func runOrgList(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("org list", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	under := fs.String("under", "", "only this organisation and its subtree")
	level := fs.String("level", "", "only this level")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	return withService(ctx, e, "org list", func(s *workflow.Service) error {
		orgs, err := s.ListOrgs(ctx, *under, *level)
		if err != nil {
			return err
		}
		if *asJSON {
			return json.NewEncoder(e.Stdout).Encode(orgs)
		}
		for _, o := range orgs {
			fmt.Fprintf(e.Stdout, "%s\t%s\t%s\t%s\n", o.Code, o.Level, o.ParentCode, o.Name)
		}
		return nil
	})
}
