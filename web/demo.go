package web

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lienthong/lienthong/exchange/demo"
	"github.com/lienthong/lienthong/hsm/softhsm"
	"github.com/lienthong/lienthong/internal/apperr"
	"github.com/lienthong/lienthong/signing/pades"
	"github.com/lienthong/lienthong/signing/remote"
	"github.com/lienthong/lienthong/workflow"
)

// DemoOrg is the organisation the demo data is for (a province's people's committee).
const DemoOrg = "000.00.00.H53"

// Demo is what SeedDemo made: the users' API tokens (to sign in) and the demo CA that signed the
// received documents (trust it to see their seals as valid).
type Demo struct {
	OrgCode  string
	Tokens   map[string]string // clerk, leader, specialist -> API token
	Users    map[string]workflow.Principal
	CA       *softhsm.CA
	Received []string // incoming documents waiting for registration
	ToSign   string   // an approved draft sent to the leader for signature
}

// SeedDemo fills an empty node database with a small directory (a province, a ministry office, a
// department, a former district and three communes), three departments, a clerk, a leader and a
// specialist, four documents "received from the axis" (two with valid seals, one altered after signing,
// one without signature), two registered ones (one overdue and presented to the leader) and two drafts
// (one approved and sent to the leader for signature). Everything goes through the workflow service.
func SeedDemo(ctx context.Context, svc *workflow.Service) (Demo, error) {
	d := Demo{OrgCode: DemoOrg, Tokens: map[string]string{}, Users: map[string]workflow.Principal{}}
	if _, err := svc.LookupOrg(ctx, DemoOrg); err == nil {
		return d, apperr.New(apperr.Conflict, "demo_exists",
			"Dữ liệu mẫu đã có trong cơ sở dữ liệu này; tạo thêm tài khoản bằng `lienthong user add --org "+DemoOrg+
				" --name ... --role clerk|leader` / the demo data is already there: add a user to get a token")
	}
	sys := workflow.System("web demo")
	for _, o := range []workflow.NewOrg{
		{Code: DemoOrg, Name: "UBND tỉnh Tây Ninh", Abbr: "UBND", Level: "province"},
		{Code: "000.00.00.G22", Name: "Văn phòng Chính phủ", Abbr: "VPCP", Level: "central"},
		{Code: "000.00.01.H53", Name: "Sở Thông tin và Truyền thông", Abbr: "STTTT", Level: "province", ParentCode: DemoOrg},
		{Code: "000.00.02.H53", Name: "UBND huyện Tân Biên (cũ)", Abbr: "UBND", Level: "district", ParentCode: DemoOrg},
		{Code: "000.01.00.H53", Name: "UBND xã Tân Lập", Abbr: "UBND", Level: "commune", ParentCode: DemoOrg},
		{Code: "000.02.00.H53", Name: "UBND xã Tân Bình", Abbr: "UBND", Level: "commune", ParentCode: DemoOrg},
		{Code: "000.03.00.H53", Name: "UBND phường Tân Ninh", Abbr: "UBND", Level: "commune", ParentCode: DemoOrg},
	} {
		if _, err := svc.AddOrg(ctx, sys, o); err != nil {
			return d, fmt.Errorf("demo org %s: %w", o.Code, err)
		}
	}
	for _, dep := range [][2]string{{"VP", "Văn phòng"}, {"KT", "Phòng Kinh tế"}, {"TH", "Phòng Tổng hợp"}} {
		if _, err := svc.AddDepartment(ctx, sys, DemoOrg, dep[0], dep[1]); err != nil {
			return d, err
		}
	}
	for _, u := range []struct{ role, name, pos, dep string }{
		{"clerk", "Trần Thị Văn Thư", "Văn thư", "VP"}, {"leader", "Nguyễn Văn An", "Chủ tịch", ""},
		{"specialist", "Lê Văn Chuyên", "Chuyên viên", "TH"},
	} {
		_, tok, err := svc.AddUser(ctx, sys, workflow.NewUser{OrgCode: DemoOrg, Name: u.name, Position: u.pos, Role: u.role, DepartmentCode: u.dep})
		if err != nil {
			return d, err
		}
		d.Tokens[u.role] = tok
		if d.Users[u.role], err = svc.Authenticate(ctx, tok); err != nil {
			return d, err
		}
	}
	ca, err := softhsm.NewCA("Lienthong Demo CA (not a real CA)")
	if err != nil {
		return d, err
	}
	d.CA = ca
	now := svc.Now()
	day := func(n int) *time.Time {
		t := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, n)
		return &t
	}

	// Received from the axis (what the delivery side files with ReceiveTx).
	type signer struct{ cn, org string }
	received := []struct {
		sender, senderName, number, notation, docType, subject, urgency string
		signers                                                         []signer
		tamper                                                          bool
		due                                                             *time.Time
	}{
		{"000.00.00.G22", "Văn phòng Chính phủ", "7816", "VPCP-KSTT", "Công văn", "Về việc triển khai chữ ký số trong cơ quan nhà nước", "urgent",
			[]signer{{"Văn phòng Chính phủ", "Văn phòng Chính phủ"}}, false, day(7)},
		{"000.00.01.H53", "Sở Thông tin và Truyền thông", "215", "STTTT-BCVT", "Báo cáo", "Báo cáo tình hình ứng dụng công nghệ thông tin năm 2026", "normal",
			[]signer{{"Phạm Minh Đức", "Sở Thông tin và Truyền thông"}, {"Sở Thông tin và Truyền thông", "Sở Thông tin và Truyền thông"}}, false, day(14)},
		{"000.01.00.H53", "UBND xã Tân Lập", "42", "UBND-VP", "Tờ trình", "Về việc xin ý kiến quy hoạch sử dụng đất năm 2027", "normal",
			[]signer{{"UBND xã Tân Lập", "UBND xã Tân Lập"}}, true, nil},
		{"000.00.02.H53", "UBND huyện Tân Biên (cũ)", "118", "UBND-VP", "Giấy mời", "Giấy mời họp bàn giao hồ sơ lưu trữ", "very_urgent",
			nil, false, day(2)},
	}
	for i, x := range received {
		title := fmt.Sprintf("So %s/%s - van ban mau %d", x.number, x.notation, i+1)
		pdf := demo.MakePDF(title, 6<<10)
		for j, s := range x.signers {
			if pdf, err = signDemo(ctx, ca, pdf, s.cn, s.org, fmt.Sprintf("Sig%d", j+1)); err != nil {
				return d, err
			}
		}
		if x.tamper { // a change after signing: the seal must show as broken
			pdf = bytes.Replace(pdf, []byte("van ban mau"), []byte("VAN BAN SUA"), 1)
		}
		prom := day(-2)
		var id string
		err := workflow.WithTx(ctx, svc.Pool(), func(tx pgx.Tx) error {
			r, err := svc.ReceiveTx(ctx, tx, workflow.ReceivedDoc{ToOrgCode: DemoOrg, SenderCode: x.sender, SenderName: x.senderName,
				SenderDocumentID: fmt.Sprintf("%s,%s,%s/%s", x.sender, prom.Format("2006/01/02"), x.number, x.notation),
				CodeNumber:       x.number, CodeNotation: x.notation, PromulgationDate: prom, DocumentType: x.docType, Subject: x.subject,
				Urgency: x.urgency, Secrecy: "normal", DueDate: x.due,
				Files: []workflow.FileIn{{Name: fmt.Sprintf("%s-%s.pdf", x.number, x.docType[:1]), ContentType: "application/pdf", Data: pdf}}})
			id = r.ID
			return err
		})
		if err != nil {
			return d, fmt.Errorf("demo received document: %w", err)
		}
		d.Received = append(d.Received, id)
	}

	// Registered on paper by the clerk: one overdue and presented to the leader, one fresh.
	clerk := d.Users["clerk"]
	past := day(-3).Format("2006-01-02")
	a, err := svc.RegisterIncoming(ctx, clerk, workflow.IncomingIn{Sender: workflow.Party{Code: "000.00.01.H53", Name: "Sở Thông tin và Truyền thông"},
		CodeNumber: "190", CodeNotation: "STTTT-VP", PromulgationDate: day(-20).Format("2006-01-02"), DocumentType: "Công văn",
		Subject: "Về việc tổng kết công tác văn thư, lưu trữ", DueDate: past,
		Files: []workflow.FileIn{{Name: "190-STTTT.pdf", ContentType: "application/pdf", Data: demo.MakePDF("So 190/STTTT-VP", 4<<10)}}})
	if err != nil {
		return d, err
	}
	if _, err := svc.MoveIncoming(ctx, clerk, a.ID, "present", workflow.Action{}); err != nil {
		return d, err
	}
	if _, err := svc.RegisterIncoming(ctx, clerk, workflow.IncomingIn{Sender: workflow.Party{Code: "000.00.00.G22", Name: "Văn phòng Chính phủ"},
		CodeNumber: "55", CodeNotation: "VPCP-NN", PromulgationDate: day(-5).Format("2006-01-02"), DocumentType: "Công văn",
		Subject: "Về việc chủ động phòng, chống lụt bão", Urgency: "flash", DueDate: day(10).Format("2006-01-02"),
		Files: []workflow.FileIn{{Name: "55-VPCP.pdf", ContentType: "application/pdf", Data: demo.MakePDF("So 55/VPCP-NN", 4<<10)}}}); err != nil {
		return d, err
	}

	// Drafts: one approved and sent to the leader for signature, one waiting for review.
	spec := d.Users["specialist"]
	o, err := svc.CreateOutgoing(ctx, spec, workflow.OutgoingIn{DocumentType: "Công văn", UnitAbbr: "VP",
		Subject: "Về việc tăng cường chuyển đổi số trong xử lý văn bản", SignerName: "Nguyễn Văn An", SignerPosition: "Chủ tịch",
		Competence: "TM.", Places: "Như trên; Lưu: VT, VP.",
		Main:        workflow.FileIn{Name: "du-thao-chuyen-doi-so.pdf", ContentType: "application/pdf", Data: demo.MakePDF("Du thao: chuyen doi so", 6<<10)},
		Attachments: []workflow.FileIn{{Name: "phu-luc.pdf", ContentType: "application/pdf", Data: demo.MakePDF("Phu luc", 3<<10)}}})
	if err != nil {
		return d, err
	}
	if _, err := svc.SubmitOutgoing(ctx, spec, o.ID); err != nil {
		return d, err
	}
	if _, err := svc.ReviewOutgoing(ctx, clerk, o.ID, workflow.Review{Approve: true}); err != nil {
		return d, err
	}
	if _, err := remote.New(svc, remote.Config{}).SendToLeader(ctx, clerk, o.ID, d.Users["leader"].UserID); err != nil {
		return d, err
	}
	d.ToSign = o.ID
	o2, err := svc.CreateOutgoing(ctx, spec, workflow.OutgoingIn{DocumentType: "Kế hoạch", TypeAbbr: "KH",
		Subject: "Kế hoạch kiểm tra công tác cải cách hành chính năm 2027",
		Main:    workflow.FileIn{Name: "ke-hoach-cchc.pdf", ContentType: "application/pdf", Data: demo.MakePDF("Du thao: ke hoach CCHC", 5<<10)}})
	if err != nil {
		return d, err
	}
	if _, err := svc.SubmitOutgoing(ctx, spec, o2.ID); err != nil {
		return d, err
	}
	return d, nil
}

// signDemo seals pdf with a fresh in-memory key certified by ca for (cn, org).
func signDemo(ctx context.Context, ca *softhsm.CA, pdf []byte, cn, org, field string) ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	cert, err := ca.Issue(key.Public(), pkix.Name{Country: []string{"VN"}, Organization: []string{org}, CommonName: cn})
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if _, err := pades.Sign(ctx, bytes.NewReader(pdf), int64(len(pdf)), &out, pades.Options{Signer: key,
		Chain: []*x509.Certificate{cert, ca.Cert}, Field: field, Reason: "Ban hành", Location: "Việt Nam"}); err != nil {
		return nil, fmt.Errorf("demo signature: %w", err)
	}
	return out.Bytes(), nil
}
