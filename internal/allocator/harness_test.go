package allocator

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/resources"
)

// epoch is time zero of transcripts: "now=10s" is epoch+10s.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// holding names what one framework holds in one role on one agent.
type holding struct{ fw, role, agent string }

// harness drives an Allocator the way the master does: it keeps the
// outstanding offers and the resources tasks use, so a transcript can
// decline, accept and finish by name.
type harness struct {
	t     testing.TB
	opts  Options
	a     *Allocator
	now   time.Time
	offer map[holding]resources.Resources // outstanding offers (allocated form)
	used  map[holding]resources.Resources // accepted (allocated form)
}

func newHarness(t testing.TB) *harness {
	opts := DefaultOptions()
	opts.ShuffleAgents = false
	return &harness{t: t, opts: opts, now: epoch,
		offer: map[holding]resources.Resources{}, used: map[holding]resources.Resources{}}
}

// alloc returns the allocator, creating it with the options set so far.
func (h *harness) alloc() *Allocator {
	if h.a == nil {
		h.a = NewWithOptions(h.opts)
	}
	return h.a
}

// command is one parsed transcript line: a verb, positional arguments and
// key=value arguments.
type command struct {
	verb string
	args []string
	kv   map[string][]string
}

func parseCommand(line string) command {
	fields := strings.Fields(line)
	c := command{verb: fields[0], kv: map[string][]string{}}
	for _, f := range fields[1:] {
		if k, v, ok := strings.Cut(f, "="); ok {
			c.kv[k] = append(c.kv[k], v)
		} else {
			c.args = append(c.args, f)
		}
	}
	return c
}

func (c command) get(key, def string) string {
	if v := c.kv[key]; len(v) > 0 {
		return v[len(v)-1]
	}
	return def
}

func (c command) arg(i int) string {
	if i < len(c.args) {
		return c.args[i]
	}
	return ""
}

// run executes one command and returns its output.
func (h *harness) run(line string) (string, error) {
	c := parseCommand(line)
	switch c.verb {
	case "options":
		return "", h.setOptions(c)
	case "add-agent":
		return "", h.addAgent(c)
	case "remove-agent":
		h.alloc().RemoveAgent(c.arg(0))
		h.forgetAgent(c.arg(0))
	case "deactivate-agent", "activate-agent":
		h.alloc().SetAgentActive(c.arg(0), c.verb == "activate-agent")
	case "add-framework", "update-framework":
		return "", h.addFramework(c)
	case "remove-framework":
		h.alloc().RemoveFramework(c.arg(0))
		h.forgetFramework(c.arg(0))
	case "set-weight":
		w, err := strconv.ParseFloat(c.arg(1), 64)
		h.alloc().SetWeight(c.arg(0), w)
		return "", err
	case "set-quota":
		return "", h.setQuota(c)
	case "remove-quota":
		h.alloc().RemoveQuota(c.arg(0))
	case "check-quota":
		return h.checkQuota(c)
	case "suppress", "revive":
		return "", h.suppress(c)
	case "decline":
		return "", h.decline(c)
	case "decline-all":
		return "", h.declineAll(c)
	case "accept":
		return "", h.accept(c)
	case "finish":
		return "", h.finish(c)
	case "allocated":
		return "", h.allocated(c)
	case "allocate":
		return h.allocate(c)
	case "offers":
		return h.printHoldings(h.offer), nil
	case "roles":
		return h.printRoles(), nil
	case "stats":
		return h.printStats(), nil
	case "headroom":
		if d := h.alloc().QuotaHeadroomDeficit(); !d.IsEmpty() {
			return "deficit: " + d.String(), nil
		}
		return "deficit: none", nil
	default:
		return "", fmt.Errorf("unknown command %q", c.verb)
	}
	return "", nil
}

