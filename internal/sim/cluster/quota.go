package cluster

import (
	"maps"
	"slices"

	"github.com/agoraproject/agora/api/v1/quota"
	"github.com/agoraproject/agora/internal/master"
	"github.com/agoraproject/agora/internal/resources"
)

// quotaWatch follows one role's consumption against the limit the
// scenario set. A forced limit may start below what the role already
// consumes; the role may then keep that excess but never grow it, and once
// it is under the limit it stays there.
//
// Consumption is only judged when the leader's view is complete: every
// agent connected, none still to re-register after a failover. An agent
// that was unreachable meanwhile may legitimately bring back tasks whose
// resources were offered again (partition awareness), so the next complete
// view re-bases the allowance instead of judging it.
type quotaWatch struct {
	role      string
	limit     map[string]resources.Scalar
	allowance map[string]resources.Scalar // ≥ limit
	rebase    bool
}

// watchQuota starts following a role's limit as of now.
func (s *Sim) watchQuota(cfg *quota.QuotaConfig) {
	w := &quotaWatch{role: cfg.GetRole(), limit: map[string]resources.Scalar{}, rebase: true}
	for name, v := range cfg.GetLimits() {
		w.limit[name] = resources.ScalarFromFloat(v.GetValue())
	}
	s.quotas = slices.DeleteFunc(s.quotas, func(o *quotaWatch) bool { return o.role == w.role })
	if len(w.limit) > 0 {
		s.quotas = append(s.quotas, w)
	}
	if s.leader != nil && s.leader.m.IsLeading() {
		if view := s.leader.m.View(); viewComplete(view) {
			w.rebaseOn(consumption(view, w.role))
		}
	}
}

func (w *quotaWatch) rebaseOn(c resources.Quantities) {
	w.allowance = map[string]resources.Scalar{}
	for name, l := range w.limit {
		w.allowance[name] = max(l, c.Get(name))
	}
	w.rebase = false
}

// checkConsumption: no role with a limit consumes more than its allowance.
func (s *Sim) checkConsumption(view *master.Snapshot) {
	if len(s.quotas) == 0 {
		return
	}
	if !viewComplete(view) {
		for _, ag := range view.Agents {
			if ag.Unreachable {
				for _, w := range s.quotas {
					w.rebase = true
				}
			}
		}
		return
	}
	for _, w := range s.quotas {
		c := consumption(view, w.role)
		if w.rebase {
			w.rebaseOn(c)
			continue
		}
		for _, name := range slices.Sorted(maps.Keys(w.limit)) {
			if got := c.Get(name); got > w.allowance[name] {
				s.violate("quota", "role %s consumes %s %s, above its limit %s (allowed %s)",
					w.role, got, name, w.limit[name], w.allowance[name])
				return
			}
			w.allowance[name] = max(w.limit[name], min(w.allowance[name], c.Get(name)))
		}
	}
}

// viewComplete: every agent is connected and none waits to re-register.
func viewComplete(view *master.Snapshot) bool {
	for _, ag := range view.Agents {
		if !ag.Connected || ag.Recovered || ag.Unreachable {
			return false
		}
	}
	return true
}

// consumption is what a role's frameworks use and are offered.
func consumption(view *master.Snapshot, role string) resources.Quantities {
	var c resources.Quantities
	for _, fw := range view.Frameworks {
		if !slices.Contains(fw.Roles, role) {
			continue
		}
		c = c.Add(fw.Used.Quantities())
		for _, o := range fw.Offers {
			c = c.Add(o.Resources.Quantities())
		}
	}
	return c
}
