package allocator

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/resources"
)

// TestMain runs the property tests with 1000 cases unless -rapid.checks or
// -short says otherwise (about 2 s).
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "rapid.checks" })
	if !set && !testing.Short() {
		if err := flag.Set("rapid.checks", "1000"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}

func oneAgentCluster(t *testing.T, frameworks ...string) *Allocator {
	t.Helper()
	a := NewWithOptions(DefaultOptions())
	a.AddAgent("a1", Agent{Total: mustResources(t, "cpus:4;mem:4096"), Active: true}, nil)
	for _, f := range frameworks {
		a.AddFramework(f, Framework{Roles: []string{"r"}, Active: true})
	}
	return a
}

func offered(offers []Offer) map[string]string {
	m := map[string]string{}
	for _, o := range offers {
		m[o.FrameworkID+"@"+o.AgentID] = o.Resources.Unallocated().String()
	}
	return m
}

// A repeated or stale Recover must not free resources twice.
func TestRecoverIgnoresWhatIsNotHeld(t *testing.T) {
	a := oneAgentCluster(t, "f1")
	o := a.Allocate(epoch)[0]
	a.Recover("f1", "a1", o.Resources, 0, epoch)
	a.Recover("f1", "a1", o.Resources, 0, epoch)           // again
	a.Recover("f2", "a1", o.Resources, 0, epoch)           // never held it
	a.Recover("f1", "gone", o.Resources, 0, epoch)         // unknown agent
	a.Allocated("f1", "gone", o.Resources)                 // unknown agent
	a.Recover("f1", "a1", resources.Resources{}, 0, epoch) // nothing
	got := offered(a.Allocate(epoch.Add(time.Second)))
	if want := "cpus(*):4; mem(*):4096"; got["f1@a1"] != want || len(got) != 1 {
		t.Fatalf("offers %v, want f1 offered %s once", got, want)
	}
	// Recovering more than is held frees only what is held.
	more := mustResources(t, "cpus:8;mem:8192").AllocatedTo("r")
	a.Recover("f1", "a1", more, 0, epoch)
	if got := offered(a.Allocate(epoch.Add(2 * time.Second))); got["f1@a1"] != "cpus(*):4; mem(*):4096" {
		t.Fatalf("after over-recovery, offers %v", got)
	}
}

// RemoveFramework frees what the framework holds; its late Recover calls
// change nothing.
func TestRemoveFrameworkFreesItsResources(t *testing.T) {
	a := oneAgentCluster(t, "f1", "f2")
	o := a.Allocate(epoch)[0]
	if o.FrameworkID != "f1" {
		t.Fatalf("first offer to %s, want f1", o.FrameworkID)
	}
	a.RemoveFramework("f1")
	a.Recover("f1", "a1", o.Resources, time.Hour, epoch)
	if got := offered(a.Allocate(epoch)); got["f2@a1"] != "cpus(*):4; mem(*):4096" || len(got) != 1 {
		t.Fatalf("after removing f1, offers %v", got)
	}
	if v, _ := a.Role("r"); !slices.Equal(v.Frameworks, []string{"f2"}) {
		t.Fatalf("role frameworks %v, want [f2]", v.Frameworks)
	}
}

// Resources reported before their framework re-subscribes (master failover)
// count in its share once it does.
func TestUsedResourcesBeforeFrameworkIsAdded(t *testing.T) {
	a := NewWithOptions(DefaultOptions())
	used := map[string]resources.Resources{"old": mustResources(t, "cpus:2;mem:2048").AllocatedTo("r")}
	a.AddAgent("a1", Agent{Total: mustResources(t, "cpus:4;mem:4096"), Active: true}, used)
	a.AddAgent("a2", Agent{Total: mustResources(t, "cpus:4;mem:4096"), Active: true}, nil)
	if offers := a.Allocate(epoch); len(offers) != 0 {
		t.Fatalf("offers %v before any framework subscribed", offers)
	}
	a.AddFramework("old", Framework{Roles: []string{"r"}, Active: true})
	a.AddFramework("new", Framework{Roles: []string{"r"}, Active: true})
	// "new" holds nothing, so it is first; a1's free half goes to it.
	offers := a.Allocate(epoch)
	if len(offers) != 2 || offers[0].FrameworkID != "new" {
		t.Fatalf("offers %v, want the first to the framework holding nothing", offers)
	}
	v, _ := a.Role("r")
	if got := v.Allocated.String(); got != "cpus:8;mem:8192" {
		t.Fatalf("role r allocated %s, want the whole cluster", got)
	}
}

func TestCheckQuotaLimits(t *testing.T) {
	a := oneAgentCluster(t, "f1")
	a.Allocate(epoch)
	err := a.CheckQuotaLimits(map[string]Limits{"r": {"cpus": 3 * resources.ScalarUnit}, "other": {"cpus": 0}})
	if !errors.Is(err, ErrQuotaExceeded) {
		t.Fatalf("error %v, want ErrQuotaExceeded", err)
	}
	if err := a.CheckQuotaLimits(map[string]Limits{"r": {"cpus": 4 * resources.ScalarUnit}, "other": {"cpus": 0}}); err != nil {
		t.Fatalf("limits at consumption refused: %v", err)
	}
	a.SetQuota("r", resources.Quantities{}, Limits{"mem": 0})
	q, ok := a.Quota("r")
	if !ok || q.Limits["mem"] != 0 || len(q.Limits) != 1 {
		t.Fatalf("quota %+v %v, want a zero mem limit", q, ok)
	}
	a.RemoveQuota("r")
	if _, ok := a.Quota("r"); ok {
		t.Fatal("quota still set after RemoveQuota")
	}
}

// The same calls with the same seed give the same offers, with shuffled
// agents and random sorters; another seed gives others.
func TestDeterministicWithSeed(t *testing.T) {
	run := func(seed uint64) string {
		opts := DefaultOptions()
		opts.Seed, opts.RoleSorter, opts.FrameworkSorter = seed, SortRandom, SortRandom
		a := NewWithOptions(opts)
		for i := range 20 {
			a.AddAgent(fmt.Sprintf("a%02d", i), Agent{Total: mustResources(t, "cpus:2;mem:1024"), Active: true}, nil)
		}
		for i := range 6 {
			a.AddFramework(fmt.Sprintf("f%d", i), Framework{Roles: []string{fmt.Sprintf("r%d", i%3)}, Active: true})
		}
		var out string
		now := epoch
		for range 5 {
			offers := a.Allocate(now)
			out += formatOffers(offers) + "\n"
			declineAll(a, offers, 0, now)
			now = now.Add(time.Second)
		}
		return out
	}
	if run(1) != run(1) {
		t.Fatal("same seed, different offers")
	}
	if run(1) == run(2) {
		t.Fatal("different seeds, same offers")
	}
}

// With the random sorter, a role of weight 9 is first about 9 times in 10.
func TestRandomSorterFollowsWeights(t *testing.T) {
	opts := DefaultOptions()
	opts.RoleSorter = SortRandom
	a := NewWithOptions(opts)
	a.AddAgent("a1", Agent{Total: mustResources(t, "cpus:1;mem:1024"), Active: true}, nil)
	a.AddFramework("heavy", Framework{Roles: []string{"h"}, Active: true})
	a.AddFramework("light", Framework{Roles: []string{"l"}, Active: true})
	a.SetWeight("h", 9)
	heavy := 0
	for i := range 1000 {
		o := a.Allocate(epoch)[0]
		if o.FrameworkID == "heavy" {
			heavy++
		}
		a.Recover(o.FrameworkID, o.AgentID, o.Resources, 0, epoch.Add(time.Duration(i)))
	}
	if heavy < 850 || heavy > 950 {
		t.Fatalf("heavy first %d times in 1000, want about 900", heavy)
	}
}

func TestStatsAndViews(t *testing.T) {
	a := NewWithOptions(DefaultOptions())
	a.AddAgent("a1", Agent{Total: mustResources(t, "cpus:4;mem:4096;cpus(r):2;ports:[1-10]"), Active: true}, nil)
	a.AddFramework("f1", Framework{Roles: []string{"r"}, Active: true})
	a.SetWeight("w", 2)
	o := a.Allocate(epoch)[0]
	a.Recover("f1", "a1", o.Resources, 5*time.Second, epoch)
	s := a.Stats()
	if s.AllocationRuns != 1 || s.ActiveFilters != 1 || s.Total.String() != "cpus:6;mem:4096" {
		t.Fatalf("stats %+v", s)
	}
	if len(s.Roles) != 2 || s.Roles[0].Name != "r" || s.Roles[0].OffersMade != 1 || s.Roles[0].ActiveFilters != 1 {
		t.Fatalf("role stats %+v", s.Roles)
	}
	roles := a.Roles()
	if len(roles) != 2 || roles[1].Name != "w" || roles[1].Weight != 2 {
		t.Fatalf("roles %+v, want r and w (weight 2)", roles)
	}
	if r := roles[0]; r.Reserved.String() != "cpus:2" || r.Consumed.String() != "cpus:2" || !r.Allocated.IsEmpty() {
		t.Fatalf("role r %+v", r)
	}
	// Filters expire at the next cycle after their time.
	a.Allocate(epoch.Add(5 * time.Second))
	if n := a.Stats().ActiveFilters; n != 0 {
		t.Fatalf("%d filters after expiry", n)
	}
}

func TestSplitByRole(t *testing.T) {
	parts := splitByRole(mustResources(t, "cpus:1").AllocatedTo("a").
		Add(mustResources(t, "cpus:2").AllocatedTo("a/b")).
		Add(mustResources(t, "mem:3").AllocatedTo("a-c")).
		Add(mustResources(t, "mem:4")))
	var got []string
	for _, p := range parts {
		got = append(got, p.role+"="+p.res.Unallocated().String())
	}
	want := []string{"a=cpus(*):1", "a-c=mem(*):3", "a/b=cpus(*):2"}
	if !slices.Equal(got, want) {
		t.Fatalf("parts %v, want %v", got, want)
	}
}

// cut keeps whole entries while they fit, cuts a plain scalar, and drops
// what cannot be cut (a mount disk).
func TestCut(t *testing.T) {
	mount := &mesos.Resource{
		Name: ptr("disk"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: ptr(100.0)},
		Disk: &mesos.Resource_DiskInfo{Source: &mesos.Resource_DiskInfo_Source{
			Type: mesos.Resource_DiskInfo_Source_MOUNT.Enum(), Mount: &mesos.Resource_DiskInfo_Source_Mount{Root: ptr("/m")}}},
	}
	plain := mustResources(t, "disk:50")
	disks := plain.Add(resources.MustFromProto([]*mesos.Resource{mount}))
	for _, c := range []struct {
		limit resources.Scalar
		want  resources.Scalar
	}{{200, 150}, {120, 50}, {30, 30}, {0, 0}} {
		got := shrink(disks, []bound{{"disk", c.limit * resources.ScalarUnit}}).Scalar("disk")
		if got != c.want*resources.ScalarUnit {
			t.Errorf("cut to %d: %s disk, want %d", c.limit, got, c.want)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestFrameworkFromInfo(t *testing.T) {
	caps := func(ts ...mesos.FrameworkInfo_Capability_Type) []*mesos.FrameworkInfo_Capability {
		var out []*mesos.FrameworkInfo_Capability
		for _, c := range ts {
			out = append(out, &mesos.FrameworkInfo_Capability{Type: c.Enum()})
		}
		return out
	}
	legacy := FrameworkFromInfo(&mesos.FrameworkInfo{}, nil, true)
	if !slices.Equal(legacy.Roles, []string{"*"}) || legacy.Capabilities != (Capabilities{}) {
		t.Fatalf("default framework %+v", legacy)
	}
	info := &mesos.FrameworkInfo{
		Roles: []string{"a", "b"},
		Capabilities: caps(mesos.FrameworkInfo_Capability_MULTI_ROLE, mesos.FrameworkInfo_Capability_GPU_RESOURCES,
			mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT),
		OfferFilters: map[string]*mesos.OfferFilters{
			"a": {MinAllocatableResources: &mesos.OfferFilters_MinAllocatableResources{
				Quantities: []*mesos.OfferFilters_ResourceQuantities{
					{Quantities: map[string]*mesos.Value_Scalar{"cpus": {Value: ptr(1.5)}}},
				}}},
			"b": {MinAllocatableResources: &mesos.OfferFilters_MinAllocatableResources{}},
			"c": {},
		},
	}
	fw := FrameworkFromInfo(info, []string{"b"}, false)
	want := Capabilities{GPUResources: true, ReservationRefinement: true}
	if !slices.Equal(fw.Roles, []string{"a", "b"}) || fw.Capabilities != want || fw.Active || !slices.Equal(fw.Suppressed, []string{"b"}) {
		t.Fatalf("framework %+v", fw)
	}
	if len(fw.MinAllocatable) != 2 || fw.MinAllocatable["a"][0].String() != "cpus:1.5" || len(fw.MinAllocatable["b"]) != 0 {
		t.Fatalf("min allocatable %v, want a: cpus:1.5 and b: any", fw.MinAllocatable)
	}
}
