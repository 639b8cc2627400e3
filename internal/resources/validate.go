package resources

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// Errors callers branch on. Returned errors wrap one of them with the details.
var (
	// ErrInvalid marks a resource, role or flag value that fails validation.
	ErrInvalid = errors.New("resources: invalid")
	// ErrInsufficient marks an operation whose resources are not available.
	ErrInsufficient = errors.New("resources: insufficient resources")
	// ErrUnsupported marks an operation that is not a resource conversion.
	ErrUnsupported = errors.New("resources: unsupported operation")
)

// knownTypes are the types Mesos gives its standard resource names.
var knownTypes = map[string]mesos.Value_Type{
	"cpus":            mesos.Value_SCALAR,
	"mem":             mesos.Value_SCALAR,
	"disk":            mesos.Value_SCALAR,
	"gpus":            mesos.Value_SCALAR,
	"ports":           mesos.Value_RANGES,
	"ephemeral_ports": mesos.Value_RANGES,
}

// Validate checks resources as Mesos does (Resources::validate plus the
// master's checks on gpus, disk info and reservations). The error names the
// offending resource and wraps ErrInvalid.
func Validate(rs []*mesos.Resource) error {
	for i, r := range rs {
		if r == nil {
			return fmt.Errorf("%w resource #%d: null", ErrInvalid, i)
		}
		if err := validateResource(r); err != nil {
			return fmt.Errorf("%w resource %q: %w", ErrInvalid, describeProto(r), err)
		}
	}
	return nil
}

func validateResource(r *mesos.Resource) error {
	if r.GetName() == "" {
		return errors.New("empty resource name")
	}
	checks := []func(*mesos.Resource) error{
		validateValue,
		validateKnownName,
		validateDisk,
		validateReservationFormat,
		validateFlags,
	}
	for _, check := range checks {
		if err := check(r); err != nil {
			return err
		}
	}
	return nil
}

func validateValue(r *mesos.Resource) error {
	switch t := r.GetType(); t {
	case mesos.Value_SCALAR:
		if r.Scalar == nil || r.Ranges != nil || r.Set != nil {
			return errors.New("a SCALAR resource must set only 'scalar'")
		}
		return validateScalar(r.GetScalar().GetValue())
	case mesos.Value_RANGES:
		if r.Scalar != nil || r.Ranges == nil || r.Set != nil {
			return errors.New("a RANGES resource must set only 'ranges'")
		}
		return validateRanges(r.GetRanges().GetRange())
	case mesos.Value_SET:
		if r.Scalar != nil || r.Ranges != nil || r.Set == nil {
			return errors.New("a SET resource must set only 'set'")
		}
		return validateItems(r.GetSet().GetItem())
	case mesos.Value_TEXT:
		return errors.New("TEXT is not a resource type")
	default:
		return fmt.Errorf("unknown resource type %d", int32(t))
	}
}

func validateScalar(v float64) error {
	switch {
	case math.IsNaN(v) || math.IsInf(v, 0):
		return fmt.Errorf("scalar value %v is not finite", v)
	case v < 0:
		return fmt.Errorf("scalar value %v is negative", v)
	case v > MaxScalarValue:
		return fmt.Errorf("scalar value %v exceeds the maximum %g", v, MaxScalarValue)
	case v != 0 && ScalarFromFloat(v) == 0:
		return fmt.Errorf("scalar value %v rounds to zero (resolution 0.001)", v)
	}
	return nil
}

func validateRanges(rs []*mesos.Value_Range) error {
	sorted := make([]Range, len(rs))
	for i, rg := range rs {
		if rg.GetBegin() > rg.GetEnd() {
			return fmt.Errorf("range [%d-%d] begins after it ends", rg.GetBegin(), rg.GetEnd())
		}
		sorted[i] = Range{rg.GetBegin(), rg.GetEnd()}
	}
	slices.SortFunc(sorted, func(a, b Range) int { return cmp.Compare(a.Begin, b.Begin) })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Begin <= sorted[i-1].End {
			return fmt.Errorf("overlapping ranges [%d-%d] and [%d-%d]",
				sorted[i-1].Begin, sorted[i-1].End, sorted[i].Begin, sorted[i].End)
		}
	}
	return nil
}

func validateItems(items []string) error {
	seen := make(map[string]struct{}, len(items))
	for _, item := range items {
		if _, dup := seen[item]; dup {
			return fmt.Errorf("duplicate set item %q", item)
		}
		seen[item] = struct{}{}
	}
	return nil
}

func validateKnownName(r *mesos.Resource) error {
	if want, ok := knownTypes[r.GetName()]; ok && r.GetType() != want {
		return fmt.Errorf("%s must be %s, not %s", r.GetName(), want, r.GetType())
	}
	if r.GetName() == "gpus" && ScalarFromFloat(r.GetScalar().GetValue())%ScalarUnit != 0 {
		return errors.New("gpus must be a whole number")
	}
	return nil
}

