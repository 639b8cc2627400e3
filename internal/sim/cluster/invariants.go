package cluster

import (
	"slices"
	"strings"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/quota"
	"github.com/agoraproject/agora/internal/master"
	"github.com/agoraproject/agora/internal/resources"
)

// checkStep checks the invariants that hold after every step, on the
// leading master's view of the cluster.
func (s *Sim) checkStep() {
	var leading []string
	for _, mn := range s.masters {
		if mn.alive && mn.m.IsLeading() {
			leading = append(leading, mn.name)
		}
	}
	if len(leading) > 1 {
		s.violate("leader", "masters %s all lead", strings.Join(leading, ", "))
		return
	}
	if len(leading) == 0 {
		return
	}
	view := s.leader.m.View()
	s.checkOffers(view)
	s.checkQuota(view)
	s.checkConsumption(view)
	s.checkRegistry(view)
}

// checkOffers: an offer belongs to one framework, and on each agent the
// outstanding offers and the resources in use fit in its total.
func (s *Sim) checkOffers(view *master.Snapshot) {
	owner := map[string]string{}
	offered := map[string]resources.Quantities{}
	for _, fw := range view.Frameworks {
		for _, o := range fw.Offers {
			if prev, dup := owner[o.ID]; dup {
				s.violate("offers", "offer %s is outstanding for %s and %s", o.ID, prev, fw.ID)
				return
			}
			owner[o.ID] = fw.ID
			offered[o.AgentID] = offered[o.AgentID].Add(o.Resources.Quantities())
		}
	}
	for _, ag := range view.Agents {
		total := ag.Total.Quantities()
		allocated := offered[ag.ID].Add(ag.Used.Quantities())
		if !total.Contains(allocated) {
			s.violate("allocation", "agent %s (%s): offered %s + used %s exceed its total %s",
				ag.ID, ag.Info.GetHostname(), offered[ag.ID], ag.Used.Quantities(), total)
			return
		}
		if !ag.Offered.Quantities().Equal(offered[ag.ID]) {
			s.violate("allocation", "agent %s counts %s offered, its outstanding offers hold %s",
				ag.ID, ag.Offered.Quantities(), offered[ag.ID])
			return
		}
	}
}

// checkQuota: no outstanding offer takes a role above its quota limit
// in a resource the limit names.
func (s *Sim) checkQuota(view *master.Snapshot) {
	for _, q := range view.Quotas {
		if len(q.GetLimits()) == 0 {
			continue
		}
		var used, offered resources.Quantities
		for _, fw := range view.Frameworks {
			if !slices.Contains(fw.Roles, q.GetRole()) {
				continue
			}
			used = used.Add(fw.Used.Quantities())
			for _, o := range fw.Offers {
				offered = offered.Add(o.Resources.Quantities())
			}
		}
		if offered.IsEmpty() {
			continue
		}
		limit, allocated := quotaLimit(q), used.Add(offered)
		for _, name := range limit.Names() {
			if offered.Get(name) > 0 && allocated.Get(name) > limit.Get(name) {
				s.violate("quota", "role %s: used %s + offered %s exceed its limit %s", q.GetRole(), used, offered, limit)
				return
			}
		}
	}
}

func quotaLimit(q *quota.QuotaConfig) resources.Quantities {
	m := map[string]resources.Scalar{}
	for name, v := range q.GetLimits() {
		m[name] = resources.ScalarFromFloat(v.GetValue())
	}
	return resources.QuantitiesFromMap(m)
}

// checkRegistry: the registry agrees with the leader about who leads, which
// agents are admitted (or unreachable) and which frameworks exist.
func (s *Sim) checkRegistry(view *master.Snapshot) {
	st := s.reg.State()
	if lm := st.Master(); lm == nil || lm.GetNodeId() != s.leader.name {
		s.violate("registry", "%s leads but the registry records %v as the leading master", s.leader.name, lm.GetNodeId())
		return
	}
	known := map[string]bool{}
	for _, ag := range view.Agents {
		known[ag.ID] = true
		_, admitted := st.Agent(ag.ID)
		_, unreachable := st.UnreachableAgent(ag.ID)
		switch {
		case ag.Unreachable && !unreachable:
			s.violate("registry", "the leader has agent %s unreachable, the registry does not", ag.ID)
		case !ag.Unreachable && !admitted:
			s.violate("registry", "the leader has agent %s, the registry has not admitted it", ag.ID)
		}
	}
	for _, ra := range st.Agents() {
		if id := ra.GetInfo().GetId().GetValue(); !known[id] {
			s.violate("registry", "the registry has agent %s, the leader does not know it", id)
		}
	}
	frameworks := map[string]bool{}
	for _, fw := range view.Frameworks {
		frameworks[fw.ID] = true
		if _, ok := st.Framework(fw.ID); !ok {
			s.violate("registry", "the leader has framework %s, the registry does not", fw.ID)
		}
	}
	for _, rf := range st.Frameworks() {
		if id := rf.GetInfo().GetId().GetValue(); !frameworks[id] {
			s.violate("registry", "the registry has framework %s, the leader does not know it", id)
		}
	}
}

// taskState is the leader's state of a task and the agent it is on.
func taskState(view *master.Snapshot, id string) (mesos.TaskState, string, bool) {
	for _, fw := range view.Frameworks {
		for _, t := range fw.Tasks {
			if t.ID == id {
				return t.State, t.AgentID, true
			}
		}
	}
	return 0, "", false
}
