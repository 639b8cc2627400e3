package spec

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"

	"github.com/agoraproject/agora/api/marathon"
)

// Validate checks a normalised app against the rules of reference §3 and
// §4.7 and returns an *Invalid naming every offending field, or nil.
func Validate(app *marathon.App, opts Options) error {
	var p problems
	validateID(&p, app)
	validateCommand(&p, app)
	validateResources(&p, app)
	validateStrategies(&p, app)
	validateRole(&p, app, opts)
	for i, c := range app.Constraints {
		if msg := ConstraintProblem(c); msg != "" {
			p.add(fmt.Sprintf("/constraints/%d", i), "%s", msg)
		}
	}
	validatePorts(&p, app)
	validateContainer(&p, app)
	validateHealthChecks(&p, app)
	validateReadiness(&p, app)
	validateEnv(&p, app)
	for i, d := range app.Dependencies {
		if _, err := Resolve(d, Parent(app.ID)); err != nil {
			p.add(fmt.Sprintf("/dependencies/%d", i), "%s", err)
		}
	}
	for i, f := range app.Fetch {
		if f.URI == "" {
			p.add(fmt.Sprintf("/fetch/%d/uri", i), "must not be empty")
		}
	}
	return p.err()
}

func validateID(p *problems, app *marathon.App) {
	switch {
	case app.ID == "":
		p.add("/id", "error.path.missing")
	case app.ID == Root:
		p.add("/id", "Path must contain at least one path element")
	}
}

func validateCommand(p *problems, app *marathon.App) {
	hasImage := app.Container != nil && app.Container.Docker != nil && app.Container.Docker.Image != ""
	switch {
	case app.Cmd != "" && len(app.Args) > 0:
		p.add("/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.")
	case app.Cmd == "" && len(app.Args) == 0 && !hasImage:
		p.add("/", "AppDefinition must either contain one of 'cmd' or 'args', and/or a 'container'.")
	}
	if app.Executor != "" && app.Executor != "//cmd" && !regexp.MustCompile(`^(//cmd)|(/?[^/]+(/[^/]+)*)$`).MatchString(app.Executor) {
		p.add("/executor", "must be a path or //cmd")
	}
}

func validateResources(p *problems, app *marathon.App) {
	if app.Instances < 0 {
		p.add("/instances", "got %d, expected 0 or more", app.Instances)
	}
	if app.CPUs < 0.001 {
		p.add("/cpus", "got %v, expected 0.001 or more", app.CPUs)
	}
	if app.Mem < 0 {
		p.add("/mem", "got %v, expected 0.0 or more", app.Mem)
	}
	if app.Disk < 0 {
		p.add("/disk", "got %v, expected 0.0 or more", app.Disk)
	}
	if app.GPUs < 0 {
		p.add("/gpus", "got %d, expected 0 or more", app.GPUs)
	}
	if app.BackoffSeconds < 0 {
		p.add("/backoffSeconds", "got %d, expected 0 or more", app.BackoffSeconds)
	}
	if app.BackoffFactor < 1 {
		p.add("/backoffFactor", "got %v, expected 1.0 or more", app.BackoffFactor)
	}
	if app.MaxLaunchDelaySeconds < 0 {
		p.add("/maxLaunchDelaySeconds", "got %d, expected 0 or more", app.MaxLaunchDelaySeconds)
	}
	if g := app.TaskKillGracePeriodSeconds; g != nil && *g < 0 {
		p.add("/taskKillGracePeriodSeconds", "got %d, expected 0 or more", *g)
	}
	if app.Labels[SingleInstanceLabel] == "true" && app.Instances > 1 {
		p.add("/instances", "got %d, expected 1 or less for a single-instance app", app.Instances)
	}
}

func validateStrategies(p *problems, app *marathon.App) {
	if u := app.UpgradeStrategy; u != nil {
		unit(p, "/upgradeStrategy/minimumHealthCapacity", u.MinimumHealthCapacity)
		unit(p, "/upgradeStrategy/maximumOverCapacity", u.MaximumOverCapacity)
	}
	if u := app.UnreachableStrategy; u != nil && !u.Disabled {
		if u.InactiveAfterSeconds < 0 {
			p.add("/unreachableStrategy/inactiveAfterSeconds", "got %d, expected 0 or more", u.InactiveAfterSeconds)
		}
		if u.ExpungeAfterSeconds < u.InactiveAfterSeconds {
			p.add("/unreachableStrategy/expungeAfterSeconds", "got %d, expected %d or more (inactiveAfterSeconds)",
				u.ExpungeAfterSeconds, u.InactiveAfterSeconds)
		}
	}
	if app.KillSelection != KillYoungestFirst && app.KillSelection != KillOldestFirst {
		p.add("/killSelection", "must be one of YOUNGEST_FIRST, OLDEST_FIRST")
	}
}

func unit(p *problems, path string, v float64) {
	switch {
	case v > 1:
		p.add(path, "is greater than 1")
	case v < 0:
		p.add(path, "is less than 0")
	}
}

