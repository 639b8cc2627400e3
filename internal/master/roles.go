package master

import (
	"fmt"
	"math"
	"net/http"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/quota"
	"github.com/agoraproject/agora/internal/allocator"
	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/registry"
	"github.com/agoraproject/agora/internal/resources"
)

// Weights and quota (reference §9): both live in the registry; a change is
// committed before it takes effect in the allocator and before the
// operator is answered.

// updateWeights validates and commits new weights; done receives the
// outcome once they apply.
func (m *Master) updateWeights(infos []*mesos.WeightInfo) (<-chan error, error) {
	weights := map[string]float64{}
	for _, wi := range infos {
		role := wi.GetRole()
		if err := resources.ValidateRole(role); err != nil || role == "*" {
			return nil, apihttp.Errorf(http.StatusBadRequest, "Invalid role %q in weight_infos", role)
		}
		if w := wi.GetWeight(); w <= 0 || math.IsInf(w, 0) || math.IsNaN(w) {
			return nil, apihttp.Errorf(http.StatusBadRequest, "Invalid weight %v for role %q: must be a positive number", w, role)
		}
		weights[role] = wi.GetWeight()
	}
	done := make(chan error, 1)
	m.persistFor("weights", []*registry.Operation{registry.UpdateWeights(weights)}, func(err error) {
		if err == nil {
			for role, w := range weights {
				m.alloc.SetWeight(role, w)
			}
			m.requestAllocation()
			m.changed()
		}
		done <- writeFailure(err)
	})
	return done, nil
}

// updateQuota validates a set of quota configs as one all-or-nothing
// change: without force, no limit may be below the role's current
// consumption (allocated + reserved).
func (m *Master) updateQuota(u *registryQuotaUpdate) (<-chan error, error) {
	limits := map[string]allocator.Limits{}
	for _, c := range u.configs {
		if err := validateQuotaConfig(c); err != nil {
			return nil, apihttp.Errorf(http.StatusBadRequest, "Invalid QuotaConfig for role %q: %v", c.GetRole(), err)
		}
		limits[c.GetRole()] = quotaLimits(c)
	}
	if !u.force {
		if err := m.checkQuotaLimits(limits); err != nil {
			return nil, apihttp.Errorf(http.StatusBadRequest, "%v; use 'force' to set it anyway", err)
		}
	}
	done := make(chan error, 1)
	m.persistFor("quota", []*registry.Operation{registry.UpdateQuota(u.configs...)}, func(err error) {
		if err == nil {
			for _, c := range u.configs {
				m.applyQuota(c)
			}
			m.rescindForQuota(u.configs)
			m.requestAllocation()
			m.changed()
		}
		done <- writeFailure(err)
	})
	return done, nil
}

