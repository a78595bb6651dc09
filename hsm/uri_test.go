package hsm

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The examples of RFC 7512 section 3.
func TestParseURIRFCExamples(t *testing.T) {
	t.Parallel()
	ok := []struct {
		in    string
		check func(*URI) bool
	}{
		{"pkcs11:", func(u *URI) bool { return u.Token == "" && u.Object == "" }},
		{"pkcs11:object=my-pubkey;type=public", func(u *URI) bool { return u.Object == "my-pubkey" && u.Type == "public" }},
		{"pkcs11:object=my-key;type=private?pin-source=file:/etc/token", func(u *URI) bool {
			return u.Object == "my-key" && u.Type == "private" && u.PINSource == "file:/etc/token"
		}},
		{"pkcs11:token=The%20Software%20PKCS%2311%20Softtoken;manufacturer=Snake%20Oil,%20Inc.;model=1.0;object=my-certificate;type=cert;id=%69%95%3E%5C%F4%BD%EC%91;serial=?pin-source=file:/etc/token_pin",
			func(u *URI) bool {
				return u.Token == "The Software PKCS#11 Softtoken" && u.Manufacturer == "Snake Oil, Inc." && u.Model == "1.0" &&
					bytes.Equal(u.ID, []byte{0x69, 0x95, 0x3e, 0x5c, 0xf4, 0xbd, 0xec, 0x91}) && u.Serial == "" && u.Has("serial") &&
					u.Type == "cert" && u.PINSource == "file:/etc/token_pin"
			}},
		{"pkcs11:object=my-sign-key;type=private?module-name=mypkcs11", func(u *URI) bool { return u.ModuleName == "mypkcs11" }},
		{"pkcs11:object=my-sign-key;type=private?module-path=/mnt/libmypkcs11.so.1", func(u *URI) bool { return u.ModulePath == "/mnt/libmypkcs11.so.1" }},
		{"pkcs11:token=Software%20PKCS%2311%20softtoken;manufacturer=Snake%20Oil,%20Inc.?pin-value=the-pin", func(u *URI) bool {
			return u.PINValue == "the-pin" && !strings.Contains(u.String(), "the-pin")
		}},
		{"pkcs11:slot-description=Sun%20Metaslot", func(u *URI) bool { return u.Other["slot-description"] == "Sun Metaslot" }},
		{"pkcs11:library-manufacturer=Snake%20Oil,%20Inc.;library-description=Soft%20Token%20Library;library-version=1.23", func(u *URI) bool {
			return u.Other["library-version"] == "1.23" && u.Other["library-manufacturer"] == "Snake Oil, Inc."
		}},
		{"pkcs11:token=My%20token%25%20created%20by%20Joe;library-version=3;id=%01%02%03%Ba%dd%Ef%0F", func(u *URI) bool {
			return u.Token == "My token% created by Joe" && bytes.Equal(u.ID, []byte{1, 2, 3, 0xba, 0xdd, 0xef, 0x0f})
		}},
		{"pkcs11:token=A%20name%20with%20a%20substring%20%25%3B;object=my-certificate;type=cert", func(u *URI) bool { return u.Token == "A name with a substring %;" }},
		{"pkcs11:token=Name%20with%20a%20small%20A%20with%20acute:%20%C3%A1;object=my-certificate;type=cert", func(u *URI) bool {
			return u.Token == "Name with a small A with acute: á"
		}},
		// "x-" is case-insensitive like every ABNF literal.
		{"pkcs11:token=a;X-Slot-Hint=2", func(u *URI) bool { return u.Vendor["X-Slot-Hint"] == "2" }},
		// Our contract form, with a Vietnamese label and an "x-" vendor attribute.
		{"pkcs11:token=docsign;object=Con%20d%E1%BA%A5u;id=%01;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:LEADER_PIN&x-note=a", func(u *URI) bool {
			return u.Object == "Con dấu" && u.PINSource == "env:LEADER_PIN" && u.VendorQuery["x-note"] == "a" && u.Vendor == nil
		}},
		{"PKCS11:token=Tok%20%26%20Co", func(u *URI) bool { return u.Token == "Tok & Co" }},
		{"pkcs11:token=a&b", func(u *URI) bool { return u.Token == "a&b" }},
	}
	for _, c := range ok {
		u, err := ParseURI(c.in)
		if err != nil {
			t.Errorf("ok/%s: %v", c.in, err)
			continue
		}
		if !c.check(u) {
			t.Errorf("ok/%s: parsed as %#v", c.in, u)
		}
		// String round-trips to the same meaning.
		u2, err := ParseURI(u.String())
		if err != nil {
			t.Errorf("ok/%s: String() = %s does not parse: %v", c.in, u.String(), err)
		} else if u.PINValue == "" && u2.String() != u.String() {
			t.Errorf("ok/%s: round trip %s != %s", c.in, u2.String(), u.String())
		}
	}
	fail := []string{
		"",
		"pkcs12:token=x",
		"token=x",
		// RFC 7512's vendor example uses "vendor-aaa"; we accept only "x-" vendor names, so a typo such
		// as "objet=" cannot silently widen the search.
		"pkcs11:token=my-token;object=my-certificate;type=cert;vendor-aaa=value-a?pin-source=file:/etc/token_pin&vendor-bbb=value-b",
		"pkcs11:objet=x",
		"pkcs11:token=a;token=b",
		"pkcs11:token=a%2",
		"pkcs11:token=a%zz",
		"pkcs11:token=a b",
		"pkcs11:token",
		"pkcs11:=x",
		"pkcs11:type=secret",
		"pkcs11:token=a#frag",
		"pkcs11:token=a?pin-source=http://x",
		"pkcs11:token=a?pin-source=file:/x&pin-value=1",
		"pkcs11:token=a?module-path=/a&module-path=/b",
		"pkcs11:token=a/b",
		// Vendor names are "x-" and at least one letter, digit, "-" or "_" (found by FuzzParseURI:
		// "x-;" was taken as a query attribute and then written into the path).
		"pkcs11:?x-;=0",
		"pkcs11:x-=1",
		"pkcs11:token=a?x-a.b=1",
	}
	for _, in := range fail {
		if _, err := ParseURI(in); !errors.Is(err, ErrBadURI) {
			t.Errorf("fail/%q: got %v", in, err)
		}
	}
}

