//go:build !cgo

package hsm

func init() { openModule = openStub }

// openStub: miekg/pkcs11 needs cgo (gcc and libc6-dev); a build without cgo cannot load modules.
func openStub(path string) (p11, error) {
	return nil, wrapf(ErrModuleNotFound, nil, "module %s: this lienthong was built without cgo (CGO_ENABLED=0) and cannot load PKCS#11 modules", path)
}
