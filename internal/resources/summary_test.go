package resources

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

func TestSummary(t *testing.T) {
	r := res(
		scalarRes("cpus", 2.5),
		withStack(scalarRes("cpus", 1), staticRes("eng")),
		scalarRes("mem", 1024),
		rangesRes("ports", Range{31000, 32000}),
		withStack(rangesRes("ports", Range{33000, 34000}), staticRes("eng")),
		setRes("bugs", "b", "a"),
		revocable(scalarRes("cpus", 0.5)),
		scalarRes("foo", 3),
	)
	want := map[string]any{
		"cpus":           3.5,
		"gpus":           0.0,
		"mem":            1024.0,
		"disk":           0.0,
		"ports":          "[31000-32000, 33000-34000]",
		"bugs":           "{a, b}",
		"foo":            3.0,
		"cpus_revocable": 0.5,
	}
	if diff := cmp.Diff(want, r.Summary()); diff != "" {
		t.Errorf("Summary (-want +got):\n%s", diff)
	}
	empty := map[string]any{"cpus": 0.0, "gpus": 0.0, "mem": 0.0, "disk": 0.0}
	if diff := cmp.Diff(empty, Resources{}.Summary()); diff != "" {
		t.Errorf("empty Summary (-want +got):\n%s", diff)
	}
	byRole := map[string]map[string]any{
		"eng": {"cpus": 1.0, "gpus": 0.0, "mem": 0.0, "disk": 0.0, "ports": "[33000-34000]"},
	}
	if diff := cmp.Diff(byRole, r.SummaryByRole()); diff != "" {
		t.Errorf("SummaryByRole (-want +got):\n%s", diff)
	}
}

func TestFlatAttributes(t *testing.T) {
	attrs, err := ParseAttributes("rack:r1;zone:2;range:[1-10,20-30]")
	if err != nil {
		t.Fatal(err)
	}
	attrs = append(attrs, &mesos.Attribute{Name: proto.String("tags"), Type: mesos.Value_SET.Enum(), Set: &mesos.Value_Set{Item: []string{"x", "y"}}})
	want := map[string]any{"rack": "r1", "zone": 2.0, "range": "[1-10, 20-30]", "tags": "{x, y}"}
	if diff := cmp.Diff(want, FlatAttributes(attrs)); diff != "" {
		t.Errorf("FlatAttributes (-want +got):\n%s", diff)
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		r    Resources
		want string
	}{
		{Resources{}, ""},
		{mustParse(t, "cpus:2;mem:1024;ports:[31000-32000]"), "cpus(*):2; mem(*):1024; ports(*):[31000-32000]"},
		{res(allocated(withStack(scalarRes("cpus", 1), staticRes("eng")), "eng")), "cpus(eng)(allocated: eng):1"},
		{res(revocable(scalarRes("cpus", 1))), "cpus(*){REV}:1"},
		{res(mountDisk("/mnt", 10)), "disk(*)[MOUNT:/mnt]:10"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("String = %q, want %q", got, tt.want)
		}
	}
}

func TestDefaultResources(t *testing.T) {
	const gb = 1 << 30
	tests := []struct {
		name       string
		cpus       int
		mem, disk  uint64
		wantString string
	}{
		{"large machine", 16, 64 * gb, 500 * gb, "cpus(*):16; disk(*):506880; mem(*):64512; ports(*):[31000-32000]"},
		{"small machine", 1, 1 * gb, 8 * gb, "cpus(*):1; disk(*):4096; mem(*):512; ports(*):[31000-32000]"},
		{"thresholds", 2, 2 * gb, 10 * gb, "cpus(*):2; disk(*):5120; mem(*):1024; ports(*):[31000-32000]"},
		{"unknown cpus, odd bytes", 0, 3*gb + 12345, gb + 1, "cpus(*):1; disk(*):512; mem(*):2048; ports(*):[31000-32000]"},
	}
	for _, tt := range tests {
		got := DefaultResources(tt.cpus, tt.mem, tt.disk)
		checkCanonical(t, got)
		if got.String() != tt.wantString {
			t.Errorf("%s: DefaultResources = %q, want %q", tt.name, got, tt.wantString)
		}
		if err := Validate(got.ToProto(PostRefinement)); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}
