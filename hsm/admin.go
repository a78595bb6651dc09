package hsm

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// KeyType names the key pairs GenerateKeyPair makes (the values of `token keygen --type`).
type KeyType string

const (
	RSA2048 KeyType = "rsa2048"
	RSA3072 KeyType = "rsa3072"
	ECP256  KeyType = "ecp256"
	ECP384  KeyType = "ecp384"
)

// ParseKeyType accepts rsa2048, rsa3072, ecp256 and ecp384.
func ParseKeyType(s string) (KeyType, error) {
	switch KeyType(strings.ToLower(s)) {
	case RSA2048, RSA3072, ECP256, ECP384:
		return KeyType(strings.ToLower(s)), nil
	}
	return "", wrapf(ErrUnsupported, nil, "key type %q (use rsa2048, rsa3072, ecp256 or ecp384)", s)
}

// adminSession opens the module and token named by u, opens a session (read-write when rw) and logs
// the user in (PIN from the URI or the prompt, flags checked first), then runs fn.
func adminSession(ctx context.Context, u *URI, o options, rw bool, fn func(p p11, slot uint, sh sessionHandle, ti tokenInfo, pin []byte) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	path, err := resolveModule(u, &o)
	if err != nil {
		return err
	}
	pin, _, err := u.ReadPIN()
	if err != nil {
		return err
	}
	defer wipe(pin)
	mod, err := acquireModule(path)
	if err != nil {
		return err
	}
	defer mod.release()
	p := mod.p11
	slot, ti, err := findToken(p, u)
	if err != nil {
		return err
	}
	flags := uint(ckfSerialSession)
	if rw {
		flags |= ckfRWSession
	}
	sh, err := p.OpenSession(slot, flags)
	if err != nil {
		return fmt.Errorf("opening a session on token %q: %w", ti.Label, err)
	}
	defer func() { _ = p.CloseSession(sh) }()
	if pin == nil && o.pinPrompt != nil && ti.Flags&ckfLoginRequired != 0 && ti.Flags&ckfProtectedAuthPath == 0 &&
		ti.Flags&ckfUserPINLocked == 0 && (ti.Flags&ckfUserPINFinalTry == 0 || o.allowFinalTry) {
		if pin, err = o.pinPrompt(); err != nil {
			return wrapf(ErrPINRequired, err, "token %q", ti.Label)
		}
	}
	if err := loginUser(p, slot, sh, pin, o.allowFinalTry, o.logger, ti.Label); err != nil {
		return err
	}
	return fn(p, slot, sh, ti, pin)
}

// GenerateKeyPair makes a key pair on the token named by uri, with the URI's object= as CKA_LABEL of both
// halves and its id= as CKA_ID (a random 8-byte id when the URI has none). The private key is sensitive
// and not extractable. It refuses (ErrKeyExists) when a key with that label or id is already there.
// It returns the public key and the CKA_ID used.
func GenerateKeyPair(ctx context.Context, uri string, kt KeyType, opts ...Option) (crypto.PublicKey, []byte, error) {
	return generateKeyPair(ctx, uri, kt, nil, opts...)
}

