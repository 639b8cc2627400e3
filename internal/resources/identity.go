package resources

import (
	"encoding/binary"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// identity is everything about a resource except its name, type and value. It
// is immutable and shared between entries. A nil *identity is the common
// "plain" case: unreserved, unallocated, no disk info, not revocable, not
// shared, no provider. A non-nil identity always has a non-empty key.
type identity struct {
	identityFields

	// key is a canonical binary encoding of the compared fields; two
	// identities are equal exactly when their keys are.
	key string
	// counted marks shared resources and exclusive disks: entries keyed by
	// their value and counted in copies instead of merged.
	counted bool
}

// identityFields are the parts of an identity. The messages are never
// modified once an identity holds them.
type identityFields struct {
	reservations []*mesos.Resource_ReservationInfo // bottom first
	allocated    bool
	allocRole    string
	disk         *mesos.Resource_DiskInfo
	revocable    bool
	shared       bool
	provider     *string
}

func (id *identity) fields() identityFields {
	if id == nil {
		return identityFields{}
	}
	return id.identityFields
}

// build returns the identity for f, or nil when f is plain.
func (f identityFields) build() *identity {
	if len(f.reservations) == 0 && !f.allocated && f.disk == nil && !f.revocable &&
		!f.shared && f.provider == nil {
		return nil
	}
	id := &identity{identityFields: f}
	id.counted = f.shared || isExclusiveDisk(f.disk)
	id.key = encodeIdentity(id)
	return id
}

// isExclusiveDisk reports whether disk describes a resource that Mesos never
// merges with another: a persistent volume, a MOUNT or BLOCK disk, or a RAW
// disk with an id.
func isExclusiveDisk(disk *mesos.Resource_DiskInfo) bool {
	if disk == nil {
		return false
	}
	if disk.Persistence != nil {
		return true
	}
	switch src := disk.GetSource(); src.GetType() {
	case mesos.Resource_DiskInfo_Source_MOUNT, mesos.Resource_DiskInfo_Source_BLOCK:
		return true
	case mesos.Resource_DiskInfo_Source_RAW:
		return src.Id != nil
	}
	return false
}

// identityFromProto reads the identity of a valid resource in any format,
// converting legacy role/reservation fields to the reservations stack.
func identityFromProto(r *mesos.Resource) *identity {
	f := identityFields{
		reservations: reservationsFromProto(r),
		revocable:    r.Revocable != nil,
		shared:       r.Shared != nil,
	}
	if r.AllocationInfo != nil {
		f.allocated = true
		f.allocRole = r.AllocationInfo.GetRole()
	}
	if r.Disk != nil {
		f.disk = proto.CloneOf(r.Disk)
	}
	if r.ProviderId != nil {
		f.provider = proto.String(r.ProviderId.GetValue())
	}
	return f.build()
}

// reservationsFromProto returns a copy of r's reservations stack, upgrading the
// pre-refinement form (role + optional reservation) when the stack is empty.
func reservationsFromProto(r *mesos.Resource) []*mesos.Resource_ReservationInfo {
	if len(r.Reservations) > 0 {
		out := make([]*mesos.Resource_ReservationInfo, len(r.Reservations))
		for i, ri := range r.Reservations {
			out[i] = proto.CloneOf(ri)
		}
		return out
	}
	role := r.GetRole()
	if role == "*" {
		return nil
	}
	upgraded := &mesos.Resource_ReservationInfo{
		Type: mesos.Resource_ReservationInfo_STATIC.Enum(),
		Role: proto.String(role),
	}
	if legacy := r.Reservation; legacy != nil {
		upgraded.Type = mesos.Resource_ReservationInfo_DYNAMIC.Enum()
		upgraded.Principal = legacy.Principal
		if legacy.Labels != nil {
			upgraded.Labels = proto.CloneOf(legacy.Labels)
		}
	}
	return []*mesos.Resource_ReservationInfo{upgraded}
}

// owner is the role the resource is reserved to (top of the stack), or "*".
func (id *identity) owner() string {
	if id == nil || len(id.reservations) == 0 {
		return "*"
	}
	return id.reservations[len(id.reservations)-1].GetRole()
}

func (id *identity) reserved() bool { return id != nil && len(id.reservations) > 0 }

func (id *identity) isRevocable() bool { return id != nil && id.revocable }

func (id *identity) isShared() bool { return id != nil && id.shared }

func (id *identity) isCounted() bool { return id != nil && id.counted }

func (id *identity) allocationRole() (string, bool) {
	if id == nil || !id.allocated {
		return "", false
	}
	return id.allocRole, true
}

func (id *identity) keyString() string {
	if id == nil {
		return ""
	}
	return id.key
}

// withAllocation returns the identity with allocation_info set to role, or
// cleared when allocated is false.
func (id *identity) withAllocation(allocated bool, role string) *identity {
	f := id.fields()
	f.allocated, f.allocRole = allocated, role
	if !allocated {
		f.allocRole = ""
	}
	return f.build()
}

// withReservations returns the identity with the given stack.
func (id *identity) withReservations(stack []*mesos.Resource_ReservationInfo) *identity {
	f := id.fields()
	f.reservations = stack
	return f.build()
}

// keyWriter builds identity keys: tagged sections of length-prefixed strings.
type keyWriter struct{ b []byte }

func (w *keyWriter) tag(t byte) { w.b = append(w.b, t) }

func (w *keyWriter) str(s string) {
	w.b = binary.AppendUvarint(w.b, uint64(len(s)))
	w.b = append(w.b, s...)
}

// opt writes presence and value of an optional string.
func (w *keyWriter) opt(s *string) {
	if s == nil {
		w.b = append(w.b, 0)
		return
	}
	w.b = append(w.b, 1)
	w.str(*s)
}

// labels writes labels order-insensitively (Mesos compares them as multisets).
func (w *keyWriter) labels(l *mesos.Labels) {
	if l == nil {
		w.b = append(w.b, 0)
		return
	}
	w.b = append(w.b, 1)
	encoded := make([]string, len(l.Labels))
	for i, lb := range l.Labels {
		var one keyWriter
		one.str(lb.GetKey())
		one.opt(lb.Value)
		encoded[i] = string(one.b)
	}
	slices.Sort(encoded)
	w.b = binary.AppendUvarint(w.b, uint64(len(encoded)))
	for _, e := range encoded {
		w.b = append(w.b, e...)
	}
}

func encodeIdentity(id *identity) string {
	var w keyWriter
	if len(id.reservations) > 0 {
		w.tag('R')
		w.b = binary.AppendUvarint(w.b, uint64(len(id.reservations)))
		for _, ri := range id.reservations {
			w.b = append(w.b, byte(ri.GetType()))
			w.str(ri.GetRole())
			w.opt(ri.Principal)
			w.labels(ri.Labels)
		}
	}
	if id.allocated {
		w.tag('A')
		w.str(id.allocRole)
	}
	if id.disk != nil {
		w.tag('D')
		encodeDisk(&w, id.disk)
	}
	if id.revocable {
		w.tag('V')
	}
	if id.shared {
		w.tag('S')
	}
	if id.provider != nil {
		w.tag('P')
		w.str(*id.provider)
	}
	return string(w.b)
}

// encodeDisk writes the compared parts of a DiskInfo: the source and the
// persistence id (not the volume or the persistence principal).
func encodeDisk(w *keyWriter, d *mesos.Resource_DiskInfo) {
	if src := d.Source; src != nil {
		w.tag('s')
		w.b = append(w.b, byte(src.GetType()))
		if src.Path != nil {
			w.tag('h')
			w.opt(src.Path.Root)
		}
		if src.Mount != nil {
			w.tag('m')
			w.opt(src.Mount.Root)
		}
		w.opt(src.Vendor)
		w.opt(src.Id)
		w.labels(src.Metadata)
		w.opt(src.Profile)
	}
	if d.Persistence != nil {
		w.tag('p')
		w.str(d.Persistence.GetId())
	}
}

// describeIdentity renders the non-plain parts of an identity for String, in
// the spirit of Mesos' operator<<: "(allocated: r)(reservations: [...])[disk]{REV}<SHARED>".
func describeIdentity(b *strings.Builder, id *identity) {
	if id == nil {
		return
	}
	if id.allocated {
		b.WriteString("(allocated: " + id.allocRole + ")")
	}
	if len(id.reservations) > 1 ||
		(len(id.reservations) == 1 && id.reservations[0].GetType() != mesos.Resource_ReservationInfo_STATIC) {
		b.WriteString("(reservations: [")
		for i, ri := range id.reservations {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString("(" + ri.GetType().String() + "," + ri.GetRole())
			if ri.Principal != nil {
				b.WriteString("," + ri.GetPrincipal())
			}
			b.WriteByte(')')
		}
		b.WriteString("])")
	}
	if id.disk != nil {
		b.WriteString("[" + describeDisk(id.disk) + "]")
	}
	if id.revocable {
		b.WriteString("{REV}")
	}
	if id.shared {
		b.WriteString("<SHARED>")
	}
}

func describeDisk(d *mesos.Resource_DiskInfo) string {
	var parts []string
	if src := d.Source; src != nil {
		s := src.GetType().String()
		if root := src.GetMount().GetRoot() + src.GetPath().GetRoot(); root != "" {
			s += ":" + root
		}
		parts = append(parts, s)
	}
	if d.Persistence != nil {
		parts = append(parts, d.Persistence.GetId())
	}
	if d.Volume != nil {
		return strings.Join(parts, ",") + ":" + d.Volume.GetContainerPath()
	}
	return strings.Join(parts, ",")
}
