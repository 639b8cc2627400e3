package spec

import (
	"encoding/json"
	"strings"

	"github.com/agoraproject/agora/api/marathon"
)

// Default values of reference §3.1.
const (
	DefaultInstances             = 1
	DefaultCPUs                  = 1.0
	DefaultMem                   = 128.0
	DefaultBackoffSeconds        = 1
	DefaultBackoffFactor         = 1.15
	DefaultMaxLaunchDelaySeconds = 300
	KillYoungestFirst            = "YOUNGEST_FIRST"
	KillOldestFirst              = "OLDEST_FIRST"
	// SingleInstanceLabel limits an app to one instance and a stop-first
	// upgrade.
	SingleInstanceLabel = "MARATHON_SINGLE_INSTANCE_APP"
)

// Defaults is an app with every default set, the starting point of
// decoding.
func Defaults() marathon.App {
	return marathon.App{
		Instances:             DefaultInstances,
		CPUs:                  DefaultCPUs,
		Mem:                   DefaultMem,
		BackoffSeconds:        DefaultBackoffSeconds,
		BackoffFactor:         DefaultBackoffFactor,
		MaxLaunchDelaySeconds: DefaultMaxLaunchDelaySeconds,
		KillSelection:         KillYoungestFirst,
		UpgradeStrategy:       &marathon.UpgradeStrategy{MinimumHealthCapacity: 1, MaximumOverCapacity: 1},
		UnreachableStrategy:   &marathon.UnreachableStrategy{},
	}
}

// healthCheckDefaults are a health check's defaults before its JSON is
// applied.
func healthCheckDefaults() marathon.HealthCheck {
	return marathon.HealthCheck{
		Protocol: marathon.ProtocolHTTP, GracePeriodSeconds: 300, IntervalSeconds: 60, TimeoutSeconds: 20,
		MaxConsecutiveFailures: 3, DelaySeconds: 15, IPProtocol: "IPv4",
	}
}

func readinessCheckDefaults() marathon.ReadinessCheck {
	return marathon.ReadinessCheck{
		Name: "readinessCheck", Protocol: "HTTP", Path: "/", IntervalSeconds: 30, TimeoutSeconds: 10,
		HTTPStatusCodesForReady: []int{200},
	}
}

