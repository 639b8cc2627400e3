package executor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"syscall"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// probeFunc runs one probe; ctx carries its timeout.
type probeFunc func(ctx context.Context) probeOutcome

// probeOutcome is what one probe found: at most one of the results, or an
// error when the probe could not produce one (timeout, refused
// connection).
type probeOutcome struct {
	exitCode   *int32
	statusCode *uint32
	tcpOK      *bool
	err        error
}

// healthy reads an outcome as a health check does: exit code 0, HTTP
// 200–399, or a TCP connection.
func (o probeOutcome) healthy() bool {
	switch {
	case o.err != nil:
		return false
	case o.exitCode != nil:
		return *o.exitCode == 0
	case o.statusCode != nil:
		return *o.statusCode >= 200 && *o.statusCode < 400
	case o.tcpOK != nil:
		return *o.tcpOK
	}
	return false
}

// checkStatus is the outcome as a CheckStatusInfo of the check's type. A
// failed TCP probe reports succeeded=false; the other types leave their
// result unset when there is none.
func (o probeOutcome) checkStatus(typ mesos.CheckInfo_Type) *mesos.CheckStatusInfo {
	s := &mesos.CheckStatusInfo{Type: typ.Enum()}
	switch typ {
	case mesos.CheckInfo_COMMAND:
		s.Command = &mesos.CheckStatusInfo_Command{ExitCode: o.exitCode}
	case mesos.CheckInfo_HTTP:
		s.Http = &mesos.CheckStatusInfo_Http{StatusCode: o.statusCode}
	case mesos.CheckInfo_TCP:
		ok := o.tcpOK != nil && *o.tcpOK
		s.Tcp = &mesos.CheckStatusInfo_Tcp{Succeeded: &ok}
	}
	return s
}

// dialFunc makes a connection, as net.Dialer.DialContext does.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// probeTarget is where a task's checks look: the network their HTTP and
// TCP probes dial from (the task's own: a Docker task's container has a
// loopback of its own), and how a COMMAND check runs.
type probeTarget struct {
	dial    dialFunc
	command func(cmd *mesos.CommandInfo) probeFunc
}

// processTarget is the target of a task run as a process: its probes dial
// from the executor's network, and its COMMAND checks run like the task
// (same environment, root and user).
func processTarget(task processSpec) probeTarget {
	return probeTarget{
		dial:    (&net.Dialer{}).DialContext,
		command: func(cmd *mesos.CommandInfo) probeFunc { return commandProbe(cmd, task) },
	}
}

// healthProbe is the probe of a health check.
func healthProbe(hc *mesos.HealthCheck, target probeTarget) probeFunc {
	switch {
	case hc.GetType() == mesos.HealthCheck_HTTP:
		h := hc.GetHttp()
		scheme := h.GetScheme()
		if scheme == "" {
			scheme = "http"
		}
		return httpProbe(scheme, loopback(h.GetProtocol()), h.GetPort(), h.GetPath(), target.dial)
	case hc.GetType() == mesos.HealthCheck_TCP:
		return tcpProbe(loopback(hc.GetTcp().GetProtocol()), hc.GetTcp().GetPort(), target.dial)
	case hc.GetCommand() != nil:
		return target.command(hc.GetCommand())
	}
	return func(context.Context) probeOutcome {
		return probeOutcome{err: fmt.Errorf("health check of type %s has nothing to run", hc.GetType())}
	}
}

// checkProbe is the probe of a general check.
func checkProbe(ck *mesos.CheckInfo, target probeTarget) probeFunc {
	switch ck.GetType() {
	case mesos.CheckInfo_HTTP:
		return httpProbe("http", "127.0.0.1", ck.GetHttp().GetPort(), ck.GetHttp().GetPath(), target.dial)
	case mesos.CheckInfo_TCP:
		return tcpProbe("127.0.0.1", ck.GetTcp().GetPort(), target.dial)
	case mesos.CheckInfo_COMMAND:
		return target.command(ck.GetCommand().GetCommand())
	}
	return func(context.Context) probeOutcome {
		return probeOutcome{err: fmt.Errorf("check of type %s is not supported", ck.GetType())}
	}
}

// loopback is the address a task listens on, as Mesos probes it.
func loopback(p mesos.NetworkInfo_Protocol) string {
	if p == mesos.NetworkInfo_IPv6 {
		return "::1"
	}
	return "127.0.0.1"
}

// httpProbe GETs scheme://host:port/path, following redirects; any status
// counts as a result.
func httpProbe(scheme, host string, port uint32, path string, dial dialFunc) probeFunc {
	url := scheme + "://" + net.JoinHostPort(host, strconv.Itoa(int(port))) + path
	return func(ctx context.Context) probeOutcome {
		transport := &http.Transport{Proxy: nil, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true,
			DialContext: dial}
		defer transport.CloseIdleConnections()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return probeOutcome{err: err}
		}
		resp, err := (&http.Client{Transport: transport}).Do(req)
		if err != nil {
			return probeOutcome{err: err}
		}
		resp.Body.Close()
		code := uint32(resp.StatusCode)
		return probeOutcome{statusCode: &code}
	}
}

// tcpProbe connects to host:port.
func tcpProbe(host string, port uint32, dial dialFunc) probeFunc {
	addr := net.JoinHostPort(host, strconv.Itoa(int(port)))
	return func(ctx context.Context) probeOutcome {
		conn, err := dial(ctx, "tcp", addr)
		ok := err == nil
		if ok {
			conn.Close()
		}
		return probeOutcome{tcpOK: &ok, err: err}
	}
}

// commandProbe runs cmd as the task runs (environment, root filesystem,
// user, working directory), its output discarded. A probe that outlives its
// timeout is killed with its process group and has no exit code.
func commandProbe(cmd *mesos.CommandInfo, task processSpec) probeFunc {
	return func(ctx context.Context) probeOutcome {
		path, args, err := probeArgv(cmd, task)
		if err != nil {
			return probeOutcome{err: err}
		}
		c := exec.CommandContext(ctx, path)
		c.Args, c.Dir = args, task.dir
		c.Env = append(append([]string(nil), task.env...), commandVariables(cmd)...)
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Chroot: task.chroot, Credential: task.cred}
		c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
		if err := startTracked(c); err != nil {
			return probeOutcome{err: err}
		}
		err = c.Wait()
		untrack(c.Process.Pid)
		if ctx.Err() != nil {
			return probeOutcome{err: fmt.Errorf("command check timed out: %w", ctx.Err())}
		}
		var exitErr *exec.ExitError
		if err != nil && !errors.As(err, &exitErr) {
			return probeOutcome{err: err}
		}
		code := int32(c.ProcessState.ExitCode())
		return probeOutcome{exitCode: &code}
	}
}

func probeArgv(cmd *mesos.CommandInfo, task processSpec) (string, []string, error) {
	if cmd.GetShell() {
		return "/bin/sh", []string{"sh", "-c", cmd.GetValue()}, nil
	}
	args := cmd.GetArguments()
	if len(args) == 0 {
		args = []string{cmd.GetValue()}
	}
	path, err := lookPath(cmd.GetValue(), task.chroot, envValue(task.env, "PATH"))
	return path, args, err
}

func commandVariables(cmd *mesos.CommandInfo) []string {
	var env []string
	for _, v := range cmd.GetEnvironment().GetVariables() {
		if v.GetType() != mesos.Environment_Variable_SECRET {
			env = append(env, v.GetName()+"="+v.GetValue())
		}
	}
	return env
}
