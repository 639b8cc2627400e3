package launch

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/marathon"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/apps/spec"
)

// TaskIDs names the task being built.
type TaskIDs struct {
	InstanceID string
	TaskID     string
}

// BuildTask makes the TaskInfo of one instance placed on offer with m.
func BuildTask(app *marathon.App, ids TaskIDs, offer *mesos.Offer, m Match) *mesos.TaskInfo {
	task := &mesos.TaskInfo{
		Name:      proto.String(spec.ServiceName(app.ID)),
		TaskId:    &mesos.TaskID{Value: proto.String(ids.TaskID)},
		AgentId:   offer.GetAgentId(),
		Resources: m.Resources,
		Command:   command(app, ids, offer, m),
		Container: container(app, m),
		Labels:    labels(app.Labels),
		Discovery: discovery(app, m),
	}
	if g := app.TaskKillGracePeriodSeconds; g != nil {
		task.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(*g * 1e9)}}
	}
	for _, hc := range app.HealthChecks {
		if spec.IsMesosHealthCheck(hc) {
			task.HealthCheck = mesosHealthCheck(hc, app, m)
		}
	}
	return task
}

func command(app *marathon.App, ids TaskIDs, offer *mesos.Offer, m Match) *mesos.CommandInfo {
	cmd := &mesos.CommandInfo{Environment: &mesos.Environment{Variables: environment(app, ids, offer, m)}}
	switch {
	case app.Cmd != "":
		cmd.Shell, cmd.Value = proto.Bool(true), proto.String(app.Cmd)
	case len(app.Args) > 0 && dockerContainerizer(app):
		cmd.Shell, cmd.Arguments = proto.Bool(false), app.Args
	case len(app.Args) > 0:
		cmd.Shell, cmd.Value, cmd.Arguments = proto.Bool(false), proto.String(app.Args[0]), app.Args
	default:
		cmd.Shell = proto.Bool(false)
	}
	if app.User != "" {
		cmd.User = proto.String(app.User)
	}
	for _, f := range app.Fetch {
		u := &mesos.CommandInfo_URI{Value: proto.String(f.URI), Extract: proto.Bool(f.Extract),
			Executable: proto.Bool(f.Executable), Cache: proto.Bool(f.Cache)}
		if f.DestPath != "" {
			u.OutputFile = proto.String(f.DestPath)
		}
		cmd.Uris = append(cmd.Uris, u)
	}
	return cmd
}

func dockerContainerizer(app *marathon.App) bool {
	return app.Container != nil && app.Container.Type == marathon.ContainerDocker
}

var envName = regexp.MustCompile(`[^A-Za-z0-9_]`)

// environment is the task's env: the app's plain values, then Marathon's
// variables (reference §4.11).
func environment(app *marathon.App, ids TaskIDs, offer *mesos.Offer, m Match) []*mesos.Environment_Variable {
	env := map[string]string{}
	for k, v := range app.Env {
		if v.Secret == "" {
			env[k] = v.Value
		}
	}
	var ports []string
	names := spec.PortNames(app)
	for i, p := range m.HostPorts {
		if p == 0 {
			continue
		}
		s := strconv.Itoa(p)
		env["PORT"+strconv.Itoa(i)] = s
		ports = append(ports, s)
		if i < len(names) && names[i] != "" {
			env["PORT_"+strings.ToUpper(envName.ReplaceAllString(names[i], "_"))] = s
		}
	}
	if len(ports) > 0 {
		env["PORT"] = ports[0]
		env["PORTS"] = strings.Join(ports, ",")
	}
	env["HOST"] = offer.GetHostname()
	env["MARATHON_APP_ID"] = app.ID
	env["MARATHON_APP_VERSION"] = app.Version
	env["MESOS_TASK_ID"] = ids.TaskID
	if app.Container != nil && app.Container.Docker != nil {
		env["MARATHON_APP_DOCKER_IMAGE"] = app.Container.Docker.Image
	}
	env["MARATHON_APP_RESOURCE_CPUS"] = strconv.FormatFloat(app.CPUs, 'f', -1, 64)
	env["MARATHON_APP_RESOURCE_MEM"] = strconv.FormatFloat(app.Mem, 'f', -1, 64)
	env["MARATHON_APP_RESOURCE_DISK"] = strconv.FormatFloat(app.Disk, 'f', -1, 64)
	env["MARATHON_APP_RESOURCE_GPUS"] = strconv.Itoa(app.GPUs)
	var labelNames []string
	for k, v := range app.Labels {
		name := strings.ToUpper(envName.ReplaceAllString(k, "_"))
		env["MARATHON_APP_LABEL_"+name] = v
		labelNames = append(labelNames, name)
	}
	slices.Sort(labelNames)
	env["MARATHON_APP_LABELS"] = strings.Join(labelNames, " ")
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]*mesos.Environment_Variable, 0, len(keys))
	for _, k := range keys {
		out = append(out, &mesos.Environment_Variable{Name: proto.String(k), Value: proto.String(env[k])})
	}
	return out
}