func validateRole(p *problems, app *marathon.App, opts Options) {
	if app.Role == opts.DefaultRole || slices.Contains(opts.Roles, app.Role) {
		return
	}
	p.add("/role", "role %q is not allowed; allowed: %q", app.Role, append([]string{opts.DefaultRole}, opts.Roles...))
}

// ConstraintProblem returns why c is not a valid constraint ("" if it is).
func ConstraintProblem(c marathon.Constraint) string {
	if len(c) != 2 && len(c) != 3 {
		return "Each constraint must have either 2 or 3 fields"
	}
	if c.Field() == "" {
		return "Missing field and operator"
	}
	v, has := c.Value(), len(c) == 3
	switch c.Operator() {
	case "UNIQUE":
		if has && v != "" {
			return "UNIQUE does not accept a value"
		}
	case "CLUSTER", "IS":
		if c.Operator() == "IS" && (!has || v == "") {
			return "IS requires a non-empty value"
		}
	case "GROUP_BY":
		if has && v != "" {
			if _, err := strconv.Atoi(v); err != nil {
				return "GROUP_BY may either have no value or an integer value"
			}
		}
	case "MAX_PER":
		if _, err := strconv.Atoi(v); !has || err != nil {
			return "MAX_PER requires an integer value"
		}
	case "LIKE", "UNLIKE":
		if !has || v == "" {
			return "LIKE and UNLIKE require a non-empty, regular expression value"
		}
		if _, err := regexp.Compile("^(?:" + v + ")$"); err != nil {
			return "'" + v + "' is not a valid regular expression"
		}
	default:
		return fmt.Sprintf("illegal constraint operator %s; must be one of UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS", c.Operator())
	}
	return ""
}

var protocols = []string{"tcp", "udp", "udp,tcp", "tcp,udp"}

func validatePorts(p *problems, app *marathon.App) {
	seen := map[int]bool{}
	names := map[string]bool{}
	for i, pd := range app.PortDefinitions {
		path := fmt.Sprintf("/portDefinitions/%d", i)
		if pd.Port < 0 || pd.Port > 65535 {
			p.add(path+"/port", "got %d, expected 0 to 65535", pd.Port)
		}
		if pd.Port != 0 && seen[pd.Port] {
			p.add("/portDefinitions", "Ports must be unique.")
		}
		seen[pd.Port] = true
		if !slices.Contains(protocols, pd.Protocol) {
			p.add(path+"/protocol", "is not one of (tcp,udp,udp,tcp)")
		}
		if pd.Name != "" && names[pd.Name] {
			p.add("/portDefinitions", "Port names must be unique.")
		}
		names[pd.Name] = true
	}
	if app.RequirePorts && slices.ContainsFunc(app.PortDefinitions, func(pd marathon.PortDefinition) bool { return pd.Port == 0 }) {
		p.add("/requirePorts", "requirePorts needs explicit (non-zero) port numbers")
	}
	if len(app.Networks) > 1 && !slices.ContainsFunc(app.Networks, func(n marathon.Network) bool { return n.Mode != marathon.NetworkContainer }) {
		return
	}
	for i, n := range app.Networks {
		switch n.Mode {
		case marathon.NetworkHost, marathon.NetworkBridge, marathon.NetworkContainer:
		default:
			p.add(fmt.Sprintf("/networks/%d/mode", i), "must be one of host, container, container/bridge")
		}
		if i > 0 && n.Mode != marathon.NetworkContainer {
			p.add("/networks", "host and container/bridge networking cannot be mixed with other networks")
		}
	}
}

func validateContainer(p *problems, app *marathon.App) {
	c := app.Container
	if c == nil {
		return
	}
	if c.Type != marathon.ContainerDocker && c.Type != marathon.ContainerMesos {
		p.add("/container/type", "must be DOCKER or MESOS")
	}
	if c.Type == marathon.ContainerDocker && (c.Docker == nil || c.Docker.Image == "") {
		p.add("/container/docker/image", "must not be empty")
	}
	names := map[string]bool{}
	for i, pm := range c.PortMappings {
		path := fmt.Sprintf("/container/portMappings/%d", i)
		if pm.ContainerPort < 0 || pm.ContainerPort > 65535 {
			p.add(path+"/containerPort", "got %d, expected 0 to 65535", pm.ContainerPort)
		}
		if pm.HostPort != nil && (*pm.HostPort < 0 || *pm.HostPort > 65535) {
			p.add(path+"/hostPort", "got %d, expected 0 to 65535", *pm.HostPort)
		}
		if !slices.Contains(protocols, pm.Protocol) {
			p.add(path+"/protocol", "is not one of (tcp,udp,udp,tcp)")
		}
		if pm.Name != "" && names[pm.Name] {
			p.add("/container/portMappings", "Port names must be unique.")
		}
		names[pm.Name] = true
	}
	for i, v := range c.Volumes {
		if v.ContainerPath == "" {
			p.add(fmt.Sprintf("/container/volumes/%d/containerPath", i), "must not be empty")
		}
		if v.Persistent != nil || v.External != nil {
			p.add(fmt.Sprintf("/container/volumes/%d", i), "persistent and external volumes are not supported")
		}
	}
}

