package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/lienthong/lienthong/workflow"
)

func init() {
	register(command{name: "user add", summary: "add a user: --org CODE --name NAME --role clerk|leader|specialist|admin; last line is the API token", run: runUserAdd})
	register(command{name: "user token", summary: "revoke a user's tokens and print a new one: --id N (last line is the token)", run: runUserToken})
}

func runUserToken(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("user token", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	id := fs.Int64("id", 0, "user id (printed by user add)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *id <= 0 || fs.NArg() > 0 {
		fmt.Fprintln(e.Stderr, "usage: lienthong user token --id N")
		return exitUsage
	}
	return withService(ctx, e, "user token", func(s *workflow.Service) error {
		token, err := s.RotateToken(ctx, workflow.System("cli"), *id)
		if err == nil {
			fmt.Fprintf(e.Stdout, "user %d: previous tokens revoked\n%s\n", *id, token)
		}
		return err
	})
}

func runUserAdd(ctx context.Context, e env, args []string) int {
	fs := flag.NewFlagSet("user add", flag.ContinueOnError)
	fs.SetOutput(e.Stderr)
	var in workflow.NewUser
	fs.StringVar(&in.OrgCode, "org", "", "organisation code")
	fs.StringVar(&in.Name, "name", "", "full name")
	fs.StringVar(&in.Role, "role", "", "clerk|leader|specialist|admin")
	fs.StringVar(&in.DepartmentCode, "dept", "", "department code (optional)")
	fs.StringVar(&in.Position, "position", "", "position, e.g. Chánh Văn phòng (optional)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() > 0 || in.OrgCode == "" || in.Name == "" || in.Role == "" {
		fmt.Fprintln(e.Stderr, "usage: lienthong user add --org CODE --name NAME --role clerk|leader|specialist|admin [--dept CODE] [--position TEXT]")
		return exitUsage
	}
	if _, err := workflow.ParseRole(in.Role); err != nil {
		fmt.Fprintln(e.Stderr, "lienthong user add: role must be clerk, leader, specialist or admin")
		return exitUsage
	}
	return withService(ctx, e, "user add", func(s *workflow.Service) error {
		u, token, err := s.AddUser(ctx, workflow.System("cli"), in)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "user %d %s (%s) in %s\n", u.ID, u.Name, u.Role, u.OrgCode)
		fmt.Fprintln(e.Stdout, token)
		return nil
	})
}
