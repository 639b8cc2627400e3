package resources

import (
	"errors"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

func TestValidateAccepts(t *testing.T) {
	valid := map[string]*mesos.Resource{
		"scalar":           scalarRes("cpus", 1.5),
		"zero scalar":      scalarRes("cpus", 0),
		"max scalar":       scalarRes("mem", MaxScalarValue),
		"ranges":           rangesRes("ports", Range{1, 5}, Range{6, 9}),
		"empty ranges":     rangesRes("ports"),
		"set":              setRes("bugs", "a", "b"),
		"custom scalar":    scalarRes("foo", 3),
		"custom ranges":    rangesRes("foo", Range{1, 1}),
		"static":           withStack(scalarRes("cpus", 1), staticRes("eng")),
		"refined":          withStack(scalarRes("cpus", 1), staticRes("eng"), dynamicRes("eng/a", "p"), dynamicRes("eng/a/b", "p")),
		"legacy static":    withRole(scalarRes("cpus", 1), "eng", nil),
		"legacy dynamic":   withRole(scalarRes("cpus", 1), "eng", &mesos.Resource_ReservationInfo{Principal: proto.String("p")}),
		"endpoint dynamic": withRole(withStack(scalarRes("cpus", 1), dynamicRes("eng", "p")), "eng", &mesos.Resource_ReservationInfo{Principal: proto.String("p")}),
		"endpoint static":  withRole(withStack(scalarRes("cpus", 1), staticRes("eng")), "eng", nil),
		"volume":           volumeRes("v1", 10, "eng"),
		"shared volume":    shared(volumeRes("v1", 10, "eng")),
		"mount disk":       mountDisk("/mnt", 10),
		"revocable":        revocable(scalarRes("cpus", 1)),
		"revocable static": revocable(withStack(scalarRes("cpus", 1), staticRes("eng"))),
		"allocated":        allocated(scalarRes("cpus", 1), "eng/a"),
		"whole gpus":       scalarRes("gpus", 2),
	}
	for name, r := range valid {
		if err := Validate([]*mesos.Resource{r}); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	withDisk := func(r *mesos.Resource, d *mesos.Resource_DiskInfo) *mesos.Resource {
		r.Disk = d
		return r
	}
	volNoReservation := volumeRes("v1", 10, "eng")
	volNoReservation.Reservations = nil
	volNoVolume := volumeRes("v1", 10, "eng")
	volNoVolume.Disk.Volume = nil
	volHostPath := volumeRes("v1", 10, "eng")
	volHostPath.Disk.Volume.HostPath = proto.String("/tmp")
	volBadID := volumeRes("a/b", 10, "eng")
	blockWithPath := withDisk(scalarRes("disk", 1), &mesos.Resource_DiskInfo{Source: &mesos.Resource_DiskInfo_Source{
		Type: mesos.Resource_DiskInfo_Source_BLOCK.Enum(), Path: &mesos.Resource_DiskInfo_Source_Path{},
	}})
	noType := withStack(scalarRes("cpus", 1), &mesos.Resource_ReservationInfo{Role: proto.String("eng")})

	tests := []struct {
		name string
		r    *mesos.Resource
		want string
	}{
		{"empty name", scalarRes("", 1), "empty resource name"},
		{"text type", &mesos.Resource{Name: proto.String("x"), Type: mesos.Value_TEXT.Enum()}, "TEXT is not a resource type"},
		{"unknown type", &mesos.Resource{Name: proto.String("x"), Type: mesos.Value_Type(9).Enum()}, "unknown resource type 9"},
		{"scalar missing", &mesos.Resource{Name: proto.String("x"), Type: mesos.Value_SCALAR.Enum()}, "must set only 'scalar'"},
		{"scalar with set", func() *mesos.Resource { r := scalarRes("x", 1); r.Set = &mesos.Value_Set{}; return r }(), "must set only 'scalar'"},
		{"ranges missing", &mesos.Resource{Name: proto.String("x"), Type: mesos.Value_RANGES.Enum()}, "must set only 'ranges'"},
		{"set missing", &mesos.Resource{Name: proto.String("x"), Type: mesos.Value_SET.Enum()}, "must set only 'set'"},
		{"negative", scalarRes("cpus", -1), "scalar value -1 is negative"},
		{"NaN", scalarRes("cpus", math.NaN()), "not finite"},
		{"infinite", scalarRes("cpus", math.Inf(1)), "not finite"},
		{"too large", scalarRes("mem", 2e12), "exceeds the maximum"},
		{"rounds to zero", scalarRes("cpus", 0.0001), "rounds to zero"},
		{"inverted range", rangesRes("ports", Range{5, 4}), "range [5-4] begins after it ends"},
		{"overlapping", rangesRes("ports", Range{1, 5}, Range{5, 9}), "overlapping ranges [1-5] and [5-9]"},
		{"duplicate item", setRes("bugs", "a", "a"), `duplicate set item "a"`},
		{"cpus as ranges", rangesRes("cpus", Range{1, 2}), "cpus must be SCALAR, not RANGES"},
		{"ports as scalar", scalarRes("ports", 2), "ports must be RANGES, not SCALAR"},
		{"fractional gpus", scalarRes("gpus", 1.5), "gpus must be a whole number"},
		{"disk info on cpus", withDisk(scalarRes("cpus", 1), &mesos.Resource_DiskInfo{}), "disk info is not allowed on cpus"},
		{"empty disk info", withDisk(scalarRes("disk", 1), &mesos.Resource_DiskInfo{}), "disk info is set but empty"},
		{"block with path", blockWithPath, "BLOCK disk source must not set path or mount"},
		{"non-persistent volume", withDisk(scalarRes("disk", 1), &mesos.Resource_DiskInfo{Volume: &mesos.Volume{}}), "non-persistent volumes are not supported"},
		{"unreserved volume", volNoReservation, "from unreserved resources"},
		{"revocable volume", revocable(volumeRes("v1", 1, "eng")), "from revocable resources"},
		{"volume without volume", volNoVolume, "must set 'volume'"},
		{"volume host_path", volHostPath, "must not set 'host_path'"},
		{"bad persistence id", volBadID, "invalid persistence id"},
		{"bad legacy role", withRole(scalarRes("cpus", 1), "a//b", nil), "two adjacent slashes"},
		{"dynamic star", withRole(scalarRes("cpus", 1), "*", &mesos.Resource_ReservationInfo{}), `role "*" cannot be dynamically reserved`},
		{"legacy reservation role", withRole(scalarRes("cpus", 1), "eng", &mesos.Resource_ReservationInfo{Role: proto.String("eng")}), "'reservation.role' must not be set"},
		{"reservation without type", noType, "'type' must be set"},
		{"reserve star", withStack(scalarRes("cpus", 1), staticRes("*")), `role "*" cannot be reserved`},
		{"static refinement", withStack(scalarRes("cpus", 1), staticRes("eng"), staticRes("eng/a")), "refined reservation cannot be STATIC"},
		{"refinement not child", withStack(scalarRes("cpus", 1), staticRes("eng"), dynamicRes("ops", "p")), `role "ops" is not a refinement of "eng"`},
		{"refinement to self", withStack(scalarRes("cpus", 1), staticRes("eng"), dynamicRes("eng", "p")), "is not a refinement"},
		{"role mismatch", withRole(withStack(scalarRes("cpus", 1), staticRes("eng")), "ops", nil), `'role' "ops" does not match`},
		{"role with refined", withRole(withStack(scalarRes("cpus", 1), staticRes("eng"), dynamicRes("eng/a", "p")), "eng", nil), "must not be set with refined"},
		{"static with reservation", withRole(withStack(scalarRes("cpus", 1), staticRes("eng")), "eng", &mesos.Resource_ReservationInfo{}), "'reservation' must not be set for a STATIC"},
		{"dynamic role only", withRole(withStack(scalarRes("cpus", 1), dynamicRes("eng", "p")), "eng", nil), "both set or both unset"},
		{"principal mismatch", withRole(withStack(scalarRes("cpus", 1), dynamicRes("eng", "p")), "eng", &mesos.Resource_ReservationInfo{Principal: proto.String("q")}), "principal' does not match"},
		{"revocable dynamic", revocable(withStack(scalarRes("cpus", 1), dynamicRes("eng", "p"))), "dynamically reserved resources cannot be revocable"},
		{"shared cpus", shared(scalarRes("cpus", 1)), "only persistent volumes can be shared"},
		{"bad allocation role", allocated(scalarRes("cpus", 1), "a b"), "allocation role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate([]*mesos.Resource{scalarRes("mem", 1), tt.r})
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if tt.r.GetName() != "" && !strings.Contains(err.Error(), tt.r.GetName()) {
				t.Errorf("error %q does not name the resource %q", err, tt.r.GetName())
			}
		})
	}
}

func TestValidateErrorNamesResource(t *testing.T) {
	err := Validate([]*mesos.Resource{withStack(scalarRes("cpus", -2), staticRes("eng"))})
	want := `resources: invalid resource "cpus(eng):-2": scalar value -2 is negative`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if err := Validate([]*mesos.Resource{nil}); err == nil {
		t.Fatal("nil resource accepted")
	}
}

func TestValidateRole(t *testing.T) {
	valid := []string{"*", "eng", "eng/dev", "a.b", "a-b", "x/y/z", "ünïcode", "a*"}
	for _, role := range valid {
		if err := ValidateRole(role); err != nil {
			t.Errorf("ValidateRole(%q) = %v", role, err)
		}
	}
	invalid := map[string]string{
		"":        "empty role name",
		"/a":      "cannot start with a slash",
		"a/":      "cannot end with a slash",
		"a//b":    "two adjacent slashes",
		".":       `cannot include "."`,
		"a/..":    `cannot include ".."`,
		"a/*":     `cannot include "*"`,
		"-a":      "starts with a dash",
		"a/-b":    "starts with a dash",
		"a b":     "whitespace",
		"a\tb":    "whitespace",
		"a\x01":   "control",
		"a\x7f":   "control",
		"a\u00a0": "whitespace",
	}
	for role, want := range invalid {
		err := ValidateRole(role)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateRole(%q) = %v, want error mentioning %q", role, err, want)
		}
	}
}
