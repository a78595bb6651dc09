package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lienthong/lienthong/hsm"
	"github.com/lienthong/lienthong/hsm/hsmtest"
)

// runCmd runs a lienthong command in-process and returns its exit code, stdout and stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), env{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb}, args)
	return code, out.String(), errb.String()
}

func openssl(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("openssl", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestTokenEnrolment walks the enrolment an organisation does: keygen, csr, (the CA issues), import-cert,
// list, then signs, cross-checking the CSR and a signature with openssl.
func TestTokenEnrolment(t *testing.T) {
	// Not parallel: SoftHSM aborts the process if a C_Initialize scans a token being deleted.
	for _, kt := range []string{"rsa2048", "ecp384"} {
		t.Run("ok/"+kt, func(t *testing.T) {
			// Not parallel: SoftHSM aborts the process if a C_Initialize scans a token being deleted.
			dir := t.TempDir()
			tok := hsmtest.Token(t)
			uri := tok.KeyURI("seal", []byte{0x0a, 0x01})

			code, out, errs := runCmd(t, "token", "keygen", "--key", uri, "--type", kt)
			if code != exitOK {
				t.Fatalf("keygen: %d %s", code, errs)
			}
			if u, err := hsm.ParseURI(strings.TrimSpace(out)); err != nil || !bytes.Equal(u.ID, []byte{0x0a, 0x01}) {
				t.Fatalf("keygen printed %q (%v)", out, err)
			}

			subject := "/C=VN/ST=Hà Giang/O=Sở Nội vụ tỉnh Hà Giang/OU=Văn phòng+UID=MST:0101234567/CN=Nguyễn Văn Ân"
			code, csrPEM, errs := runCmd(t, "token", "csr", "--key", uri, "--subject", subject)
			if code != exitOK {
				t.Fatalf("csr: %d %s", code, errs)
			}
			csrFile := filepath.Join(dir, "seal.csr")
			if err := os.WriteFile(csrFile, []byte(csrPEM), 0o600); err != nil {
				t.Fatal(err)
			}
			if out := openssl(t, "req", "-in", csrFile, "-verify", "-noout"); !strings.Contains(strings.ToLower(out), "verif") || strings.Contains(strings.ToLower(out), "fail") {
				t.Fatalf("openssl req -verify: %s", out)
			}
			subj := openssl(t, "req", "-in", csrFile, "-noout", "-subject", "-nameopt", "utf8,sep_comma_plus")
			for _, want := range []string{"CN=Nguyễn Văn Ân", "O=Sở Nội vụ tỉnh Hà Giang", "ST=Hà Giang", "C=VN", "OU=Văn phòng+UID=MST:0101234567"} {
				if !strings.Contains(subj, want) {
					t.Errorf("subject %q lacks %q", subj, want)
				}
			}
			block, _ := pem.Decode([]byte(csrPEM))
			csr, err := x509.ParseCertificateRequest(block.Bytes)
			if err != nil || csr.CheckSignature() != nil {
				t.Fatalf("CSR: %v", err)
			}

			ca := hsmtest.CA(t)
			cert, err := ca.Issue(csr.PublicKey, csr.Subject)
			if err != nil {
				t.Fatal(err)
			}
			certFile := filepath.Join(dir, "seal.pem")
			if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
				t.Fatal(err)
			}
			if code, _, errs := runCmd(t, "token", "import-cert", "--key", uri, certFile); code != exitOK {
				t.Fatalf("import-cert: %d %s", code, errs)
			}
			if code, _, errs := runCmd(t, "token", "import-cert", certFile, "--key", uri); code != exitNo || !strings.Contains(errs, "already") {
				t.Fatalf("second import-cert: %d %s", code, errs)
			}

			code, out, errs = runCmd(t, "token", "list", "--module", tok.Store.Module, "--keys", "--token", tok.Label, "--pin-source", "file:"+tok.PINFile)
			if code != exitOK || !strings.Contains(out, tok.Label) || !strings.Contains(out, "private label \"seal\" id 0a01 type "+kt) ||
				!strings.Contains(out, "cert    label \"seal\" id 0a01") {
				t.Fatalf("list: %d %s %s", code, out, errs)
			}

			code, out, errs = runCmd(t, "token", "list", "--module", tok.Store.Module, "--keys", "--json")
			var listed []hsm.TokenInfo
			if code != exitOK || json.Unmarshal([]byte(out), &listed) != nil {
				t.Fatalf("list --json: %d %q %s", code, out, errs)
			}
			found := false
			for _, tk := range listed {
				if tk.Label == tok.Label && tk.Serial == tok.Serial {
					found = len(tk.Objects) == 2 // public key and certificate: no login, no private key
				}
			}
			if !found {
				t.Fatalf("list --json: token %q not listed with 2 public objects: %s", tok.Label, out)
			}

			// The key now opens with its certificate; openssl verifies what it signs.
			k := hsmtest.Open(t, uri)
			data := []byte("Công văn số 123/BTTTT-VP")
			digest := sha256.Sum256(data)
			sig, err := k.Sign(nil, digest[:], crypto.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			pubDER, _ := x509.MarshalPKIXPublicKey(k.Certificate().PublicKey)
			files := map[string][]byte{"data": data, "sig": sig, "pub.pem": pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})}
			for name, b := range files {
				if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if out := openssl(t, "dgst", "-sha256", "-verify", filepath.Join(dir, "pub.pem"), "-signature", filepath.Join(dir, "sig"), filepath.Join(dir, "data")); !strings.Contains(out, "Verified OK") {
				t.Fatalf("openssl dgst -verify: %s", out)
			}

			code, out, errs = runCmd(t, "token", "bench", "--key", uri, "--workers", "2", "--seconds", "0.3", "--json")
			var res map[string]any
			if code != exitOK || json.Unmarshal([]byte(out), &res) != nil {
				t.Fatalf("bench: %d %q %s", code, out, errs)
			}
			if sps, _ := res["signatures_per_second"].(float64); sps <= 0 || res["errors"].(float64) != 0 {
				t.Fatalf("bench: %s", out)
			}
		})
	}
}

func TestTokenCommandErrors(t *testing.T) {
	// Not parallel: SoftHSM aborts the process if a C_Initialize scans a token being deleted.
	tok := hsmtest.Token(t)
	uri := tok.KeyURI("k", []byte{1})
	if code, _, errs := runCmd(t, "token", "keygen", "--key", uri, "--type", "ecp256"); code != exitOK {
		t.Fatalf("keygen: %s", errs)
	}
	badPIN := filepath.Join(t.TempDir(), "pin")
	if err := os.WriteFile(badPIN, []byte("not-the-pin-42\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	wrong := hsm.BuildURI(tok.Label, "k", nil, tok.Store.Module, "file:"+badPIN)
	other := hsmtest.Issue(t, hsm.ECP256, pkix.Name{CommonName: "other"})
	otherCert := filepath.Join(t.TempDir(), "other.pem")
	_ = os.WriteFile(otherCert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.Cert.Raw}), 0o600)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"fail/keygen-type", []string{"token", "keygen", "--key", uri, "--type", "dsa1024"}, exitUsage, "rsa2048"},
		{"fail/keygen-exists", []string{"token", "keygen", "--key", uri, "--type", "ecp256"}, exitNo, "already"},
		{"fail/keygen-no-key", []string{"token", "keygen", "--type", "ecp256"}, exitUsage, "usage"},
		{"fail/csr-no-subject", []string{"token", "csr", "--key", uri}, exitUsage, "usage"},
		{"fail/csr-bad-subject", []string{"token", "csr", "--key", uri, "--subject", "/XX=1"}, exitUsage, "unknown attribute"},
		{"fail/csr-wrong-pin", []string{"token", "csr", "--key", wrong, "--subject", "/CN=x"}, exitNo, "rejected the PIN"},
		{"fail/bad-uri", []string{"token", "csr", "--key", "pkcs11:objet=k", "--subject", "/CN=x"}, exitUsage, "unknown attribute"},
		{"fail/no-pin-no-terminal", []string{"token", "csr", "--key", hsm.BuildURI(tok.Label, "k", nil, tok.Store.Module, ""), "--subject", "/CN=x"}, exitUsage, "pin-source"},
		{"fail/import-foreign-cert", []string{"token", "import-cert", "--key", uri, otherCert}, exitNo, "does not verify"},
		{"fail/import-missing-file", []string{"token", "import-cert", "--key", uri, "/nonexistent.pem"}, exitUsage, "nonexistent"},
		{"fail/token-not-found", []string{"token", "bench", "--key", hsm.BuildURI("nope", "k", nil, tok.Store.Module, "file:"+tok.PINFile), "--seconds", "0.1"}, exitNo, "no token"},
		{"fail/module-not-found", []string{"token", "list", "--module", "/nonexistent/lib.so"}, exitNo, "cannot be loaded"},
	}
	for _, c := range cases {
		code, out, errs := runCmd(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("%s: exit %d (want %d), stderr %q", c.name, code, c.code, errs)
		}
		if strings.Contains(out+errs, "not-the-pin-42") {
			t.Errorf("%s: the PIN leaked into the output", c.name)
		}
	}
}