// checkQuotaLimits refuses limits below a role's consumption: what its
// tasks use and what is reserved to it (offers do not count: a quota
// change rescinds them).
func (m *Master) checkQuotaLimits(limits map[string]allocator.Limits) error {
	var problems []string
	for _, role := range sortedKeys(limits) {
		consumed := m.alloc.Consumption(role)
		for _, o := range m.offers {
			if resources.IsAncestorOrSelf(role, o.role) {
				consumed = consumed.Subtract(o.resources.Unreserved().Quantities())
			}
		}
		for _, name := range sortedKeys(limits[role]) {
			if c, l := consumed.Get(name), limits[role][name]; c > l {
				problems = append(problems, fmt.Sprintf("role %q consumes %s %s, above the limit %s", role, c, name, l))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("quota limits below current consumption: %s", strings.Join(problems, "; "))
	}
	return nil
}

type registryQuotaUpdate struct {
	force   bool
	configs []*quota.QuotaConfig
}

func writeFailure(err error) error {
	if err == nil {
		return nil
	}
	return apihttp.Errorf(http.StatusServiceUnavailable, "Failed to update the registry: %v", err)
}

// validateQuotaConfig: a valid top-level role, scalar quantities that are
// finite and not negative, guarantees not above limits.
func validateQuotaConfig(c *quota.QuotaConfig) error {
	role := c.GetRole()
	if err := resources.ValidateRole(role); err != nil {
		return err
	}
	if role == "*" {
		return fmt.Errorf("quota cannot be set for role '*'")
	}
	for _, q := range []map[string]*mesos.Value_Scalar{c.GetGuarantees(), c.GetLimits()} {
		for name, v := range q {
			if x := v.GetValue(); x < 0 || math.IsNaN(x) || math.IsInf(x, 0) || name == "" {
				return fmt.Errorf("%q: quantities must be finite and not negative", name)
			}
		}
	}
	for name, g := range c.GetGuarantees() {
		if l, ok := c.GetLimits()[name]; ok && g.GetValue() > l.GetValue() {
			return fmt.Errorf("guarantee %v of %q is above its limit %v", g.GetValue(), name, l.GetValue())
		}
	}
	return nil
}

func quotaLimits(c *quota.QuotaConfig) allocator.Limits {
	limits := allocator.Limits{}
	for name, v := range c.GetLimits() {
		limits[name] = resources.ScalarFromFloat(v.GetValue())
	}
	return limits
}

func quotaQuantities(q map[string]*mesos.Value_Scalar) resources.Quantities {
	m := map[string]resources.Scalar{}
	for name, v := range q {
		m[name] = resources.ScalarFromFloat(v.GetValue())
	}
	return resources.QuantitiesFromMap(m)
}

// applyQuota gives a committed config to the allocator; a config with no
// guarantees and no limits removes the role's quota.
func (m *Master) applyQuota(c *quota.QuotaConfig) {
	role := c.GetRole()
	if len(c.GetGuarantees()) == 0 && len(c.GetLimits()) == 0 {
		delete(m.quotas, role)
		m.alloc.RemoveQuota(role)
		return
	}
	m.quotas[role] = proto.Clone(c).(*quota.QuotaConfig)
	m.alloc.SetQuota(role, quotaQuantities(c.GetGuarantees()), quotaLimits(c))
}

// rescindForQuota rescinds the offers a quota change may invalidate: those
// of the changed roles and their descendants, then, while other roles'
// guarantees lack headroom, other roles' offers.
func (m *Master) rescindForQuota(configs []*quota.QuotaConfig) {
	for _, o := range m.offers {
		for _, c := range configs {
			if resources.IsAncestorOrSelf(c.GetRole(), o.role) {
				m.rescindOffer(o)
				break
			}
		}
	}
	for _, o := range sortedOffers(m.offers) {
		if m.alloc.QuotaHeadroomDeficit().IsEmpty() {
			return
		}
		m.rescindOffer(o)
	}
}

func sortedOffers(offers map[string]*offer) []*offer {
	out := make([]*offer, 0, len(offers))
	for _, o := range offers {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// quotaStatus is GET_QUOTA's answer: configs, plus the deprecated infos
// (guarantees as Resources) for old clients.
func (m *Master) quotaStatus() *quota.QuotaStatus {
	st := &quota.QuotaStatus{}
	roles := make([]string, 0, len(m.quotas))
	for r := range m.quotas {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	for _, r := range roles {
		c := m.quotas[r]
		st.Configs = append(st.Configs, c)
		info := &quota.QuotaInfo{Role: proto.String(r)}
		for _, name := range sortedKeys(c.GetGuarantees()) {
			info.Guarantee = append(info.Guarantee, &mesos.Resource{
				Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(), Scalar: c.GetGuarantees()[name]})
		}
		st.Infos = append(st.Infos, info)
	}
	return st
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// roleList is GET_ROLES' answer: every role the allocator knows, with its
// weight, frameworks and allocated resources.
func (m *Master) roleList() []*mesos.Role {
	var out []*mesos.Role
	for _, v := range m.alloc.Roles() {
		if v.Name == "*" && len(v.Frameworks) == 0 {
			continue
		}
		r := &mesos.Role{Name: proto.String(v.Name), Weight: proto.Float64(v.Weight)}
		for _, id := range v.Frameworks {
			r.Frameworks = append(r.Frameworks, &mesos.FrameworkID{Value: proto.String(id)})
		}
		r.Resources = quantitiesToResources(v.Allocated)
		out = append(out, r)
	}
	return out
}

// quantitiesToResources lists scalar quantities as unreserved Resources.
func quantitiesToResources(q resources.Quantities) []*mesos.Resource {
	var out []*mesos.Resource
	for _, name := range q.Names() {
		out = append(out, &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(),
			Scalar: &mesos.Value_Scalar{Value: proto.Float64(q.Get(name).Float())}})
	}
	return out
}

func quantitiesMap(q resources.Quantities) map[string]float64 {
	out := map[string]float64{}
	for _, name := range q.Names() {
		if !strings.HasPrefix(name, "ports") {
			out[name] = q.Get(name).Float()
		}
	}
	return out
}
