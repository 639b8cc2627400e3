package spec

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/agoraproject/agora/api/marathon"
)

var opts = Options{DefaultRole: "*"}

func decode(t *testing.T, body string) *marathon.App {
	t.Helper()
	a, fields, err := DecodeApp([]byte(body))
	if err != nil {
		t.Fatalf("DecodeApp(%s): %v", body, err)
	}
	Normalize(&a, fields, opts)
	return &a
}

func TestDefaultsAreEchoed(t *testing.T) {
	a := decode(t, `{"id":"/web","cmd":"serve"}`)
	if err := Validate(a, opts); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(a)
	want := `{"id":"/web","backoffFactor":1.15,"backoffSeconds":1,"cmd":"serve","constraints":[],"cpus":1,"dependencies":[],` +
		`"disk":0,"env":{},"executor":"","fetch":[],"gpus":0,"healthChecks":[],"instances":1,"killSelection":"YOUNGEST_FIRST",` +
		`"labels":{},"maxLaunchDelaySeconds":300,"mem":128,"networks":[{"mode":"host"}],` +
		`"portDefinitions":[{"port":0,"protocol":"tcp","name":"default"}],"readinessChecks":[],"requirePorts":false,"role":"*",` +
		`"secrets":{},"unreachableStrategy":{"inactiveAfterSeconds":0,"expungeAfterSeconds":0},` +
		`"upgradeStrategy":{"minimumHealthCapacity":1,"maximumOverCapacity":1}}`
	if string(got) != want {
		t.Errorf("normalised app:\n got %s\nwant %s", got, want)
	}
}

func TestPartialObjectsKeepDefaults(t *testing.T) {
	a := decode(t, `{"id":"/a","cmd":"x","instances":0,"upgradeStrategy":{"minimumHealthCapacity":0.5},
		"healthChecks":[{"protocol":"TCP","maxConsecutiveFailures":0}],"portDefinitions":[]}`)
	if a.Instances != 0 {
		t.Errorf("instances 0 became %d", a.Instances)
	}
	if *a.UpgradeStrategy != (marathon.UpgradeStrategy{MinimumHealthCapacity: 0.5, MaximumOverCapacity: 1}) {
		t.Errorf("upgradeStrategy %+v", *a.UpgradeStrategy)
	}
	hc := a.HealthChecks[0]
	if hc.MaxConsecutiveFailures != 0 || hc.IntervalSeconds != 60 || hc.GracePeriodSeconds != 300 || hc.Path != "" || *hc.PortIndex != 0 {
		t.Errorf("health check defaults %+v", hc)
	}
	if len(a.PortDefinitions) != 0 {
		t.Errorf("explicit [] port definitions replaced by %v", a.PortDefinitions)
	}
}

func TestDeprecatedFieldsAreConverted(t *testing.T) {
	a := decode(t, `{"id":"/a","cmd":"x","ports":[0,0],"uris":["http://x/y.tgz"],
		"container":{"type":"DOCKER","docker":{"image":"nginx","network":"BRIDGE","portMappings":[{"containerPort":80}]}}}`)
	if a.Ports != nil || a.URIs != nil || a.Container.Docker.Network != "" || a.Container.Docker.PortMappings != nil {
		t.Errorf("deprecated fields kept: %+v", a)
	}
	if a.Networks[0].Mode != marathon.NetworkBridge || len(a.Container.PortMappings) != 1 || *a.Container.PortMappings[0].HostPort != 0 {
		t.Errorf("docker network not converted: %+v %+v", a.Networks, a.Container.PortMappings)
	}
	if a.PortDefinitions != nil {
		t.Errorf("bridge app has port definitions %v", a.PortDefinitions)
	}
	if len(a.Fetch) != 1 || !a.Fetch[0].Extract {
		t.Errorf("uris → fetch: %+v", a.Fetch)
	}
}

func TestMalformedJSONNamesThePath(t *testing.T) {
	for body, want := range map[string]marathon.ErrorDetail{
		`{"id":5}`:                          {Path: "/id", Errors: []string{"error.expected.jsstring"}},
		`{"id":"/a","instances":"many"}`:    {Path: "/instances", Errors: []string{"error.expected.jsnumber"}},
		`{"id":"/a","upgradeStrategy":[1]}`: {Path: "/upgradeStrategy", Errors: []string{"error.expected.jsobject"}},
		`[1]`:                               {Path: "/", Errors: []string{"error.expected.jsobject"}},
	} {
		_, _, err := DecodeApp([]byte(body))
		var m *Malformed
		if !errors.As(err, &m) || len(m.Details) != 1 {
			t.Errorf("%s: %v, want *Malformed", body, err)
			continue
		}
		if diff := cmp.Diff(want, m.Details[0]); diff != "" {
			t.Errorf("%s (-want +got):\n%s", body, diff)
		}
	}
	if _, _, err := DecodeApp([]byte(`{"id":`)); err == nil {
		t.Error("truncated JSON accepted")
	}
}

