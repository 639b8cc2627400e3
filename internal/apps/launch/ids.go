package launch

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/agoraproject/agora/internal/apps/spec"
)

// NewInstanceID makes an instance id: "<safeId>.instance-<uuid>".
func NewInstanceID(appID string, u uuid.UUID) string {
	return spec.SafeID(appID) + ".instance-" + u.String()
}

// TaskID is the id of an instance's incarnation:
// "<instanceId>._app.<incarnation>".
func TaskID(instanceID string, incarnation int) string {
	return fmt.Sprintf("%s._app.%d", instanceID, incarnation)
}

// ParsedTaskID is what a task id tells.
type ParsedTaskID struct {
	AppID       string
	InstanceID  string
	Incarnation int
}

// ParseTaskID reads current ("<instanceId>._app.<n>"), instance-only and
// legacy ("<safeId>.<uuid>") task ids.
func ParseTaskID(id string) (ParsedTaskID, error) {
	instance, incarnation := id, 0
	if i := strings.LastIndex(id, "._app."); i >= 0 {
		n, err := strconv.Atoi(id[i+len("._app."):])
		if err != nil {
			return ParsedTaskID{}, fmt.Errorf("task id %q: bad incarnation: %w", id, err)
		}
		instance, incarnation = id[:i], n
	}
	for _, sep := range []string{".instance-", ".marathon-"} {
		if i := strings.LastIndex(instance, sep); i > 0 {
			return ParsedTaskID{AppID: spec.FromSafeID(instance[:i]), InstanceID: instance, Incarnation: incarnation}, nil
		}
	}
	if i := strings.LastIndexByte(instance, '.'); i > 0 {
		if _, err := uuid.Parse(instance[i+1:]); err == nil {
			return ParsedTaskID{AppID: spec.FromSafeID(instance[:i]), InstanceID: instance, Incarnation: incarnation}, nil
		}
	}
	return ParsedTaskID{}, fmt.Errorf("task id %q is not a Marathon task id", id)
}
