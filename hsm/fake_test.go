package hsm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"sync"
	"testing"
	"time"
)

// fakeModule is a fault-injecting, in-memory PKCS#11 module: one token holding one key pair and its
// certificate, with switches for what SoftHSM cannot do (removal and re-insertion, PIN flags, slow
// signatures, dead sessions, lost logins).
type fakeModule struct {
	mu        sync.Mutex
	present   bool
	slot      uint
	flags     uint
	pin       string
	loggedIn  bool
	sessions  map[sessionHandle]*fakeSession
	next      uint
	objects   map[objectHandle]*fakeObject
	signDelay time.Duration
	slotDelay time.Duration
	nullSign  bool          // Sign returns zeros at once: measures the pool path alone
	signGate  chan struct{} // when set, Sign announces itself on signIn and waits for the gate
	signIn    chan struct{}
	onSign    func()           // called by every C_Sign that signs, outside the lock
	failNext  map[string][]CKR // per-method queue of errors to return once each
	calls     map[string]int
	maxOpen   int
	open      int
}

type fakeSession struct {
	slot      uint
	signKey   objectHandle
	signMech  mechanism
	active    bool
	findMatch []objectHandle
	ctxAuth   bool // a CKU_CONTEXT_SPECIFIC login happened since SignInit
}

type fakeObject struct {
	attrs map[uint][]byte
	key   crypto.Signer
}

func ulongBytes(v uint) []byte {
	b := make([]byte, 8)
	for i := 0; i < 8; i++ {
		b[i] = byte(v >> (8 * i))
	}
	return b
}

func attrBytes(a attr) []byte {
	switch v := a.Value.(type) {
	case []byte:
		return v
	case string:
		return []byte(v)
	case bool:
		if v {
			return []byte{1}
		}
		return []byte{0}
	case uint:
		return ulongBytes(v)
	case int:
		return ulongBytes(uint(v))
	}
	return nil
}

