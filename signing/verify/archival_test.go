package verify_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/asn1"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
	"golang.org/x/crypto/ocsp"

	"github.com/lienthong/lienthong/signing/cms"
	"github.com/lienthong/lienthong/signing/verify"
	"github.com/lienthong/lienthong/signing/verify/corpus"
)

// TestAdobeRevocationArchival checks that OCSP responses carried in the signed
// adbe-revocationInfoArchival attribute (as Acrobat and many CA tools write) count as revocation
// evidence, for a good and a revoked certificate.
func TestAdobeRevocationArchival(t *testing.T) {
	env, _ := loadCorpus(t)
	ctx := context.Background()
	for _, status := range []int{ocsp.Good, ocsp.Revoked} {
		signed, err := corpus.Sign(ctx, corpus.BasePDF("ADOBE"), env.Options(env.RSA))
		if err != nil {
			t.Fatal(err)
		}
		digest, err := corpus.SignedDigest(signed)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := env.Inter.OCSP(env.RSA.Cert, status, env.Now.Add(-time.Hour), env.Now)
		if err != nil {
			t.Fatal(err)
		}
		attrs, err := cms.BuildSignedAttributes(digest, crypto.SHA256, env.RSA.Cert)
		if err != nil {
			t.Fatal(err)
		}
		// Append adbe-revocationInfoArchival { ocsp [1] { resp } } to the attribute set.
		var a cryptobyte.Builder
		a.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(asn1.ObjectIdentifier{1, 2, 840, 113583, 1, 1, 8})
			b.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) {
				b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
					b.AddASN1(cbasn1.Tag(1).Constructed().ContextSpecific(), func(b *cryptobyte.Builder) {
						b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) { b.AddBytes(resp) })
					})
				})
			})
		})
		extra := a.BytesOrPanic()
		in := cryptobyte.String(attrs)
		var body cryptobyte.String
		in.ReadASN1(&body, cbasn1.SET)
		var set cryptobyte.Builder
		set.AddASN1(cbasn1.SET, func(b *cryptobyte.Builder) { b.AddBytes(body); b.AddBytes(extra) })
		attrs = set.BytesOrPanic()
		h := sha256.Sum256(attrs)
		sig, err := env.RSA.Key.Sign(rand.Reader, h[:], crypto.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		der, err := cms.Assemble(attrs, sig, crypto.SHA256, env.RSA.Full(), nil)
		if err != nil {
			t.Fatal(err)
		}
		file, err := corpus.ReplaceContents(signed, der)
		if err != nil {
			t.Fatal(err)
		}
		rep := verifyBytes(t, env, file, verify.Options{RequireRevocation: true})
		switch status {
		case ocsp.Good:
			if !rep.Valid {
				t.Fatalf("good OCSP in the CMS not used\n%s", dump(rep))
			}
		case ocsp.Revoked:
			if rep.Valid || rep.Signatures[0].SubIndication != verify.Revoked {
				t.Fatalf("revoked OCSP in the CMS not used\n%s", dump(rep))
			}
		}
	}
}
