// Package allocator decides which framework is offered which agent's
// resources: Mesos' hierarchical allocator. Roles are ordered by weighted
// dominant resource fairness (DRF) over a role tree ("a" is the parent of
// "a/b"), frameworks inside a role by DRF, with quota guarantees and limits,
// refusal filters, suppression, min_allocatable_resources and the
// capability rules of reference/mesos-v1-api.md §9.
//
// # Purity and determinism
//
// The package does no I/O, starts no goroutines and reads no clock: now is
// an argument of Allocate and Recover, randomness comes from Options.Seed.
// The same calls in the same order with the same seed give the same offers.
// The master owns one Allocator (it is not safe for concurrent use), tells
// it about agents, frameworks, roles and resource movements as they happen,
// and calls Allocate every allocation_interval and after events.
//
// # Accounting contract
//
// Every resource in a returned Offer counts as allocated to that framework
// and role on that agent until the master calls Recover for it (declined,
// unused part of an ACCEPT, task ended, offer rescinded or timed out).
// Allocated records resources used without an offer (a task that reappears)
// and AddAgent's used argument those of an agent's running tasks. Resources
// passed in carry allocation_info.role. Recover ignores what the framework
// does not hold, so repeated or late calls are harmless. RemoveAgent and
// RemoveFramework free everything the agent or framework holds at once.
//
// # One cycle
//
//	Allocate(now)
//	  drop expired filters
//	  candidates: active agents with free resources (≥ min_allocatable)
//	  stage 1 (if a role has an unmet guarantee): for each agent (shuffled),
//	    for each such role in DRF order, its frameworks in DRF order get the
//	    role's reservations plus unreserved resources toward the guarantee
//	    (and beyond it, within the limits and the surplus headroom)
//	  stage 2: for each agent (reshuffled), for each role in DRF order, for
//	    each framework of the role in DRF order: everything on the agent it
//	    may have — allocatable to the role, stripped of what its capabilities
//	    exclude, unreserved resources cut to its limits and to the headroom
//	    unmet guarantees need — unless it misses min_allocatable or a filter
//	    hides it
//
// A role's share is its subtree's allocation ÷ the cluster total, maximised
// over the scalar resources not excluded from fair sharing, ÷ its weight;
// ties go to the client allocated to fewer times, then to the smaller path.
// Quota consumption is reservations plus unreserved non-revocable
// allocations, both over the subtree; every ancestor's limits apply.
//
// # Speed
//
// Sorters are updated in place as allocations change (a binary search and a
// copy per tree level), not rebuilt per cycle; each agent caches its free
// resources; a cycle visits only agents with something to offer and, on
// each, walks the sorted tree until the agent is empty — usually one role
// and one framework. Filters expire from a heap.
//
// # What the master does around it
//
//   - Offer timeout: the master rescinds offers older than --offer_timeout
//     and recovers them; the allocator keeps no offer clock.
//   - Quota changes: UPDATE_QUOTA without force calls CheckQuotaLimits for
//     all its roles first (all or nothing). After SetQuota or RemoveQuota the
//     master rescinds the outstanding offers of the role and its descendants
//     so the new limits hold at once; after raising a guarantee it rescinds
//     other offers while QuotaHeadroomDeficit is not empty.
//   - Weight changes need no rescinding; they reorder later cycles.
//   - Views: Roles and Role feed GET_ROLES and /roles, Stats the
//     allocator/mesos/* metrics; the run time is the master's to measure.
//
// Shared persistent volumes are offered like other resources (once, until
// recovered), not re-offered while in use as Mesos does.
package allocator