// fakeKeys generates the fakes' RSA and EC keys once per test binary: RSA key generation is the
// slowest part of these tests and the key's value does not matter to them.
var fakeKeys = func() func(testing.TB, bool) crypto.Signer {
	var (
		once sync.Once
		rk   *rsa.PrivateKey
		ek   *ecdsa.PrivateKey
		err  error
	)
	return func(t testing.TB, ec bool) crypto.Signer {
		once.Do(func() {
			if rk, err = rsa.GenerateKey(rand.Reader, 2048); err == nil {
				ek, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if ec {
			return ek
		}
		return rk
	}
}()

// newFake makes a token "fake" (serial 0001) with PIN 1234 holding key "k" (id 01) and, when withCert,
// its self-signed certificate. ec picks P-256 over RSA-2048.
func newFake(t testing.TB, ec, withCert bool) *fakeModule {
	t.Helper()
	signer := fakeKeys(t, ec)
	f := &fakeModule{
		present: true, slot: 7, pin: "1234",
		flags:    ckfLoginRequired | ckfUserPINInitialized | ckfTokenInitialized,
		sessions: map[sessionHandle]*fakeSession{}, objects: map[objectHandle]*fakeObject{},
		failNext: map[string][]CKR{}, calls: map[string]int{}, next: 100,
	}
	priv := map[uint][]byte{ckaClass: ulongBytes(ckoPrivateKey), ckaLabel: []byte("k"), ckaID: {1}}
	if ec {
		priv[ckaKeyType] = ulongBytes(ckkEC)
	} else {
		priv[ckaKeyType] = ulongBytes(ckkRSA)
		pk := signer.Public().(*rsa.PublicKey)
		priv[ckaModulus] = pk.N.Bytes()
		priv[ckaPublicExponent] = big.NewInt(int64(pk.E)).Bytes()
	}
	f.objects[1] = &fakeObject{attrs: priv, key: signer}
	if ec {
		pk := signer.Public().(*ecdsa.PublicKey)
		params, _ := asn1.Marshal(oidP256)
		raw, _ := pk.Bytes()
		pt, _ := asn1.Marshal(raw)
		f.objects[2] = &fakeObject{attrs: map[uint][]byte{
			ckaClass: ulongBytes(ckoPublicKey), ckaLabel: []byte("k"), ckaID: {1}, ckaKeyType: ulongBytes(ckkEC),
			ckaECParams: params, ckaECPoint: pt,
		}}
	}
	if withCert {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fake"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, signer.Public(), signer)
		if err != nil {
			t.Fatal(err)
		}
		f.objects[3] = &fakeObject{attrs: map[uint][]byte{
			ckaClass: ulongBytes(ckoCertificate), ckaCertificateType: ulongBytes(ckcX509), ckaID: {1},
			ckaLabel: []byte("k"), ckaValue: der,
		}}
	}
	return f
}

// install registers the fake under a unique module path and returns a URI for its key.
func (f *fakeModule) install(t testing.TB) string {
	t.Helper()
	path := "fake:" + t.Name()
	modules.mu.Lock()
	modules.m[path] = &module{path: path, p11: f, keep: true}
	modules.mu.Unlock()
	t.Cleanup(func() {
		modules.mu.Lock()
		delete(modules.m, path)
		modules.mu.Unlock()
	})
	return "pkcs11:token=fake;object=k;type=private?module-path=" + path + "&pin-value=1234"
}

func (f *fakeModule) fail(method string, codes ...CKR) {
	f.mu.Lock()
	f.failNext[method] = append(f.failNext[method], codes...)
	f.mu.Unlock()
}

func (f *fakeModule) count(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// remove pulls the token out: every session dies, the login is gone.
func (f *fakeModule) remove() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.present = false
	f.loggedIn = false
	f.sessions = map[sessionHandle]*fakeSession{}
	f.open = 0
}

// reinsert puts it back in another slot, with new object handles.
func (f *fakeModule) reinsert() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.present = true
	f.slot++
	objs := map[objectHandle]*fakeObject{}
	for h, o := range f.objects {
		objs[h+1000] = o
	}
	f.objects = objs
}

// dropLogin makes the token forget the login (as a proxy restart or a C_Logout elsewhere does).
func (f *fakeModule) dropLogin() {
	f.mu.Lock()
	f.loggedIn = false
	f.mu.Unlock()
}

func (f *fakeModule) setFlags(set uint) {
	f.mu.Lock()
	f.flags |= set
	f.mu.Unlock()
}

// enter records a call and returns an injected failure, if any.
func (f *fakeModule) enter(method string) error {
	f.calls[method]++
	if q := f.failNext[method]; len(q) > 0 {
		f.failNext[method] = q[1:]
		return q[0]
	}
	return nil
}

func (f *fakeModule) session(sh sessionHandle) (*fakeSession, error) {
	if !f.present {
		return nil, ckrDeviceRemoved
	}
	s, ok := f.sessions[sh]
	if !ok {
		return nil, ckrSessionHandleInvalid
	}
	return s, nil
}

func (f *fakeModule) Initialize() error { return nil }
func (f *fakeModule) Finalize() error   { return nil }
func (f *fakeModule) Destroy()          {}

func (f *fakeModule) GetSlotList(present bool) ([]uint, error) {
	f.mu.Lock()
	if d := f.slotDelay; d > 0 {
		f.mu.Unlock()
		time.Sleep(d)
		f.mu.Lock()
	}
	defer f.mu.Unlock()
	if err := f.enter("GetSlotList"); err != nil {
		return nil, err
	}
	if !f.present {
		return nil, nil
	}
	return []uint{f.slot}, nil
}

func (f *fakeModule) GetSlotInfo(slot uint) (slotInfo, error) {
	return slotInfo{Description: "fake slot", Flags: ckfTokenPresent}, nil
}

func (f *fakeModule) GetTokenInfo(slot uint) (tokenInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("GetTokenInfo"); err != nil {
		return tokenInfo{}, err
	}
	if !f.present || slot != f.slot {
		return tokenInfo{}, ckrTokenNotPresent
	}
	return tokenInfo{Label: "fake", Serial: "0001", Flags: f.flags, MaxSessionCount: uint(f.maxOpen)}, nil
}

func (f *fakeModule) GetMechanismList(slot uint) ([]uint, error) {
	return []uint{ckmRSAPKCS, ckmRSAPKCSPSS, ckmECDSA}, nil
}

func (f *fakeModule) InitToken(slot uint, soPIN []byte, label string) error { return ckrFunctionFailed }

func (f *fakeModule) OpenSession(slot, flags uint) (sessionHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("OpenSession"); err != nil {
		return 0, err
	}
	if !f.present || slot != f.slot {
		return 0, ckrSlotIDInvalid
	}
	if f.maxOpen > 0 && f.open >= f.maxOpen {
		return 0, ckrSessionCount
	}
	f.next++
	f.open++
	f.sessions[sessionHandle(f.next)] = &fakeSession{slot: slot}
	return sessionHandle(f.next), nil
}

func (f *fakeModule) CloseSession(sh sessionHandle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["CloseSession"]++
	if _, ok := f.sessions[sh]; !ok {
		return ckrSessionHandleInvalid
	}
	delete(f.sessions, sh)
	f.open--
	if len(f.sessions) == 0 {
		f.loggedIn = false // closing the last session ends the login (PKCS#11 §5.6)
	}
	return nil
}

func (f *fakeModule) Login(sh sessionHandle, userType uint, pin []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("Login"); err != nil {
		return err
	}
	if _, err := f.session(sh); err != nil {
		return err
	}
	if f.flags&ckfUserPINLocked != 0 {
		return ckrPINLocked
	}
	if string(pin) != f.pin {
		return ckrPINIncorrect
	}
	if userType == ckuContextSpecific {
		f.sessions[sh].ctxAuth = true
		return nil
	}
	if userType == ckuUser && f.loggedIn {
		return ckrUserAlreadyLoggedIn
	}
	f.loggedIn = true
	return nil
}

func (f *fakeModule) InitPIN(sh sessionHandle, pin []byte) error { return ckrFunctionFailed }

func (f *fakeModule) FindObjectsInit(sh sessionHandle, template []attr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.session(sh)
	if err != nil {
		return err
	}
	s.findMatch = nil
	for h, o := range f.objects {
		if o.attrs[ckaClass] != nil && string(o.attrs[ckaClass]) == string(ulongBytes(ckoPrivateKey)) && !f.loggedIn {
			continue // private objects are invisible before login
		}
		ok := true
		for _, a := range template {
			if string(o.attrs[a.Type]) != string(attrBytes(a)) {
				ok = false
			}
		}
		if ok {
			s.findMatch = append(s.findMatch, h)
		}
	}
	return nil
}

func (f *fakeModule) FindObjects(sh sessionHandle, max int) ([]objectHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.session(sh)
	if err != nil {
		return nil, err
	}
	n := min(max, len(s.findMatch))
	out := s.findMatch[:n]
	s.findMatch = s.findMatch[n:]
	return out, nil
}

func (f *fakeModule) FindObjectsFinal(sh sessionHandle) error { return nil }

func (f *fakeModule) GetAttributeValue(sh sessionHandle, o objectHandle, types []uint) ([]attr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.session(sh); err != nil {
		return nil, err
	}
	obj, ok := f.objects[o]
	if !ok {
		return nil, ckrObjectHandleInvalid
	}
	out := make([]attr, len(types))
	for i, t := range types {
		v, ok := obj.attrs[t]
		if !ok {
			return nil, ckrAttributeTypeInvalid
		}
		out[i] = attr{Type: t, Value: v}
	}
	return out, nil
}

func (f *fakeModule) CreateObject(sh sessionHandle, template []attr) (objectHandle, error) {
	return 0, ckrFunctionFailed
}
func (f *fakeModule) DestroyObject(sh sessionHandle, o objectHandle) error { return ckrFunctionFailed }
func (f *fakeModule) GenerateKeyPair(sh sessionHandle, m mechanism, pub, priv []attr) (objectHandle, objectHandle, error) {
	return 0, 0, ckrFunctionFailed
}

func (f *fakeModule) SignInit(sh sessionHandle, m mechanism, key objectHandle) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter("SignInit"); err != nil {
		return err
	}
	s, err := f.session(sh)
	if err != nil {
		return err
	}
	if s.active {
		return ckrOperationActive
	}
	if !f.loggedIn {
		return ckrUserNotLoggedIn
	}
	if _, ok := f.objects[key]; !ok {
		return ckrKeyHandleInvalid
	}
	s.active, s.signKey, s.signMech, s.ctxAuth = true, key, m, false
	return nil
}

func (f *fakeModule) Sign(sh sessionHandle, data []byte) ([]byte, error) {
	f.mu.Lock()
	delay, gate, in, hook := f.signDelay, f.signGate, f.signIn, f.onSign
	if err := f.enter("Sign"); err != nil {
		if s, ok := f.sessions[sh]; ok {
			s.active = false
		}
		f.mu.Unlock()
		return nil, err
	}
	s, err := f.session(sh)
	if err != nil {
		f.mu.Unlock()
		return nil, err
	}
	if !s.active {
		f.mu.Unlock()
		return nil, ckrOperationNotInitialized
	}
	obj := f.objects[s.signKey]
	if obj.attrs[ckaAlwaysAuthenticate] != nil && obj.attrs[ckaAlwaysAuthenticate][0] == 1 && !s.ctxAuth {
		f.mu.Unlock()
		return nil, ckrUserNotLoggedIn // the operation stays active, as on a real token
	}
	s.active = false
	m := s.signMech
	if f.nullSign {
		f.mu.Unlock()
		return make([]byte, 64), nil
	}
	f.mu.Unlock()
	if hook != nil {
		hook()
	}
	time.Sleep(delay) // a slow token
	if gate != nil {
		in <- struct{}{}
		<-gate
	}
	switch key := obj.key.(type) {
	case *rsa.PrivateKey:
		if m.Type == ckmRSAPKCSPSS {
			h := map[uint]crypto.Hash{ckmSHA256: crypto.SHA256, ckmSHA384: crypto.SHA384, ckmSHA512: crypto.SHA512}[m.PSSHash]
			return rsa.SignPSS(rand.Reader, key, h, data, &rsa.PSSOptions{SaltLength: int(m.PSSSalt)})
		}
		return rsa.SignPKCS1v15(rand.Reader, key, 0, data) // data is DigestInfo || digest
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, key, data)
		if err != nil {
			return nil, err
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return out, nil
	}
	return nil, ckrKeyTypeInconsistent
}
