package remote_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/hsmtest"
	"github.com/lienthong/lienthong/signing/pades"
	"github.com/lienthong/lienthong/signing/pdf"
	"github.com/lienthong/lienthong/workflow"
)

type ticketAnswer struct {
	Ticket struct {
		ID             string `json:"id"`
		DocumentSHA256 string `json:"document_sha256"`
	} `json:"ticket"`
	DownloadURL string         `json:"download_url"`
	UploadURL   string         `json:"upload_url"`
	Plugin      map[string]any `json:"plugin"`
}

func fetch(t *testing.T, url string, want int) []byte {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	var body []byte
	if want == 200 {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ = io.ReadAll(res.Body)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("GET %s: %d %s", url, res.StatusCode, body)
		}
		return body
	}
	do(t, req, want, nil)
	return nil
}

// upload posts data as the signing service does (multipart/form-data, one file part).
func upload(t *testing.T, url string, data []byte, want int) problem {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("uploadfile", "signed.pdf")
	_, _ = fw.Write(data)
	_ = mw.Close()
	req, _ := http.NewRequest("POST", url, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return do(t, req, want, nil)
}

// signLocally stands in for the government signing service: it signs the whole file with the token.
func signLocally(t *testing.T, in []byte, uri string) []byte {
	t.Helper()
	key := hsmtest.Open(t, uri)
	var out bytes.Buffer
	_, err := pades.Sign(context.Background(), bytes.NewReader(in), int64(len(in)), &out, pades.Options{Signer: key,
		Chain: []*x509Cert{key.Certificate()}, Reason: "Ký bằng dịch vụ ký số"})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func (b *bundle) ticket(t *testing.T, docID string, body any) ticketAnswer {
	t.Helper()
	var ta ticketAnswer
	b.call(t, 201, "POST", "/api/v1/outgoing/"+docID+"/signing/tickets", "leader", body, &ta)
	if ta.Plugin["FileName"] != ta.DownloadURL || ta.Plugin["FileUploadHandler"] != ta.UploadURL {
		t.Fatalf("plugin parameters %+v", ta.Plugin)
	}
	return ta
}

// TestGovernmentServiceFlow: single-use download and upload URLs, every upload checked.
func TestGovernmentServiceFlow(t *testing.T) {
	t.Parallel()
	b := setup(t)
	t.Run("ok/download-sign-upload", func(t *testing.T) {
		d := b.draft(t, true)
		ta := b.ticket(t, d.ID, map[string]any{"certificate": b.iss.Cert.Raw})
		orig := fetch(t, ta.DownloadURL, 200)
		if !bytes.Equal(orig, classicPDF) {
			t.Fatal("the download is not the draft's version")
		}
		if p := do(t, mustReq(t, "GET", ta.DownloadURL), 409, nil); p.Code != "sign_ticket_used" {
			t.Fatalf("second download: %+v", p)
		}
		signed := signLocally(t, orig, b.iss.URI)
		upload(t, ta.UploadURL, signed, 200)
		doc, err := b.wf.GetOutgoing(context.Background(), b.leader, d.ID)
		if err != nil || doc.State != workflow.StSigned {
			t.Fatalf("after upload: %v %s", err, doc.State)
		}
		checkPdfsig(t, signed, b.ca.Cert)
		if p := upload(t, ta.UploadURL, signed, 409); p.Code != "sign_ticket_used" {
			t.Fatalf("second upload: %+v", p)
		}
	})
	t.Run("fail/not-the-served-file", func(t *testing.T) {
		d := b.draft(t, true)
		ta := b.ticket(t, d.ID, nil)
		other, err := readTestPDF("objstm.pdf")
		if err != nil {
			t.Fatal(err)
		}
		if p := upload(t, ta.UploadURL, signLocally(t, other, b.iss.URI), 400); p.Code != "sign_upload_changed" {
			t.Fatalf("%+v", p)
		}
		// A refused upload does not spend the ticket.
		upload(t, ta.UploadURL, signLocally(t, classicPDF, b.iss.URI), 200)
	})
	t.Run("fail/content-changed-before-signing", func(t *testing.T) {
		d := b.draft(t, true)
		ta := b.ticket(t, d.ID, nil)
		// An increment that changes the first page (its MediaBox), then a valid signature over all.
		rd, err := pdf.Open(bytes.NewReader(classicPDF), int64(len(classicPDF)))
		if err != nil {
			t.Fatal(err)
		}
		pages, err := rd.Pages(len(rd.Revisions()) - 1)
		if err != nil {
			t.Fatal(err)
		}
		u := rd.NewUpdate()
		pd := pages[0].Dict.Clone()
		pd["MediaBox"] = pdf.Array{int64(0), int64(0), int64(300), int64(300)}
		u.Set(pages[0].Ref, pd)
		inc, err := u.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		changed := append(bytes.Clone(classicPDF), inc.Data...)
		p := upload(t, ta.UploadURL, signLocally(t, changed, b.iss.URI), 400)
		if p.Code != "sign_upload_changed" {
			t.Fatalf("%+v", p)
		}
		// Not a PDF at all.
		upload(t, ta.UploadURL, []byte("hello"), 400)
		// Unsigned: the served file plus nothing.
		upload(t, ta.UploadURL, classicPDF, 400)
	})
	t.Run("fail/other-signer", func(t *testing.T) {
		d := b.draft(t, true)
		ta := b.ticket(t, d.ID, map[string]any{"certificate": b.iss.Cert.Raw})
		if p := upload(t, ta.UploadURL, signLocally(t, classicPDF, b.other.URI), 400); p.Code != "sign_upload_signer" {
			t.Fatalf("%+v", p)
		}
		// A certificate from a CA nobody trusts, without a certificate named in the ticket.
		ta = b.ticket(t, d.ID, nil)
		untrusted, err := b.tok.IssueKey(context.Background(), "untrusted", []byte{0x30}, hsm.ECP256, hsmtest.CA(t), pkix.Name{CommonName: "Giả mạo"})
		if err != nil {
			t.Fatal(err)
		}
		if p := upload(t, ta.UploadURL, signLocally(t, classicPDF, untrusted.URI), 400); p.Code != "sign_certificate_untrusted" {
			t.Fatalf("%+v", p)
		}
	})
	t.Run("fail/expired-unknown-and-role", func(t *testing.T) {
		d := b.draft(t, true)
		ta := b.ticket(t, d.ID, nil)
		b.clock.Add(6 * time.Minute)
		fetch(t, ta.DownloadURL, 409)
		upload(t, ta.UploadURL, signLocally(t, classicPDF, b.iss.URI), 409)
		b.clock.Add(-6 * time.Minute)
		fetch(t, b.srv.URL+"/api/v1/signing/files/dl_unknownunknownunknown", 404)
		b.call(t, 403, "POST", "/api/v1/outgoing/"+d.ID+"/signing/tickets", "leaderB", nil, nil)
	})
}

type x509Cert = x509.Certificate

func mustReq(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func readTestPDF(name string) ([]byte, error) { return os.ReadFile("../../testdata/pdf/" + name) }
