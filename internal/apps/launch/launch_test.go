package launch

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/marathon"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/apps/spec"
)

func scalar(name string, v float64, role string) *mesos.Resource {
	return &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(),
		Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)}, Role: proto.String(role)}
}

func ports(begin, end uint64) *mesos.Resource {
	return &mesos.Resource{Name: proto.String("ports"), Type: mesos.Value_RANGES.Enum(), Role: proto.String("*"),
		Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{{Begin: proto.Uint64(begin), End: proto.Uint64(end)}}}}
}

func offer(res ...*mesos.Resource) *mesos.Offer {
	return &mesos.Offer{Id: &mesos.OfferID{Value: proto.String("o1")}, AgentId: &mesos.AgentID{Value: proto.String("a1")},
		Hostname: proto.String("host1"), Resources: res}
}

func testApp(mutate func(*marathon.App)) *marathon.App {
	a := spec.Defaults()
	a.ID, a.Cmd, a.CPUs, a.Mem = "/prod/web", "serve", 0.5, 64
	if mutate != nil {
		mutate(&a)
	}
	spec.Normalize(&a, nil, spec.Options{DefaultRole: "*"})
	return &a
}

func sum(rs []*mesos.Resource, name string) float64 {
	var s float64
	for _, r := range rs {
		if r.GetName() == name {
			s += r.GetScalar().GetValue()
		}
	}
	return s
}

func TestTakeSubtractsUntilTheOfferIsUsedUp(t *testing.T) {
	p := NewPool(offer(scalar("cpus", 1.2, "*"), scalar("mem", 1000, "*"), ports(31000, 31009)))
	app := testApp(nil)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2 {
		m, reasons := p.Take(app, rng)
		if reasons != nil {
			t.Fatalf("instance %d: %v", i, reasons)
		}
		if sum(m.Resources, "cpus") != 0.5 || sum(m.Resources, "mem") != 64 || len(m.HostPorts) != 1 {
			t.Errorf("instance %d took %v, ports %v", i, m.Resources, m.HostPorts)
		}
	}
	if _, reasons := p.Take(app, rng); !slices.Equal(reasons, []string{marathon.ReasonInsufficientCpus}) {
		t.Errorf("third instance: reasons %v, want InsufficientCpus", reasons)
	}
}

func TestRolesAreRespected(t *testing.T) {
	p := NewPool(offer(scalar("cpus", 4, "prod"), scalar("mem", 1000, "prod")))
	if _, reasons := p.Take(testApp(nil), nil); !slices.Equal(reasons, []string{marathon.ReasonUnfulfilledRole}) {
		t.Errorf("'*' app on a prod-only offer: %v", reasons)
	}
	app := testApp(func(a *marathon.App) {
		a.AcceptedResourceRoles = []string{"prod"}
		a.PortDefinitions = []marathon.PortDefinition{}
	})
	m, reasons := p.Take(app, nil)
	if reasons != nil || m.Resources[0].GetRole() != "prod" {
		t.Errorf("accepted prod role: %v %v", reasons, m.Resources)
	}
}

func TestRequirePortsTakesLiteralPorts(t *testing.T) {
	app := testApp(func(a *marathon.App) {
		a.RequirePorts = true
		a.PortDefinitions = []marathon.PortDefinition{{Port: 31005, Name: "http"}, {Port: 31007, Name: "admin"}}
	})
	p := NewPool(offer(scalar("cpus", 4, "*"), scalar("mem", 1000, "*"), ports(31000, 31009)))
	m, reasons := p.Take(app, rand.New(rand.NewPCG(1, 1)))
	if reasons != nil || !slices.Equal(m.HostPorts, []int{31005, 31007}) {
		t.Fatalf("ports %v, reasons %v", m.HostPorts, reasons)
	}
	if _, reasons := p.Take(app, nil); !slices.Equal(reasons, []string{marathon.ReasonInsufficientPorts}) {
		t.Errorf("the same literal ports twice: %v", reasons)
	}
}

func TestDynamicPortsAreDistinctAndFromTheOffer(t *testing.T) {
	app := testApp(func(a *marathon.App) {
		a.CPUs, a.Mem = 0.01, 1
		a.PortDefinitions = []marathon.PortDefinition{{}, {}, {}}
	})
	p := NewPool(offer(scalar("cpus", 4, "*"), scalar("mem", 1000, "*"), ports(31000, 31008)))
	seen := map[int]bool{}
	rng := rand.New(rand.NewPCG(7, 7))
	for range 3 {
		m, reasons := p.Take(app, rng)
		if reasons != nil {
			t.Fatal(reasons)
		}
		for _, port := range m.HostPorts {
			if port < 31000 || port > 31008 || seen[port] {
				t.Fatalf("port %d reused or outside the offer (seen %v)", port, seen)
			}
			seen[port] = true
		}
	}
	if _, reasons := p.Take(app, rng); reasons == nil {
		t.Error("a fourth instance fit in 9 ports")
	}
}

