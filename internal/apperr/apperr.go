// Package apperr is the small typed error set of lienthong. A Kind says what went wrong in terms a
// caller can act on; Detail is safe to show to a clerk; the wrapped cause is for logs. The HTTP edge maps
// Kinds to problem+json statuses and the CLI maps them to exit codes; nothing else does.
package apperr

import (
	"errors"
	"fmt"
)

// Kind classifies an error. Values are never renumbered; retired ones stay reserved.
type Kind int

const (
	Internal     Kind = iota // a bug or an unexpected failure of a dependency
	Invalid                  // malformed or invalid input
	NotFound                 // the named thing does not exist (or is not visible to the caller)
	Conflict                 // the state does not allow the action (wrong transition, duplicate)
	Unauthorized             // no or unknown credentials
	Forbidden                // known caller without the right role or organisation
	Unavailable              // a dependency is down or busy; retrying later may work
	TooLarge                 // input over a limit
)

var kindNames = [...]string{"internal", "invalid", "not_found", "conflict", "unauthorized", "forbidden", "unavailable", "too_large"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is an error with a Kind, a stable machine Code, a user-safe Detail and an optional cause.
type Error struct {
	Kind   Kind
	Code   string // stable, snake_case, e.g. "register_closed"; may be empty
	Detail string // safe to show to a clerk; never contains secrets
	Err    error  // cause, for logs
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Detail + ": " + e.Err.Error()
	}
	return e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, apperr.NotFound) style checks work through wrapping: a bare Kind target
// matches any *Error of that Kind.
func (e *Error) Is(target error) bool {
	var k kindTarget
	if errors.As(target, &k) {
		return e.Kind == Kind(k)
	}
	return false
}

type kindTarget Kind

func (k kindTarget) Error() string { return Kind(k).String() }

// IsKind reports whether err (or anything it wraps) is an *Error of kind k.
func IsKind(err error, k Kind) bool { return errors.Is(err, kindTarget(k)) }

// KindOf returns the Kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Internal
}

// New makes an *Error with a user-safe detail.
func New(k Kind, code, detail string) *Error { return &Error{Kind: k, Code: code, Detail: detail} }

// Wrap makes an *Error with a user-safe detail around a cause.
func Wrap(k Kind, code, detail string, err error) *Error {
	return &Error{Kind: k, Code: code, Detail: detail, Err: err}
}

// Detail returns the user-safe message of err: the Detail of its first *Error, or a generic sentence
// for anything untyped (whose text may hold internals).
func Detail(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Detail
	}
	return "internal error"
}
