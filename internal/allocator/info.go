package allocator

import (
	"slices"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/resources"
)

// FrameworkFromInfo builds the allocator's view of a framework from its
// FrameworkInfo: its roles (roles with MULTI_ROLE, else role, default "*"),
// the capabilities that change offers and the per-role
// min_allocatable_resources of offer_filters.
func FrameworkFromInfo(info *mesos.FrameworkInfo, suppressed []string, active bool) Framework {
	fw := Framework{Suppressed: slices.Clone(suppressed), Active: active}
	multiRole := false
	for _, c := range info.GetCapabilities() {
		switch c.GetType() {
		case mesos.FrameworkInfo_Capability_MULTI_ROLE:
			multiRole = true
		case mesos.FrameworkInfo_Capability_GPU_RESOURCES:
			fw.Capabilities.GPUResources = true
		case mesos.FrameworkInfo_Capability_REVOCABLE_RESOURCES:
			fw.Capabilities.RevocableResources = true
		case mesos.FrameworkInfo_Capability_SHARED_RESOURCES:
			fw.Capabilities.SharedResources = true
		case mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT:
			fw.Capabilities.ReservationRefinement = true
		}
	}
	if multiRole {
		fw.Roles = slices.Clone(info.GetRoles())
	} else {
		fw.Roles = []string{info.GetRole()}
	}
	for role, filters := range info.GetOfferFilters() {
		min := filters.GetMinAllocatableResources()
		if min == nil {
			continue
		}
		if fw.MinAllocatable == nil {
			fw.MinAllocatable = map[string][]resources.Quantities{}
		}
		sets := []resources.Quantities{}
		for _, q := range min.GetQuantities() {
			m := map[string]resources.Scalar{}
			for name, v := range q.GetQuantities() {
				m[name] = resources.ScalarFromFloat(v.GetValue())
			}
			sets = append(sets, resources.QuantitiesFromMap(m))
		}
		fw.MinAllocatable[role] = sets
	}
	return fw
}
