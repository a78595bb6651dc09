package hsm

import (
	"context"
	"crypto"
)

// GenerateAlwaysAuthenticateKey makes a key pair whose private key has CKA_ALWAYS_AUTHENTICATE: every
// signature needs a context-specific login.
func GenerateAlwaysAuthenticateKey(ctx context.Context, uri string, kt KeyType) (crypto.PublicKey, error) {
	pub, _, err := generateKeyPair(ctx, uri, kt, []attr{{ckaAlwaysAuthenticate, true}})
	return pub, err
}

// AlwaysAuthenticate reports whether the key needs a login per signature.
func (k *Key) AlwaysAuthenticate() bool { return k.alwaysAuth }

// BareSign returns a function that signs digest with a plain C_SignInit + C_Sign on one dedicated
// session, bypassing the pool: the baseline of BenchmarkPoolOverhead. close releases the session.
func BareSign(k *Key, digest []byte) (sign func() error, close func(), err error) {
	mech, data, err := k.mechanismFor(digest, crypto.SHA256)
	if err != nil {
		return nil, nil, err
	}
	k.mu.Lock()
	slot, h := k.slot, k.handle
	k.mu.Unlock()
	p := k.mod.p11
	sh, err := p.OpenSession(slot, ckfSerialSession)
	if err != nil {
		return nil, nil, err
	}
	sign = func() error {
		if err := p.SignInit(sh, mech, h); err != nil {
			return err
		}
		_, err := p.Sign(sh, data)
		return err
	}
	return sign, func() { _ = p.CloseSession(sh) }, nil
}
