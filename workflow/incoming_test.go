package workflow_test

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/workflow"
)

// Many goroutines in two organisations register at once: each organisation's numbers are exactly 1..N
// with no gap and no repeat, and secret documents keep a series of their own.
func TestConcurrentNumbering(t *testing.T) {
	t.Parallel()
	b := setup(t, workflow.Config{})
	ctx := context.Background()
	const workers, each = 24, 15
	type got struct {
		org    string
		series string
		n      int
	}
	var mu sync.Mutex
	var all []got
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := b.clerk
			if w%3 == 0 {
				p = b.clerk2
			}
			for i := range each {
				in := sampleIncoming()
				in.CodeNumber = fmt.Sprint(w*1000 + i)
				if i%5 == 0 {
					in.Secrecy = "secret"
				}
				d, err := b.svc.RegisterIncoming(ctx, p, in)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				all = append(all, got{p.OrgCode, *d.RegisterSeries, *d.RegisterNumber})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	bySeries := map[string][]int{}
	for _, g := range all {
		k := g.org + "/" + g.series
		bySeries[k] = append(bySeries[k], g.n)
	}
	if len(bySeries) != 4 {
		t.Fatalf("series: %v", bySeries)
	}
	total := 0
	for k, ns := range bySeries {
		sort.Ints(ns)
		for i, n := range ns {
			if n != i+1 {
				t.Fatalf("%s: numbers %v are not 1..%d", k, ns, len(ns))
			}
		}
		total += len(ns)
	}
	if total != workers*each {
		t.Fatalf("registered %d, want %d", total, workers*each)
	}
	// The database agrees with what callers were told.
	var dbCount, distinct int
	if err := b.pool.QueryRow(ctx, `SELECT count(*), count(DISTINCT (org_id, series, register_number)) FROM incoming_doc`).Scan(&dbCount, &distinct); err != nil {
		t.Fatal(err)
	}
	if dbCount != total || distinct != total {
		t.Fatalf("db has %d rows, %d distinct numbers; want %d", dbCount, distinct, total)
	}
}

// A new year starts again at 1.
func TestNumberingPerYear(t *testing.T) {
	t.Parallel()
	b := setup(t, workflow.Config{})
	ctx := context.Background()
	for range 2 {
		if _, err := b.svc.RegisterIncoming(ctx, b.clerk, sampleIncoming()); err != nil {
			t.Fatal(err)
		}
	}
	b.clock.Set(time.Date(2026, 12, 31, 17, 30, 0, 0, time.UTC)) // 00:30 on 1 January 2027 in Vietnam
	d, err := b.svc.RegisterIncoming(ctx, b.clerk, sampleIncoming())
	if err != nil {
		t.Fatal(err)
	}
	if *d.RegisterYear != 2027 || *d.RegisterNumber != 1 {
		t.Fatalf("first of 2027 = %d/%d", *d.RegisterNumber, *d.RegisterYear)
	}
	if len(d.Warnings) == 0 {
		t.Fatal("a repeated (sender, number, notation) gives no duplicate warning")
	}
}

func TestIncomingValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, workflow.Config{})
	ctx := context.Background()
	long := func(n int) string {
		s := make([]rune, n)
		for i := range s {
			s[i] = 'ă'
		}
		return string(s)
	}
	cases := map[string]func(*workflow.IncomingIn){
		"fail/no subject":      func(in *workflow.IncomingIn) { in.Subject = "  " },
		"fail/no sender":       func(in *workflow.IncomingIn) { in.Sender.Name = "" },
		"fail/bad sender code": func(in *workflow.IncomingIn) { in.Sender.Code = "BTTTT" },
		"fail/long subject":    func(in *workflow.IncomingIn) { in.Subject = long(501) },
		"fail/long number":     func(in *workflow.IncomingIn) { in.CodeNumber = "123456789012" },
		"fail/bad urgency":     func(in *workflow.IncomingIn) { in.Urgency = "khẩn" },
		"fail/bad secrecy":     func(in *workflow.IncomingIn) { in.Secrecy = "mat" },
		"fail/bad date":        func(in *workflow.IncomingIn) { in.PromulgationDate = "20/11/2026" },
		"fail/future date":     func(in *workflow.IncomingIn) { in.PromulgationDate = "2027-01-05" },
		"fail/bad due date":    func(in *workflow.IncomingIn) { in.DueDate = "2026-02-30" },
		"fail/bad file name":   func(in *workflow.IncomingIn) { in.Files = []workflow.FileIn{{Name: "../x.pdf", Data: minimalPDF}} },
		"fail/not a pdf": func(in *workflow.IncomingIn) {
			in.Files = []workflow.FileIn{{Name: "x.pdf", ContentType: "application/pdf", Data: []byte("hello")}}
		},
		"fail/bad content type": func(in *workflow.IncomingIn) {
			in.Files = []workflow.FileIn{{Name: "x", ContentType: "///", Data: []byte("x")}}
		},
		"fail/bad page count": func(in *workflow.IncomingIn) { n := -1; in.PageCount = &n },
		"fail/bad source":     func(in *workflow.IncomingIn) { in.Source = "fax" },
	}
	for name, mod := range cases {
		in := sampleIncoming()
		mod(&in)
		_, err := b.svc.RegisterIncoming(ctx, b.clerk, in)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if k := apperr.KindOf(err); k != apperr.Invalid {
			t.Errorf("%s: kind %v (%v)", name, k, err)
		}
	}
	// Only clerks register.
	_, err := b.svc.RegisterIncoming(ctx, b.leader, sampleIncoming())
	wantKind(t, err, apperr.Forbidden)
	// Nothing was numbered by the failures.
	d, err := b.svc.RegisterIncoming(ctx, b.clerk, sampleIncoming())
	if err != nil || *d.RegisterNumber != 1 {
		t.Fatalf("first valid registration = %v, %v", d.RegisterNumber, err)
	}
}

