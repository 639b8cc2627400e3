package resources

import (
	"math"
	"slices"
	"testing"
)

func TestNormalizeRanges(t *testing.T) {
	tests := []struct {
		in, want []Range
	}{
		{nil, nil},
		{[]Range{{5, 9}}, []Range{{5, 9}}},
		{[]Range{{3, 4}, {1, 2}}, []Range{{1, 4}}}, // adjacent merge
		{[]Range{{1, 5}, {3, 8}}, []Range{{1, 8}}}, // overlap
		{[]Range{{10, 20}, {1, 2}, {4, 5}}, []Range{{1, 2}, {4, 5}, {10, 20}}},
		{[]Range{{1, 10}, {2, 3}}, []Range{{1, 10}}}, // contained
		{[]Range{{0, math.MaxUint64}, {5, 6}}, []Range{{0, math.MaxUint64}}},
		{[]Range{{math.MaxUint64, math.MaxUint64}, {math.MaxUint64 - 1, math.MaxUint64 - 1}}, []Range{{math.MaxUint64 - 1, math.MaxUint64}}},
	}
	for _, tt := range tests {
		got := normalizeRanges(slices.Clone(tt.in))
		if !slices.Equal(got, tt.want) {
			t.Errorf("normalizeRanges(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRangeOperations(t *testing.T) {
	tests := []struct {
		name              string
		a, b              []Range
		union, difference []Range
		aContainsB        bool
	}{
		{"disjoint", []Range{{1, 5}}, []Range{{10, 12}}, []Range{{1, 5}, {10, 12}}, []Range{{1, 5}}, false},
		{"adjacent", []Range{{1, 5}}, []Range{{6, 8}}, []Range{{1, 8}}, []Range{{1, 5}}, false},
		{"inner hole", []Range{{1, 10}}, []Range{{4, 6}}, []Range{{1, 10}}, []Range{{1, 3}, {7, 10}}, true},
		{"left edge", []Range{{1, 10}}, []Range{{1, 3}}, []Range{{1, 10}}, []Range{{4, 10}}, true},
		{"right edge", []Range{{1, 10}}, []Range{{8, 10}}, []Range{{1, 10}}, []Range{{1, 7}}, true},
		{"covers all", []Range{{3, 4}, {8, 9}}, []Range{{1, 10}}, []Range{{1, 10}}, nil, false},
		{"spanning two", []Range{{1, 5}, {10, 15}}, []Range{{4, 11}}, []Range{{1, 15}}, []Range{{1, 3}, {12, 15}}, false},
		{"several holes", []Range{{1, 20}}, []Range{{2, 2}, {5, 6}, {20, 25}}, []Range{{1, 25}}, []Range{{1, 1}, {3, 4}, {7, 19}}, false},
		{"empty b", []Range{{1, 2}}, nil, []Range{{1, 2}}, []Range{{1, 2}}, true},
		{"max bound", []Range{{0, math.MaxUint64}}, []Range{{math.MaxUint64, math.MaxUint64}}, []Range{{0, math.MaxUint64}}, []Range{{0, math.MaxUint64 - 1}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := unionRanges(tt.a, tt.b); !slices.Equal(got, tt.union) {
				t.Errorf("union = %v, want %v", got, tt.union)
			}
			if got := subtractRanges(tt.a, tt.b); !slices.Equal(got, tt.difference) {
				t.Errorf("difference = %v, want %v", got, tt.difference)
			}
			if got := containsRanges(tt.a, tt.b); got != tt.aContainsB {
				t.Errorf("contains = %v, want %v", got, tt.aContainsB)
			}
		})
	}
}

func TestCountRanges(t *testing.T) {
	if got := countRanges([]Range{{31000, 32000}, {1, 1}}); got != 1002 {
		t.Errorf("count = %d, want 1002", got)
	}
	if got := countRanges([]Range{{0, math.MaxUint64}}); got != math.MaxUint64 {
		t.Errorf("full range count = %d", got)
	}
}

func TestFormatRanges(t *testing.T) {
	if got := formatRanges([]Range{{31000, 32000}, {33000, 34000}}); got != "[31000-32000, 33000-34000]" {
		t.Errorf("got %q", got)
	}
	if got := formatRanges(nil); got != "[]" {
		t.Errorf("empty: got %q", got)
	}
}

func TestSetOperations(t *testing.T) {
	a, b := []string{"a", "c", "d"}, []string{"b", "c"}
	if got := unionItems(a, b); !slices.Equal(got, []string{"a", "b", "c", "d"}) {
		t.Errorf("union = %v", got)
	}
	if got := subtractItems(a, b); !slices.Equal(got, []string{"a", "d"}) {
		t.Errorf("difference = %v", got)
	}
	if containsItems(a, b) || !containsItems(a, []string{"a", "d"}) || !containsItems(a, nil) {
		t.Error("containsItems wrong")
	}
	if got := normalizeItems([]string{"b", "a", "b"}); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("normalize = %v", got)
	}
	if got := formatItems([]string{"a", "b"}); got != "{a, b}" {
		t.Errorf("format = %q", got)
	}
}