func (h *harness) setOptions(c command) error {
	if h.a != nil {
		return fmt.Errorf("options must come first")
	}
	for k, vs := range c.kv {
		v := vs[len(vs)-1]
		switch k {
		case "seed":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return err
			}
			h.opts.Seed = n
		case "shuffle":
			h.opts.ShuffleAgents = v == "on"
		case "role-sorter":
			h.opts.RoleSorter = sorterKind(v)
		case "framework-sorter":
			h.opts.FrameworkSorter = sorterKind(v)
		case "exclude":
			h.opts.FairnessExcludedResourceNames = strings.Split(v, ",")
		case "filter-gpus":
			h.opts.FilterGPUResources = v == "on"
		case "min":
			sets, err := parseMinSets(v)
			if err != nil {
				return err
			}
			h.opts.MinAllocatable = sets
		default:
			return fmt.Errorf("unknown option %q", k)
		}
	}
	return nil
}

func sorterKind(v string) SorterKind {
	if v == "random" {
		return SortRandom
	}
	return SortDRF
}

// parseMinSets reads "cpus:1;mem:64|disk:10" ("none": no minimum).
func parseMinSets(v string) ([]resources.Quantities, error) {
	if v == "none" {
		return nil, nil
	}
	var sets []resources.Quantities
	for _, s := range strings.Split(v, "|") {
		q, err := parseQuantities(s)
		if err != nil {
			return nil, err
		}
		sets = append(sets, q)
	}
	return sets, nil
}

func parseQuantities(s string) (resources.Quantities, error) {
	m := map[string]resources.Scalar{}
	for _, kv := range strings.Split(s, ";") {
		name, val, ok := strings.Cut(kv, ":")
		f, err := strconv.ParseFloat(val, 64)
		if !ok || err != nil {
			return resources.Quantities{}, fmt.Errorf("bad quantity %q", kv)
		}
		m[name] = resources.ScalarFromFloat(f)
	}
	return resources.QuantitiesFromMap(m), nil
}

func parseLimits(s string) (Limits, error) {
	l := Limits{}
	for _, kv := range strings.Split(s, ";") {
		name, val, ok := strings.Cut(kv, ":")
		f, err := strconv.ParseFloat(val, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("bad limit %q", kv)
		}
		l[name] = resources.ScalarFromFloat(f)
	}
	return l, nil
}

// parseResources reads the --resources syntax; revocable=<spec> adds
// revocable ones.
func parseResources(spec string) (resources.Resources, error) {
	return resources.Parse(spec, "*")
}

func revocable(r resources.Resources) resources.Resources {
	ps := r.ToProto(resources.PostRefinement)
	for _, p := range ps {
		p.Revocable = &mesos.Resource_RevocableInfo{}
	}
	return resources.MustFromProto(ps)
}

func (h *harness) addAgent(c command) error {
	total, err := parseResources(c.arg(1))
	if err != nil {
		return err
	}
	if rev := c.get("revocable", ""); rev != "" {
		r, err := parseResources(rev)
		if err != nil {
			return err
		}
		total = total.Add(revocable(r))
	}
	h.forgetAgent(c.arg(0))
	h.alloc().AddAgent(c.arg(0), Agent{Hostname: c.arg(0), Total: total, Active: c.arg(2) != "inactive"}, nil)
	return nil
}

func (h *harness) forgetAgent(id string) {
	for _, m := range []map[holding]resources.Resources{h.offer, h.used} {
		maps.DeleteFunc(m, func(k holding, _ resources.Resources) bool { return k.agent == id })
	}
}

func (h *harness) forgetFramework(id string) {
	for _, m := range []map[holding]resources.Resources{h.offer, h.used} {
		maps.DeleteFunc(m, func(k holding, _ resources.Resources) bool { return k.fw == id })
	}
}

func (h *harness) addFramework(c command) error {
	spec := Framework{Active: c.arg(1) != "inactive", MinAllocatable: map[string][]resources.Quantities{}}
	if roles := c.get("roles", ""); roles != "" {
		spec.Roles = strings.Split(roles, ",")
	}
	if s := c.get("suppressed", ""); s != "" {
		spec.Suppressed = strings.Split(s, ",")
	}
	for _, cp := range strings.Split(c.get("caps", ""), ",") {
		switch cp {
		case "gpu":
			spec.Capabilities.GPUResources = true
		case "revocable":
			spec.Capabilities.RevocableResources = true
		case "refinement":
			spec.Capabilities.ReservationRefinement = true
		case "shared":
			spec.Capabilities.SharedResources = true
		case "":
		default:
			return fmt.Errorf("unknown capability %q", cp)
		}
	}
	for _, m := range c.kv["min"] {
		role, sets, _ := strings.Cut(m, ":")
		q, err := parseMinSets(sets)
		if err != nil {
			return err
		}
		spec.MinAllocatable[role] = q
	}
	if c.verb == "add-framework" {
		h.alloc().AddFramework(c.arg(0), spec)
	} else {
		h.alloc().UpdateFramework(c.arg(0), spec)
	}
	return nil
}