func TestIncomingIsolationAndFiles(t *testing.T) {
	t.Parallel()
	b := setup(t, workflow.Config{})
	ctx := context.Background()
	in := sampleIncoming()
	in.Files = []workflow.FileIn{{Name: "cv123.pdf", ContentType: "application/pdf", Data: minimalPDF}}
	d, err := b.svc.RegisterIncoming(ctx, b.clerk, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.RegisterIncoming(ctx, b.clerk2, sampleIncoming()); err != nil {
		t.Fatal(err)
	}
	// Another organisation's clerk can neither read nor act on it, nor list it.
	_, err = b.svc.GetIncoming(ctx, b.clerk2, d.ID)
	wantKind(t, err, apperr.Forbidden)
	_, err = b.svc.MoveIncoming(ctx, b.clerk2, d.ID, "present", workflow.Action{})
	wantKind(t, err, apperr.Forbidden)
	page, err := b.svc.ListIncoming(ctx, b.clerk2, workflow.ListQuery{})
	if err != nil || len(page.Items) != 1 || page.Items[0].ID == d.ID {
		t.Fatalf("org2 list = %+v, %v", page.Items, err)
	}
	_, _, err = b.svc.GetFile(ctx, b.clerk2, d.Files[0].SHA256)
	wantKind(t, err, apperr.NotFound)
	// The owner reads the file back, checked against its hash.
	f, data, err := b.svc.GetFile(ctx, b.clerk, d.Files[0].SHA256)
	if err != nil || string(data) != string(minimalPDF) || f.Name != "cv123.pdf" {
		t.Fatalf("GetFile = %+v, %q, %v", f, data, err)
	}
	// Corrupt the stored bytes: the read is refused.
	if _, err := b.pool.Exec(ctx, `UPDATE file_blob SET data = data || '\x00'::bytea`); err != nil {
		t.Fatal(err)
	}
	_, _, err = b.svc.GetFile(ctx, b.clerk, d.Files[0].SHA256)
	if !apperr.IsKind(err, apperr.Internal) {
		t.Fatalf("corrupt file read: %v", err)
	}
	// Specialists see nothing until assigned.
	page, err = b.svc.ListIncoming(ctx, b.spec, workflow.ListQuery{})
	if err != nil || len(page.Items) != 0 {
		t.Fatalf("specialist list = %d, %v", len(page.Items), err)
	}
	_, err = b.svc.GetIncoming(ctx, b.spec, d.ID)
	wantKind(t, err, apperr.Forbidden)
}

func TestListPagingAndSearch(t *testing.T) {
	t.Parallel()
	b := setup(t, workflow.Config{})
	ctx := context.Background()
	subjects := []string{"Về việc triển khai chữ ký số", "Công văn đôn đốc nộp báo cáo", "Kế hoạch đào tạo", "Thông báo lịch họp", "Quyết định điều động"}
	for _, s := range subjects {
		in := sampleIncoming()
		in.Subject = s
		if _, err := b.svc.RegisterIncoming(ctx, b.clerk, in); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	cursor := ""
	for {
		page, err := b.svc.ListIncoming(ctx, b.clerk, workflow.ListQuery{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range page.Items {
			seen = append(seen, d.Subject)
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(seen) != 5 || seen[0] != subjects[4] || seen[4] != subjects[0] {
		t.Fatalf("paged = %v", seen)
	}
	for q, want := range map[string]int{"cong van": 1, "CÔNG VĂN": 1, "don doc": 1, "dao tao": 1, "dieu dong": 1, "BTTTT-VP": 5, "123/btttt": 5, "bo thong tin": 5, "chu ky so": 1, "xyz": 0} {
		page, err := b.svc.ListIncoming(ctx, b.clerk, workflow.ListQuery{Q: q})
		if err != nil || len(page.Items) != want {
			t.Errorf("search %q = %d items, %v; want %d", q, len(page.Items), err, want)
		}
	}
	for _, bad := range []workflow.ListQuery{{Limit: -1}, {Limit: 501}, {Cursor: "!!"}, {Cursor: "YWJj"}, {State: "lost"}} {
		_, err := b.svc.ListIncoming(ctx, b.clerk, bad)
		wantKind(t, err, apperr.Invalid)
	}
}
