//go:build !linux

package main

import "os"

// syncFS falls back to syncing the folder where syncfs(2) does not exist; the files were not synced
// one by one, so a crash may lose signed documents the batch reported (never leave partial ones).
func syncFS(f *os.File) error { return f.Sync() }
