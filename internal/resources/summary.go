package resources

import (
	"strconv"
	"strings"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// String renders r in the --resources text syntax, "cpus(*):2; mem(*):1024;
// ports(*):[31000-32000]", which Parse reads back for unallocated, statically
// reserved or unreserved resources whose roles avoid ")", ":" and ";". Other identities get Mesos-style
// annotations after the role ("(allocated: r)", "(reservations: [...])",
// "[disk]", "{REV}", "<SHARED>") and a "<n>" suffix for n > 1 copies; those
// forms are for logs only. The empty value renders as "".
func (r Resources) String() string {
	var b strings.Builder
	for i := range r.entries {
		if i > 0 {
			b.WriteString("; ")
		}
		r.entries[i].writeTo(&b)
	}
	return b.String()
}

func (e *entry) writeTo(b *strings.Builder) {
	b.WriteString(e.name + "(" + e.id.owner() + ")")
	describeIdentity(b, e.id)
	b.WriteByte(':')
	b.WriteString(e.valueString())
	if e.copies > 1 {
		b.WriteString("<" + strconv.FormatInt(int64(e.copies), 10) + ">")
	}
}

func (e *entry) valueString() string {
	switch e.kind {
	case mesos.Value_SCALAR:
		return e.scalar.String()
	case mesos.Value_RANGES:
		return formatRanges(e.ranges)
	default:
		return formatItems(e.items())
	}
}

// Summary is the legacy flat map of /master/state and friends: cpus, gpus, mem
// and disk always (0 when absent) as float64; other scalars as float64; ranges
// as "[31000-32000, 33000-34000]"; sets as "{a, b}"; revocable resources under
// "<name>_revocable".
func (r Resources) Summary() map[string]any {
	m := map[string]any{"cpus": 0.0, "gpus": 0.0, "mem": 0.0, "disk": 0.0}
	r.NonRevocable().summarizeInto(m, "")
	r.Revocable().summarizeInto(m, "_revocable")
	return m
}

// summarizeInto adds r's flat summary to m, one key per name (name+suffix).
// Entries of one name are adjacent, so each group is summarized on its own.
func (r Resources) summarizeInto(m map[string]any, suffix string) {
	for start := 0; start < len(r.entries); {
		name := r.entries[start].name
		end := start + 1
		for end < len(r.entries) && r.entries[end].name == name {
			end++
		}
		group := Resources{entries: r.entries[start:end]}
		switch r.entries[end-1].kind {
		case mesos.Value_SCALAR:
			m[name+suffix] = group.Scalar(name).Float()
		case mesos.Value_RANGES:
			m[name+suffix] = formatRanges(group.Ranges(name))
		default:
			m[name+suffix] = formatItems(group.items(name))
		}
		start = end
	}
}

// SummaryByRole is the legacy reserved_resources map: for each owning role,
// the Summary of the resources reserved to it.
func (r Resources) SummaryByRole() map[string]map[string]any {
	byRole := make(map[string][]entry)
	for _, e := range r.entries {
		if e.id.reserved() {
			byRole[e.id.owner()] = append(byRole[e.id.owner()], e)
		}
	}
	out := make(map[string]map[string]any, len(byRole))
	for role, entries := range byRole {
		out[role] = Resources{entries: entries}.Summary()
	}
	return out
}

// FlatAttributes is the legacy flat attributes map: scalars as float64, ranges
// as "[1-10]", sets as "{a, b}", text as string.
func FlatAttributes(attrs []*mesos.Attribute) map[string]any {
	m := make(map[string]any, len(attrs))
	for _, a := range attrs {
		switch a.GetType() {
		case mesos.Value_SCALAR:
			m[a.GetName()] = a.GetScalar().GetValue()
		case mesos.Value_RANGES:
			m[a.GetName()] = formatRanges(rangesOf(a.GetRanges()))
		case mesos.Value_SET:
			m[a.GetName()] = formatItems(a.GetSet().GetItem())
		case mesos.Value_TEXT:
			m[a.GetName()] = a.GetText().GetValue()
		}
	}
	return m
}

// FormatAttributes renders attributes in the --attributes syntax
// ("rack:r1;zone:2;range:[1-10]"), which ParseAttributes reads back.
func FormatAttributes(attrs []*mesos.Attribute) string {
	var b strings.Builder
	for i, a := range attrs {
		if i > 0 {
			b.WriteByte(';')
		}
		b.WriteString(a.GetName() + ":")
		switch a.GetType() {
		case mesos.Value_SCALAR:
			b.WriteString(strconv.FormatFloat(a.GetScalar().GetValue(), 'g', -1, 64))
		case mesos.Value_RANGES:
			b.WriteString(formatRanges(rangesOf(a.GetRanges())))
		case mesos.Value_SET:
			b.WriteString(formatItems(a.GetSet().GetItem()))
		case mesos.Value_TEXT:
			b.WriteString(a.GetText().GetValue())
		}
	}
	return b.String()
}

func rangesOf(v *mesos.Value_Ranges) []Range {
	out := make([]Range, len(v.GetRange()))
	for i, rg := range v.GetRange() {
		out[i] = Range{rg.GetBegin(), rg.GetEnd()}
	}
	return out
}
