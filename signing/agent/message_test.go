package agent

import (
	"fmt"
	"strings"
	"testing"

	"github.com/lienthong/lienthong/hsm"
)

// TestTokenErrorWording: the token failures SoftHSM cannot produce (unplugged, locked, last try) get
// the leader's wording from the hsm package's typed errors, however they are wrapped.
func TestTokenErrorWording(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err      error
		status   int
		code, vi string
	}{
		{hsm.ErrTokenRemoved, 503, "agent_token_missing", "cắm token vào máy"},
		{hsm.ErrTokenNotFound, 503, "agent_token_missing", "cắm token vào máy"},
		{hsm.ErrPINLocked, 403, "agent_pin_locked", "bị khoá mã PIN"},
		{hsm.ErrPINFinalTry, 403, "agent_pin_final_try", "MỘT lần nhập PIN"},
		{hsm.ErrWrongPIN, 401, "agent_wrong_pin", "Mã PIN không đúng"},
		{hsm.ErrModuleNotFound, 503, "agent_driver_missing", "driver PKCS#11"},
		{hsm.ErrCertificateMissing, 404, "agent_key_missing", "chứng thư số"},
		{hsm.ErrTokenBusy, 503, "agent_token_busy", "Token đang bận"},
		{ErrDeclined, 403, "agent_declined", "từ chối"},
		{fmt.Errorf("something internal: /secret/path"), 500, "agent_failed", "Ký số không thành công"},
	} {
		for _, err := range []error{c.err, fmt.Errorf("opening the key: %w", c.err)} {
			status, code, msg := message(err)
			if status != c.status || code != c.code || !strings.Contains(msg, c.vi) || !strings.Contains(msg, " / ") {
				t.Errorf("%v: %d %s %q", err, status, code, msg)
			}
			if strings.Contains(msg, "/secret/path") {
				t.Errorf("internal detail leaked: %q", msg)
			}
		}
	}
}
