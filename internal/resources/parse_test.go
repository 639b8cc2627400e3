package resources

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

func TestParseGolden(t *testing.T) {
	tests := []struct {
		name, text, role, want string
	}{
		{"reference example", "cpus:24;mem:24576;ports:[21000-24000,30000-34000];bugs(role):{a,b}", "*",
			"bugs(role):{a, b}; cpus(*):24; mem(*):24576; ports(*):[21000-24000, 30000-34000]"},
		{"default role", "cpus:2;mem(*):10;disk(ops):5", "eng", "cpus(eng):2; disk(ops):5; mem(*):10"},
		{"empty default role means *", "cpus:2", "", "cpus(*):2"},
		{"spaces", " cpus : 1.5 ; ports ( eng ) : [ 1 - 2 , 5 - 6 ] ;", "*", "cpus(*):1.5; ports(eng):[1-2, 5-6]"},
		{"ranges coalesced", "ports:[5-9,1-4,3-3]", "*", "ports(*):[1-9]"},
		{"repeated names add", "cpus:1;cpus:2.5;cpus(a):1", "*", "cpus(*):3.5; cpus(a):1"},
		{"fixed point", "cpus:0.0005;mem:1.23456", "*", "cpus(*):0.001; mem(*):1.235"},
		{"exponent", "mem:1e3", "*", "mem(*):1000"},
		{"zero dropped", "cpus:0;mem:1", "*", "mem(*):1"},
		{"empty set dropped", "bugs:{}", "*", ""},
		{"empty", "", "*", ""},
		{"only separators", " ; ;", "*", ""},
		{"hierarchical role", "cpus(eng/dev):1", "*", "cpus(eng/dev):1"},
		{"custom names", "foo:3;bar:[1-1];baz:{x}", "*", "bar(*):[1-1]; baz(*):{x}; foo(*):3"},
		{"name like JSON", "[x:1;a:2", "*", "[x(*):1; a(*):2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(tt.text, tt.role)
			if err != nil {
				t.Fatal(err)
			}
			checkCanonical(t, got)
			if got.String() != tt.want {
				t.Errorf("Parse(%q) = %q\nwant %q", tt.text, got, tt.want)
			}
		})
	}
}

func TestParseReferenceExampleProtos(t *testing.T) {
	got := mustParse(t, "cpus:24;mem:24576;ports:[21000-24000,30000-34000];bugs(role):{a,b}").ToProto(PostRefinement)
	want := []*mesos.Resource{
		withStack(setRes("bugs", "a", "b"), staticRes("role")),
		scalarRes("cpus", 24),
		scalarRes("mem", 24576),
		rangesRes("ports", Range{21000, 24000}, Range{30000, 34000}),
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseJSON(t *testing.T) {
	text := `[
	  {"name": "cpus", "type": "SCALAR", "scalar": {"value": 24}},
	  {"name": "ports", "type": "RANGES", "ranges": {"range": [{"begin": 21000, "end": 24000}]}},
	  {"name": "mem", "type": "SCALAR", "scalar": {"value": 1024}, "role": "eng"},
	  {"name": "disk", "type": "SCALAR", "scalar": {"value": 10},
	   "reservations": [{"type": "STATIC", "role": "ops"}]},
	  {"name": "disk", "type": "SCALAR", "scalar": {"value": 100},
	   "disk": {"source": {"type": "MOUNT", "mount": {"root": "/mnt/d1"}}}},
	  {"name": "bugs", "type": "SET", "set": {"item": ["b", "a"]}}
	]`
	got, err := Parse(text, "web")
	if err != nil {
		t.Fatal(err)
	}
	want := res(
		withStack(scalarRes("cpus", 24), staticRes("web")),
		withStack(rangesRes("ports", Range{21000, 24000}), staticRes("web")),
		withStack(scalarRes("mem", 1024), staticRes("eng")),
		withStack(scalarRes("disk", 10), staticRes("ops")),
		withStack(mountDisk("/mnt/d1", 100), staticRes("web")),
		withStack(setRes("bugs", "a", "b"), staticRes("web")),
	)
	if !got.Equal(want) {
		t.Fatalf("Parse(JSON) = %s\nwant %s", got, want)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"no colon", "cpus", "exactly one ':'"},
		{"two colons", "cpus:1:2", "exactly one ':'"},
		{"empty name", ":1", "empty resource name"},
		{"empty value", "cpus:", "empty value"},
		{"negative", "cpus:-1", "negative"},
		{"text value", "cpus:lots", `value "lots" is not a scalar, ranges or set`},
		{"hex", "cpus:0x10", "is not a scalar"},
		{"inf", "cpus:inf", "is not a scalar"},
		{"unclosed paren", "cpus(eng:1", "mismatched parentheses"},
		{"close before open", "cpus)eng(:1", "mismatched parentheses"},
		{"stray close", "cp)us:1", "mismatched parentheses"},
		{"text after role", "cpus(eng)x:1", `unexpected "x" after the role`},
		{"bad role", "cpus(a//b):1", "two adjacent slashes"},
		{"empty role", "cpus():1", "empty role name"},
		{"star component", "cpus(a/*):1", `cannot include "*"`},
		{"unclosed range", "ports:[1-2", "expected ranges"},
		{"single number range", "ports:[5]", "expected a range like 1-10"},
		{"inverted range", "ports:[5-1]", "begins after it ends"},
		{"negative range", "ports:[-1-5]", "non-negative integers"},
		{"range overflow", "ports:[1-18446744073709551616]", "non-negative integers"},
		{"nested brackets", "ports:[[1-2]]", "expected ranges"},
		{"bracket inside", "bugs:a[b]", "unexpected bracket"},
		{"unclosed set", "bugs:{a,b", "expected a set"},
		{"duplicate items", "bugs:{a,a}", "duplicate set item"},
		{"cpus as ranges", "cpus:[1-2]", "cpus must be SCALAR"},
		{"two types", "foo:1;foo:[1-2]", "two types"},
		{"fractional gpus", "gpus:0.5", "whole number"},
		{"too large", "mem:1e13", "exceeds the maximum"},
		{"bad default role", "cpus:1", "default role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			role := "*"
			if tt.name == "bad default role" {
				role = "-x"
			}
			_, err := Parse(tt.text, role)
			if err == nil {
				t.Fatalf("Parse(%q) succeeded", tt.text)
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse(%q) error %q does not mention %q", tt.text, err, tt.want)
			}
		})
	}
}

func TestParseJSONErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"not JSON", `[{"name": }]`, "resources JSON"},
		{"not an array of objects", `[1]`, "element #0"},
		{"invalid resource", `[{"name":"cpus","type":"SCALAR","scalar":{"value":-1}}]`, "negative"},
		{"persistent volume", `[{"name":"disk","type":"SCALAR","scalar":{"value":1},"role":"eng",
			"reservation":{"principal":"p"},
			"disk":{"persistence":{"id":"v"},"volume":{"mode":"RW","container_path":"d"}}}]`, "persistent volumes cannot be given"},
		{"revocable", `[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"revocable":{}}]`, "revocable resources cannot be given"},
		{"dynamic", `[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"DYNAMIC","role":"eng"}]}]`, "dynamic reservations cannot be given"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.text, "*")
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrInvalid mentioning %q", err, tt.want)
			}
		})
	}
}

func TestParseAttributes(t *testing.T) {
	got, err := ParseAttributes("rack:r1;zone:2;range:[1-10,5-12];host: my.host-1 ;\nfrac:-0.25;path:/a/b_c;")
	if err != nil {
		t.Fatal(err)
	}
	text := func(name, v string) *mesos.Attribute {
		return &mesos.Attribute{Name: proto.String(name), Type: mesos.Value_TEXT.Enum(), Text: &mesos.Value_Text{Value: proto.String(v)}}
	}
	scalar := func(name string, v float64) *mesos.Attribute {
		return &mesos.Attribute{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)}}
	}
	want := []*mesos.Attribute{
		text("rack", "r1"),
		scalar("zone", 2),
		{Name: proto.String("range"), Type: mesos.Value_RANGES.Enum(), Ranges: rangesProto([]Range{{1, 12}})},
		text("host", "my.host-1"),
		scalar("frac", -0.25),
		text("path", "/a/b_c"),
	}
	if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if s := FormatAttributes(got); s != "rack:r1;zone:2;range:[1-12];host:my.host-1;frac:-0.25;path:/a/b_c" {
		t.Errorf("FormatAttributes = %q", s)
	}
}

func TestParseAttributesErrors(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"no colon", "rack", "expected name:value"},
		{"empty name", ":r1", "expected name:value"},
		{"empty value", "rack: ", "expected name:value"},
		{"set", "tags:{a,b}", "set values are not allowed"},
		{"bad text", "rack:r1:r2", "may only contain"},
		{"space inside text removed but comma not", "rack:a,b", "may only contain"},
		{"duplicate", "rack:r1;rack:r2", `name "rack" is given twice`},
		{"bad range", "ports:[1]", "expected a range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAttributes(tt.text)
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParseAttributes(%q) err = %v, want ErrInvalid mentioning %q", tt.text, err, tt.want)
			}
		})
	}
	if attrs, err := ParseAttributes(""); err != nil || len(attrs) != 0 {
		t.Errorf("empty attributes = %v, %v", attrs, err)
	}
}
