package hsm

import (
	"errors"
	"fmt"

	"github.com/lienthong/lienthong/internal/apperr"
)

// Sentinel errors a person can act on. Every error this package returns for one of these situations
// matches the sentinel with errors.Is and also carries an apperr Kind (apperr.KindOf), so the CLI and
// the HTTP edge can map it without knowing PKCS#11.
var (
	ErrModuleNotFound     = newSentinel(apperr.Unavailable, "hsm_module_not_found", "the PKCS#11 module (.so) cannot be loaded: check module-path or LIENTHONG_PKCS11_MODULE")
	ErrTokenNotFound      = newSentinel(apperr.NotFound, "hsm_token_not_found", "no token with this label or serial is present: check that the token is plugged in and the URI's token= or serial=")
	ErrKeyNotFound        = newSentinel(apperr.NotFound, "hsm_key_not_found", "no private key with this label/id on the token: check object= and id= in the key URI")
	ErrCertificateMissing = newSentinel(apperr.NotFound, "hsm_certificate_missing", "the token holds no certificate with the key's CKA_ID: import one with `lienthong token import-cert`")
	ErrKeyMismatch        = newSentinel(apperr.Conflict, "hsm_key_mismatch", "the certificate (or public key) on the token does not belong to the private key")
	ErrWrongPIN           = newSentinel(apperr.Unauthorized, "hsm_wrong_pin", "the token rejected the PIN; it was not retried. Check the PIN source before trying again: each failure uses up one of the token's tries")
	ErrPINFinalTry        = newSentinel(apperr.Forbidden, "hsm_pin_final_try", "the token allows only one more PIN try; refusing to log in unattended (confirm explicitly to use the final try)")
	ErrPINLocked          = newSentinel(apperr.Forbidden, "hsm_pin_locked", "the token's user PIN is locked; it must be unblocked with the SO PIN/PUK (often held by the issuing CA)")
	ErrPINRequired        = newSentinel(apperr.Invalid, "hsm_pin_required", "the key needs a PIN: add pin-source=file:PATH or env:VAR to the key URI")
	ErrPINSource          = newSentinel(apperr.Invalid, "hsm_pin_source", "the PIN source named by the key URI cannot be used")
	ErrTokenBusy          = newSentinel(apperr.Unavailable, "hsm_token_busy", "every session of the token stayed busy until the deadline; try again or raise the pool size")
	ErrTokenRemoved       = newSentinel(apperr.Unavailable, "hsm_token_removed", "the token was removed or stopped answering; plug it back in and try again")
	ErrKeyExists          = newSentinel(apperr.Conflict, "hsm_key_exists", "an object with this label/id already exists on the token")
	ErrUnsupported        = newSentinel(apperr.Invalid, "hsm_unsupported", "the key or token does not support this operation")
	ErrClosed             = newSentinel(apperr.Unavailable, "hsm_closed", "the key was closed")
	ErrBadURI             = newSentinel(apperr.Invalid, "hsm_bad_uri", "the PKCS#11 key URI is malformed")
)

// sentinel is an *apperr.Error used as an errors.Is target. Errors made from it with wrapf keep both
// the sentinel and a Kind.
func newSentinel(k apperr.Kind, code, detail string) *apperr.Error {
	return apperr.New(k, code, detail)
}

// hsmError joins a sentinel with specific context and an optional cause. Is matches the sentinel;
// Unwrap exposes the cause; As(*apperr.Error) finds the sentinel's Kind.
type hsmError struct {
	sentinel *apperr.Error
	msg      string // specific, never contains a PIN
	cause    error
}

func (e *hsmError) Error() string {
	s := e.sentinel.Detail
	if e.msg != "" {
		s = e.msg + ": " + s
	}
	if e.cause != nil {
		s += " (" + e.cause.Error() + ")"
	}
	return s
}

func (e *hsmError) Unwrap() []error {
	if e.cause != nil {
		return []error{e.sentinel, e.cause}
	}
	return []error{e.sentinel}
}

// wrapf makes an error that matches sentinel, with a specific message and a cause (may be nil).
func wrapf(sentinel *apperr.Error, cause error, format string, args ...any) error {
	return &hsmError{sentinel: sentinel, msg: fmt.Sprintf(format, args...), cause: cause}
}

// CKR is a PKCS#11 return value, as an error. Only the codes this package acts on have names.
type CKR uint

// PKCS#11 return values this package classifies (values from the PKCS#11 v2.40 header).
const (
	ckrOK                        CKR = 0x000
	ckrSlotIDInvalid             CKR = 0x003
	ckrGeneralError              CKR = 0x005
	ckrFunctionFailed            CKR = 0x006
	ckrAttributeSensitive        CKR = 0x011
	ckrAttributeTypeInvalid      CKR = 0x012
	ckrDataLenRange              CKR = 0x021
	ckrDeviceError               CKR = 0x030
	ckrDeviceMemory              CKR = 0x031
	ckrDeviceRemoved             CKR = 0x032
	ckrKeyHandleInvalid          CKR = 0x060
	ckrKeyTypeInconsistent       CKR = 0x063
	ckrMechanismInvalid          CKR = 0x070
	ckrMechanismParamInvalid     CKR = 0x071
	ckrObjectHandleInvalid       CKR = 0x082
	ckrOperationActive           CKR = 0x090
	ckrOperationNotInitialized   CKR = 0x091
	ckrPINIncorrect              CKR = 0x0A0
	ckrPINInvalid                CKR = 0x0A1
	ckrPINLenRange               CKR = 0x0A2
	ckrPINExpired                CKR = 0x0A3
	ckrPINLocked                 CKR = 0x0A4
	ckrSessionClosed             CKR = 0x0B0
	ckrSessionCount              CKR = 0x0B1
	ckrSessionHandleInvalid      CKR = 0x0B3
	ckrSessionReadOnly           CKR = 0x0B5
	ckrTokenNotPresent           CKR = 0x0E0
	ckrTokenNotRecognized        CKR = 0x0E1
	ckrUserAlreadyLoggedIn       CKR = 0x100
	ckrUserNotLoggedIn           CKR = 0x101
	ckrUserTypeInvalid           CKR = 0x103
	ckrCryptokiNotInitialized    CKR = 0x190
	ckrCryptokiAlreadyInitalized CKR = 0x191
)