var healthProtocols = []string{marathon.ProtocolHTTP, marathon.ProtocolHTTPS, marathon.ProtocolTCP, marathon.ProtocolCommand,
	marathon.ProtocolMesosHTTP, marathon.ProtocolMesosHTTPS, marathon.ProtocolMesosTCP}

func validateHealthChecks(p *problems, app *marathon.App) {
	mesosSide, framework := 0, 0
	ports := PortCount(app)
	for i, hc := range app.HealthChecks {
		path := fmt.Sprintf("/healthChecks/%d", i)
		if !slices.Contains(healthProtocols, hc.Protocol) {
			p.add(path+"/protocol", "is not one of %v", healthProtocols)
			continue
		}
		if IsMesosHealthCheck(hc) {
			mesosSide++
		} else {
			framework++
		}
		if hc.Protocol == marathon.ProtocolCommand && (hc.Command == nil || hc.Command.Value == "") {
			p.add(path+"/command", "COMMAND health checks need a command")
		}
		if hc.Port == nil && hc.PortIndex != nil && (*hc.PortIndex < 0 || *hc.PortIndex >= max(ports, 1) || ports == 0) {
			p.add(path+"/portIndex", "Health check port indices must address an element of the ports array or container port mappings.")
		}
		if hc.IntervalSeconds <= 0 {
			p.add(path+"/intervalSeconds", "got %d, expected 1 or more", hc.IntervalSeconds)
		}
		if hc.TimeoutSeconds <= 0 {
			p.add(path+"/timeoutSeconds", "got %d, expected 1 or more", hc.TimeoutSeconds)
		}
		if hc.GracePeriodSeconds < 0 {
			p.add(path+"/gracePeriodSeconds", "got %d, expected 0 or more", hc.GracePeriodSeconds)
		}
		if hc.MaxConsecutiveFailures < 0 {
			p.add(path+"/maxConsecutiveFailures", "got %d, expected 0 or more", hc.MaxConsecutiveFailures)
		}
	}
	if mesosSide > 1 {
		p.add("/healthChecks", "AppDefinition can contain at most one Mesos health check.")
	}
	if mesosSide > 0 && framework > 0 {
		p.add("/healthChecks", "Mesos and Marathon health checks cannot be mixed.")
	}
}

// IsMesosHealthCheck reports whether the agent runs hc (it goes in the
// TaskInfo) rather than the framework.
func IsMesosHealthCheck(hc marathon.HealthCheck) bool {
	switch hc.Protocol {
	case marathon.ProtocolCommand, marathon.ProtocolMesosHTTP, marathon.ProtocolMesosHTTPS, marathon.ProtocolMesosTCP:
		return true
	}
	return false
}

// PortCount is how many ports the app's tasks get (port definitions in host
// mode, port mappings otherwise).
func PortCount(app *marathon.App) int {
	if HostNetworking(app) {
		return len(app.PortDefinitions)
	}
	if app.Container != nil {
		return len(app.Container.PortMappings)
	}
	return 0
}

// PortNames are the names of the app's ports, by index.
func PortNames(app *marathon.App) []string {
	var out []string
	if HostNetworking(app) {
		for _, pd := range app.PortDefinitions {
			out = append(out, pd.Name)
		}
	} else if app.Container != nil {
		for _, pm := range app.Container.PortMappings {
			out = append(out, pm.Name)
		}
	}
	return out
}

func validateReadiness(p *problems, app *marathon.App) {
	if len(app.ReadinessChecks) > 1 {
		p.add("/readinessChecks", "Only one readinessCheck is supported at the moment")
	}
	for i, rc := range app.ReadinessChecks {
		path := fmt.Sprintf("/readinessChecks/%d", i)
		if rc.Protocol != "HTTP" && rc.Protocol != "HTTPS" {
			p.add(path+"/protocol", "must be HTTP or HTTPS")
		}
		if rc.TimeoutSeconds >= rc.IntervalSeconds {
			p.add(path+"/timeoutSeconds", "must be less than intervalSeconds")
		}
		if rc.IntervalSeconds <= 0 {
			p.add(path+"/intervalSeconds", "got %d, expected 1 or more", rc.IntervalSeconds)
		}
		if len(rc.HTTPStatusCodesForReady) == 0 {
			p.add(path+"/httpStatusCodesForReady", "must not be empty")
		}
		if !slices.Contains(PortNames(app), rc.PortName) {
			p.add(path+"/portName", "no port named %q", rc.PortName)
		}
	}
}

func validateEnv(p *problems, app *marathon.App) {
	for k, v := range app.Env {
		if k == "" {
			p.add("/env", "names must not be empty")
		}
		if v.Secret != "" {
			if _, ok := app.Secrets[v.Secret]; !ok {
				p.add("/env/"+k, "references an undefined secret %q", v.Secret)
			}
		}
	}
}