func (h *harness) setQuota(c command) error {
	var g resources.Quantities
	var l Limits
	var err error
	if s := c.get("guarantee", ""); s != "" {
		if g, err = parseQuantities(s); err != nil {
			return err
		}
	}
	if s := c.get("limit", ""); s != "" {
		if l, err = parseLimits(s); err != nil {
			return err
		}
	}
	h.alloc().SetQuota(c.arg(0), g, l)
	return nil
}

// checkQuota reads "check-quota r1 limit=cpus:1 r2 limit=mem:10": limits
// pair with roles in order.
func (h *harness) checkQuota(c command) (string, error) {
	byRole := map[string]Limits{}
	for i, role := range c.args {
		l, err := parseLimits(c.kv["limit"][i])
		if err != nil {
			return "", err
		}
		byRole[role] = l
	}
	if err := h.alloc().CheckQuotaLimits(byRole); err != nil {
		return err.Error(), nil
	}
	return "ok", nil
}

func (h *harness) suppress(c command) error {
	var roles []string
	if c.arg(1) != "" {
		roles = strings.Split(c.arg(1), ",")
	}
	if c.verb == "suppress" {
		h.alloc().Suppress(c.arg(0), roles)
	} else {
		h.alloc().Revive(c.arg(0), roles)
	}
	return nil
}

// outstanding finds the framework's outstanding offers on an agent (for
// one role if role= is given).
func (h *harness) outstanding(c command) ([]holding, error) {
	var keys []holding
	for k := range h.offer {
		if k.fw == c.arg(0) && k.agent == c.arg(1) && (c.get("role", "") == "" || k.role == c.get("role", "")) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%s has no outstanding offer on %s", c.arg(0), c.arg(1))
	}
	slices.SortFunc(keys, func(x, y holding) int { return strings.Compare(x.role, y.role) })
	return keys, nil
}

func (h *harness) timeArg(c command) (time.Time, error) {
	if s := c.get("now", ""); s != "" {
		d, err := time.ParseDuration(s)
		return epoch.Add(d), err
	}
	return h.now, nil
}

func (h *harness) decline(c command) error {
	keys, err := h.outstanding(c)
	if err != nil {
		return err
	}
	refuse, err := time.ParseDuration(c.get("refuse", "0s"))
	if err != nil {
		return err
	}
	now, err := h.timeArg(c)
	if err != nil {
		return err
	}
	for _, k := range keys {
		h.alloc().Recover(k.fw, k.agent, h.offer[k], refuse, now)
		delete(h.offer, k)
	}
	return nil
}

// declineAll declines every outstanding offer (of fw= if given).
func (h *harness) declineAll(c command) error {
	refuse, err := time.ParseDuration(c.get("refuse", "0s"))
	if err != nil {
		return err
	}
	keys := slices.SortedFunc(maps.Keys(h.offer), compareHoldings)
	for _, k := range keys {
		if fw := c.get("fw", ""); fw != "" && k.fw != fw {
			continue
		}
		h.alloc().Recover(k.fw, k.agent, h.offer[k], refuse, h.now)
		delete(h.offer, k)
	}
	return nil
}

func compareHoldings(x, y holding) int {
	return strings.Compare(x.fw+" "+x.role+" "+x.agent, y.fw+" "+y.role+" "+y.agent)
}