var ckrNames = map[CKR]string{
	ckrOK: "CKR_OK", ckrSlotIDInvalid: "CKR_SLOT_ID_INVALID", ckrGeneralError: "CKR_GENERAL_ERROR",
	ckrFunctionFailed: "CKR_FUNCTION_FAILED", ckrAttributeSensitive: "CKR_ATTRIBUTE_SENSITIVE",
	ckrAttributeTypeInvalid: "CKR_ATTRIBUTE_TYPE_INVALID", ckrDeviceError: "CKR_DEVICE_ERROR",
	ckrDeviceMemory: "CKR_DEVICE_MEMORY", ckrDeviceRemoved: "CKR_DEVICE_REMOVED",
	ckrKeyHandleInvalid: "CKR_KEY_HANDLE_INVALID", ckrKeyTypeInconsistent: "CKR_KEY_TYPE_INCONSISTENT",
	ckrMechanismInvalid: "CKR_MECHANISM_INVALID", ckrMechanismParamInvalid: "CKR_MECHANISM_PARAM_INVALID",
	ckrObjectHandleInvalid: "CKR_OBJECT_HANDLE_INVALID", ckrOperationActive: "CKR_OPERATION_ACTIVE",
	ckrOperationNotInitialized: "CKR_OPERATION_NOT_INITIALIZED", ckrPINIncorrect: "CKR_PIN_INCORRECT",
	ckrPINInvalid: "CKR_PIN_INVALID", ckrPINLenRange: "CKR_PIN_LEN_RANGE", ckrPINExpired: "CKR_PIN_EXPIRED",
	ckrPINLocked: "CKR_PIN_LOCKED", ckrSessionClosed: "CKR_SESSION_CLOSED", ckrSessionCount: "CKR_SESSION_COUNT",
	ckrSessionHandleInvalid: "CKR_SESSION_HANDLE_INVALID", ckrSessionReadOnly: "CKR_SESSION_READ_ONLY",
	ckrTokenNotPresent: "CKR_TOKEN_NOT_PRESENT", ckrTokenNotRecognized: "CKR_TOKEN_NOT_RECOGNIZED",
	ckrUserAlreadyLoggedIn: "CKR_USER_ALREADY_LOGGED_IN", ckrUserNotLoggedIn: "CKR_USER_NOT_LOGGED_IN",
	ckrUserTypeInvalid: "CKR_USER_TYPE_INVALID", ckrCryptokiNotInitialized: "CKR_CRYPTOKI_NOT_INITIALIZED",
	ckrCryptokiAlreadyInitalized: "CKR_CRYPTOKI_ALREADY_INITIALIZED",
}

func (c CKR) Error() string {
	if n, ok := ckrNames[c]; ok {
		return fmt.Sprintf("pkcs11: 0x%X: %s", uint(c), n)
	}
	return fmt.Sprintf("pkcs11: 0x%X", uint(c))
}

func ckrOf(err error) (CKR, bool) {
	var c CKR
	if errors.As(err, &c) {
		return c, true
	}
	return 0, false
}

// errClass says what to do after a failed call (pkcs11.md, "Error classes → actions").
type errClass int

const (
	classOther   errClass = iota // give up and report
	classSession                 // the session is dead: replace it, retry once
	classLogin                   // the login (and so the handles) is lost: new login epoch, retry once
	classToken                   // the token is gone: reconnect, retry once
	classPIN                     // PIN trouble: fail closed, never retry
)

func classify(err error) errClass {
	c, ok := ckrOf(err)
	if !ok {
		return classOther
	}
	switch c {
	case ckrSessionHandleInvalid, ckrSessionClosed, ckrDeviceError, ckrOperationActive, ckrFunctionFailed:
		return classSession
	case ckrUserNotLoggedIn, ckrObjectHandleInvalid, ckrKeyHandleInvalid:
		return classLogin
	case ckrDeviceRemoved, ckrTokenNotPresent, ckrTokenNotRecognized, ckrSlotIDInvalid, ckrGeneralError,
		ckrCryptokiNotInitialized: // a reconnect's C_Initialize failed: the next one tries again
		return classToken
	case ckrPINIncorrect, ckrPINLocked, ckrPINExpired, ckrPINLenRange, ckrPINInvalid:
		return classPIN
	}
	return classOther
}

// pinError turns a PIN-class return value into the sentinel a person can act on.
func pinError(err error, token string) error {
	c, _ := ckrOf(err)
	switch c {
	case ckrPINLocked:
		return wrapf(ErrPINLocked, err, "token %q", token)
	case ckrPINExpired:
		return wrapf(ErrWrongPIN, err, "token %q: the PIN has expired and must be changed", token)
	default:
		return wrapf(ErrWrongPIN, err, "token %q", token)
	}
}