func TestURINeverPrintsPINValue(t *testing.T) {
	t.Parallel()
	u, err := ParseURI("pkcs11:token=a;object=b?pin-value=s3cr3t-4242")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{u.String(), fmt.Sprintf("%v", u), fmt.Sprintf("%+v", u), fmt.Sprintf("%#v", u), fmt.Sprint(u)} {
		if strings.Contains(s, "s3cr3t-4242") {
			t.Fatalf("PIN printed: %s", s)
		}
	}
}

func TestBuildURI(t *testing.T) {
	t.Parallel()
	s := BuildURI("Sở Nội vụ", "con dấu;1", []byte{0, 0xff}, "/usr/lib/softhsm/libsofthsm2.so", "file:/tmp/a b/pin")
	u, err := ParseURI(s)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	if u.Token != "Sở Nội vụ" || u.Object != "con dấu;1" || !bytes.Equal(u.ID, []byte{0, 0xff}) ||
		u.ModulePath != "/usr/lib/softhsm/libsofthsm2.so" || u.PINSource != "file:/tmp/a b/pin" || u.Type != "private" {
		t.Fatalf("%s parsed as %#v", s, u)
	}
}

func TestModuleDefault(t *testing.T) { // not parallel: sets the environment
	u, _ := ParseURI("pkcs11:token=a;object=b")
	t.Setenv(ModuleEnv, "")
	if _, err := u.Module(); !errors.Is(err, ErrModuleNotFound) {
		t.Fatalf("got %v", err)
	}
	t.Setenv(ModuleEnv, "/opt/x.so")
	if m, err := u.Module(); err != nil || m != "/opt/x.so" {
		t.Fatalf("got %q %v", m, err)
	}
	o := buildOptions([]Option{WithAllowedModules("/usr/lib/softhsm/libsofthsm2.so")})
	if _, err := resolveModule(u, &o); !errors.Is(err, ErrModuleNotFound) {
		t.Fatalf("allowlist: got %v", err)
	}
}

func TestReadPIN(t *testing.T) { // not parallel: sets the environment
	dir := t.TempDir()
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct{ content, want string }{
		{"1234\n", "1234"}, {"1234\r\n", "1234"}, {"1234", "1234"}, {"1234\n\n", "1234\n"}, {" 12 34 \n", " 12 34 "},
	}
	for i, c := range cases {
		p := write("pin"+string(rune('a'+i)), c.content, 0o600)
		u, _ := ParseURI("pkcs11:token=a?pin-source=file:" + p)
		pin, ok, err := u.ReadPIN()
		if err != nil || !ok || string(pin) != c.want {
			t.Errorf("file %q: got %q %v %v", c.content, pin, ok, err)
		}
	}
	open := write("open", "secret-pin\n", 0o644)
	u, _ := ParseURI("pkcs11:token=a?pin-source=file:" + open)
	if _, _, err := u.ReadPIN(); !errors.Is(err, ErrPINSource) || strings.Contains(err.Error(), "secret-pin") {
		t.Errorf("world-readable PIN file: %v", err)
	}
	t.Setenv("HSM_TEST_PIN", "5678")
	u, _ = ParseURI("pkcs11:token=a?pin-source=env:HSM_TEST_PIN")
	if pin, ok, err := u.ReadPIN(); err != nil || !ok || string(pin) != "5678" {
		t.Errorf("env: %q %v %v", pin, ok, err)
	}
	u, _ = ParseURI("pkcs11:token=a?pin-source=env:HSM_TEST_PIN_UNSET")
	if _, _, err := u.ReadPIN(); !errors.Is(err, ErrPINSource) {
		t.Errorf("unset env: %v", err)
	}
	u, _ = ParseURI("pkcs11:token=a")
	if _, ok, err := u.ReadPIN(); ok || err != nil {
		t.Errorf("no source: %v %v", ok, err)
	}
}

// FuzzParseURI: the parser never panics, errors match ErrBadURI, and what it accepts formats to a URI
// that parses to the same thing. Seeds live in testdata/fuzz/FuzzParseURI.
func FuzzParseURI(f *testing.F) {
	f.Add("pkcs11:token=docsign;object=leader;type=private?module-path=/usr/lib/softhsm/libsofthsm2.so&pin-source=env:LEADER_PIN")
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			if !errors.Is(err, ErrBadURI) {
				t.Fatalf("error does not match ErrBadURI: %v", err)
			}
			return
		}
		out := u.String()
		u2, err := ParseURI(out)
		if err != nil {
			t.Fatalf("String() %q of %q does not parse: %v", out, s, err)
		}
		if u.PINValue == "" && u2.String() != out {
			t.Fatalf("round trip of %q: %q != %q", s, u2.String(), out)
		}
		if strings.Contains(out, "pin-value=") && !strings.Contains(out, "pin-value=REDACTED") {
			t.Fatalf("pin-value not redacted in %q", out)
		}
	})
}
