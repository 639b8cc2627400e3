package resources

import (
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// IsAncestorOrSelf reports whether ancestor is role itself or lies above it in
// the role hierarchy: "a" is an ancestor of "a/b"; "*" is an ancestor of every
// role.
func IsAncestorOrSelf(ancestor, role string) bool {
	return ancestor == "*" || ancestor == role || isStrictSubrole(role, ancestor)
}

// isStrictSubrole reports whether role lies strictly below ancestor.
func isStrictSubrole(role, ancestor string) bool {
	return len(role) > len(ancestor) && role[len(ancestor)] == '/' && strings.HasPrefix(role, ancestor)
}

// Unreserved returns the resources with no reservation.
func (r Resources) Unreserved() Resources {
	return r.filterEntries(func(e *entry) bool { return !e.id.reserved() })
}

// Reserved returns the resources reserved to any role.
func (r Resources) Reserved() Resources {
	return r.filterEntries(func(e *entry) bool { return e.id.reserved() })
}

// ReservedTo returns the resources whose current owner (top of the
// reservations stack) is role.
func (r Resources) ReservedTo(role string) Resources {
	return r.filterEntries(func(e *entry) bool { return e.id.reserved() && e.id.owner() == role })
}

// ReservedToSubtree returns the resources reserved to role or a descendant
// (quota consumption counts these).
func (r Resources) ReservedToSubtree(role string) Resources {
	return r.filterEntries(func(e *entry) bool {
		return e.id.reserved() && IsAncestorOrSelf(role, e.id.owner())
	})
}

// ReservationRoles returns the distinct owning roles of reserved resources,
// sorted.
func (r Resources) ReservationRoles() []string {
	var roles []string
	for i := range r.entries {
		if id := r.entries[i].id; id.reserved() {
			roles = append(roles, id.owner())
		}
	}
	slices.Sort(roles)
	return slices.Compact(roles)
}

// AllocatableTo returns what may be allocated to role: unreserved resources and
// those reserved to role or one of its ancestors.
func (r Resources) AllocatableTo(role string) Resources {
	return r.filterEntries(func(e *entry) bool {
		return !e.id.reserved() || IsAncestorOrSelf(e.id.owner(), role)
	})
}

// AllocatedTo returns r with allocation_info.role set to role on every entry.
func (r Resources) AllocatedTo(role string) Resources {
	plain := identityFields{allocated: true, allocRole: role}.build()
	return r.mapIdentities(func(id *identity) *identity {
		if id == nil {
			return plain
		}
		return id.withAllocation(true, role)
	})
}

// AllocatedToSubtree returns the resources allocated to role or a descendant.
func (r Resources) AllocatedToSubtree(role string) Resources {
	return r.filterEntries(func(e *entry) bool {
		got, ok := e.id.allocationRole()
		return ok && IsAncestorOrSelf(role, got)
	})
}

// Unallocated returns r with allocation_info cleared.
func (r Resources) Unallocated() Resources {
	return r.mapIdentities(func(id *identity) *identity {
		if _, ok := id.allocationRole(); !ok {
			return id
		}
		return id.withAllocation(false, "")
	})
}

// AllocationRoles returns the distinct allocation_info roles, sorted.
func (r Resources) AllocationRoles() []string {
	var roles []string
	for i := range r.entries {
		if role, ok := r.entries[i].id.allocationRole(); ok {
			roles = append(roles, role)
		}
	}
	slices.Sort(roles)
	return slices.Compact(roles)
}

// Filter keeps the entries for which keep returns true. keep sees a fresh
// post-refinement proto of each entry (one per entry, whatever its copies).
func (r Resources) Filter(keep func(*mesos.Resource) bool) Resources {
	return r.filterEntries(func(e *entry) bool { return keep(e.toProto(PostRefinement)) })
}

// Revocable returns the revocable resources.
func (r Resources) Revocable() Resources {
	return r.filterEntries(func(e *entry) bool { return e.id.isRevocable() })
}

// NonRevocable returns the resources that are not revocable.
func (r Resources) NonRevocable() Resources {
	return r.filterEntries(func(e *entry) bool { return !e.id.isRevocable() })
}

// WithoutRefinedReservations drops resources whose reservations stack has more
// than one element: what a framework without RESERVATION_REFINEMENT may be
// offered.
func (r Resources) WithoutRefinedReservations() Resources {
	return r.filterEntries(func(e *entry) bool { return e.id == nil || len(e.id.reservations) <= 1 })
}

// WithDefaultRole statically reserves the unreserved resources to role (the
// agent's --default_role); "*" or "" leaves r unchanged.
func (r Resources) WithDefaultRole(role string) (Resources, error) {
	if role == "" || role == "*" {
		return r, nil
	}
	if err := ValidateRole(role); err != nil {
		return Resources{}, err
	}
	stack := []*mesos.Resource_ReservationInfo{{
		Type: mesos.Resource_ReservationInfo_STATIC.Enum(),
		Role: proto.String(role),
	}}
	return r.mapIdentities(func(id *identity) *identity {
		if id.reserved() {
			return id
		}
		return id.withReservations(stack)
	}), nil
}

// popReservation removes the top reservation of every entry.
func (r Resources) popReservation() Resources {
	return r.mapIdentities(func(id *identity) *identity {
		if !id.reserved() {
			return id
		}
		n := len(id.reservations) - 1
		return id.withReservations(id.reservations[:n:n])
	})
}
