package agent

import (
	"slices"
	"testing"
)

func TestAppendCappedKeepsTheNewest(t *testing.T) {
	var list []int
	for i := range 7 {
		list = appendCapped(list, i, 3)
	}
	if !slices.Equal(list, []int{4, 5, 6}) {
		t.Errorf("list = %v, want the 3 newest", list)
	}
	if allocs := testing.AllocsPerRun(100, func() { list = appendCapped(list, 9, 3) }); allocs != 0 {
		t.Errorf("appending to a full list allocates %v times", allocs)
	}
}
