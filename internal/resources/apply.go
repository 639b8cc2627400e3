package resources

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// conversion replaces consumed by converted; check, when set, validates the
// result.
type conversion struct {
	consumed, converted Resources
	check               func(Resources) error
}

// Apply applies a RESERVE, UNRESERVE, CREATE, DESTROY, GROW_VOLUME or
// SHRINK_VOLUME operation to r, as Mesos' Resources::apply does. The
// operation's resources are validated; resources r lacks yield an error
// wrapping ErrInsufficient; other operation types yield ErrUnsupported.
func (r Resources) Apply(op *mesos.Offer_Operation) (Resources, error) {
	convs, err := conversionsOf(op)
	if err != nil {
		return Resources{}, fmt.Errorf("%s: %w", op.GetType(), err)
	}
	result := r
	for _, c := range convs {
		if !result.Contains(c.consumed) {
			return Resources{}, fmt.Errorf("%s: %w: %s does not contain %s",
				op.GetType(), ErrInsufficient, result, c.consumed)
		}
		result = result.Subtract(c.consumed).Add(c.converted)
		if c.check != nil {
			if err := c.check(result); err != nil {
				return Resources{}, fmt.Errorf("%s: %w", op.GetType(), err)
			}
		}
	}
	return result, nil
}

func conversionsOf(op *mesos.Offer_Operation) ([]conversion, error) {
	switch op.GetType() {
	case mesos.Offer_Operation_RESERVE:
		return reserveConversions(op.GetReserve())
	case mesos.Offer_Operation_UNRESERVE:
		return unreserveConversions(op.GetUnreserve().GetResources())
	case mesos.Offer_Operation_CREATE:
		return createConversions(op.GetCreate().GetVolumes())
	case mesos.Offer_Operation_DESTROY:
		return destroyConversions(op.GetDestroy().GetVolumes())
	case mesos.Offer_Operation_GROW_VOLUME:
		return growConversions(op.GetGrowVolume())
	case mesos.Offer_Operation_SHRINK_VOLUME:
		return shrinkConversions(op.GetShrinkVolume())
	default:
		return nil, ErrUnsupported
	}
}

// reserveConversions: with `source`, source becomes resources; without, each
// resource is what you get by pushing its top reservation onto the resources
// below it.
func reserveConversions(reserve *mesos.Offer_Operation_Reserve) ([]conversion, error) {
	if len(reserve.GetSource()) > 0 {
		source, err := FromProto(reserve.GetSource())
		if err != nil {
			return nil, err
		}
		target, err := FromProto(reserve.GetResources())
		if err != nil {
			return nil, err
		}
		if !source.Quantities().Equal(target.Quantities()) {
			return nil, fmt.Errorf("%w: source %s and resources %s differ in quantity", ErrInvalid, source, target)
		}
		return []conversion{{consumed: source, converted: target}}, nil
	}
	return eachResource(reserve.GetResources(), func(res Resources) (conversion, error) {
		if !allReserved(res) {
			return conversion{}, fmt.Errorf("%w: %s has no reservation to push", ErrInvalid, res)
		}
		return conversion{consumed: res.popReservation(), converted: res}, nil
	})
}

func unreserveConversions(rs []*mesos.Resource) ([]conversion, error) {
	return eachResource(rs, func(res Resources) (conversion, error) {
		if !allReserved(res) {
			return conversion{}, fmt.Errorf("%w: %s is not reserved", ErrInvalid, res)
		}
		return conversion{consumed: res, converted: res.popReservation()}, nil
	})
}

func createConversions(volumes []*mesos.Resource) ([]conversion, error) {
	return eachResource(volumes, func(vol Resources) (conversion, error) {
		stripped, err := strippedVolume(vol)
		if err != nil {
			return conversion{}, err
		}
		return conversion{consumed: stripped, converted: vol}, nil
	})
}

// destroyConversions turn volumes back into plain disk; a shared volume with
// copies still in use cannot be destroyed.
func destroyConversions(volumes []*mesos.Resource) ([]conversion, error) {
	return eachResource(volumes, func(vol Resources) (conversion, error) {
		stripped, err := strippedVolume(vol)
		if err != nil {
			return conversion{}, err
		}
		check := func(result Resources) error {
			if result.Contains(vol) {
				return fmt.Errorf("%w: persistent volume %s has other shared copies in use", ErrInvalid, vol)
			}
			return nil
		}
		return conversion{consumed: vol, converted: stripped, check: check}, nil
	})
}