func validateDisk(r *mesos.Resource) error {
	disk := r.Disk
	if disk == nil {
		return nil
	}
	if r.GetName() != "disk" {
		return fmt.Errorf("disk info is not allowed on %s", r.GetName())
	}
	if err := validateDiskSource(disk.Source); err != nil {
		return err
	}
	switch {
	case disk.Persistence != nil:
		return validatePersistentVolume(r)
	case disk.Volume != nil:
		return errors.New("non-persistent volumes are not supported")
	case disk.Source == nil:
		return errors.New("disk info is set but empty")
	}
	return nil
}

func validateDiskSource(src *mesos.Resource_DiskInfo_Source) error {
	if src == nil {
		return nil
	}
	switch t := src.GetType(); t {
	case mesos.Resource_DiskInfo_Source_PATH, mesos.Resource_DiskInfo_Source_MOUNT:
		return nil
	case mesos.Resource_DiskInfo_Source_BLOCK, mesos.Resource_DiskInfo_Source_RAW:
		if src.Mount != nil || src.Path != nil {
			return fmt.Errorf("a %s disk source must not set path or mount", t)
		}
		return nil
	default:
		return fmt.Errorf("unsupported disk source type %s", t)
	}
}

func validatePersistentVolume(r *mesos.Resource) error {
	disk := r.Disk
	if err := validateID(disk.Persistence.GetId()); err != nil {
		return fmt.Errorf("invalid persistence id: %w", err)
	}
	switch {
	case r.Revocable != nil:
		return errors.New("persistent volumes cannot be created from revocable resources")
	case !isReservedProto(r):
		return errors.New("persistent volumes cannot be created from unreserved resources")
	case disk.Volume == nil:
		return errors.New("a persistent volume must set 'volume'")
	case disk.Volume.HostPath != nil:
		return errors.New("a persistent volume must not set 'host_path'")
	}
	return nil
}

