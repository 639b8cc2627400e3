package resources

import (
	"slices"
	"strings"
)

// Set items are kept sorted and unique so the operations below are merges.

// normalizeItems sorts items in place and drops duplicates.
func normalizeItems(items []string) []string {
	slices.Sort(items)
	return slices.Compact(items)
}

// unionItems merges two normalized item lists into a new one.
func unionItems(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch c := strings.Compare(a[i], b[j]); {
		case c < 0:
			out, i = append(out, a[i]), i+1
		case c > 0:
			out, j = append(out, b[j]), j+1
		default:
			out, i, j = append(out, a[i]), i+1, j+1
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

// subtractItems returns the items of a not in b, as a new list.
func subtractItems(a, b []string) []string {
	out := make([]string, 0, len(a))
	j := 0
	for _, item := range a {
		for j < len(b) && b[j] < item {
			j++
		}
		if j < len(b) && b[j] == item {
			continue
		}
		out = append(out, item)
	}
	return out
}

// containsItems reports whether every item of b is in a (both normalized).
func containsItems(a, b []string) bool {
	i := 0
	for _, item := range b {
		for i < len(a) && a[i] < item {
			i++
		}
		if i == len(a) || a[i] != item {
			return false
		}
	}
	return true
}

// formatItems renders items as Mesos does: "{a, b}".
func formatItems(items []string) string {
	return "{" + strings.Join(items, ", ") + "}"
}