func container(app *marathon.App, m Match) *mesos.ContainerInfo {
	c := app.Container
	if c == nil {
		return nil
	}
	info := &mesos.ContainerInfo{}
	for _, v := range c.Volumes {
		if v.HostPath == "" {
			continue
		}
		mode := mesos.Volume_RW
		if v.Mode == "RO" {
			mode = mesos.Volume_RO
		}
		info.Volumes = append(info.Volumes, &mesos.Volume{ContainerPath: proto.String(v.ContainerPath),
			HostPath: proto.String(v.HostPath), Mode: mode.Enum()})
	}
	for _, n := range app.Networks {
		if n.Mode == marathon.NetworkContainer && n.Name != "" {
			info.NetworkInfos = append(info.NetworkInfos, &mesos.NetworkInfo{Name: proto.String(n.Name)})
		}
	}
	if c.Type == marathon.ContainerDocker && c.Docker != nil {
		info.Type = mesos.ContainerInfo_DOCKER.Enum()
		info.Docker = dockerInfo(app, m)
		return info
	}
	info.Type = mesos.ContainerInfo_MESOS.Enum()
	if c.Docker != nil && c.Docker.Image != "" {
		info.Mesos = &mesos.ContainerInfo_MesosInfo{Image: &mesos.Image{
			Type:   mesos.Image_DOCKER.Enum(),
			Docker: &mesos.Image_Docker{Name: proto.String(c.Docker.Image)},
			Cached: proto.Bool(!c.Docker.ForcePullImage),
		}}
	}
	return info
}

func dockerInfo(app *marathon.App, m Match) *mesos.ContainerInfo_DockerInfo {
	d := app.Container.Docker
	info := &mesos.ContainerInfo_DockerInfo{
		Image:          proto.String(d.Image),
		Privileged:     proto.Bool(d.Privileged),
		ForcePullImage: proto.Bool(d.ForcePullImage),
	}
	switch {
	case spec.HostNetworking(app):
		info.Network = mesos.ContainerInfo_DockerInfo_HOST.Enum()
	case spec.BridgeNetworking(app):
		info.Network = mesos.ContainerInfo_DockerInfo_BRIDGE.Enum()
	default:
		info.Network = mesos.ContainerInfo_DockerInfo_USER.Enum()
	}
	for _, p := range d.Parameters {
		info.Parameters = append(info.Parameters, &mesos.Parameter{Key: proto.String(p.Key), Value: proto.String(p.Value)})
	}
	for i, pm := range app.Container.PortMappings {
		if i >= len(m.HostPorts) || m.HostPorts[i] == 0 {
			continue
		}
		cp := pm.ContainerPort
		if cp == 0 {
			cp = m.HostPorts[i]
		}
		for _, proto := range strings.Split(pm.Protocol, ",") {
			info.PortMappings = append(info.PortMappings, &mesos.ContainerInfo_DockerInfo_PortMapping{
				HostPort: uint32Ptr(m.HostPorts[i]), ContainerPort: uint32Ptr(cp), Protocol: &proto})
		}
	}
	return info
}