// decodeChecks re-decodes healthChecks and readinessChecks element by
// element over their defaults, so absent numbers keep them.
func decodeChecks(app *marathon.App, fields Fields) error {
	if raw, ok := fields["healthChecks"]; ok && string(raw) != "null" {
		var elems []json.RawMessage
		if err := strictUnmarshal(raw, &elems); err != nil {
			return err
		}
		app.HealthChecks = make([]marathon.HealthCheck, len(elems))
		for i, e := range elems {
			app.HealthChecks[i] = healthCheckDefaults()
			if err := strictUnmarshal(e, &app.HealthChecks[i]); err != nil {
				return err
			}
		}
	}
	if raw, ok := fields["readinessChecks"]; ok && string(raw) != "null" {
		var elems []json.RawMessage
		if err := strictUnmarshal(raw, &elems); err != nil {
			return err
		}
		app.ReadinessChecks = make([]marathon.ReadinessCheck, len(elems))
		for i, e := range elems {
			app.ReadinessChecks[i] = readinessCheckDefaults()
			if err := strictUnmarshal(e, &app.ReadinessChecks[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// Options are the server settings that normalisation and validation need.
type Options struct {
	// DefaultRole is --mesos_role, the role of apps that name none.
	DefaultRole string
	// Roles are the roles apps may use (DefaultRole is always allowed).
	Roles []string
}

// Normalize fills what decoding left unset, converts deprecated fields and
// echoes defaults the way Marathon does. fields are the keys the client
// sent (nil: treat all as sent).
func Normalize(app *marathon.App, fields Fields, opts Options) {
	fillCollections(app)
	convertDeprecated(app)
	if app.UpgradeStrategy == nil {
		app.UpgradeStrategy = &marathon.UpgradeStrategy{MinimumHealthCapacity: 1, MaximumOverCapacity: 1}
	}
	if app.Labels[SingleInstanceLabel] == "true" {
		app.UpgradeStrategy = &marathon.UpgradeStrategy{}
	}
	if app.UnreachableStrategy == nil {
		app.UnreachableStrategy = &marathon.UnreachableStrategy{}
	}
	if app.Role == "" {
		app.Role = opts.DefaultRole
	}
	if app.KillSelection == "" {
		app.KillSelection = KillYoungestFirst
	}
	normalizeNetworking(app, fields)
	normalizeHealthChecks(app)
}

func fillCollections(app *marathon.App) {
	if app.Env == nil {
		app.Env = map[string]marathon.EnvVar{}
	}
	if app.Labels == nil {
		app.Labels = map[string]string{}
	}
	if app.Secrets == nil {
		app.Secrets = map[string]marathon.SecretSource{}
	}
	if app.Constraints == nil {
		app.Constraints = []marathon.Constraint{}
	}
	if app.Dependencies == nil {
		app.Dependencies = []string{}
	}
	if app.Fetch == nil {
		app.Fetch = []marathon.Fetch{}
	}
	if app.HealthChecks == nil {
		app.HealthChecks = []marathon.HealthCheck{}
	}
	if app.ReadinessChecks == nil {
		app.ReadinessChecks = []marathon.ReadinessCheck{}
	}
}

// convertDeprecated moves ports, uris and docker networking fields to
// their replacements and clears them.
func convertDeprecated(app *marathon.App) {
	if app.Ports != nil && app.PortDefinitions == nil {
		app.PortDefinitions = []marathon.PortDefinition{}
		for _, p := range app.Ports {
			app.PortDefinitions = append(app.PortDefinitions, marathon.PortDefinition{Port: p, Protocol: "tcp"})
		}
	}
	app.Ports = nil
	for _, u := range app.URIs {
		app.Fetch = append(app.Fetch, marathon.Fetch{URI: u, Extract: isArchive(u)})
	}
	if app.IPAddress != nil && len(app.Networks) == 0 {
		app.Networks = []marathon.Network{{Mode: marathon.NetworkContainer}}
	}
	app.URIs, app.IPAddress, app.Residency = nil, nil, nil
	c := app.Container
	if c == nil || c.Docker == nil {
		return
	}
	if len(app.Networks) == 0 {
		switch strings.ToUpper(c.Docker.Network) {
		case "BRIDGE":
			app.Networks = []marathon.Network{{Mode: marathon.NetworkBridge}}
		case "USER":
			app.Networks = []marathon.Network{{Mode: marathon.NetworkContainer}}
		}
	}
	if c.Docker.PortMappings != nil && c.PortMappings == nil {
		c.PortMappings = c.Docker.PortMappings
	}
	c.Docker.Network, c.Docker.PortMappings = "", nil
}

func isArchive(uri string) bool {
	for _, ext := range []string{".tgz", ".tar.gz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz", ".zip"} {
		if strings.HasSuffix(uri, ext) {
			return true
		}
	}
	return false
}

// HostNetworking reports whether the app uses host networking.
func HostNetworking(app *marathon.App) bool {
	return len(app.Networks) == 0 || app.Networks[0].Mode == marathon.NetworkHost
}

// BridgeNetworking reports whether the app uses the bridge network.
func BridgeNetworking(app *marathon.App) bool {
	return len(app.Networks) > 0 && app.Networks[0].Mode == marathon.NetworkBridge
}

func normalizeNetworking(app *marathon.App, fields Fields) {
	if len(app.Networks) == 0 {
		app.Networks = []marathon.Network{{Mode: marathon.NetworkHost}}
	}
	if HostNetworking(app) {
		if app.PortDefinitions == nil && (fields == nil || !fields.Has("portDefinitions") || string(fields["portDefinitions"]) == "null") {
			app.PortDefinitions = []marathon.PortDefinition{{Port: 0, Protocol: "tcp", Name: "default"}}
		}
		if app.PortDefinitions == nil {
			app.PortDefinitions = []marathon.PortDefinition{}
		}
		for i := range app.PortDefinitions {
			if app.PortDefinitions[i].Protocol == "" {
				app.PortDefinitions[i].Protocol = "tcp"
			}
		}
	} else {
		app.PortDefinitions = nil
		if app.Container == nil {
			app.Container = &marathon.Container{Type: marathon.ContainerMesos}
		}
		if app.Container.PortMappings == nil {
			m := marathon.PortMapping{Protocol: "tcp", Name: "default"}
			if BridgeNetworking(app) {
				m.HostPort = new(int)
			}
			app.Container.PortMappings = []marathon.PortMapping{m}
		}
	}
	normalizeContainer(app)
}

func normalizeContainer(app *marathon.App) {
	c := app.Container
	if c == nil {
		return
	}
	if c.Type == "" {
		c.Type = marathon.ContainerDocker
	}
	if c.Volumes == nil {
		c.Volumes = []marathon.Volume{}
	}
	if c.Docker != nil && c.Docker.Parameters == nil {
		c.Docker.Parameters = []marathon.Parameter{}
	}
	if HostNetworking(app) {
		c.PortMappings = nil
	}
	for i := range c.PortMappings {
		pm := &c.PortMappings[i]
		if pm.Protocol == "" {
			pm.Protocol = "tcp"
		}
		if pm.HostPort == nil && BridgeNetworking(app) {
			pm.HostPort = new(int)
		}
	}
}

func normalizeHealthChecks(app *marathon.App) {
	for i := range app.HealthChecks {
		hc := &app.HealthChecks[i]
		if hc.Protocol == "" {
			hc.Protocol = marathon.ProtocolHTTP
		}
		switch hc.Protocol {
		case marathon.ProtocolHTTP, marathon.ProtocolHTTPS, marathon.ProtocolMesosHTTP, marathon.ProtocolMesosHTTPS:
			if hc.Path == "" {
				hc.Path = "/"
			}
		default:
			hc.Path = ""
		}
		if hc.Protocol != marathon.ProtocolCommand && hc.Port == nil && hc.PortIndex == nil {
			hc.PortIndex = new(int)
		}
		if hc.Protocol == marathon.ProtocolCommand {
			hc.Port, hc.PortIndex = nil, nil
		}
		if hc.IPProtocol == "" {
			hc.IPProtocol = "IPv4"
		}
	}
}
