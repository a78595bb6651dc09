package delivery

import (
	"testing"

	"github.com/lienthong/lienthong/exchange/axis"
)

func TestWindowsBoundCountAndBytes(t *testing.T) {
	sizes := func(ss ...int) []axis.Item {
		var it []axis.Item
		for _, s := range ss {
			it = append(it, axis.Item{Size: s})
		}
		return it
	}
	many := make([]int, 120)
	for i := range many {
		many[i] = 160 << 10
	}
	for _, tc := range []struct {
		name  string
		items []axis.Item
		want  []int // window lengths
	}{
		{"empty", nil, nil},
		{"by count", sizes(many...), []int{50, 50, 20}},
		{"by bytes", sizes(40<<20, 30<<20, 10<<20, 20<<20), []int{1, 3}},
		{"one packet over the bound", sizes(90<<20, 1), []int{1, 1}},
		{"unknown sizes count as 1 MiB", sizes(make([]int, 70)...), []int{50, 20}},
		{"unknown sizes by bytes", append(sizes(63<<20), sizes(0, 0)...), []int{2, 1}},
	} {
		var got []int
		total := 0
		for _, w := range windows(tc.items) {
			got = append(got, len(w))
			total += len(w)
		}
		if total != len(tc.items) || len(got) != len(tc.want) {
			t.Errorf("%s: windows %v, want %v", tc.name, got, tc.want)
			continue
		}
		for i := range got {
			if got[i] != tc.want[i] {
				t.Errorf("%s: windows %v, want %v", tc.name, got, tc.want)
				break
			}
		}
	}
}
