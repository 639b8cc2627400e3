package resources

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

// Seeds beyond testdata/fuzz: one per syntax feature.
var parseSeeds = []string{
	"cpus:24;mem:24576;ports:[21000-24000,30000-34000];bugs(role):{a,b}",
	"cpus(eng/dev):0.5; mem(*):1e3 ;disk:0",
	`[{"name":"cpus","type":"SCALAR","scalar":{"value":2},"role":"eng"}]`,
	`[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":1,"end":5}]},"reservations":[{"type":"STATIC","role":"a"}]}]`,
	"ports:[5-1]",
	"gpus:1.5;cpus:-1",
	"x(a(b):{c,,d}",
}

func FuzzParse(f *testing.F) {
	for _, s := range parseSeeds {
		f.Add(s, "*")
	}
	f.Add("cpus:1", "eng")
	f.Fuzz(func(t *testing.T, text, role string) {
		r, err := Parse(text, role)
		if err != nil {
			return
		}
		checkCanonical(t, r)
		checkProtoRoundTrip(t, r)
		if json.Valid([]byte(text)) || !textSpellable(r) {
			return // JSON names and default roles may use characters the text syntax reserves
		}
		again, err := Parse(r.String(), "*")
		if err != nil {
			t.Fatalf("Parse(%q) = %s, which does not parse again: %v", text, r, err)
		}
		if !again.Equal(r) {
			t.Fatalf("Parse(%q) = %s, re-parsed as %s", text, r, again)
		}
	})
}

// textSpellable reports whether every role of r can appear in parentheses.
func textSpellable(r Resources) bool {
	for _, role := range r.ReservationRoles() {
		if strings.ContainsAny(role, "):;") {
			return false
		}
	}
	return true
}

func checkProtoRoundTrip(t *testing.T, r Resources) {
	t.Helper()
	for _, f := range []Format{PostRefinement, PreRefinement, Endpoint} {
		back, err := FromProto(r.ToProto(f))
		if err != nil || !back.Equal(r) {
			t.Fatalf("format %d round trip of %s = %s, %v", f, r, back, err)
		}
	}
}

var attributeSeeds = []string{
	"rack:r1;zone:2;range:[1-10]",
	"host:my.host-1;\nfrac:-0.25;path:/a/b_c;",
	"big:1e400;neg:-0;exp:2E+3",
	"tags:{a,b}",
	"rack:r1;rack:r2",
	"a:[1-2,2-3,]",
}

func FuzzParseAttributes(f *testing.F) {
	for _, s := range attributeSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		attrs, err := ParseAttributes(text)
		if err != nil {
			return
		}
		flat := FlatAttributes(attrs)
		if len(flat) != len(attrs) {
			t.Fatalf("FlatAttributes lost names: %v from %v", flat, attrs)
		}
		rendered := FormatAttributes(attrs)
		again, err := ParseAttributes(rendered)
		if err != nil {
			t.Fatalf("ParseAttributes(%q) rendered as %q, which does not parse: %v", text, rendered, err)
		}
		if len(again) != len(attrs) {
			t.Fatalf("re-parse of %q has %d attributes, want %d", rendered, len(again), len(attrs))
		}
		for i := range attrs {
			if !proto.Equal(attrs[i], again[i]) {
				t.Fatalf("attribute %d: %v re-parsed as %v", i, attrs[i], again[i])
			}
		}
	})
}
