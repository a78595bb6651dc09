package hsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"log/slog"
	"math/big"
	"slices"
	"strings"
)

// resolveModule picks the module path for u and checks it against the allowlist.
func resolveModule(u *URI, o *options) (string, error) {
	path, err := u.Module()
	if err != nil {
		return "", err
	}
	if len(o.allowedModules) > 0 && !slices.Contains(o.allowedModules, path) {
		return "", wrapf(ErrModuleNotFound, nil, "module %s is not on the configured allowlist", path)
	}
	return path, nil
}

// findToken returns the slot holding the token the URI names. Slots are chosen by serial (preferred) or
// label, never by index: slot ids change when a token is re-inserted.
func findToken(p p11, u *URI) (uint, tokenInfo, error) {
	slots, err := p.GetSlotList(true)
	if err != nil {
		return 0, tokenInfo{}, wrapf(ErrTokenNotFound, err, "listing slots")
	}
	var (
		found   []uint
		infos   []tokenInfo
		present []string
	)
	for _, s := range slots {
		ti, err := p.GetTokenInfo(s)
		if err != nil {
			continue // a slot being emptied right now
		}
		if ti.Flags&ckfTokenInitialized != 0 {
			present = append(present, fmt.Sprintf("%q (serial %s)", ti.Label, ti.Serial))
		}
		if u.Serial != "" && ti.Serial != u.Serial ||
			u.Token != "" && ti.Label != u.Token ||
			u.Manufacturer != "" && ti.Manufacturer != u.Manufacturer ||
			u.Model != "" && ti.Model != u.Model {
			continue
		}
		found = append(found, s)
		infos = append(infos, ti)
	}
	want := tokenName(u)
	switch {
	case len(found) == 1:
		return found[0], infos[0], nil
	case len(found) == 0 && len(present) == 0:
		return 0, tokenInfo{}, wrapf(ErrTokenNotFound, nil, "token %s: no token is present", want)
	case len(found) == 0:
		return 0, tokenInfo{}, wrapf(ErrTokenNotFound, nil, "token %s: present are %s", want, strings.Join(present, ", "))
	default:
		return 0, tokenInfo{}, wrapf(ErrTokenNotFound, nil, "token %s: %d tokens match; add serial= to the URI", want, len(found))
	}
}

func tokenName(u *URI) string {
	switch {
	case u.Serial != "" && u.Token != "":
		return fmt.Sprintf("%q (serial %s)", u.Token, u.Serial)
	case u.Serial != "":
		return "with serial " + u.Serial
	case u.Token != "":
		return fmt.Sprintf("%q", u.Token)
	}
	return "(any)"
}

// loginUser logs the user in on sh after reading the token's PIN flags: a locked PIN is refused, a
// final try is refused unless allowed, a low counter is logged. CKR_USER_ALREADY_LOGGED_IN (another
// session of this process holds the login) counts as success. A wrong PIN is returned, never retried.
func loginUser(p p11, slot uint, sh sessionHandle, pin []byte, allowFinal bool, log *slog.Logger, label string) error {
	ti, err := p.GetTokenInfo(slot)
	if err != nil {
		return err
	}
	if ti.Flags&ckfUserPINLocked != 0 {
		return wrapf(ErrPINLocked, nil, "token %q", label)
	}
	if ti.Flags&ckfUserPINFinalTry != 0 && !allowFinal {
		return wrapf(ErrPINFinalTry, nil, "token %q", label)
	}
	if ti.Flags&ckfUserPINCountLow != 0 {
		log.Warn("token reports a wrong PIN was entered recently; tries are running out", "token", label)
	}
	if ti.Flags&ckfLoginRequired == 0 {
		return nil
	}
	if pin == nil && ti.Flags&ckfProtectedAuthPath == 0 {
		return wrapf(ErrPINRequired, nil, "token %q", label)
	}
	err = p.Login(sh, ckuUser, pin)
	if c, ok := ckrOf(err); ok && c == ckrUserAlreadyLoggedIn {
		return nil
	}
	if classify(err) == classPIN {
		return pinError(err, label)
	}
	return err
}

// findObjects returns up to max handles matching template.
func findObjects(p p11, sh sessionHandle, template []attr, max int) ([]objectHandle, error) {
	if err := p.FindObjectsInit(sh, template); err != nil {
		return nil, err
	}
	hs, err := p.FindObjects(sh, max)
	if ferr := p.FindObjectsFinal(sh); err == nil && ferr != nil {
		err = ferr
	}
	return hs, err
}

// getAttr reads one attribute. Attributes are read one at a time: a sensitive or unknown attribute in a
// multi-attribute request makes the module drop the others too (miekg #174).
func getAttr(p p11, sh sessionHandle, o objectHandle, t uint) ([]byte, error) {
	as, err := p.GetAttributeValue(sh, o, []uint{t})
	if err != nil {
		return nil, err
	}
	if len(as) != 1 {
		return nil, fmt.Errorf("pkcs11: attribute 0x%x: got %d values", t, len(as))
	}
	return as[0].bytes(), nil
}

func getUlong(p p11, sh sessionHandle, o objectHandle, t uint) (uint, error) {
	b, err := getAttr(p, sh, o, t)
	if err != nil {
		return 0, err
	}
	v, ok := attr{Value: b}.ulong()
	if !ok {
		return 0, fmt.Errorf("pkcs11: attribute 0x%x is not a CK_ULONG", t)
	}
	return v, nil
}

// keyObject is what is known about a private key on the token.
type keyObject struct {
	handle     objectHandle
	label      string
	id         []byte
	keyType    uint
	alwaysAuth bool
}

