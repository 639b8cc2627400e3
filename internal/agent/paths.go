package agent

import (
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
)

// The on-disk layout (reference §8). Sandboxes:
//
//	<work_dir>/slaves/<agent_id>/frameworks/<fw_id>/executors/<exec_id>/runs/<container_id>/
//	<work_dir>/slaves/<agent_id>/frameworks/<fw_id>/executors/<exec_id>/runs/latest -> <container_id>
//
// Checkpoints, the same tree under meta/:
//
//	<work_dir>/meta/boot_id
//	<work_dir>/meta/slaves/latest -> <agent_id>
//	<work_dir>/meta/slaves/<agent_id>/slave.info
//	  .../frameworks/<fw_id>/framework.info
//	  .../executors/<exec_id>/executor.info
//	  .../runs/<container_id>/pids/forked.pid
//	  .../runs/<container_id>/tasks/<task_id>/task.info
//	  .../runs/<container_id>/tasks/<task_id>/task.updates
//
// Every ID used in a path is checked by validPathID first, so a framework
// cannot name its way out of the tree.

// layout computes paths under one work directory.
type layout struct{ workDir string }

func (l layout) slavesDir() string { return filepath.Join(l.workDir, "slaves") }

func (l layout) agentDir(agentID string) string {
	return filepath.Join(l.slavesDir(), agentID)
}

func (l layout) executorDir(agentID, fwID, execID string) string {
	return filepath.Join(l.agentDir(agentID), "frameworks", fwID, "executors", execID)
}

// sandbox is the container's sandbox directory.
func (l layout) sandbox(agentID, fwID, execID, containerID string) string {
	return filepath.Join(l.executorDir(agentID, fwID, execID), "runs", containerID)
}

// latestRun is the runs/latest symlink of an executor.
func (l layout) latestRun(agentID, fwID, execID string) string {
	return filepath.Join(l.executorDir(agentID, fwID, execID), "runs", "latest")
}

func (l layout) metaDir() string { return filepath.Join(l.workDir, "meta") }

func (l layout) bootIDFile() string { return filepath.Join(l.metaDir(), "boot_id") }

func (l layout) metaLatestAgent() string { return filepath.Join(l.metaDir(), "slaves", "latest") }

func (l layout) metaAgentDir(agentID string) string {
	return filepath.Join(l.metaDir(), "slaves", agentID)
}

func (l layout) agentInfoFile(agentID string) string {
	return filepath.Join(l.metaAgentDir(agentID), "slave.info")
}

func (l layout) metaFrameworkDir(agentID, fwID string) string {
	return filepath.Join(l.metaAgentDir(agentID), "frameworks", fwID)
}

func (l layout) frameworkInfoFile(agentID, fwID string) string {
	return filepath.Join(l.metaFrameworkDir(agentID, fwID), "framework.info")
}

func (l layout) metaExecutorDir(agentID, fwID, execID string) string {
	return filepath.Join(l.metaFrameworkDir(agentID, fwID), "executors", execID)
}

func (l layout) executorInfoFile(agentID, fwID, execID string) string {
	return filepath.Join(l.metaExecutorDir(agentID, fwID, execID), "executor.info")
}

// metaRun is a container's checkpoint directory.
func (l layout) metaRun(agentID, fwID, execID, containerID string) string {
	return filepath.Join(l.metaExecutorDir(agentID, fwID, execID), "runs", containerID)
}

func forkedPidFile(metaRun string) string { return filepath.Join(metaRun, "pids", "forked.pid") }

func taskMetaDir(metaRun, taskID string) string { return filepath.Join(metaRun, "tasks", taskID) }

func taskInfoFile(metaRun, taskID string) string {
	return filepath.Join(taskMetaDir(metaRun, taskID), "task.info")
}

func taskUpdatesFile(metaRun, taskID string) string {
	return filepath.Join(taskMetaDir(metaRun, taskID), "task.updates")
}

// errBadID is wrapped by validPathID's errors.
var errBadID = errors.New("invalid id")

// validPathID checks an ID that becomes a path component: the Mesos rules
// (non-empty, at most 255 bytes, not "." or "..", no '/', '\' or control
// characters).
func validPathID(kind, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: %s is empty", errBadID, kind)
	case len(id) > 255:
		return fmt.Errorf("%w: %s is longer than 255 bytes", errBadID, kind)
	case id == "." || id == "..":
		return fmt.Errorf("%w: %s %q", errBadID, kind, id)
	case strings.ContainsAny(id, `/\`):
		return fmt.Errorf("%w: %s %q contains a slash", errBadID, kind, id)
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: %s %q contains a control character", errBadID, kind, id)
		}
	}
	return nil
}

// newUUID returns a random (version 4) UUID: 16 raw bytes and their
// canonical text form.
func newUUID() ([]byte, string) {
	b := make([]byte, 16)
	rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b, fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
