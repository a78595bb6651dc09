package bench

import "testing"

func TestEveryStatementIsUsed(t *testing.T) {
	if u := queries.Unused(); len(u) > 0 {
		t.Fatalf("statements in sql/*.sql that no code runs: %v", u)
	}
}
