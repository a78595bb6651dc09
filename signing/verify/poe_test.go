package verify_test

import (
	"context"
	"testing"
	"time"

	"github.com/lienthong/lienthong/signing/cms/cmstest"
	"github.com/lienthong/lienthong/signing/verify"
	"github.com/lienthong/lienthong/signing/verify/corpus"
)

// TestDocTimestampIsProofOfExistence: a signature whose certificate has expired since is
// INDETERMINATE / OUT_OF_BOUNDS_NO_POE on its own, and passes once a document timestamp made
// while the certificate was valid covers it (what B-LTA archives rely on).
func TestDocTimestampIsProofOfExistence(t *testing.T) {
	env, _ := loadCorpus(t)
	ctx := context.Background()
	leaf, err := env.Inter.Issue(cmstest.Options{CommonName: "Short-lived", Key: cmstest.P256, NotAfter: env.Now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := corpus.Sign(ctx, corpus.BasePDF("POE"), env.Options(leaf))
	if err != nil {
		t.Fatal(err)
	}
	later := verify.Options{Now: func() time.Time { return env.Now.Add(48 * time.Hour) }}
	rep := verifyBytes(t, env, signed, later)
	if rep.Valid || rep.Signatures[0].SubIndication != verify.OutOfBoundsNoPOE {
		t.Fatalf("expired without proof of existence:\n%s", dump(rep))
	}
	stamped, err := env.AddDocTimestamp(ctx, signed, nil)
	if err != nil {
		t.Fatal(err)
	}
	rep = verifyBytes(t, env, stamped, later)
	if !rep.Valid {
		t.Fatalf("document timestamp not used as proof of existence:\n%s", dump(rep))
	}
}
