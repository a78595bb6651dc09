package main

import "github.com/lienthong/lienthong/hsm/hsmtest"

// This package's SoftHSM tests run one at a time and some enumerate every token the module sees (the
// agent picks among all certificates), so each test's tokens go when it ends.
func init() { hsmtest.DeleteAtCleanup = true }