func TestParseSubject(t *testing.T) {
	t.Parallel()
	raw, err := parseSubject(`/C=VN/O=A\/B\+C/CN=Trần Thị Bình+serialNumber=CCCD:001`)
	if err != nil {
		t.Fatal(err)
	}
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(raw, &seq); err != nil {
		t.Fatal(err)
	}
	if len(seq) != 3 || seq[1][0].Value != "A/B+C" || len(seq[2]) != 2 ||
		(seq[2][0].Value != "Trần Thị Bình" && seq[2][1].Value != "Trần Thị Bình") {
		t.Fatalf("%v", seq)
	}
	for _, bad := range []string{"", "CN=x", "/", "/CN", "/CN=", "//CN=x", "/C=Vietnam", "/CN=x\\", "/FOO=bar", "/CN=\xff"} {
		if _, err := parseSubject(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

// FuzzParseSubject: never panics, and what it accepts is a DER Name Go can read back.
func FuzzParseSubject(f *testing.F) {
	for _, s := range []string{"/C=VN/O=Sở Nội vụ/CN=Nguyễn Văn A", `/CN=a\/b+UID=1`, "/emailAddress=a@b.vn", "/CN=", "//"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		raw, err := parseSubject(s)
		if err != nil {
			return
		}
		var seq pkix.RDNSequence
		if rest, err := asn1.Unmarshal(raw, &seq); err != nil || len(rest) != 0 {
			t.Fatalf("%q gave bad DER: %v", s, err)
		}
	})
}
