package hsm

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"sync"
	"time"
)

// PKCS#11 constants this package uses (values from the PKCS#11 v2.40 header). They are spelled here,
// not taken from miekg/pkcs11, so that everything except the cgo adapter builds without cgo.
const (
	ckuSO              = 0
	ckuUser            = 1
	ckuContextSpecific = 2

	ckfRWSession     = 0x2
	ckfSerialSession = 0x4

	ckfTokenPresent = 0x1 // slot flag

	// token flags
	ckfLoginRequired        = 0x00000004
	ckfUserPINInitialized   = 0x00000008
	ckfTokenInitialized     = 0x00000400
	ckfUserPINCountLow      = 0x00010000
	ckfUserPINFinalTry      = 0x00020000
	ckfUserPINLocked        = 0x00040000
	ckfUserPINToBeChanged   = 0x00080000
	ckfProtectedAuthPath    = 0x00000100
	ckfWriteProtected       = 0x00000002
	ckfSOPINLocked          = 0x00400000
	ckfUnavailableInfoValue = ^uint(0)

	ckoCertificate = 1
	ckoPublicKey   = 2
	ckoPrivateKey  = 3

	ckkRSA = 0
	ckkEC  = 3

	ckcX509 = 0

	ckaClass               = 0x000
	ckaToken               = 0x001
	ckaPrivate             = 0x002
	ckaLabel               = 0x003
	ckaValue               = 0x011
	ckaCertificateType     = 0x080
	ckaIssuer              = 0x081
	ckaSerialNumber        = 0x082
	ckaKeyType             = 0x100
	ckaSubject             = 0x101
	ckaID                  = 0x102
	ckaSensitive           = 0x103
	ckaDecrypt             = 0x105
	ckaSign                = 0x108
	ckaVerify              = 0x10A
	ckaModulus             = 0x120
	ckaModulusBits         = 0x121
	ckaPublicExponent      = 0x122
	ckaExtractable         = 0x162
	ckaECParams            = 0x180
	ckaECPoint             = 0x181
	ckaAlwaysAuthenticate  = 0x202
	ckaEncrypt             = 0x104
	ckaUnwrap              = 0x107
	ckaWrap                = 0x106
	ckaDerive              = 0x10C
	ckaPublicKeyInfo       = 0x129
	ckmRSAPKCSKeyPairGen   = 0x0000
	ckmRSAPKCS             = 0x0001
	ckmRSAPKCSPSS          = 0x000D
	ckmECKeyPairGen        = 0x1040
	ckmECDSA               = 0x1041
	ckmSHA256              = 0x0250
	ckmSHA384              = 0x0260
	ckmSHA512              = 0x0270
	ckgMGF1SHA256          = 0x2
	ckgMGF1SHA384          = 0x3
	ckgMGF1SHA512          = 0x4
	ckrUnavailableInfoSize = 0
)

type (
	sessionHandle uint
	objectHandle  uint
)

// attr is one PKCS#11 attribute. In a template Value is nil, bool, uint, string or []byte; in a result
// it is []byte.
type attr struct {
	Type  uint
	Value any
}

func (a attr) bytes() []byte {
	switch v := a.Value.(type) {
	case []byte:
		return v
	case string:
		return []byte(v)
	}
	return nil
}

// ulong decodes a CK_ULONG attribute value (native byte order, little-endian on every platform we run).
func (a attr) ulong() (uint, bool) {
	b := a.bytes()
	switch len(b) {
	case 8:
		return uint(binary.LittleEndian.Uint64(b)), true
	case 4:
		return uint(binary.LittleEndian.Uint32(b)), true
	}
	return 0, false
}

func (a attr) boolean() bool {
	b := a.bytes()
	return len(b) > 0 && b[0] != 0
}

// mechanism is a PKCS#11 mechanism. For CKM_RSA_PKCS_PSS the adapter builds CK_RSA_PKCS_PSS_PARAMS
// from the three PSS fields.
type mechanism struct {
	Type                     uint
	PSSHash, PSSMGF, PSSSalt uint
}

type slotInfo struct {
	Description  string
	Manufacturer string
	Flags        uint
}

type tokenInfo struct {
	Label           string
	Manufacturer    string
	Model           string
	Serial          string
	Flags           uint
	MaxSessionCount uint
	SessionCount    uint
}