func TestBuildTaskEnvironmentAndCommand(t *testing.T) {
	app := testApp(func(a *marathon.App) {
		a.Version = "2026-01-01T00:00:00.000Z"
		a.Env = map[string]marathon.EnvVar{"MODE": {Value: "prod"}, "TOKEN": {Secret: "tok"}}
		a.Labels = map[string]string{"team": "web", "tier.x": "front"}
		a.PortDefinitions = []marathon.PortDefinition{{Name: "http"}, {}}
		g := int64(7)
		a.TaskKillGracePeriodSeconds = &g
		a.Fetch = []marathon.Fetch{{URI: "http://x/a.tgz", Extract: true}}
		a.HealthChecks = []marathon.HealthCheck{{Protocol: marathon.ProtocolMesosHTTP, Path: "/health", IntervalSeconds: 5, TimeoutSeconds: 2, MaxConsecutiveFailures: 3}}
	})
	o := offer()
	instance := NewInstanceID(app.ID, uuid.MustParse("00000000-0000-0000-0000-000000000001"))
	ids := TaskIDs{InstanceID: instance, TaskID: TaskID(instance, 1)}
	task := BuildTask(app, ids, o, Match{HostPorts: []int{31001, 31002}})
	env := map[string]string{}
	for _, v := range task.GetCommand().GetEnvironment().GetVariables() {
		env[v.GetName()] = v.GetValue()
	}
	want := map[string]string{
		"MODE": "prod", "PORT": "31001", "PORT0": "31001", "PORT1": "31002", "PORTS": "31001,31002", "PORT_HTTP": "31001",
		"HOST": "host1", "MARATHON_APP_ID": "/prod/web", "MARATHON_APP_VERSION": "2026-01-01T00:00:00.000Z",
		"MESOS_TASK_ID":              "prod_web.instance-00000000-0000-0000-0000-000000000001._app.1",
		"MARATHON_APP_RESOURCE_CPUS": "0.5", "MARATHON_APP_RESOURCE_MEM": "64", "MARATHON_APP_RESOURCE_DISK": "0",
		"MARATHON_APP_RESOURCE_GPUS": "0", "MARATHON_APP_LABELS": "TEAM TIER_X",
		"MARATHON_APP_LABEL_TEAM": "web", "MARATHON_APP_LABEL_TIER_X": "front",
	}
	if diff := cmp.Diff(want, env); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}
	if task.GetName() != "web.prod" || !task.GetCommand().GetShell() || task.GetCommand().GetValue() != "serve" {
		t.Errorf("name/command: %v", task)
	}
	if task.GetKillPolicy().GetGracePeriod().GetNanoseconds() != 7e9 {
		t.Errorf("kill policy %v", task.GetKillPolicy())
	}
	if hc := task.GetHealthCheck(); hc.GetType() != mesos.HealthCheck_HTTP || hc.GetHttp().GetPort() != 31001 || hc.GetHttp().GetPath() != "/health" {
		t.Errorf("health check %v", hc)
	}
	if len(task.GetCommand().GetUris()) != 1 || !task.GetCommand().GetUris()[0].GetExtract() {
		t.Errorf("uris %v", task.GetCommand().GetUris())
	}
	if len(task.GetDiscovery().GetPorts().GetPorts()) != 2 {
		t.Errorf("discovery %v", task.GetDiscovery())
	}
}

func TestBuildTaskDockerBridge(t *testing.T) {
	app := testApp(func(a *marathon.App) {
		a.Cmd = ""
		a.Args = []string{"nginx", "-g", "daemon off;"}
		hp := 0
		a.Container = &marathon.Container{Type: marathon.ContainerDocker, Docker: &marathon.Docker{Image: "nginx:1", Privileged: true},
			PortMappings: []marathon.PortMapping{{ContainerPort: 80, HostPort: &hp, Name: "http"}}}
		a.Networks = []marathon.Network{{Mode: marathon.NetworkBridge}}
	})
	task := BuildTask(app, TaskIDs{TaskID: "t"}, offer(), Match{HostPorts: []int{31500}})
	d := task.GetContainer().GetDocker()
	if task.GetContainer().GetType() != mesos.ContainerInfo_DOCKER || d.GetImage() != "nginx:1" || d.GetNetwork() != mesos.ContainerInfo_DockerInfo_BRIDGE {
		t.Fatalf("container %v", task.GetContainer())
	}
	if pm := d.GetPortMappings(); len(pm) != 1 || pm[0].GetHostPort() != 31500 || pm[0].GetContainerPort() != 80 {
		t.Errorf("port mappings %v", pm)
	}
	if task.GetCommand().GetShell() || task.GetCommand().GetValue() != "" || len(task.GetCommand().GetArguments()) != 3 {
		t.Errorf("docker args command %v", task.GetCommand())
	}
}

func TestParseTaskID(t *testing.T) {
	tests := []struct {
		id   string
		want ParsedTaskID
	}{
		{"prod_web.instance-6c2d6d1e-3a3c-11e8-b467-0ed5f89f718b._app.3", ParsedTaskID{"/prod/web", "prod_web.instance-6c2d6d1e-3a3c-11e8-b467-0ed5f89f718b", 3}},
		{"a.b.instance-6c2d6d1e-3a3c-11e8-b467-0ed5f89f718b", ParsedTaskID{"/a.b", "a.b.instance-6c2d6d1e-3a3c-11e8-b467-0ed5f89f718b", 0}},
		{"web.6c2d6d1e-3a3c-11e8-b467-0ed5f89f718b", ParsedTaskID{"/web", "web.6c2d6d1e-3a3c-11e8-b467-0ed5f89f718b", 0}},
	}
	for _, tc := range tests {
		got, err := ParseTaskID(tc.id)
		if err != nil || got != tc.want {
			t.Errorf("ParseTaskID(%q) = %+v, %v; want %+v", tc.id, got, err, tc.want)
		}
	}
	for _, bad := range []string{"nope", "x._app.z"} {
		if _, err := ParseTaskID(bad); err == nil {
			t.Errorf("ParseTaskID(%q) accepted", bad)
		}
	}
}
