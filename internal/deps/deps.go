//go:build tools

// Package deps pins modules the project depends on before the code that imports them lands.
package deps

import (
	_ "github.com/jackc/pgx/v5"
	_ "github.com/jackc/pgx/v5/pgxpool"
	_ "github.com/miekg/pkcs11"
	_ "github.com/riverqueue/river"
	_ "github.com/riverqueue/river/riverdriver/riverpgxv5"
	_ "github.com/riverqueue/river/rivermigrate"
	_ "go.mozilla.org/pkcs7"
	_ "golang.org/x/crypto/ocsp"
	_ "golang.org/x/text/unicode/norm"
)