// findPrivateKey finds exactly one private key by the URI's object label and/or id.
func findPrivateKey(p p11, sh sessionHandle, u *URI) (keyObject, error) {
	if u.Type != "" && u.Type != "private" {
		return keyObject{}, wrapf(ErrBadURI, nil, "a signing key URI has type=private (or no type), not type=%s", u.Type)
	}
	if u.Object == "" && len(u.ID) == 0 {
		return keyObject{}, wrapf(ErrBadURI, nil, "the key URI needs object= (key label) and/or id=")
	}
	tmpl := []attr{{ckaClass, uint(ckoPrivateKey)}}
	if u.Object != "" {
		tmpl = append(tmpl, attr{ckaLabel, u.Object})
	}
	if len(u.ID) > 0 {
		tmpl = append(tmpl, attr{ckaID, u.ID})
	}
	hs, err := findObjects(p, sh, tmpl, 2)
	if err != nil {
		return keyObject{}, err
	}
	name := objectName(u)
	switch len(hs) {
	case 0:
		return keyObject{}, wrapf(ErrKeyNotFound, nil, "key %s", name)
	case 1:
	default:
		return keyObject{}, wrapf(ErrKeyNotFound, nil, "key %s: more than one private key matches; add id= to the URI", name)
	}
	k := keyObject{handle: hs[0]}
	if k.id, err = getAttr(p, sh, k.handle, ckaID); err != nil {
		return keyObject{}, err
	}
	if lb, err := getAttr(p, sh, k.handle, ckaLabel); err == nil {
		k.label = string(lb)
	}
	if k.keyType, err = getUlong(p, sh, k.handle, ckaKeyType); err != nil {
		return keyObject{}, err
	}
	if b, err := getAttr(p, sh, k.handle, ckaAlwaysAuthenticate); err == nil {
		k.alwaysAuth = attr{Value: b}.boolean()
	}
	return k, nil
}

func objectName(u *URI) string {
	var parts []string
	if u.Object != "" {
		parts = append(parts, fmt.Sprintf("label %q", u.Object))
	}
	if len(u.ID) > 0 {
		parts = append(parts, fmt.Sprintf("id %X", u.ID))
	}
	return strings.Join(parts, ", ")
}

// findCertificates returns the X.509 certificates stored with CKA_ID id.
func findCertificates(p p11, sh sessionHandle, id []byte) ([]*x509.Certificate, error) {
	if len(id) == 0 {
		return nil, nil
	}
	hs, err := findObjects(p, sh, []attr{{ckaClass, uint(ckoCertificate)}, {ckaCertificateType, uint(ckcX509)}, {ckaID, id}}, 16)
	if err != nil {
		return nil, err
	}
	var certs []*x509.Certificate
	for _, h := range hs {
		der, err := getAttr(p, sh, h, ckaValue)
		if err != nil {
			return nil, err
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			continue // a certificate object we cannot parse is not ours to use
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// publicKeyFromToken rebuilds the public key of k from the public key object with the same CKA_ID, or
// (RSA) from the private key's own public attributes.
func publicKeyFromToken(p p11, sh sessionHandle, k keyObject) (crypto.PublicKey, error) {
	if len(k.id) > 0 {
		hs, err := findObjects(p, sh, []attr{{ckaClass, uint(ckoPublicKey)}, {ckaID, k.id}}, 2)
		if err != nil {
			return nil, err
		}
		if len(hs) == 1 {
			if pub, err := readPublicKey(p, sh, hs[0], k.keyType); err == nil {
				return pub, nil
			}
		}
	}
	if k.keyType == ckkRSA {
		return readPublicKey(p, sh, k.handle, ckkRSA)
	}
	return nil, wrapf(ErrKeyNotFound, nil, "key %q: no certificate and no public key object with its CKA_ID", k.label)
}

func readPublicKey(p p11, sh sessionHandle, o objectHandle, keyType uint) (crypto.PublicKey, error) {
	switch keyType {
	case ckkRSA:
		n, err := getAttr(p, sh, o, ckaModulus)
		if err != nil {
			return nil, err
		}
		e, err := getAttr(p, sh, o, ckaPublicExponent)
		if err != nil {
			return nil, err
		}
		eb := new(big.Int).SetBytes(e)
		if len(n) == 0 || !eb.IsInt64() || eb.Int64() > 1<<31-1 {
			return nil, fmt.Errorf("pkcs11: bad RSA public key attributes")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(eb.Int64())}, nil
	case ckkEC:
		params, err := getAttr(p, sh, o, ckaECParams)
		if err != nil {
			return nil, err
		}
		curve, err := curveFromParams(params)
		if err != nil {
			return nil, err
		}
		pt, err := getAttr(p, sh, o, ckaECPoint)
		if err != nil {
			return nil, err
		}
		// CKA_EC_POINT is a DER OCTET STRING around the uncompressed point (some modules omit the wrapper).
		var raw []byte
		if rest, err := asn1.Unmarshal(pt, &raw); err != nil || len(rest) != 0 {
			raw = pt
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, raw)
		if err != nil {
			return nil, fmt.Errorf("pkcs11: bad EC point: %w", err)
		}
		return pub, nil
	}
	return nil, wrapf(ErrUnsupported, nil, "key type 0x%x", keyType)
}

var (
	oidP256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384 = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
)

func curveFromParams(der []byte) (elliptic.Curve, error) {
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(der, &oid); err != nil {
		return nil, wrapf(ErrUnsupported, err, "EC parameters are not a named curve")
	}
	switch {
	case oid.Equal(oidP256):
		return elliptic.P256(), nil
	case oid.Equal(oidP384):
		return elliptic.P384(), nil
	}
	return nil, wrapf(ErrUnsupported, nil, "EC curve %s (only P-256 and P-384)", oid)
}

func samePublicKey(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(crypto.PublicKey) bool }
	ea, ok := a.(equaler)
	return ok && ea.Equal(b)
}
