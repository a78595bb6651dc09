package cms_test

import (
	"testing"

	"go.mozilla.org/pkcs7"
)

// TestMozillaPKCS7Peer cross-checks our encoder with go.mozilla.org/pkcs7, an implementation we did
// not write (used here as a verifier only).
func TestMozillaPKCS7Peer(t *testing.T) {
	t.Parallel()
	p := newPKI(t)
	content := []byte("peer check")
	for name, der := range map[string][]byte{
		"rsa":   sign(t, p.rsa, content, false),
		"ecdsa": sign(t, p.ec, content, false),
	} {
		p7, err := pkcs7.Parse(der)
		if err != nil {
			t.Fatalf("%s: pkcs7.Parse: %v", name, err)
		}
		p7.Content = content
		if err := p7.Verify(); err != nil {
			t.Fatalf("%s: pkcs7 Verify: %v", name, err)
		}
		p7.Content = append(content, '!')
		if err := p7.Verify(); err == nil {
			t.Fatalf("%s: pkcs7 accepted changed content", name)
		}
	}
}
