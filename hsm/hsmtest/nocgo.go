//go:build !cgo

package hsmtest

const cgoEnabled = false
