package hsm

import (
	"bytes"
	"os"
	"strings"
)

// maxPINFile bounds what is read from a PIN file: a PIN is short, a large file is a mistake.
const maxPINFile = 4096

// ReadPIN returns the PIN named by the URI's pin-source (file:PATH or env:VAR) or pin-value, and
// ok=false when the URI names none. A PIN file loses exactly one trailing "\n" or "\r\n" and nothing
// else, so a PIN with meaningful spaces survives; a PIN file readable by group or others is refused.
// Errors never contain the PIN.
func (u *URI) ReadPIN() (pin []byte, ok bool, err error) {
	switch {
	case u.PINValue != "":
		return []byte(u.PINValue), true, nil
	case strings.HasPrefix(u.PINSource, "file:"):
		path := strings.TrimPrefix(u.PINSource, "file:")
		if path == "" {
			return nil, false, wrapf(ErrBadURI, nil, "pin-source=file: needs a path")
		}
		st, err := os.Stat(path)
		if err != nil {
			return nil, false, wrapf(ErrPINSource, err, "reading the PIN file")
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, false, wrapf(ErrPINSource, nil, "PIN file %s can be read by others (mode %o): chmod 600 it", path, st.Mode().Perm())
		}
		if st.Size() > maxPINFile {
			return nil, false, wrapf(ErrPINSource, nil, "PIN file %s is larger than %d bytes", path, maxPINFile)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, false, wrapf(ErrPINSource, err, "reading the PIN file")
		}
		return TrimPINNewline(b), true, nil
	case strings.HasPrefix(u.PINSource, "env:"):
		name := strings.TrimPrefix(u.PINSource, "env:")
		v, set := os.LookupEnv(name)
		if !set || v == "" {
			return nil, false, wrapf(ErrPINSource, nil, "environment variable %s named by pin-source is not set", name)
		}
		return []byte(v), true, nil
	case u.PINSource != "":
		return nil, false, wrapf(ErrBadURI, nil, "pin-source must be file:PATH or env:VARIABLE")
	}
	return nil, false, nil
}

// TrimPINNewline removes exactly one trailing "\n" or "\r\n" (what an editor or `echo` adds).
func TrimPINNewline(b []byte) []byte {
	if bytes.HasSuffix(b, []byte("\r\n")) {
		return b[:len(b)-2]
	}
	if bytes.HasSuffix(b, []byte("\n")) {
		return b[:len(b)-1]
	}
	return b
}

// wipe overwrites a PIN buffer once it is no longer needed.
func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
