package workflow_test

import (
	"context"
	"strings"
	"testing"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/workflow"
)

func TestDirectory(t *testing.T) {
	t.Parallel()
	b := setup(t, workflow.Config{})
	ctx := context.Background()
	s := b.svc
	// A QĐ 20 commune under the province, a district (history) and a commune under it.
	mustOrg(t, s, workflow.NewOrg{Code: "h53.01", Name: "UBND xã Một", Level: "commune", ParentCode: b.org.Code})
	mustOrg(t, s, workflow.NewOrg{Code: "000.00.02.H53", Name: "UBND huyện Hai", Level: "district", ParentCode: b.org.Code})
	mustOrg(t, s, workflow.NewOrg{Code: "000.01.02.H53", Name: "UBND xã Ba", Level: "commune", ParentCode: "000.00.02.H53"})

	t.Run("fail/duplicate", func(t *testing.T) {
		_, err := s.AddOrg(ctx, b.admin, workflow.NewOrg{Code: "H53.01", Name: "x", Level: "commune"})
		wantKind(t, err, apperr.Conflict)
	})
	t.Run("fail/bad code", func(t *testing.T) {
		for _, c := range []string{"", "abc", "000.00.00.53", "Z01.02", strings.Repeat("A01", 13)} {
			_, err := s.AddOrg(ctx, b.admin, workflow.NewOrg{Code: c, Name: "x", Level: "commune"})
			wantKind(t, err, apperr.Invalid)
		}
	})
	t.Run("fail/unknown level", func(t *testing.T) {
		_, err := s.AddOrg(ctx, b.admin, workflow.NewOrg{Code: "H53.09", Name: "x", Level: "hamlet"})
		wantKind(t, err, apperr.Invalid)
	})
	t.Run("fail/unknown parent", func(t *testing.T) {
		_, err := s.AddOrg(ctx, b.admin, workflow.NewOrg{Code: "H53.09", Name: "x", Level: "commune", ParentCode: "H99"})
		wantKind(t, err, apperr.Invalid)
	})
	t.Run("ok/levels are data", func(t *testing.T) {
		if _, err := b.pool.Exec(ctx, `INSERT INTO org_level (name, rank) VALUES ('special_zone', 4)`); err != nil {
			t.Fatal(err)
		}
		mustOrg(t, s, workflow.NewOrg{Code: "H53.50", Name: "Đặc khu", Level: "special_zone", ParentCode: b.org.Code})
	})
	t.Run("ok/alias", func(t *testing.T) {
		if err := s.AddAlias(ctx, b.admin, "000.01.53.H53", "H53.01", nil, "QĐ 4078"); err != nil {
			t.Fatal(err)
		}
		o, err := s.LookupOrg(ctx, "000.01.53.h53")
		if err != nil || o.Code != "H53.01" {
			t.Fatalf("alias lookup = %+v, %v", o, err)
		}
		wantKind(t, s.AddAlias(ctx, b.admin, "H53.01", b.org.Code, nil, ""), apperr.Conflict)
	})
	t.Run("ok/subtree", func(t *testing.T) {
		orgs, err := s.ListOrgs(ctx, b.org.Code, "commune")
		if err != nil {
			t.Fatal(err)
		}
		var codes []string
		for _, o := range orgs {
			codes = append(codes, o.Code)
		}
		if strings.Join(codes, ",") != "000.01.02.H53,H53.01" {
			t.Fatalf("communes under the province = %v", codes)
		}
	})
}

func TestTokens(t *testing.T) {
	t.Parallel()
	b := setup(t, workflow.Config{})
	ctx := context.Background()
	_, token, err := b.svc.AddUser(ctx, b.admin, workflow.NewUser{OrgCode: b.org.Code, Name: "Lãnh đạo", Role: "leader"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := b.svc.Authenticate(ctx, token)
	if err != nil || p.Role != workflow.RoleLeader || p.OrgCode != b.org.Code {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}
	// The token itself is nowhere in the database.
	var n int
	if err := b.pool.QueryRow(ctx, `SELECT count(*) FROM api_token WHERE encode(sha256, 'escape') LIKE '%' || $1 || '%'`, token[3:20]).Scan(&n); err != nil || n != 0 {
		t.Fatalf("token stored in clear? n=%d err=%v", n, err)
	}
	for _, bad := range []string{"", "lt_", token + "x", "Bearer " + token, strings.Repeat("a", 500)} {
		_, err := b.svc.Authenticate(ctx, bad)
		wantKind(t, err, apperr.Unauthorized)
	}
	_, _, err = b.svc.AddUser(ctx, b.admin, workflow.NewUser{OrgCode: b.org.Code, Name: "x", Role: "boss"})
	wantKind(t, err, apperr.Invalid)
	_, _, err = b.svc.AddUser(ctx, b.admin, workflow.NewUser{OrgCode: "H01", Name: "x", Role: "clerk"})
	wantKind(t, err, apperr.NotFound)
	_, _, err = b.svc.AddUser(ctx, b.admin, workflow.NewUser{OrgCode: b.org.Code, Name: "x", Role: "clerk", DepartmentCode: "NOPE"})
	wantKind(t, err, apperr.Invalid)
}

func TestRotateToken(t *testing.T) {
	t.Parallel()
	b := setup(t, workflow.Config{})
	ctx := context.Background()
	u, old, err := b.svc.AddUser(ctx, b.admin, workflow.NewUser{OrgCode: b.org.Code, Name: "x", Role: "clerk"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.Authenticate(ctx, old); err != nil {
		t.Fatal(err)
	}
	fresh, err := b.svc.RotateToken(ctx, b.admin, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.svc.Authenticate(ctx, old)
	wantKind(t, err, apperr.Unauthorized)
	if p, err := b.svc.Authenticate(ctx, fresh); err != nil || p.UserID != u.ID {
		t.Fatalf("new token: %+v %v", p, err)
	}
	_, err = b.svc.RotateToken(ctx, b.admin, 424242)
	wantKind(t, err, apperr.NotFound)
}