func uint32Ptr(v int) *uint32 { u := uint32(v); return &u }

func labels(in map[string]string) *mesos.Labels {
	if len(in) == 0 {
		return nil
	}
	keys := make([]string, 0, len(in))
	for k := range in {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := &mesos.Labels{}
	for _, k := range keys {
		out.Labels = append(out.Labels, &mesos.Label{Key: proto.String(k), Value: proto.String(in[k])})
	}
	return out
}

func discovery(app *marathon.App, m Match) *mesos.DiscoveryInfo {
	d := &mesos.DiscoveryInfo{Visibility: mesos.DiscoveryInfo_FRAMEWORK.Enum(), Name: proto.String(spec.ServiceName(app.ID))}
	names := spec.PortNames(app)
	protos := portProtocols(app)
	for i, p := range m.HostPorts {
		if p == 0 {
			continue
		}
		for _, pr := range strings.Split(protos[i], ",") {
			port := &mesos.Port{Number: uint32Ptr(p), Protocol: proto.String(pr)}
			if names[i] != "" {
				port.Name = proto.String(names[i])
			}
			if d.Ports == nil {
				d.Ports = &mesos.Ports{}
			}
			d.Ports.Ports = append(d.Ports.Ports, port)
		}
	}
	return d
}

func portProtocols(app *marathon.App) []string {
	var out []string
	if spec.HostNetworking(app) {
		for _, pd := range app.PortDefinitions {
			out = append(out, pd.Protocol)
		}
	} else if app.Container != nil {
		for _, pm := range app.Container.PortMappings {
			out = append(out, pm.Protocol)
		}
	}
	return out
}

// HealthPort is the host port a health check probes: its port, or the host
// port at its portIndex; 0 when there is none.
func HealthPort(hc marathon.HealthCheck, hostPorts []int) int {
	if hc.Port != nil {
		return *hc.Port
	}
	i := 0
	if hc.PortIndex != nil {
		i = *hc.PortIndex
	}
	if i < len(hostPorts) {
		return hostPorts[i]
	}
	return 0
}

func mesosHealthCheck(hc marathon.HealthCheck, app *marathon.App, m Match) *mesos.HealthCheck {
	out := &mesos.HealthCheck{
		DelaySeconds:        proto.Float64(float64(hc.DelaySeconds)),
		IntervalSeconds:     proto.Float64(float64(hc.IntervalSeconds)),
		TimeoutSeconds:      proto.Float64(float64(hc.TimeoutSeconds)),
		ConsecutiveFailures: proto.Uint32(uint32(hc.MaxConsecutiveFailures)),
		GracePeriodSeconds:  proto.Float64(float64(hc.GracePeriodSeconds)),
	}
	port := uint32(HealthPort(hc, m.HostPorts))
	switch hc.Protocol {
	case marathon.ProtocolCommand:
		out.Type = mesos.HealthCheck_COMMAND.Enum()
		out.Command = &mesos.CommandInfo{Value: proto.String(hc.Command.Value)}
	case marathon.ProtocolMesosTCP:
		out.Type = mesos.HealthCheck_TCP.Enum()
		out.Tcp = &mesos.HealthCheck_TCPCheckInfo{Port: &port}
	default:
		scheme := "http"
		if hc.Protocol == marathon.ProtocolMesosHTTPS {
			scheme = "https"
		}
		out.Type = mesos.HealthCheck_HTTP.Enum()
		out.Http = &mesos.HealthCheck_HTTPCheckInfo{Port: &port, Path: proto.String(hc.Path), Scheme: proto.String(scheme)}
	}
	return out
}
