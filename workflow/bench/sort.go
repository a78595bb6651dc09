package bench

import (
	"slices"
	"time"
)

func sortDurations(s []time.Duration) { slices.Sort(s) }
