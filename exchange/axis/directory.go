package axis

import (
	"strings"
	"sync"
	"time"
)

// Alias maps a closed organisation code to its successor from a date (the 2025 mergers re-issued codes:
// districts closed, provinces merged 63 → 34).
type Alias struct {
	Old   string
	New   string
	Since time.Time
}

// Directory resolves organisation codes through dated aliases. Codes are compared as opaque strings
// (trimmed, upper-cased); their shape is never used for routing. A packet from a closed code is still
// accepted: its sender resolves to the successor, and the original code is kept with the packet.
type Directory struct {
	mu      sync.RWMutex
	aliases map[string][]Alias
}

// NormaliseCode trims and upper-cases an organisation code.
func NormaliseCode(c string) string { return strings.ToUpper(strings.TrimSpace(c)) }

// AddAlias records that old became new on since.
func (d *Directory) AddAlias(a Alias) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.aliases == nil {
		d.aliases = map[string][]Alias{}
	}
	a.Old, a.New = NormaliseCode(a.Old), NormaliseCode(a.New)
	d.aliases[a.Old] = append(d.aliases[a.Old], a)
}

// Resolve follows aliases in force at `at` (at most 8 hops, against cycles) and returns the code in use.
func (d *Directory) Resolve(code string, at time.Time) string {
	c := NormaliseCode(code)
	if d == nil {
		return c
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	for hop := 0; hop < 8; hop++ {
		var next string
		for _, a := range d.aliases[c] {
			if !at.Before(a.Since) {
				next = a.New
			}
		}
		if next == "" || next == c {
			return c
		}
		c = next
	}
	return c
}

// Same reports whether two codes name the same organisation at `at`.
func (d *Directory) Same(a, b string, at time.Time) bool { return d.Resolve(a, at) == d.Resolve(b, at) }
