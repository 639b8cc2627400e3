// Package host is the executor host: one long-lived process per agent
// (`agora executor --host NAME`) that runs the agent's built-in executors
// as goroutines instead of as a process each. Starting and ending the
// agora binary costs a command task more CPU than everything else it
// needs together; a host pays it once.
//
// Each hosted executor is the same executor.Run as in a process of its
// own: configured by the MESOS_* environment the agent chose for it, it
// subscribes to the agent over the executor HTTP API, reports its tasks'
// updates and reconnects after an agent restart. Its container is the set
// of its tasks' sessions: every task process leads a session of its own,
// which the host kills to destroy the container (and cleans up when the
// task's process exits) and reads to sample the container's usage.
//
// The agent's side is package containerizer/hosted. The two speak HTTP
// with JSON bodies over an abstract Unix socket named after the agent's
// work directory; the host serves only peers of its own user:
//
//	POST /launch    LaunchRequest → LaunchResponse (409: the ID is taken)
//	POST /destroy   ContainerRequest → Status, once the container ended
//	POST /forget    ContainerRequest → 204; the host drops an ended container
//	GET  /usage?container_id=ID → mesos.ResourceStatistics (protobuf)
//	GET  /watch     a stream of JSON lines: the state of every container
//	                the host holds, then {"synced":true}, then one line
//	                per container as it ends
//
// The first listing ends with the host's protocol version (Protocol). An
// agent whose version differs launches no executor in that host: it keeps
// watching the host's containers until the last has ended, then lets the
// host idle out, launching executor processes meanwhile, and starts a host
// of its own version on the next launch after.
//
// The host exits once it has had no live container and no watching agent
// for its idle timeout. Should it die, its tasks' leaders die with it (the
// parent-death signal); the agent sees the watch stream end, ends every
// hosted container and kills what their tasks left, found by the
// MESOS_DIRECTORY (the sandbox) they inherited.
package host

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"syscall"

	"github.com/agoraproject/agora/internal/containerizer"
)

// Protocol is the version of the protocol between the agent and its host.
// Raise it with any change an agent and a host of different builds would
// not both understand.
const Protocol = 1

// SocketName is the abstract Unix socket of the host of the agent whose
// work directory is workDir ("@" is Go's spelling of the abstract
// namespace). Abstract names have no length limit to speak of and vanish
// with the process; SO_PEERCRED keeps other users out.
func SocketName(workDir string) string {
	return "@agora-executor-host-" + workDirHash(workDir)
}

// workDirHash names an agent's sockets after its absolute work directory.
func workDirHash(workDir string) string {
	if abs, err := filepath.Abs(workDir); err == nil {
		workDir = abs
	}
	sum := sha256.Sum256([]byte(workDir))
	return hex.EncodeToString(sum[:12])
}

// AgentSocketName is the abstract Unix socket on which the agent whose work
// directory is workDir serves the executor API to its host's executors:
// cheaper than loopback TCP for the handful of requests and the event
// stream every short task costs.
func AgentSocketName(workDir string) string {
	return "@agora-executor-api-" + workDirHash(workDir)
}

// LaunchRequest starts a hosted executor.
type LaunchRequest struct {
	ContainerID string `json:"container_id"`
	// Sandbox is the executor's sandbox directory.
	Sandbox string `json:"sandbox"`
	// Env is the executor's complete environment, the MESOS_* variables
	// that configure it included; its tasks inherit it.
	Env []string `json:"env"`
	// User, when set, owns the sandbox and runs the tasks that name no
	// user of their own.
	User string `json:"user,omitempty"`
	// Stdout and Stderr are the files the executor's tasks write to
	// (appended to); the executor logs to Stderr.
	Stdout string `json:"stdout"`
	Stderr string `json:"stderr"`
	// AgentSocket, when set, is a Unix socket (AgentSocketName) serving
	// the executor API of the agent at MESOS_AGENT_ENDPOINT: the executor
	// reaches the agent through it, and over TCP when it cannot connect.
	AgentSocket string `json:"agent_socket,omitempty"`
}

// LaunchResponse answers a launch.
type LaunchResponse struct {
	// Pid is the host's: the process the agent records for the container.
	Pid int `json:"pid"`
}

// ContainerRequest names a container.
type ContainerRequest struct {
	ContainerID string `json:"container_id"`
}

// Status is how a hosted executor ended: exit status 0 when Run returned
// nil, 1 when it returned an error (Message says which).
type Status struct {
	WaitStatus uint32 `json:"wait_status"`
	Destroyed  bool   `json:"destroyed,omitempty"`
	Message    string `json:"message,omitempty"`
}

// ExitStatus is s as the containerizer reports it.
func (s Status) ExitStatus() containerizer.ExitStatus {
	return containerizer.ExitStatus{WaitStatus: syscall.WaitStatus(s.WaitStatus), Known: true,
		Destroyed: s.Destroyed, Message: s.Message}
}

// WatchLine is one line of GET /watch: a container's state (in the first
// listing, with its sandbox), or the end of the first listing with the
// host's Protocol (absent before version 1).
type WatchLine struct {
	ContainerID string  `json:"container_id,omitempty"`
	Ended       *Status `json:"ended,omitempty"` // nil while it runs
	Sandbox     string  `json:"sandbox,omitempty"`
	Synced      bool    `json:"synced,omitempty"`
	Protocol    int     `json:"protocol,omitempty"`
}
