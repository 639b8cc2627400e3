package resources

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Range is an inclusive range of uint64 values, as in mesos.v1.Value.Range.
type Range struct{ Begin, End uint64 }

// size is the number of values in the range, saturating at MaxUint64.
func (r Range) size() uint64 {
	n := r.End - r.Begin
	if n == math.MaxUint64 {
		return n
	}
	return n + 1
}

// normalizeRanges sorts rs in place and coalesces overlapping and adjacent
// ranges, returning the shortened slice.
func normalizeRanges(rs []Range) []Range {
	if len(rs) < 2 {
		return rs
	}
	slices.SortFunc(rs, func(a, b Range) int { return cmp.Compare(a.Begin, b.Begin) })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if touches(*last, r) {
			last.End = max(last.End, r.End)
			continue
		}
		out = append(out, r)
	}
	return out
}

// touches reports whether next (which begins at or after prev) overlaps prev or
// begins right after it.
func touches(prev, next Range) bool {
	return prev.End == math.MaxUint64 || next.Begin <= prev.End+1
}

// unionRanges merges two normalized lists into a normalized list. Lists are
// never modified, so when one side covers the other it is returned as is.
func unionRanges(a, b []Range) []Range {
	if containsRanges(a, b) {
		return a
	}
	if containsRanges(b, a) {
		return b
	}
	out := make([]Range, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		var next Range
		if j == len(b) || (i < len(a) && a[i].Begin <= b[j].Begin) {
			next, i = a[i], i+1
		} else {
			next, j = b[j], j+1
		}
		if n := len(out); n > 0 && touches(out[n-1], next) {
			out[n-1].End = max(out[n-1].End, next.End)
			continue
		}
		out = append(out, next)
	}
	return out
}

// subtractRanges returns a minus b for normalized lists (a itself when they
// do not overlap).
func subtractRanges(a, b []Range) []Range {
	if !overlaps(a, b) {
		return a
	}
	out := make([]Range, 0, len(a)+1)
	j := 0
	for _, r := range a {
		for j < len(b) && b[j].End < r.Begin {
			j++
		}
		cur, alive := r, true
		for k := j; alive && k < len(b) && b[k].Begin <= cur.End; k++ {
			if b[k].Begin > cur.Begin {
				out = append(out, Range{cur.Begin, b[k].Begin - 1})
			}
			if b[k].End >= cur.End {
				alive = false
			} else {
				cur.Begin = b[k].End + 1
			}
		}
		if alive {
			out = append(out, cur)
		}
	}
	return out
}

// overlaps reports whether a and b share a value.
func overlaps(a, b []Range) bool {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i].End < b[j].Begin:
			i++
		case b[j].End < a[i].Begin:
			j++
		default:
			return true
		}
	}
	return false
}

// containsRanges reports whether every value of b is in a (both normalized).
func containsRanges(a, b []Range) bool {
	i := 0
	for _, r := range b {
		for i < len(a) && a[i].End < r.Begin {
			i++
		}
		if i == len(a) || a[i].Begin > r.Begin || a[i].End < r.End {
			return false
		}
	}
	return true
}

// countRanges is the number of values in rs, saturating at MaxUint64.
func countRanges(rs []Range) uint64 {
	var n uint64
	for _, r := range rs {
		s := r.size()
		if n+s < n {
			return math.MaxUint64
		}
		n += s
	}
	return n
}

// formatRanges renders rs as Mesos does: "[31000-32000, 33000-34000]".
func formatRanges(rs []Range) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, r := range rs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.FormatUint(r.Begin, 10))
		b.WriteByte('-')
		b.WriteString(strconv.FormatUint(r.End, 10))
	}
	b.WriteByte(']')
	return b.String()
}