// p11 is the part of the PKCS#11 API this package uses: the ~20 calls of miekg/pkcs11 it needs, in
// this package's own types so a fault-injecting fake can stand in for a module in tests, and so
// nothing above the adapter needs cgo.
type p11 interface {
	Initialize() error
	Finalize() error
	Destroy()
	GetSlotList(tokenPresent bool) ([]uint, error)
	GetSlotInfo(slot uint) (slotInfo, error)
	GetTokenInfo(slot uint) (tokenInfo, error)
	GetMechanismList(slot uint) ([]uint, error)
	InitToken(slot uint, soPIN []byte, label string) error
	OpenSession(slot uint, flags uint) (sessionHandle, error)
	CloseSession(sh sessionHandle) error
	Login(sh sessionHandle, userType uint, pin []byte) error
	InitPIN(sh sessionHandle, pin []byte) error
	FindObjectsInit(sh sessionHandle, template []attr) error
	FindObjects(sh sessionHandle, max int) ([]objectHandle, error)
	FindObjectsFinal(sh sessionHandle) error
	GetAttributeValue(sh sessionHandle, o objectHandle, types []uint) ([]attr, error)
	CreateObject(sh sessionHandle, template []attr) (objectHandle, error)
	DestroyObject(sh sessionHandle, o objectHandle) error
	GenerateKeyPair(sh sessionHandle, m mechanism, pub, priv []attr) (objectHandle, objectHandle, error)
	SignInit(sh sessionHandle, m mechanism, key objectHandle) error
	Sign(sh sessionHandle, data []byte) ([]byte, error)
}

// module is a loaded, initialised PKCS#11 module shared by everyone in the process using the same path.
type module struct {
	path string
	p11  p11
	refs int  // guarded by modules.mu
	keep bool // installed by a test: never finalised
	// calls is held for reading by every signature (from reading the Key's session state to its last
	// call) and for writing by a reconnect, which may re-initialise the module: PKCS#11 forbids
	// C_Finalize while other calls run (p11-kit's client aborts the process), and a signature must not
	// use a slot, session or key handle from before it.
	calls sync.RWMutex
}

// modules is the process-wide registry: one C_Initialize per module path (a second one fails with
// CKR_CRYPTOKI_ALREADY_INITIALIZED), Finalize when the last user is gone.
var modules = struct {
	mu sync.Mutex
	m  map[string]*module
}{m: map[string]*module{}}

// openModule loads and initialises a module; the cgo file sets it, the !cgo stub reports that PKCS#11
// needs a cgo build.
var openModule func(path string) (p11, error)

// moduleKey names a library by its resolved absolute path: two spellings of one library (a symlink,
// as /usr/lib/softhsm/libsofthsm2.so is on Debian, or a relative path) give one dlopen handle, so they
// must be one registry entry, or one entry's C_Finalize would cut off the other's signatures.
func moduleKey(path string) string {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
	}
	return path
}

func acquireModule(path string) (*module, error) {
	key := moduleKey(path)
	modules.mu.Lock()
	defer modules.mu.Unlock()
	if m, ok := modules.m[key]; ok {
		m.refs++
		return m, nil
	}
	p, err := openModule(path)
	if err != nil {
		return nil, err
	}
	m := &module{path: key, p11: p, refs: 1}
	modules.m[key] = m
	return m, nil
}

func (m *module) release() {
	modules.mu.Lock()
	defer modules.mu.Unlock()
	m.refs--
	if m.refs > 0 || m.keep {
		return
	}
	delete(modules.m, m.path)
	_ = m.p11.Finalize()
	m.p11.Destroy()
}

// reinitialize runs Finalize+Initialize when the module has one user, and reports whether it did. The
// caller holds calls for writing, so no other call runs meanwhile; the user count is read under
// modules.mu, which also holds back anyone acquiring the module until Initialize has returned.
func (m *module) reinitialize() (bool, error) {
	modules.mu.Lock()
	defer modules.mu.Unlock()
	if m.refs != 1 || m.keep {
		return false, nil
	}
	_ = m.p11.Finalize()
	return true, m.p11.Initialize()
}

// rlockCalls takes calls for reading, giving up when ctx ends. It waits only while a reconnect holds
// the write side, so it polls rather than keep a goroutine per waiter.
func (m *module) rlockCalls(ctx context.Context) error {
	for !m.calls.TryRLock() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}
	return nil
}

// Loaded reports whether the module at path is loaded (C_Initialize done) in this process. SoftHSM
// reads SOFTHSM2_CONF at C_Initialize, so helpers that change it check this first.
func Loaded(path string) bool {
	modules.mu.Lock()
	defer modules.mu.Unlock()
	_, ok := modules.m[moduleKey(path)]
	return ok
}
