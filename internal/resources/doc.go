// Package resources is Agora's resource algebra: the Mesos Resource model
// (scalars, ranges, sets, roles, reservations, allocation), the arithmetic the
// master and allocator do on it, and the agent's --resources / --attributes
// flag syntaxes.
//
// # Model
//
// A [Resources] value is an immutable set of entries in canonical form. Each
// entry has an identity and a value. The identity is everything about a
// mesos.v1.Resource except its value: name, type, the reservations stack,
// allocation_info.role, disk info (source and persistence id; the volume and
// persistence principal are carried but, as in Mesos, not compared), revocable,
// shared and provider_id. Entries with equal identity are merged: scalars add,
// ranges and sets union. Empty entries (zero scalar, no ranges, no items) are
// dropped. Entries are ordered by name, then type, then identity, so [Resources.ToProto]
// is deterministic. Methods return new values and never share memory a caller
// can change.
//
// Two kinds of entry are counted rather than merged, as Mesos does: shared
// resources (shared persistent volumes; adding one twice keeps two copies) and
// exclusive disks (non-shared persistent volumes, MOUNT and BLOCK disks, RAW
// disks with an id), which only combine with an identical entry. A counted
// entry's copies count in Add, Subtract and Contains. A shared entry is rendered
// once by ToProto and counted once by Scalar and Quantities (the volume exists
// once however many tasks use it); an exclusive entry is rendered and counted
// once per copy.
//
// # Fixed point
//
// Scalar values are [Scalar]: the value times 1000 as an int64, rounded as Mesos
// does (llround(v*1000)). All arithmetic and comparison happens in fixed point,
// so 0.1+0.2 == 0.3 and results have at most three decimals. Validation accepts
// scalar values in [0, 1e12] (and rejects non-zero values that round to zero);
// the bound keeps every value exactly representable in its decimal rendering.
//
// # Formats
//
// Resources come in three wire formats ([Format]): post-refinement (only the
// reservations stack, bottom first, last = current owner), pre-refinement (the
// legacy `role` plus `reservation` fields, for frameworks without
// RESERVATION_REFINEMENT) and endpoint (both, for state endpoints and the
// operator API). [FromProto] accepts all three and converts legacy fields to
// the stack; [Resources.ToProto] renders any of them.
//
// # Flags and summaries
//
// [Parse] reads the --resources syntax (`cpus:2;mem(role):1024;ports:[31000-32000]`
// or a JSON array of Resource objects), [ParseAttributes] the --attributes
// syntax. [Resources.Summary] and [FlatAttributes] produce the flat maps of the
// legacy JSON endpoints. [DefaultResources] computes the agent's autodetected
// resources from machine totals the caller reads.
//
// The package is pure: no I/O, no goroutines, no clock.
package resources
