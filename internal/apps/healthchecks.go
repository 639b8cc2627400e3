package apps

import (
	"net"
	"slices"
	"strconv"
	"time"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/internal/apps/health"
	"github.com/agoraproject/agora/internal/apps/launch"
	"github.com/agoraproject/agora/internal/apps/spec"
)

// probeHealth starts the Marathon-side probes that are due: for running
// instances, first min(interval, 5 s) after they started, then every
// intervalSeconds. Results come back to the loop through onProbe.
func (f *Framework) probeHealth(now time.Time) {
	for _, in := range f.instances {
		if in.Condition != condRunning {
			continue
		}
		def := f.defFor(in)
		if def == nil || len(def.HealthChecks) == 0 || spec.IsMesosHealthCheck(def.HealthChecks[0]) {
			continue
		}
		for len(in.health) < len(def.HealthChecks) {
			hc := def.HealthChecks[len(in.health)]
			first := in.StartedAt.Add(health.FirstProbeDelay(time.Duration(hc.IntervalSeconds) * time.Second))
			in.health = append(in.health, &healthState{next: first})
		}
		for i, hc := range def.HealthChecks {
			hs := in.health[i]
			if hs.inFlight || now.Before(hs.next) {
				continue
			}
			hs.inFlight = true
			hs.next = now.Add(time.Duration(hc.IntervalSeconds) * time.Second)
			f.startProbe(in, i, hc)
		}
	}
}

// probeAddr is where a check of an instance connects: the agent host and
// the host port, or the task's IP and the container port when the port
// has no host port.
func probeAddr(in *instance, def *marathon.App, port int, portIndex int) string {
	if port == 0 && len(in.IPAddresses) > 0 && def.Container != nil && portIndex < len(def.Container.PortMappings) {
		return net.JoinHostPort(in.IPAddresses[0].IPAddress, strconv.Itoa(def.Container.PortMappings[portIndex].ContainerPort))
	}
	return net.JoinHostPort(in.Host, strconv.Itoa(port))
}

func portIndexOf(hc marathon.HealthCheck) int {
	if hc.PortIndex != nil {
		return *hc.PortIndex
	}
	return 0
}

func (f *Framework) startProbe(in *instance, idx int, hc marathon.HealthCheck) {
	def := f.defFor(in)
	target := health.Target{
		Protocol: hc.Protocol, Addr: probeAddr(in, def, launch.HealthPort(hc, in.HostPorts), portIndexOf(hc)),
		Path: hc.Path, Timeout: time.Duration(hc.TimeoutSeconds) * time.Second, IgnoreHTTP1xx: hc.IgnoreHTTP1xx,
	}
	id, taskID, ctx := in.ID, in.TaskID, f.runCtx()
	go func() {
		err := f.prober.Probe(ctx, target)
		if ctx.Err() != nil {
			return
		}
		f.post(func() { f.onProbe(id, taskID, idx, hc, err) })
	}()
}

// onProbe records a probe result and acts on it: events on every failure
// and on flips, and a kill (the instance is relaunched) once the task
// failed more than maxConsecutiveFailures times in a row.
func (f *Framework) onProbe(id, taskID string, idx int, hc marathon.HealthCheck, err error) {
	in := f.instances[id]
	if in == nil || in.TaskID != taskID || idx >= len(in.health) {
		return
	}
	hs := in.health[idx]
	hs.inFlight = false
	cause := ""
	if err != nil {
		cause = err.Error()
	}
	policy := health.Policy{GracePeriod: time.Duration(hc.GracePeriodSeconds) * time.Second, MaxConsecutiveFailures: hc.MaxConsecutiveFailures}
	out := hs.Record(policy, err == nil, cause, f.now(), in.StartedAt)
	if out.Ignored {
		return
	}
	if err != nil {
		f.publish(marathon.EventFailedHealthCheck, marathon.FailedHealthCheckEvent{EventHeader: f.hdr(marathon.EventFailedHealthCheck),
			AppID: in.AppID, TaskID: in.TaskID, InstanceID: in.ID, HealthCheck: hc})
	}
	if out.Flipped {
		f.publishHealthFlip(in, err == nil)
	}
	if out.Kill && in.Condition == condRunning && in.KillSentAt.IsZero() {
		f.log.Info("killing an unhealthy task", "task", in.TaskID, "cause", cause)
		f.publish(marathon.EventUnhealthyInstanceKill, marathon.UnhealthyInstanceKillEvent{EventHeader: f.hdr(marathon.EventUnhealthyInstanceKill),
			AppID: in.AppID, TaskID: in.TaskID, InstanceID: in.ID, Version: in.Version,
			Reason: cause, Host: in.Host, SlaveID: in.AgentID})
		f.metrics.unhealthyKills++
		f.kill(in)
	}
}

// probeReadiness polls the readiness check of new instances of the apps
// in running deployment steps, after they run (and are healthy, if they
// have health checks), until they are ready.
func (f *Framework) probeReadiness(now time.Time) {
	for _, id := range f.deployingApps() {
		a := f.apps[id]
		if a == nil || len(a.def.ReadinessChecks) == 0 {
			continue
		}
		rc := a.def.ReadinessChecks[0]
		for _, in := range f.byApp[id] {
			if !current(in, a.def) || in.Goal != goalRunning || !f.healthy(in, a.def) {
				continue
			}
			if in.readiness == nil {
				in.readiness = &readinessState{next: now}
			}
			rs := in.readiness
			if rs.ready || rs.inFlight || now.Before(rs.next) {
				continue
			}
			rs.inFlight = true
			rs.next = now.Add(time.Duration(rc.IntervalSeconds) * time.Second)
			f.startReadiness(in, a.def, rc)
		}
	}
}

// deployingApps are the apps in the running steps of all deployments.
func (f *Framework) deployingApps() []string {
	var out []string
	for _, d := range f.deployments {
		if d.Current < len(d.Steps) {
			for _, a := range d.Steps[d.Current] {
				out = append(out, a.App)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (f *Framework) startReadiness(in *instance, def *marathon.App, rc marathon.ReadinessCheck) {
	idx := slices.Index(spec.PortNames(def), rc.PortName)
	port := 0
	if idx >= 0 && idx < len(in.HostPorts) {
		port = in.HostPorts[idx]
	}
	target := health.Target{Protocol: rc.Protocol, Addr: probeAddr(in, def, port, max(idx, 0)), Path: rc.Path,
		Timeout: time.Duration(rc.TimeoutSeconds) * time.Second}
	id, taskID, ctx := in.ID, in.TaskID, f.runCtx()
	go func() {
		status, ct, body, err := f.prober.Get(ctx, target)
		if ctx.Err() != nil {
			return
		}
		f.post(func() { f.onReadiness(id, taskID, rc, status, ct, body, err) })
	}()
}

func (f *Framework) onReadiness(id, taskID string, rc marathon.ReadinessCheck, status int, ct, body string, err error) {
	in := f.instances[id]
	if in == nil || in.TaskID != taskID || in.readiness == nil {
		return
	}
	rs := in.readiness
	rs.inFlight = false
	if err != nil {
		return
	}
	rs.ready = slices.Contains(rc.HTTPStatusCodesForReady, status)
	rs.last = &marathon.HTTPResponse{Status: status, ContentType: ct}
	if rc.PreserveLastResponse {
		rs.last.Body = body
	}
}
