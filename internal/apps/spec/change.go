package spec

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/agoraproject/agora/api/marathon"
)

// VersionLayout formats versions: ISO-8601 UTC with milliseconds.
const VersionLayout = "2006-01-02T15:04:05.000Z"

// FormatTime formats t as a version timestamp.
func FormatTime(t time.Time) string { return t.UTC().Format(VersionLayout) }

// ParseVersion parses a version timestamp (any RFC 3339 form).
func ParseVersion(v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("version %q: %w", v, err)
	}
	return t, nil
}

// ConfigChanged reports whether b differs from a in anything but the
// instance count and version fields: a change that needs a restart.
func ConfigChanged(a, b *marathon.App) bool {
	return configKey(a) != configKey(b)
}

func configKey(app *marathon.App) string {
	c := *app
	c.Instances = 0
	c.Version = ""
	c.VersionInfo = nil
	b, err := json.Marshal(c)
	if err != nil {
		panic(fmt.Sprintf("spec: marshal app: %v", err))
	}
	return string(b)
}

// Stamp sets the app's version fields for a change made at version v from
// prev (nil for a new app): a config change moves lastConfigChangeAt, a
// scale-only change lastScalingAt (reference §4.1 point 4). restart forces
// a config change.
func Stamp(app, prev *marathon.App, v string, restart bool) {
	app.Version = v
	switch {
	case prev == nil || restart || ConfigChanged(prev, app):
		app.VersionInfo = &marathon.VersionInfo{LastScalingAt: v, LastConfigChangeAt: v}
	case prev.Instances != app.Instances:
		app.VersionInfo = &marathon.VersionInfo{LastScalingAt: v, LastConfigChangeAt: prev.VersionInfo.LastConfigChangeAt}
	default:
		vi := *prev.VersionInfo
		app.VersionInfo = &vi
	}
}

// AssignServicePorts gives every port definition (host mode) or port
// mapping (other modes) with port 0 a service port from [lo, hi] not in
// used, and records the ports it assigns and finds in used.
func AssignServicePorts(app *marathon.App, used map[int]bool, lo, hi int) error {
	next := lo
	pick := func() (int, error) {
		for ; next <= hi; next++ {
			if !used[next] {
				used[next] = true
				return next, nil
			}
		}
		return 0, fmt.Errorf("no free service port in [%d, %d]", lo, hi)
	}
	var ports []*int
	for i := range app.PortDefinitions {
		ports = append(ports, &app.PortDefinitions[i].Port)
	}
	if app.Container != nil {
		for i := range app.Container.PortMappings {
			ports = append(ports, &app.Container.PortMappings[i].ServicePort)
		}
	}
	for _, p := range ports {
		if *p != 0 {
			used[*p] = true
		}
	}
	for _, p := range ports {
		if *p != 0 {
			continue
		}
		v, err := pick()
		if err != nil {
			return err
		}
		*p = v
	}
	return nil
}

// ServicePorts lists the app's service ports, by port index.
func ServicePorts(app *marathon.App) []int {
	out := []int{}
	if HostNetworking(app) {
		for _, pd := range app.PortDefinitions {
			out = append(out, pd.Port)
		}
	} else if app.Container != nil {
		for _, pm := range app.Container.PortMappings {
			out = append(out, pm.ServicePort)
		}
	}
	return out
}
