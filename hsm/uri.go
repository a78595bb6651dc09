package hsm

import (
	"fmt"
	"os"
	"strings"
)

// ModuleEnv names the environment variable that gives the PKCS#11 module when a URI has no module-path.
const ModuleEnv = "LIENTHONG_PKCS11_MODULE"

// URI is a parsed RFC 7512 PKCS#11 URI naming a token and, optionally, an object on it.
//
// Accepted form (contract.md):
//
//	pkcs11:token=<label>;object=<key label>[;id=%01][;type=private]?module-path=<.so>&pin-source=<source>
//
// Path attributes: token, serial, manufacturer, model, object, id, type (and the standard library-* and
// slot-* attributes, kept but not used). Query attributes: module-path, module-name (kept, not used),
// pin-source (file:PATH or env:VAR) and pin-value (for tests only; String redacts it). Attribute names
// starting with "x-" (then letters, digits, "-" or "_") are vendor extensions and are kept in Vendor
// or VendorQuery. Any other attribute, and any
// attribute given twice, is an error, so a typo never silently widens the search.
type URI struct {
	Token        string // CKA token label (token=)
	Serial       string // token serial number (serial=); preferred over Token when both are given
	Manufacturer string
	Model        string
	Object       string // CKA_LABEL of the object (object=)
	ID           []byte // CKA_ID, raw bytes (id=%01%02)
	Type         string // private, public, cert, secret-key, data; "" when absent
	ModulePath   string // query module-path=
	ModuleName   string // query module-name= (not used to load anything)
	PINSource    string // query pin-source=
	PINValue     string // query pin-value=; for tests only, never printed
	Other        map[string]string
	Vendor       map[string]string // vendor path attributes (x-name)
	VendorQuery  map[string]string // vendor query attributes (x-name)

	has map[string]bool // attributes present (distinguishes "serial=" from no serial)
}

// Has reports whether the attribute name was present in the URI (even with an empty value).
func (u *URI) Has(name string) bool { return u.has[name] }

var pathAttrs = map[string]bool{
	"token": true, "serial": true, "manufacturer": true, "model": true, "object": true, "id": true, "type": true,
	"library-manufacturer": true, "library-description": true, "library-version": true,
	"slot-description": true, "slot-manufacturer": true, "slot-id": true,
}

var queryAttrs = map[string]bool{"module-path": true, "module-name": true, "pin-source": true, "pin-value": true}

var objectTypes = map[string]bool{"private": true, "public": true, "cert": true, "secret-key": true, "data": true}

// ParseURI parses an RFC 7512 pkcs11: URI. Errors match ErrBadURI.
func ParseURI(s string) (*URI, error) {
	const scheme = "pkcs11:"
	if len(s) < len(scheme) || !strings.EqualFold(s[:len(scheme)], scheme) {
		return nil, wrapf(ErrBadURI, nil, "a key URI starts with %q", scheme)
	}
	rest := s[len(scheme):]
	if i := strings.IndexByte(rest, '#'); i >= 0 {
		return nil, wrapf(ErrBadURI, nil, "a key URI has no #fragment")
	}
	path, query, _ := strings.Cut(rest, "?")
	u := &URI{has: map[string]bool{}}
	if err := u.parseAttrs(path, ';', pathAttrs, isPathChar); err != nil {
		return nil, err
	}
	if err := u.parseAttrs(query, '&', queryAttrs, isQueryChar); err != nil {
		return nil, err
	}
	if u.Type != "" && !objectTypes[u.Type] {
		return nil, wrapf(ErrBadURI, nil, "type=%s is not one of private, public, cert, secret-key, data", printable(u.Type))
	}
	if u.PINSource != "" && u.PINValue != "" {
		return nil, wrapf(ErrBadURI, nil, "give pin-source or pin-value, not both")
	}
	if u.PINSource != "" && !strings.HasPrefix(u.PINSource, "file:") && !strings.HasPrefix(u.PINSource, "env:") {
		return nil, wrapf(ErrBadURI, nil, "pin-source must be file:PATH or env:VARIABLE")
	}
	return u, nil
}

func (u *URI) parseAttrs(s string, sep byte, known map[string]bool, allowed func(byte) bool) error {
	if s == "" {
		return nil
	}
	for _, part := range strings.Split(s, string(sep)) {
		name, raw, ok := strings.Cut(part, "=")
		if !ok || name == "" {
			return wrapf(ErrBadURI, nil, "attribute %q has no name=value form", printable(part))
		}
		for i := 0; i < len(raw); i++ {
			if raw[i] != '%' && !allowed(raw[i]) {
				return wrapf(ErrBadURI, nil, "attribute %s: character %q must be percent-encoded", printable(name), raw[i])
			}
		}
		val, err := pctDecode(raw)
		if err != nil {
			return wrapf(ErrBadURI, err, "attribute %s", printable(name))
		}
		vendor := !known[name] && isVendorName(name)
		if !known[name] && !vendor {
			return wrapf(ErrBadURI, nil, "unknown attribute %q (vendor attributes are x- and letters, digits, - or _)", printable(name))
		}
		if u.has[name] {
			return wrapf(ErrBadURI, nil, "attribute %s given twice", printable(name))
		}
		u.has[name] = true
		switch name {
		case "token":
			u.Token = val
		case "serial":
			u.Serial = val
		case "manufacturer":
			u.Manufacturer = val
		case "model":
			u.Model = val
		case "object":
			u.Object = val
		case "id":
			u.ID = []byte(val)
		case "type":
			u.Type = val
		case "module-path":
			u.ModulePath = val
		case "module-name":
			u.ModuleName = val
		case "pin-source":
			u.PINSource = val
		case "pin-value":
			u.PINValue = val
		default:
			if vendor {
				m := &u.Vendor
				if sep == '&' {
					m = &u.VendorQuery
				}
				if *m == nil {
					*m = map[string]string{}
				}
				(*m)[name] = val
			} else {
				if u.Other == nil {
					u.Other = map[string]string{}
				}
				u.Other[name] = val
			}
		}
	}
	return nil
}