// generateKeyPair is GenerateKeyPair with extra private-key attributes (tests use it for
// CKA_ALWAYS_AUTHENTICATE).
func generateKeyPair(ctx context.Context, uri string, kt KeyType, extraPriv []attr, opts ...Option) (crypto.PublicKey, []byte, error) {
	u, err := ParseURI(uri)
	if err != nil {
		return nil, nil, err
	}
	if u.Object == "" {
		return nil, nil, wrapf(ErrBadURI, nil, "the key URI needs object= (the new key's label)")
	}
	if _, err := ParseKeyType(string(kt)); err != nil {
		return nil, nil, err
	}
	id := u.ID
	if len(id) == 0 {
		id = make([]byte, 8)
		if _, err := rand.Read(id); err != nil {
			return nil, nil, err
		}
	}
	var pub crypto.PublicKey
	err = adminSession(ctx, u, buildOptions(opts), true, func(p p11, slot uint, sh sessionHandle, ti tokenInfo, _ []byte) error {
		for _, t := range [][]attr{{{ckaClass, uint(ckoPrivateKey)}, {ckaLabel, u.Object}}, {{ckaClass, uint(ckoPrivateKey)}, {ckaID, id}}} {
			hs, err := findObjects(p, sh, t, 1)
			if err != nil {
				return err
			}
			if len(hs) > 0 {
				return wrapf(ErrKeyExists, nil, "token %q already has a private key with label %q or id %X", ti.Label, u.Object, id)
			}
		}
		common := func(class uint) []attr {
			return []attr{{ckaClass, class}, {ckaToken, true}, {ckaLabel, u.Object}, {ckaID, id}}
		}
		pubT := append(common(ckoPublicKey), attr{ckaVerify, true}, attr{ckaPrivate, false})
		privT := append(common(ckoPrivateKey), attr{ckaSign, true}, attr{ckaPrivate, true}, attr{ckaSensitive, true},
			attr{ckaExtractable, false}, attr{ckaDecrypt, false}, attr{ckaUnwrap, false}, attr{ckaDerive, false})
		var m mechanism
		keyType := uint(ckkRSA)
		switch kt {
		case RSA2048, RSA3072:
			bits := uint(2048)
			if kt == RSA3072 {
				bits = 3072
			}
			m = mechanism{Type: ckmRSAPKCSKeyPairGen}
			pubT = append(pubT, attr{ckaKeyType, uint(ckkRSA)}, attr{ckaModulusBits, bits}, attr{ckaPublicExponent, []byte{1, 0, 1}}, attr{ckaEncrypt, false}, attr{ckaWrap, false})
			privT = append(privT, attr{ckaKeyType, uint(ckkRSA)})
		case ECP256, ECP384:
			oid := oidP256
			if kt == ECP384 {
				oid = oidP384
			}
			params, _ := asn1.Marshal(oid)
			m = mechanism{Type: ckmECKeyPairGen}
			keyType = ckkEC
			pubT = append(pubT, attr{ckaKeyType, uint(ckkEC)}, attr{ckaECParams, params})
			privT = append(privT, attr{ckaKeyType, uint(ckkEC)})
		}
		privT = append(privT, extraPriv...)
		ph, _, err := p.GenerateKeyPair(sh, m, pubT, privT)
		if err != nil {
			return fmt.Errorf("generating a %s key on token %q: %w", kt, ti.Label, err)
		}
		pub, err = readPublicKey(p, sh, ph, keyType)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return pub, id, nil
}

// ImportCertificate stores cert on the token beside the private key named by uri, with the key's
// CKA_ID and label, after proving with a test signature that the certificate's public key is the
// key's (ErrKeyMismatch otherwise). It refuses (ErrKeyExists) when a certificate with that CKA_ID is
// already stored.
func ImportCertificate(ctx context.Context, uri string, cert *x509.Certificate, opts ...Option) error {
	u, err := ParseURI(uri)
	if err != nil {
		return err
	}
	o := buildOptions(opts)
	return adminSession(ctx, u, o, true, func(p p11, slot uint, sh sessionHandle, ti tokenInfo, pin []byte) error {
		ko, err := findPrivateKey(p, sh, u)
		if err != nil {
			return err
		}
		if len(ko.id) == 0 {
			return wrapf(ErrKeyNotFound, nil, "key %q has no CKA_ID, so no certificate can be paired with it", ko.label)
		}
		existing, err := findCertificates(p, sh, ko.id)
		if err != nil {
			return err
		}
		if len(existing) > 0 {
			return wrapf(ErrKeyExists, nil, "token %q already stores a certificate with id %X", ti.Label, ko.id)
		}
		mechs, err := p.GetMechanismList(slot)
		if err != nil {
			return err
		}
		probe := &Key{mod: &module{p11: p}, slot: slot, keyType: ko.keyType, alwaysAuth: ko.alwaysAuth, pub: cert.PublicKey,
			label: ko.label, tokenLabel: ti.Label, pin: pin, mechs: map[uint]bool{}, log: o.logger}
		for _, m := range mechs {
			probe.mechs[m] = true
		}
		if err := probe.selfTest(sh, ko.handle); err != nil {
			return err
		}
		serial, err := asn1.Marshal(cert.SerialNumber)
		if err != nil {
			return err
		}
		_, err = p.CreateObject(sh, []attr{
			{ckaClass, uint(ckoCertificate)}, {ckaCertificateType, uint(ckcX509)}, {ckaToken, true}, {ckaPrivate, false},
			{ckaLabel, ko.label}, {ckaID, ko.id}, {ckaSubject, cert.RawSubject}, {ckaIssuer, cert.RawIssuer},
			{ckaSerialNumber, serial}, {ckaValue, cert.Raw},
		})
		if err != nil {
			return fmt.Errorf("storing the certificate on token %q: %w", ti.Label, err)
		}
		return nil
	})
}

// InitToken initialises a free token of the module (SoftHSM always offers one) with label, sets its SO
// PIN and user PIN, and returns its serial number. It is meant for SoftHSM in tests and the demo: on a
// real token it would erase everything.
func InitToken(ctx context.Context, modulePath, label string, soPIN, userPIN []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if label == "" || len(label) > 32 {
		return "", wrapf(ErrBadURI, nil, "a token label has 1 to 32 bytes")
	}
	mod, err := acquireModule(modulePath)
	if err != nil {
		return "", err
	}
	defer mod.release()
	p := mod.p11
	slots, err := p.GetSlotList(true)
	if err != nil {
		return "", err
	}
	free := -1
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err != nil {
			continue
		}
		if ti.Flags&ckfTokenInitialized != 0 && ti.Label == label {
			return "", wrapf(ErrKeyExists, nil, "a token labelled %q already exists", label)
		}
		if ti.Flags&ckfTokenInitialized == 0 && free < 0 {
			free = int(s)
		}
	}
	if free < 0 {
		return "", wrapf(ErrTokenNotFound, nil, "module %s has no free (uninitialised) token", modulePath)
	}
	slot := uint(free)
	if err := p.InitToken(slot, soPIN, label); err != nil {
		return "", fmt.Errorf("initialising token %q: %w", label, err)
	}
	// SoftHSM may move the new token to another slot: find it again by label.
	slot, ti, err := findToken(p, &URI{Token: label})
	if err != nil {
		return "", err
	}
	sh, err := p.OpenSession(slot, ckfSerialSession|ckfRWSession)
	if err != nil {
		return "", err
	}
	defer func() { _ = p.CloseSession(sh) }()
	if err := p.Login(sh, ckuSO, soPIN); err != nil {
		return "", fmt.Errorf("SO login on new token %q: %w", label, err)
	}
	if err := p.InitPIN(sh, userPIN); err != nil {
		return "", fmt.Errorf("setting the user PIN of token %q: %w", label, err)
	}
	return ti.Serial, nil
}

// TokenInfo describes a token for `token list`.
type TokenInfo struct {
	Slot            uint         `json:"slot"` // shown for diagnosis only; never select by it
	SlotDescription string       `json:"slot_description"`
	Label           string       `json:"label"`
	Manufacturer    string       `json:"manufacturer"`
	Model           string       `json:"model"`
	Serial          string       `json:"serial"`
	Flags           []string     `json:"flags"`
	Objects         []ObjectInfo `json:"objects,omitempty"`
	LoggedIn        bool         `json:"logged_in"` // objects include private keys
	// ObjectsError says why another token's objects could not be listed (busy: being initialised or
	// held by a security officer's session); the token asked for with Login fails the whole listing.
	ObjectsError string `json:"objects_error,omitempty"`
}

// ObjectInfo describes a key or certificate object.
type ObjectInfo struct {
	Class    string    `json:"class"` // private, public, cert
	Label    string    `json:"label"`
	ID       []byte    `json:"id"`
	KeyType  string    `json:"key_type,omitempty"` // rsa2048, ecp256, ...
	Subject  string    `json:"subject,omitempty"`
	NotAfter time.Time `json:"not_after,omitzero"`
}

// ListOptions selects what ListTokens reads.
type ListOptions struct {
	Objects bool // read key and certificate objects
	// Login, when set, names one token (and its pin-source) to log in to, so private keys are listed too.
	Login *URI
}

// ListTokens lists the present tokens of a module, and with Objects their key and certificate objects
// (public objects only, unless Login names the token and its PIN).
func ListTokens(ctx context.Context, modulePath string, lo ListOptions, opts ...Option) ([]TokenInfo, error) {
	o := buildOptions(opts)
	mod, err := acquireModule(modulePath)
	if err != nil {
		return nil, err
	}
	defer mod.release()
	p := mod.p11
	slots, err := p.GetSlotList(true)
	if err != nil {
		return nil, err
	}
	var out []TokenInfo
	for _, s := range slots {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ti, err := p.GetTokenInfo(s)
		if err != nil {
			continue
		}
		si, _ := p.GetSlotInfo(s)
		t := TokenInfo{Slot: s, SlotDescription: si.Description, Label: ti.Label, Manufacturer: ti.Manufacturer,
			Model: ti.Model, Serial: ti.Serial, Flags: flagNames(ti.Flags)}
		if lo.Objects && ti.Flags&ckfTokenInitialized != 0 {
			login := lo.Login != nil && (lo.Login.Serial == "" || lo.Login.Serial == ti.Serial) && (lo.Login.Token == "" || lo.Login.Token == ti.Label)
			if err := listObjects(p, s, ti, &t, login, lo.Login, o); err != nil {
				if login {
					return nil, err
				}
				t.Objects, t.ObjectsError = nil, err.Error()
			}
		}
		out = append(out, t)
	}
	return out, nil
}

func listObjects(p p11, slot uint, ti tokenInfo, t *TokenInfo, login bool, u *URI, o options) error {
	sh, err := p.OpenSession(slot, ckfSerialSession)
	if err != nil {
		return err
	}
	defer func() { _ = p.CloseSession(sh) }()
	if login {
		pin, _, err := u.ReadPIN()
		if err != nil {
			return err
		}
		if pin == nil && o.pinPrompt != nil {
			if pin, err = o.pinPrompt(); err != nil {
				return wrapf(ErrPINRequired, err, "token %q", ti.Label)
			}
		}
		err = loginUser(p, slot, sh, pin, o.allowFinalTry, o.logger, ti.Label)
		wipe(pin)
		if err != nil {
			return err
		}
		t.LoggedIn = true
	}
	for _, class := range []uint{ckoPrivateKey, ckoPublicKey, ckoCertificate} {
		hs, err := findObjects(p, sh, []attr{{ckaClass, class}}, 256)
		if err != nil {
			return err
		}
		for _, h := range hs {
			oi := ObjectInfo{Class: map[uint]string{ckoPrivateKey: "private", ckoPublicKey: "public", ckoCertificate: "cert"}[class]}
			if b, err := getAttr(p, sh, h, ckaLabel); err == nil {
				oi.Label = string(b)
			}
			if b, err := getAttr(p, sh, h, ckaID); err == nil {
				oi.ID = b
			}
			switch class {
			case ckoCertificate:
				if der, err := getAttr(p, sh, h, ckaValue); err == nil {
					if c, err := x509.ParseCertificate(der); err == nil {
						oi.Subject, oi.NotAfter = c.Subject.String(), c.NotAfter
					}
				}
			default:
				oi.KeyType = describeKeyType(p, sh, h)
			}
			t.Objects = append(t.Objects, oi)
		}
	}
	return nil
}

func describeKeyType(p p11, sh sessionHandle, h objectHandle) string {
	kt, err := getUlong(p, sh, h, ckaKeyType)
	if err != nil {
		return ""
	}
	switch kt {
	case ckkRSA:
		if n, err := getAttr(p, sh, h, ckaModulus); err == nil {
			return fmt.Sprintf("rsa%d", new(big.Int).SetBytes(n).BitLen())
		}
		return "rsa"
	case ckkEC:
		if params, err := getAttr(p, sh, h, ckaECParams); err == nil {
			if c, err := curveFromParams(params); err == nil {
				return map[string]string{"P-256": "ecp256", "P-384": "ecp384"}[c.Params().Name]
			}
		}
		return "ec"
	}
	return fmt.Sprintf("0x%x", kt)
}

func flagNames(f uint) []string {
	names := []struct {
		bit  uint
		name string
	}{
		{ckfTokenInitialized, "initialized"}, {ckfLoginRequired, "login-required"}, {ckfUserPINInitialized, "user-pin-initialized"},
		{ckfProtectedAuthPath, "protected-auth-path"}, {ckfWriteProtected, "write-protected"}, {ckfUserPINCountLow, "user-pin-count-low"},
		{ckfUserPINFinalTry, "user-pin-final-try"}, {ckfUserPINLocked, "user-pin-locked"}, {ckfUserPINToBeChanged, "user-pin-to-be-changed"},
		{ckfSOPINLocked, "so-pin-locked"},
	}
	var out []string
	for _, n := range names {
		if f&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return out
}