func TestValidationNamesEveryField(t *testing.T) {
	a := decode(t, `{"id":"/a","cmd":"x","args":["y"],"cpus":-1,"instances":-2,"backoffFactor":0.5,
		"upgradeStrategy":{"minimumHealthCapacity":1.5,"maximumOverCapacity":-0.1},
		"constraints":[["hostname","UNIQUE","x"],["rack","MAX_PER"],["a"],["z","LIKE"],["z","NEAR","1"]],
		"killSelection":"RANDOM","unreachableStrategy":{"inactiveAfterSeconds":10,"expungeAfterSeconds":5},
		"healthChecks":[{"protocol":"HTTP","portIndex":3}],"role":"prod"}`)
	err := Validate(a, opts)
	var inv *Invalid
	if !errors.As(err, &inv) {
		t.Fatalf("Validate: %v, want *Invalid", err)
	}
	got := map[string][]string{}
	for _, d := range inv.Details {
		got[d.Path] = d.Errors
	}
	want := map[string]string{
		"/":                                      "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.",
		"/cpus":                                  "got -1, expected 0.001 or more",
		"/instances":                             "got -2, expected 0 or more",
		"/backoffFactor":                         "got 0.5, expected 1.0 or more",
		"/upgradeStrategy/minimumHealthCapacity": "is greater than 1",
		"/upgradeStrategy/maximumOverCapacity":   "is less than 0",
		"/constraints/0":                         "UNIQUE does not accept a value",
		"/constraints/1":                         "MAX_PER requires an integer value",
		"/constraints/2":                         "Each constraint must have either 2 or 3 fields",
		"/constraints/3":                         "LIKE and UNLIKE require a non-empty, regular expression value",
		"/killSelection":                         "must be one of YOUNGEST_FIRST, OLDEST_FIRST",
		"/unreachableStrategy/expungeAfterSeconds": "got 5, expected 10 or more (inactiveAfterSeconds)",
		"/healthChecks/0/portIndex":                "Health check port indices must address an element of the ports array or container port mappings.",
	}
	for path, msg := range want {
		if len(got[path]) == 0 || got[path][0] != msg {
			t.Errorf("%s: %v, want %q", path, got[path], msg)
		}
	}
	if len(got["/constraints/4"]) == 0 || len(got["/role"]) == 0 {
		t.Errorf("unknown operator or role not reported: %v", got)
	}
}

func TestResolve(t *testing.T) {
	tests := []struct{ id, base, want string }{
		{"/a/b", "/", "/a/b"}, {"b", "/a", "/a/b"}, {"../c", "/a/b", "/a/c"}, {"./d", "/a", "/a/d"}, {"x.y-z", "/", "/x.y-z"},
	}
	for _, tc := range tests {
		if got, err := Resolve(tc.id, tc.base); err != nil || got != tc.want {
			t.Errorf("Resolve(%q, %q) = %q, %v; want %q", tc.id, tc.base, got, err, tc.want)
		}
	}
	for _, bad := range []string{"/A", "/a_b", "/-a", "/a-", "/../x"} {
		if _, err := Resolve(bad, "/"); err == nil {
			t.Errorf("Resolve(%q) accepted", bad)
		}
	}
	if ServiceName("/prod/web") != "web.prod" || SafeID("/prod/web") != "prod_web" || FromSafeID("prod_web") != "/prod/web" {
		t.Error("ServiceName/SafeID/FromSafeID")
	}
}

func TestMergeAndStamp(t *testing.T) {
	base := decode(t, `{"id":"/a","cmd":"x","instances":2,"portDefinitions":[]}`)
	Stamp(base, nil, "v1", false)
	merged, fields, err := MergeApp(*base, []byte(`{"instances":5}`))
	if err != nil {
		t.Fatal(err)
	}
	Normalize(&merged, fields, opts)
	if merged.Instances != 5 || merged.Cmd != "x" || len(merged.PortDefinitions) != 0 {
		t.Errorf("merge: %+v", merged)
	}
	Stamp(&merged, base, "v2", false)
	if merged.VersionInfo.LastScalingAt != "v2" || merged.VersionInfo.LastConfigChangeAt != "v1" {
		t.Errorf("scale-only change stamped %+v", merged.VersionInfo)
	}
	changed, fields, _ := MergeApp(merged, []byte(`{"args":["run"]}`))
	Normalize(&changed, fields, opts)
	if changed.Cmd != "" || len(changed.Args) != 1 {
		t.Errorf("args did not displace cmd: %+v", changed)
	}
	Stamp(&changed, &merged, "v3", false)
	if changed.VersionInfo.LastConfigChangeAt != "v3" || !ConfigChanged(&merged, &changed) {
		t.Errorf("config change stamped %+v", changed.VersionInfo)
	}
}

func TestAssignServicePorts(t *testing.T) {
	a := decode(t, `{"id":"/a","cmd":"x","portDefinitions":[{"port":0},{"port":10001},{"port":0}]}`)
	used := map[int]bool{10000: true}
	if err := AssignServicePorts(a, used, 10000, 10010); err != nil {
		t.Fatal(err)
	}
	if got := ServicePorts(a); !cmp.Equal(got, []int{10002, 10001, 10003}) {
		t.Errorf("service ports %v", got)
	}
	b := decode(t, `{"id":"/b","cmd":"x","portDefinitions":[{"port":0}]}`)
	if err := AssignServicePorts(b, map[int]bool{10000: true}, 10000, 10000); err == nil {
		t.Error("exhausted range accepted")
	}
}

func FuzzDecodeApp(f *testing.F) {
	for _, seed := range []string{`{"id":"/a","cmd":"x"}`, `{"id":"/a","container":{"docker":{"image":"x"}},"networks":[{"mode":"container/bridge"}]}`,
		`{"id":"a","env":{"A":{"secret":"s"}},"unreachableStrategy":"disabled","constraints":[["a","GROUP_BY",3]]}`, `[]`, `null`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		a, fields, err := DecodeApp(body)
		if err != nil {
			return
		}
		Normalize(&a, fields, opts)
		if Validate(&a, opts) != nil {
			return
		}
		out, err := json.Marshal(a)
		if err != nil {
			t.Fatalf("valid app does not marshal: %v", err)
		}
		again, fields, err := DecodeApp(out)
		if err != nil {
			t.Fatalf("echoed app does not decode: %v\n%s", err, out)
		}
		Normalize(&again, fields, opts)
		if ConfigChanged(&a, &again) || a.Instances != again.Instances {
			t.Fatalf("echo changed the app:\n%s", out)
		}
	})
}
