package registry

import (
	"maps"
	"math"
	"slices"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/quota"
	"github.com/agoraproject/agora/internal/resources"
)

func (w *writer) setMaster(op *Operation_SetMaster) *OpError {
	m := op.GetMaster()
	switch {
	case m.GetInfo().GetId() == "":
		return invalidf("master info has no ID")
	case m.GetNodeId() == "":
		return invalidf("node_id is empty")
	}
	assign(w, &w.s.master, m)
	return nil
}

func (w *writer) updateWeights(op *Operation_UpdateWeights) *OpError {
	seen := map[string]bool{}
	for _, wt := range op.GetWeights() {
		role, v := wt.GetRole(), wt.GetWeight()
		if err := checkRole(role, seen); err != nil {
			return err
		}
		if !(v > 0) || math.IsInf(v, 0) {
			return invalidf("role %q: weight %v is not a positive number", role, v)
		}
	}
	weights := own(w, &w.s.weights)
	for _, wt := range op.GetWeights() {
		set(w, weights, wt.GetRole(), wt.GetWeight())
	}
	return nil
}

func (w *writer) updateQuota(op *Operation_UpdateQuota) *OpError {
	seen := map[string]bool{}
	for _, c := range op.GetConfigs() {
		if err := checkQuotaConfig(c, seen); err != nil {
			return err
		}
	}
	quotas := own(w, &w.s.quotas)
	for _, c := range op.GetConfigs() {
		if len(c.GetGuarantees()) == 0 && len(c.GetLimits()) == 0 {
			remove(w, quotas, c.GetRole())
		} else {
			set(w, quotas, c.GetRole(), c)
		}
	}
	return nil
}

// checkRole accepts a valid role named once in its operation.
func checkRole(role string, seen map[string]bool) *OpError {
	if err := resources.ValidateRole(role); err != nil {
		return invalidf("%v", err)
	}
	if seen[role] {
		return invalidf("role %q appears twice", role)
	}
	seen[role] = true
	return nil
}

// checkQuotaConfig accepts a config for a valid role (not "*") whose
// quantities are finite, non-negative, and guarantees do not exceed limits.
func checkQuotaConfig(c *quota.QuotaConfig, seen map[string]bool) *OpError {
	role := c.GetRole()
	if role == "*" {
		return invalidf(`quota cannot be set for role "*"`)
	}
	if err := checkRole(role, seen); err != nil {
		return err
	}
	guarantees, limits := scalars(c.GetGuarantees()), scalars(c.GetLimits())
	for _, side := range []map[string]float64{guarantees, limits} {
		for _, name := range slices.Sorted(maps.Keys(side)) {
			if v := side[name]; name == "" || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
				return invalidf("role %q: quantity %q = %v is not a finite non-negative number", role, name, v)
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(guarantees)) {
		limit, ok := limits[name]
		if ok && resources.ScalarFromFloat(guarantees[name]) > resources.ScalarFromFloat(limit) {
			return invalidf("role %q: %s guarantee %v exceeds its limit %v", role, name, guarantees[name], limit)
		}
	}
	return nil
}

func scalars(m map[string]*mesos.Value_Scalar) map[string]float64 {
	out := make(map[string]float64, len(m))
	for name, v := range m {
		out[name] = v.GetValue()
	}
	return out
}

func (w *writer) addMinimumCapability(op *Operation_AddMinimumCapability) *OpError {
	c := op.GetCapability()
	switch {
	case c == "":
		return invalidf("capability is empty")
	case w.s.capabilities[c]:
		return conflictf("capability %q is already required", c)
	}
	set(w, own(w, &w.s.capabilities), c, true)
	return nil
}

func (w *writer) removeMinimumCapability(op *Operation_RemoveMinimumCapability) *OpError {
	c := op.GetCapability()
	if !w.s.capabilities[c] {
		return notFoundf("capability %q is not required", c)
	}
	remove(w, own(w, &w.s.capabilities), c)
	return nil
}
