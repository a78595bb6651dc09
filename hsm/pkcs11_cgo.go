//go:build cgo

package hsm

import (
	"errors"
	"fmt"
	"os"

	"github.com/miekg/pkcs11"
)

func init() { openModule = openNative }

// openNative loads a module with miekg/pkcs11. pkcs11.New returns nil (not an error) for a missing or
// broken library, and calling a method on that nil panics (miekg #54), hence the checks.
func openNative(path string) (p11, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, wrapf(ErrModuleNotFound, err, "module %s", path)
	}
	c := pkcs11.New(path)
	if c == nil {
		return nil, wrapf(ErrModuleNotFound, nil, "module %s is not a loadable PKCS#11 library", path)
	}
	n := &native{c: c}
	if err := n.Initialize(); err != nil {
		c.Destroy()
		return nil, wrapf(ErrModuleNotFound, err, "module %s: C_Initialize failed", path)
	}
	return n, nil
}

// native adapts *pkcs11.Ctx to p11, converting miekg's error values to CKR.
type native struct{ c *pkcs11.Ctx }

func ckErr(err error) error {
	var e pkcs11.Error
	if errors.As(err, &e) {
		return CKR(e)
	}
	if err != nil {
		return fmt.Errorf("pkcs11: %w", err)
	}
	return nil
}

func toAttrs(template []attr) []*pkcs11.Attribute {
	out := make([]*pkcs11.Attribute, len(template))
	for i, a := range template {
		out[i] = pkcs11.NewAttribute(a.Type, a.Value)
	}
	return out
}

func toMech(m mechanism) []*pkcs11.Mechanism {
	if m.Type == ckmRSAPKCSPSS {
		return []*pkcs11.Mechanism{pkcs11.NewMechanism(m.Type, pkcs11.NewPSSParams(m.PSSHash, m.PSSMGF, m.PSSSalt))}
	}
	return []*pkcs11.Mechanism{pkcs11.NewMechanism(m.Type, nil)}
}

func (n *native) Initialize() error {
	err := ckErr(n.c.Initialize())
	if c, ok := ckrOf(err); ok && c == ckrCryptokiAlreadyInitalized {
		return nil
	}
	return err
}
func (n *native) Finalize() error { return ckErr(n.c.Finalize()) }
func (n *native) Destroy()        { n.c.Destroy() }
func (n *native) GetSlotList(present bool) ([]uint, error) {
	s, err := n.c.GetSlotList(present)
	return s, ckErr(err)
}

func (n *native) GetSlotInfo(slot uint) (slotInfo, error) {
	i, err := n.c.GetSlotInfo(slot)
	return slotInfo{Description: i.SlotDescription, Manufacturer: i.ManufacturerID, Flags: i.Flags}, ckErr(err)
}

func (n *native) GetTokenInfo(slot uint) (tokenInfo, error) {
	i, err := n.c.GetTokenInfo(slot)
	return tokenInfo{
		Label: i.Label, Manufacturer: i.ManufacturerID, Model: i.Model, Serial: i.SerialNumber,
		Flags: i.Flags, MaxSessionCount: i.MaxSessionCount, SessionCount: i.SessionCount,
	}, ckErr(err)
}

func (n *native) GetMechanismList(slot uint) ([]uint, error) {
	ms, err := n.c.GetMechanismList(slot)
	out := make([]uint, len(ms))
	for i, m := range ms {
		out[i] = m.Mechanism
	}
	return out, ckErr(err)
}

func (n *native) InitToken(slot uint, soPIN []byte, label string) error {
	return ckErr(n.c.InitToken(slot, string(soPIN), label))
}

func (n *native) OpenSession(slot, flags uint) (sessionHandle, error) {
	s, err := n.c.OpenSession(slot, flags)
	return sessionHandle(s), ckErr(err)
}

func (n *native) CloseSession(sh sessionHandle) error {
	return ckErr(n.c.CloseSession(pkcs11.SessionHandle(sh)))
}

func (n *native) Login(sh sessionHandle, userType uint, pin []byte) error {
	return ckErr(n.c.Login(pkcs11.SessionHandle(sh), userType, string(pin)))
}

func (n *native) InitPIN(sh sessionHandle, pin []byte) error {
	return ckErr(n.c.InitPIN(pkcs11.SessionHandle(sh), string(pin)))
}

func (n *native) FindObjectsInit(sh sessionHandle, template []attr) error {
	return ckErr(n.c.FindObjectsInit(pkcs11.SessionHandle(sh), toAttrs(template)))
}

func (n *native) FindObjects(sh sessionHandle, max int) ([]objectHandle, error) {
	hs, _, err := n.c.FindObjects(pkcs11.SessionHandle(sh), max)
	out := make([]objectHandle, len(hs))
	for i, h := range hs {
		out[i] = objectHandle(h)
	}
	return out, ckErr(err)
}

func (n *native) FindObjectsFinal(sh sessionHandle) error {
	return ckErr(n.c.FindObjectsFinal(pkcs11.SessionHandle(sh)))
}

func (n *native) GetAttributeValue(sh sessionHandle, o objectHandle, types []uint) ([]attr, error) {
	req := make([]*pkcs11.Attribute, len(types))
	for i, t := range types {
		req[i] = pkcs11.NewAttribute(t, nil)
	}
	got, err := n.c.GetAttributeValue(pkcs11.SessionHandle(sh), pkcs11.ObjectHandle(o), req)
	if err != nil {
		return nil, ckErr(err)
	}
	out := make([]attr, len(got))
	for i, a := range got {
		out[i] = attr{Type: a.Type, Value: a.Value}
	}
	return out, nil
}

func (n *native) CreateObject(sh sessionHandle, template []attr) (objectHandle, error) {
	o, err := n.c.CreateObject(pkcs11.SessionHandle(sh), toAttrs(template))
	return objectHandle(o), ckErr(err)
}

func (n *native) DestroyObject(sh sessionHandle, o objectHandle) error {
	return ckErr(n.c.DestroyObject(pkcs11.SessionHandle(sh), pkcs11.ObjectHandle(o)))
}

func (n *native) GenerateKeyPair(sh sessionHandle, m mechanism, pub, priv []attr) (objectHandle, objectHandle, error) {
	p, k, err := n.c.GenerateKeyPair(pkcs11.SessionHandle(sh), toMech(m), toAttrs(pub), toAttrs(priv))
	return objectHandle(p), objectHandle(k), ckErr(err)
}

func (n *native) SignInit(sh sessionHandle, m mechanism, key objectHandle) error {
	return ckErr(n.c.SignInit(pkcs11.SessionHandle(sh), toMech(m), pkcs11.ObjectHandle(key)))
}

func (n *native) Sign(sh sessionHandle, data []byte) ([]byte, error) {
	s, err := n.c.Sign(pkcs11.SessionHandle(sh), data)
	return s, ckErr(err)
}