// growConversions: the volume and the addition (plain disk of the same
// reservations and source) become one larger volume.
func growConversions(grow *mesos.Offer_Operation_GrowVolume) ([]conversion, error) {
	vol, err := resizableVolume(grow.GetVolume())
	if err != nil {
		return nil, err
	}
	if grow.GetAddition() == nil {
		return nil, fmt.Errorf("%w: missing addition", ErrInvalid)
	}
	addition, err := FromProto([]*mesos.Resource{grow.GetAddition()})
	if err != nil {
		return nil, err
	}
	extra := addition.Scalar("disk")
	if extra <= 0 || len(addition.entries) != 1 {
		return nil, fmt.Errorf("%w: addition %s must be a single non-empty disk", ErrInvalid, addition)
	}
	if plain, err := strippedVolume(vol); err != nil || !plain.withScalar(extra).Equal(addition) {
		return nil, fmt.Errorf("%w: addition %s must be disk with the volume's reservations and source", ErrInvalid, addition)
	}
	grown := vol.withScalar(addScalar(vol.entries[0].scalar, extra))
	return []conversion{{consumed: vol.Add(addition), converted: grown}}, nil
}

// shrinkConversions: the volume becomes a smaller one and plain disk of
// its reservations and source.
func shrinkConversions(shrink *mesos.Offer_Operation_ShrinkVolume) ([]conversion, error) {
	vol, err := resizableVolume(shrink.GetVolume())
	if err != nil {
		return nil, err
	}
	if shrink.GetSubtract() == nil {
		return nil, fmt.Errorf("%w: missing subtract", ErrInvalid)
	}
	by := ScalarFromFloat(shrink.GetSubtract().GetValue())
	size := vol.entries[0].scalar
	if by <= 0 || by >= size {
		return nil, fmt.Errorf("%w: cannot shrink %s by %s", ErrInvalid, vol, by)
	}
	stripped, err := strippedVolume(vol)
	if err != nil {
		return nil, err
	}
	freed := stripped.withScalar(by)
	return []conversion{{consumed: vol, converted: vol.withScalar(size - by).Add(freed)}}, nil
}

// resizableVolume is the volume a GROW_VOLUME or SHRINK_VOLUME resizes:
// as in Mesos, neither a shared volume nor one on a MOUNT disk (whose size
// is the whole device) can change size.
func resizableVolume(r *mesos.Resource) (Resources, error) {
	vol, err := singleVolume(r)
	if err != nil {
		return Resources{}, err
	}
	switch {
	case r.Shared != nil:
		return Resources{}, fmt.Errorf("%w: shared volume %s cannot be resized", ErrInvalid, vol)
	case r.GetDisk().GetSource().GetType() == mesos.Resource_DiskInfo_Source_MOUNT:
		return Resources{}, fmt.Errorf("%w: volume %s on a MOUNT disk cannot be resized", ErrInvalid, vol)
	}
	return vol, nil
}

func singleVolume(r *mesos.Resource) (Resources, error) {
	if r == nil {
		return Resources{}, errors.New("missing volume")
	}
	vol, err := FromProto([]*mesos.Resource{r})
	if err != nil {
		return Resources{}, err
	}
	if len(vol.entries) != 1 || !vol.entries[0].isPersistentVolume() {
		return Resources{}, fmt.Errorf("%w: %s is not a persistent volume", ErrInvalid, vol)
	}
	return vol, nil
}

// eachResource builds one conversion per resource, as Mesos applies them one
// at a time.
func eachResource(rs []*mesos.Resource, build func(Resources) (conversion, error)) ([]conversion, error) {
	if len(rs) == 0 {
		return nil, fmt.Errorf("%w: no resources given", ErrInvalid)
	}
	convs := make([]conversion, 0, len(rs))
	for _, r := range rs {
		res, err := FromProto([]*mesos.Resource{r})
		if err != nil {
			return nil, err
		}
		c, err := build(res)
		if err != nil {
			return nil, err
		}
		convs = append(convs, c)
	}
	return convs, nil
}

func allReserved(res Resources) bool {
	for i := range res.entries {
		if !res.entries[i].id.reserved() {
			return false
		}
	}
	return !res.IsEmpty()
}

func (e *entry) isPersistentVolume() bool {
	return e.id != nil && e.id.disk != nil && e.id.disk.Persistence != nil
}

// strippedVolume returns the plain disk a persistent volume was made from:
// persistence and volume removed (the whole disk info when it has no source),
// not shared.
func strippedVolume(vol Resources) (Resources, error) {
	out := make([]entry, 0, len(vol.entries))
	for _, e := range vol.entries {
		if !e.isPersistentVolume() {
			return Resources{}, fmt.Errorf("%w: %s is not a persistent volume", ErrInvalid, vol)
		}
		f := e.id.fields()
		f.shared = false
		f.disk = nil
		if src := e.id.disk.Source; src != nil {
			f.disk = &mesos.Resource_DiskInfo{Source: proto.CloneOf(src)}
		}
		e.id = f.build()
		e.copies = 1
		out = append(out, e)
	}
	return Resources{entries: canonicalize(out)}, nil
}

// withScalar returns a single-entry Resources with its scalar replaced.
func (r Resources) withScalar(v Scalar) Resources {
	e := r.entries[0]
	e.scalar = v
	return Resources{entries: []entry{e}}
}