// accept launches a task with the given resources out of the offer and
// declines the rest.
func (h *harness) accept(c command) error {
	keys, err := h.outstanding(c)
	if err != nil {
		return err
	}
	k := keys[0]
	task, err := parseResources(c.arg(2))
	if err != nil {
		return err
	}
	task = task.AllocatedTo(k.role)
	if !h.offer[k].Contains(task) {
		return fmt.Errorf("offer %v lacks %s", k, task)
	}
	refuse, err := time.ParseDuration(c.get("refuse", "0s"))
	if err != nil {
		return err
	}
	h.used[k] = h.used[k].Add(task)
	h.alloc().Recover(k.fw, k.agent, h.offer[k].Subtract(task), refuse, h.now)
	delete(h.offer, k)
	return nil
}

// finish ends a task: its resources are recovered.
func (h *harness) finish(c command) error {
	res, err := parseResources(c.arg(2))
	if err != nil {
		return err
	}
	k := holding{c.arg(0), c.get("role", ""), c.arg(1)}
	if k.role == "" {
		for u := range h.used {
			if u.fw == k.fw && u.agent == k.agent {
				k.role = u.role
			}
		}
	}
	res = res.AllocatedTo(k.role)
	if !h.used[k].Contains(res) {
		return fmt.Errorf("%v does not use %s", k, res)
	}
	h.used[k] = h.used[k].Subtract(res)
	h.alloc().Recover(k.fw, k.agent, res, 0, h.now)
	return nil
}

// allocated reads "allocated f1 a1 r1 cpus:1": a task that reappears.
func (h *harness) allocated(c command) error {
	res, err := parseResources(c.arg(3))
	if err != nil {
		return err
	}
	k := holding{c.arg(0), c.arg(2), c.arg(1)}
	res = res.AllocatedTo(k.role)
	h.used[k] = h.used[k].Add(res)
	h.alloc().Allocated(k.fw, k.agent, res)
	return nil
}

func (h *harness) allocate(c command) (string, error) {
	now, err := h.timeArg(c)
	if err != nil {
		return "", err
	}
	h.now = now
	offers := h.alloc().Allocate(now)
	var b strings.Builder
	for _, o := range offers {
		k := holding{o.FrameworkID, o.Role, o.AgentID}
		h.offer[k] = h.offer[k].Add(o.Resources)
		fmt.Fprintf(&b, "%s %s %s %s\n", o.FrameworkID, o.Role, o.AgentID, o.Resources.Unallocated())
	}
	if len(offers) == 0 {
		return "no offers", nil
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

func (h *harness) printHoldings(m map[holding]resources.Resources) string {
	keys := slices.SortedFunc(maps.Keys(m), compareHoldings)
	var lines []string
	for _, k := range keys {
		lines = append(lines, fmt.Sprintf("%s %s %s %s", k.fw, k.role, k.agent, m[k].Unallocated()))
	}
	if len(lines) == 0 {
		return "none"
	}
	return strings.Join(lines, "\n")
}

func (h *harness) printRoles() string {
	var lines []string
	for _, r := range h.alloc().Roles() {
		line := fmt.Sprintf("%s weight=%g frameworks=[%s] allocated={%s} reserved={%s} consumed={%s}",
			r.Name, r.Weight, strings.Join(r.Frameworks, ","), r.Allocated, r.Reserved, r.Consumed)
		if r.HasQuota {
			line += fmt.Sprintf(" quota={guarantee:{%s} limit:{%s}}", r.Quota.Guarantees, formatLimits(r.Quota.Limits))
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		return "none"
	}
	return strings.Join(lines, "\n")
}

func formatLimits(l Limits) string {
	var parts []string
	for _, n := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, n+":"+l[n].String())
	}
	return strings.Join(parts, ";")
}

func (h *harness) printStats() string {
	s := h.alloc().Stats()
	lines := []string{fmt.Sprintf("runs=%d filters=%d total={%s} offered_or_allocated={%s}",
		s.AllocationRuns, s.ActiveFilters, s.Total, s.OfferedOrAllocated)}
	for _, r := range s.Roles {
		lines = append(lines, fmt.Sprintf("%s offers=%d filters=%d allocated={%s} share=%.4f",
			r.Name, r.OffersMade, r.ActiveFilters, r.Allocated, r.DominantShare))
	}
	return strings.Join(lines, "\n")
}