// validateID applies Mesos' rules for ids used as path components.
func validateID(id string) error {
	switch {
	case id == "":
		return errors.New("empty")
	case len(id) > 255:
		return errors.New("longer than 255 characters")
	case id == "." || id == "..":
		return fmt.Errorf("%q is not allowed", id)
	case strings.ContainsAny(id, "/\\"):
		return errors.New("contains a slash or backslash")
	case strings.ContainsFunc(id, isControl):
		return errors.New("contains a control character")
	}
	return nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// isReservedProto reports whether a resource in any format is reserved.
func isReservedProto(r *mesos.Resource) bool {
	return len(r.Reservations) > 0 || r.GetRole() != "*"
}

// validateReservationFormat checks either format, as Mesos does.
func validateReservationFormat(r *mesos.Resource) error {
	if len(r.Reservations) == 0 {
		return validatePreRefinement(r)
	}
	if err := validateStack(r.Reservations); err != nil {
		return err
	}
	return validateEndpointFields(r)
}

func validatePreRefinement(r *mesos.Resource) error {
	if err := ValidateRole(r.GetRole()); err != nil {
		return err
	}
	legacy := r.Reservation
	switch {
	case legacy == nil:
		return nil
	case legacy.Type != nil:
		return errors.New("'reservation.type' must not be set in the legacy 'reservation' field")
	case legacy.Role != nil:
		return errors.New("'reservation.role' must not be set in the legacy 'reservation' field")
	case r.GetRole() == "*":
		return errors.New(`role "*" cannot be dynamically reserved`)
	}
	return nil
}

// validateStack checks each reservation and that every refinement is DYNAMIC
// and goes to a strict descendant of the previous role.
func validateStack(stack []*mesos.Resource_ReservationInfo) error {
	for i, ri := range stack {
		switch {
		case ri.Type == nil:
			return fmt.Errorf("reservation #%d: 'type' must be set", i)
		case ri.Role == nil:
			return fmt.Errorf("reservation #%d: 'role' must be set", i)
		case ri.GetType() != mesos.Resource_ReservationInfo_STATIC &&
			ri.GetType() != mesos.Resource_ReservationInfo_DYNAMIC:
			return fmt.Errorf("reservation #%d: unsupported type %s", i, ri.GetType())
		case ri.GetRole() == "*":
			return fmt.Errorf(`reservation #%d: role "*" cannot be reserved`, i)
		}
		if err := ValidateRole(ri.GetRole()); err != nil {
			return fmt.Errorf("reservation #%d: %w", i, err)
		}
		if i == 0 {
			continue
		}
		if ri.GetType() == mesos.Resource_ReservationInfo_STATIC {
			return fmt.Errorf("reservation #%d: a refined reservation cannot be STATIC", i)
		}
		if prev := stack[i-1].GetRole(); !isStrictSubrole(ri.GetRole(), prev) {
			return fmt.Errorf("reservation #%d: role %q is not a refinement of %q", i, ri.GetRole(), prev)
		}
	}
	return nil
}

// validateEndpointFields checks that legacy fields set alongside a stack agree
// with it (the endpoint format).
func validateEndpointFields(r *mesos.Resource) error {
	stack := r.Reservations
	if len(stack) > 1 {
		if r.Role != nil || r.Reservation != nil {
			return errors.New("'role' and 'reservation' must not be set with refined reservations")
		}
		return nil
	}
	only := stack[0]
	if r.Role != nil && r.GetRole() != only.GetRole() {
		return fmt.Errorf("'role' %q does not match the reservation role %q", r.GetRole(), only.GetRole())
	}
	if only.GetType() == mesos.Resource_ReservationInfo_STATIC {
		if r.Reservation != nil {
			return errors.New("'reservation' must not be set for a STATIC reservation")
		}
		return nil
	}
	if (r.Role != nil) != (r.Reservation != nil) {
		return errors.New("'role' and 'reservation' must be both set or both unset for a DYNAMIC reservation")
	}
	if legacy := r.Reservation; legacy != nil {
		if legacy.GetPrincipal() != only.GetPrincipal() {
			return errors.New("'reservation.principal' does not match the reservation")
		}
		var w1, w2 keyWriter
		w1.labels(legacy.Labels)
		w2.labels(only.Labels)
		if string(w1.b) != string(w2.b) {
			return errors.New("'reservation.labels' does not match the reservation")
		}
	}
	return nil
}

// validateFlags checks revocable, shared and allocation_info.
func validateFlags(r *mesos.Resource) error {
	if r.Revocable != nil && isDynamicallyReservedProto(r) {
		return errors.New("dynamically reserved resources cannot be revocable")
	}
	if r.Shared != nil && (r.GetName() != "disk" || r.GetDisk().Persistence == nil) {
		return errors.New("only persistent volumes can be shared")
	}
	if r.AllocationInfo != nil && r.AllocationInfo.Role != nil {
		if err := ValidateRole(r.AllocationInfo.GetRole()); err != nil {
			return fmt.Errorf("allocation role: %w", err)
		}
	}
	return nil
}

func isDynamicallyReservedProto(r *mesos.Resource) bool {
	if n := len(r.Reservations); n > 0 {
		return r.Reservations[n-1].GetType() == mesos.Resource_ReservationInfo_DYNAMIC
	}
	return r.Reservation != nil
}

// ValidateRole checks a role name by Mesos' rules: "*" is valid; otherwise not
// empty, no leading or trailing "/", no "//", no component ".", "..", "*" or
// starting with "-", no whitespace or control characters.
func ValidateRole(role string) error {
	if role == "*" {
		return nil
	}
	if err := validateRoleShape(role); err != nil {
		return fmt.Errorf("%w role %q: %w", ErrInvalid, role, err)
	}
	return nil
}

func validateRoleShape(role string) error {
	switch {
	case role == "":
		return errors.New("empty role name")
	case strings.HasPrefix(role, "/"):
		return errors.New("cannot start with a slash")
	case strings.HasSuffix(role, "/"):
		return errors.New("cannot end with a slash")
	case strings.Contains(role, "//"):
		return errors.New("cannot contain two adjacent slashes")
	case strings.ContainsFunc(role, func(r rune) bool { return unicode.IsSpace(r) || isControl(r) }):
		return errors.New("cannot contain whitespace or control characters")
	}
	for _, c := range strings.Split(role, "/") {
		switch {
		case c == "." || c == ".." || c == "*":
			return fmt.Errorf("cannot include %q as a component", c)
		case strings.HasPrefix(c, "-"):
			return fmt.Errorf("component %q starts with a dash", c)
		}
	}
	return nil
}

// describeProto renders a possibly invalid resource for error messages:
// name(role):value.
func describeProto(r *mesos.Resource) string {
	role := r.GetRole()
	if n := len(r.Reservations); n > 0 {
		role = r.Reservations[n-1].GetRole()
	}
	var value string
	switch {
	case r.Scalar != nil:
		value = strconv.FormatFloat(r.GetScalar().GetValue(), 'g', -1, 64)
	case r.Ranges != nil:
		rs := make([]Range, len(r.Ranges.Range))
		for i, rg := range r.Ranges.Range {
			rs[i] = Range{rg.GetBegin(), rg.GetEnd()}
		}
		value = formatRanges(rs)
	case r.Set != nil:
		value = formatItems(r.Set.Item)
	}
	return r.GetName() + "(" + role + "):" + value
}
