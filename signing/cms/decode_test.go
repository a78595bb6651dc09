package cms_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/lienthong/lienthong/signing/cms"
	"github.com/lienthong/lienthong/signing/cms/cmstest"
)

func sign(t *testing.T, leaf *cmstest.Cert, content []byte, pss bool) []byte {
	t.Helper()
	sum := sha256.Sum256(content)
	der, err := cms.SignDetached(context.Background(), cms.Request{
		Digest: sum[:], Hash: crypto.SHA256, Signer: leaf.Key, Chain: leaf.Full(), PSS: pss,
	})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	content := []byte("round trip")
	sum := sha256.Sum256(content)
	for name, tc := range map[string]struct {
		leaf *cmstest.Cert
		pss  bool
	}{"rsa": {p.rsa, false}, "pss": {p.rsa, true}, "ecdsa": {p.ec, false}} {
		der := sign(t, tc.leaf, content, tc.pss)
		// PDF /Contents pads with zeros; they must be accepted.
		sd, err := cms.Parse(append(der, make([]byte, 100)...))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		v, err := sd.VerifyDetached(sum[:])
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if v.ESS != 2 || !v.Cert.Equal(tc.leaf.Cert) || len(sd.Certificates) != 2 {
			t.Fatalf("%s: ESS=%d cert ok=%v certs=%d", name, v.ESS, v.Cert.Equal(tc.leaf.Cert), len(sd.Certificates))
		}
		if _, ok := v.Signer.SigningTime(); ok {
			t.Fatalf("%s: signing-time present", name)
		}
		other := sha256.Sum256([]byte("other"))
		if _, err := sd.VerifyDetached(other[:]); !errors.Is(err, cms.ErrDigestMismatch) {
			t.Fatalf("%s: wrong digest gave %v", name, err)
		}
		// Flip one bit of the signature value (the last bytes before the end of the SignerInfo).
		bad := bytes.Clone(der)
		bad[len(bad)-3] ^= 1
		if sd2, err := cms.Parse(bad); err == nil {
			if _, err := sd2.VerifyDetached(sum[:]); !errors.Is(err, cms.ErrBadSignature) {
				t.Fatalf("%s: flipped signature gave %v", name, err)
			}
		}
	}
}

func TestParseRejectsTrailingData(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	der := sign(t, p.ec, []byte("x"), false)
	if _, err := cms.Parse(append(der, 0, 0, 1)); !errors.Is(err, cms.ErrFormat) {
		t.Fatalf("trailing junk: %v", err)
	}
	for _, junk := range [][]byte{nil, {0x30}, {0x30, 0x80}, {0x30, 0x84, 0xff, 0xff, 0xff, 0xff}, []byte("%PDF-1.7")} {
		if _, err := cms.Parse(junk); !errors.Is(err, cms.ErrFormat) {
			t.Fatalf("junk %x: %v", junk, err)
		}
	}
}

// TestOpenSSLStreamingBER parses what `openssl cms -sign -stream` writes: indefinite-length BER with
// a constructed OCTET STRING, the shape NSS (poppler pdfsig) writes too.
func TestOpenSSLStreamingBER(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	p := newPKI(t)
	dir := t.TempDir()
	if err := p.rsa.WriteFiles(filepath.Join(dir, "signer")); err != nil {
		t.Fatal(err)
	}
	content := bytes.Repeat([]byte("nội dung "), 1000)
	in := filepath.Join(dir, "content.bin")
	os.WriteFile(in, content, 0o600)
	out := filepath.Join(dir, "sig.p7s")
	cmd := exec.Command("openssl", "cms", "-sign", "-binary", "-outform", "DER", "-in", in,
		"-signer", filepath.Join(dir, "signer.pem"), "-inkey", filepath.Join(dir, "signer.key"), "-out", out, "-md", "sha256")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v %s", err, b)
	}
	der, _ := os.ReadFile(out)
	sd, err := cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(content)
	v, err := sd.VerifyDetached(sum[:])
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := v.Signer.SigningTime(); !ok {
		t.Error("openssl's signing-time attribute not found")
	}
	// openssl with -nodetach encapsulates: VerifyDetached must refuse, VerifyEncapsulated accept.
	cmd = exec.Command("openssl", "cms", "-sign", "-binary", "-stream", "-nodetach", "-outform", "DER", "-in", in,
		"-signer", filepath.Join(dir, "signer.pem"), "-inkey", filepath.Join(dir, "signer.key"), "-out", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl: %v %s", err, b)
	}
	der, _ = os.ReadFile(out)
	if !bytes.HasPrefix(der, []byte{0x30, 0x80}) {
		t.Fatalf("openssl did not write indefinite-length BER (%x); the test proves nothing", der[:4])
	}
	sd, err = cms.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sd.Content, content) {
		t.Fatal("constructed OCTET STRING not joined")
	}
	if _, err := sd.VerifyDetached(sum[:]); err == nil {
		t.Fatal("encapsulated content accepted as detached")
	}
	if _, err := sd.VerifyEncapsulated(); err != nil {
		t.Fatal(err)
	}
}