// isVendorName: RFC 7512 pk11-v-attr-nm = "x-" 1*(ALPHA / DIGIT / "-" / "_"), the "x-" case-insensitive
// as every ABNF string literal.
func isVendorName(name string) bool {
	if len(name) < 3 || !strings.EqualFold(name[:2], "x-") {
		return false
	}
	for i := 2; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// isPathChar: RFC 7512 pk11-path-res-avail plus unreserved ("&" is allowed in path values).
func isPathChar(c byte) bool {
	return isUnreserved(c) || strings.IndexByte(":[]@!$'()*+,=&", c) >= 0
}

// isQueryChar: RFC 7512 pk11-query-res-avail plus unreserved.
func isQueryChar(c byte) bool {
	return isUnreserved(c) || strings.IndexByte(":[]@!$'()*+,=/?|;", c) >= 0
}

func isUnreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func pctDecode(s string) (string, error) {
	if strings.IndexByte(s, '%') < 0 {
		return s, nil
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b = append(b, s[i])
			continue
		}
		if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
			return "", fmt.Errorf("bad percent-encoding at byte %d", i)
		}
		b = append(b, byte(unhex(s[i+1])<<4|unhex(s[i+2])))
		i += 2
	}
	return string(b), nil
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// printable keeps error messages one line and short whatever the input.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return fmt.Sprintf("%q", s)[1 : len(fmt.Sprintf("%q", s))-1]
}

func pctEncode(s string, allowed func(byte) bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if allowed(c) && c != '&' && c != ';' && c != '?' && c != '=' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// String formats the URI in canonical order. A pin-value is replaced by "REDACTED" so the result can be
// logged; pin-source (a file name or a variable name) is kept.
func (u *URI) String() string {
	var path []string
	add := func(name, val string) {
		if val != "" || u.has[name] {
			path = append(path, name+"="+pctEncode(val, isPathChar))
		}
	}
	add("token", u.Token)
	add("serial", u.Serial)
	add("manufacturer", u.Manufacturer)
	add("model", u.Model)
	add("object", u.Object)
	if len(u.ID) > 0 || u.has["id"] {
		var b strings.Builder
		for _, c := range u.ID {
			fmt.Fprintf(&b, "%%%02X", c)
		}
		path = append(path, "id="+b.String())
	}
	add("type", u.Type)
	for _, k := range sortedKeys(u.Other) {
		path = append(path, k+"="+pctEncode(u.Other[k], isPathChar))
	}
	for _, k := range sortedKeys(u.Vendor) {
		path = append(path, k+"="+pctEncode(u.Vendor[k], isPathChar))
	}
	var query []string
	addq := func(name, val string) {
		if val != "" || u.has[name] {
			query = append(query, name+"="+pctEncode(val, isQueryChar))
		}
	}
	addq("module-name", u.ModuleName)
	addq("module-path", u.ModulePath)
	addq("pin-source", u.PINSource)
	if u.PINValue != "" || u.has["pin-value"] {
		query = append(query, "pin-value=REDACTED")
	}
	for _, k := range sortedKeys(u.VendorQuery) {
		query = append(query, k+"="+pctEncode(u.VendorQuery[k], isQueryChar))
	}
	s := "pkcs11:" + strings.Join(path, ";")
	if len(query) > 0 {
		s += "?" + strings.Join(query, "&")
	}
	return s
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return keys
}

// Module returns the module path to load: module-path, else $LIENTHONG_PKCS11_MODULE.
func (u *URI) Module() (string, error) {
	if u.ModulePath != "" {
		return u.ModulePath, nil
	}
	if m := os.Getenv(ModuleEnv); m != "" {
		return m, nil
	}
	return "", wrapf(ErrModuleNotFound, nil, "the key URI has no module-path and %s is not set", ModuleEnv)
}

// BuildURI formats a key URI from parts; an empty pinSource leaves pin-source out.
func BuildURI(token, object string, id []byte, modulePath, pinSource string) string {
	u := &URI{Token: token, Object: object, ID: id, Type: "private", ModulePath: modulePath, PINSource: pinSource}
	return u.String()
}

// GoString keeps %#v from printing a pin-value.
func (u *URI) GoString() string { return "hsm.URI(" + u.String() + ")" }
