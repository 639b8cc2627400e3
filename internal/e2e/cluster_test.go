package e2e

import (
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"
)

// cluster is a master and agents running as real processes.
type cluster struct {
	master     string // host:port
	masterProc *process
	agents     []*agentProc
}

type agentProc struct {
	addr    string
	workDir string
	proc    *process
	args    []string
}

// startCluster starts a master on 127.0.0.1 and one agent on each of the
// given loopback IPs (127.0.0.2, 127.0.0.3, ...).
func startCluster(t testing.TB, agentIPs ...string) *cluster {
	t.Helper()
	return startClusterWith(t, nil, agentIPs...)
}

// startClusterWith is startCluster with extra master flags.
func startClusterWith(t testing.TB, masterFlags []string, agentIPs ...string) *cluster {
	t.Helper()
	port := freePort(t, "127.0.0.1")
	c := &cluster{master: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	args := append([]string{"master", "--ip=127.0.0.1", "--port=" + strconv.Itoa(port),
		"--raft_port=" + strconv.Itoa(freePort(t, "127.0.0.1")), "--raft_timeout=200ms",
		"--work_dir=" + t.TempDir(), "--allocation_interval=100ms", "--apps_port=0"}, masterFlags...)
	c.masterProc = startAgora(t, "master", args...)
	waitUntil(t, "master leading", 10*time.Second, func() bool { return httpOK("http://" + c.master + "/master/state") })
	for i, ip := range agentIPs {
		c.agents = append(c.agents, c.startAgent(t, fmt.Sprintf("agent%d", i+1), ip, t.TempDir()))
	}
	return c
}

// startAgent starts an agent on ip with its own work dir and waits until it
// is registered. Whatever it starts is killed at cleanup.
func (c *cluster) startAgent(t testing.TB, name, ip, workDir string, extra ...string) *agentProc {
	t.Helper()
	port := freePort(t, ip)
	a := &agentProc{addr: net.JoinHostPort(ip, strconv.Itoa(port)), workDir: workDir}
	a.args = append([]string{"agent", "--master=" + c.master, "--ip=" + ip, "--port=" + strconv.Itoa(port),
		"--hostname=" + ip, "--work_dir=" + workDir, "--registration_backoff_factor=10ms",
		"--resources=cpus:4;mem:4096;disk:4096;ports:[31000-31100]"}, extra...)
	a.proc = startAgora(t, name, a.args...)
	t.Cleanup(func() { killLeftovers(workDir) })
	waitUntil(t, name+" /health", 10*time.Second, func() bool { return httpOK("http://" + a.addr + "/health") })
	return a
}