// toBER re-encodes DER with every constructed element at indefinite length and every OCTET STRING
// longer than 2 bytes split into a constructed string of two pieces: the BER NSS writes.
func toBER(t *testing.T, der []byte) []byte {
	t.Helper()
	var out []byte
	for len(der) > 0 {
		id := der[0]
		l := int(der[1])
		hdr := 2
		if l >= 0x80 {
			n := l & 0x7f
			l = 0
			for _, c := range der[2 : 2+n] {
				l = l<<8 | int(c)
			}
			hdr = 2 + n
		}
		body := der[hdr : hdr+l]
		switch {
		case id&0x20 != 0:
			out = append(out, id, 0x80)
			out = append(out, toBER(t, body)...)
			out = append(out, 0, 0)
		case id == 0x04 && len(body) > 2 && len(body) < 0x80:
			out = append(out, 0x24, 0x80, 0x04, byte(len(body)/2))
			out = append(out, body[:len(body)/2]...)
			out = append(out, 0x04, byte(len(body)-len(body)/2))
			out = append(out, body[len(body)/2:]...)
			out = append(out, 0, 0)
		default:
			out = append(out, der[:hdr+l]...)
		}
		der = der[hdr+l:]
	}
	return out
}

func TestBERNormalisesToDER(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	content := []byte("ber")
	sum := sha256.Sum256(content)
	der := sign(t, p.ec, content, false)
	ber := toBER(t, der)
	if bytes.Equal(ber, der) || !bytes.HasPrefix(ber, []byte{0x30, 0x80}) {
		t.Fatal("toBER did nothing")
	}
	back, rest, err := cms.NormalizeBER(ber)
	if err != nil || len(rest) != 0 {
		t.Fatal(err, len(rest))
	}
	if !bytes.Equal(back, der) {
		t.Fatal("BER did not normalise back to the original DER")
	}
	sd, err := cms.Parse(ber)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sd.VerifyDetached(sum[:]); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("LIENTHONG_UPDATE_SEEDS") != "" { // refreshes the fuzz seeds in testdata/
		os.MkdirAll("testdata", 0o755)
		os.WriteFile("testdata/ber-detached.p7s", ber, 0o644)
		os.WriteFile("testdata/der-detached.p7s", der, 0o644)
	}
}

func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.p7s")
	for _, s := range seeds {
		b, _ := os.ReadFile(s)
		f.Add(b)
	}
	f.Add([]byte{0x30, 0x80, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02, 0xa0, 0x80, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		sd, err := cms.Parse(b)
		if err != nil {
			return
		}
		digest := make([]byte, 32)
		_, _ = sd.VerifyDetached(digest)
		_, _ = sd.VerifyEncapsulated()
		for _, si := range sd.Signers {
			_, _ = si.MessageDigest()
			_, _ = si.ContentTypeAttr()
			si.SigningTime()
			si.TimestampTokens()
		}
	})
}
