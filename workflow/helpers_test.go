package workflow_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/internal/pgtest"
	"github.com/lienthong/lienthong/migrations"
	"github.com/lienthong/lienthong/workflow"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// clock is an injectable, settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

type testBundle struct {
	svc    *workflow.Service
	pool   *pgxpool.Pool
	clock  *clock
	admin  workflow.Principal
	org    workflow.Org // 000.00.00.H53, abbr UBND, with departments VP and KT
	org2   workflow.Org // another province
	clerk  workflow.Principal
	leader workflow.Principal
	spec   workflow.Principal // in department VP
	spec2  workflow.Principal // in department KT
	clerk2 workflow.Principal // clerk of org2
}

func setup(t *testing.T, cfg workflow.Config) *testBundle {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if _, err := migrations.Up(ctx, pool); err != nil {
		t.Fatal(err)
	}
	b := &testBundle{pool: pool, clock: &clock{t: time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)}}
	cfg.Now = b.clock.Now
	b.svc = workflow.New(pool, cfg)
	b.admin = workflow.System("test")
	b.org = mustOrg(t, b.svc, workflow.NewOrg{Code: "000.00.00.H53", Name: "UBND tỉnh Tây Ninh", Abbr: "UBND", Level: "province"})
	b.org2 = mustOrg(t, b.svc, workflow.NewOrg{Code: "000.00.00.H37", Name: "UBND tỉnh Lạng Sơn", Abbr: "UBND", Level: "province"})
	for _, d := range [][2]string{{"VP", "Văn phòng"}, {"KT", "Phòng Kinh tế"}} {
		if _, err := b.svc.AddDepartment(ctx, b.admin, b.org.Code, d[0], d[1]); err != nil {
			t.Fatal(err)
		}
	}
	b.clerk = mustUser(t, b.svc, workflow.NewUser{OrgCode: b.org.Code, Name: "Văn thư", Role: "clerk"})
	b.leader = mustUser(t, b.svc, workflow.NewUser{OrgCode: b.org.Code, Name: "Chủ tịch", Role: "leader"})
	b.spec = mustUser(t, b.svc, workflow.NewUser{OrgCode: b.org.Code, Name: "Chuyên viên VP", Role: "specialist", DepartmentCode: "VP"})
	b.spec2 = mustUser(t, b.svc, workflow.NewUser{OrgCode: b.org.Code, Name: "Chuyên viên KT", Role: "specialist", DepartmentCode: "KT"})
	b.clerk2 = mustUser(t, b.svc, workflow.NewUser{OrgCode: b.org2.Code, Name: "Văn thư LS", Role: "clerk"})
	return b
}

func mustOrg(t *testing.T, s *workflow.Service, in workflow.NewOrg) workflow.Org {
	t.Helper()
	o, err := s.AddOrg(context.Background(), workflow.System("test"), in)
	if err != nil {
		t.Fatalf("AddOrg(%s): %v", in.Code, err)
	}
	return o
}

func mustUser(t *testing.T, s *workflow.Service, in workflow.NewUser) workflow.Principal {
	t.Helper()
	_, token, err := s.AddUser(context.Background(), workflow.System("test"), in)
	if err != nil {
		t.Fatalf("AddUser(%s): %v", in.Name, err)
	}
	p, err := s.Authenticate(context.Background(), token)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func wantKind(t *testing.T, err error, k apperr.Kind) {
	t.Helper()
	if err == nil {
		t.Fatalf("want a %v error, got nil", k)
	}
	if got := apperr.KindOf(err); got != k {
		t.Fatalf("want a %v error, got %v: %v", k, got, err)
	}
	if apperr.Detail(err) == "" || apperr.Detail(err) == "internal error" {
		t.Fatalf("error without a clerk-readable detail: %v", err)
	}
}

func sampleIncoming() workflow.IncomingIn {
	return workflow.IncomingIn{Sender: workflow.Party{Code: "000.00.00.G22", Name: "Bộ Thông tin và Truyền thông"},
		CodeNumber: "123", CodeNotation: "BTTTT-VP", PromulgationDate: "2026-11-20", DocumentType: "Công văn",
		Subject: "Về việc triển khai chữ ký số", Urgency: "normal", Secrecy: "normal", DueDate: "2026-12-01"}
}

var minimalPDF = []byte("%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
