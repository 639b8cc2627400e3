package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// Reading the meta/ checkpoint back (recovery.go applies it). Every piece
// that cannot be read is an error of its own, with its path; the caller
// decides (--strict) whether one fails the start or is skipped.

// agentCheckpoint is what meta/ holds of the agent that ran last.
type agentCheckpoint struct {
	agentID    string
	frameworks []*frameworkCheckpoint
}

type frameworkCheckpoint struct {
	id        string
	info      *mesos.FrameworkInfo
	executors []*executorCheckpoint
}

type executorCheckpoint struct {
	id   string
	info *mesos.ExecutorInfo
	// latest is the run the executor's runs/latest names (the one that may
	// still be alive); older runs are only garbage.
	latest *runCheckpoint
	older  []string // container IDs of the other runs
}

type runCheckpoint struct {
	containerID string
	// pid is the executor's first process; 0 when the run has ended (an
	// emptied forked.pid, see markRunEnded) or has none recorded.
	pid int
	// pidMissing: there is no forked.pid at all. The agent writes it right
	// after the launch, so one that died in between left a live executor
	// without it (recovery then looks for the executor by its sandbox).
	pidMissing bool
	tasks      []*taskCheckpoint
}

type taskCheckpoint struct {
	info    *mesos.TaskInfo
	updates replayedStream
	// updatesFile is the task.updates file; complete is the length of its
	// whole records (a torn last record is cut off before appending).
	updatesFile string
	complete    int64
}

// readAgentCheckpoint reads the checkpoint of the agent meta/slaves/latest
// names; nil when there is none (a first start, or after cleanup).
func (l layout) readAgentCheckpoint() (*agentCheckpoint, []error) {
	target, err := os.Readlink(l.metaLatestAgent())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []error{fmt.Errorf("reading %s: %w", l.metaLatestAgent(), err)}
	}
	id := filepath.Base(target)
	if err := validPathID("agent ID", id); err != nil {
		return nil, []error{fmt.Errorf("%s: %w", l.metaLatestAgent(), err)}
	}
	cp := &agentCheckpoint{agentID: id}
	var errs []error
	if _, err := os.Stat(l.agentInfoFile(id)); err != nil {
		errs = append(errs, fmt.Errorf("agent %s: %w", id, err))
	}
	fwDir := filepath.Join(l.metaAgentDir(id), "frameworks")
	for _, fid := range listDir(fwDir, &errs) {
		if fw := l.readFrameworkCheckpoint(id, fid, &errs); fw != nil {
			cp.frameworks = append(cp.frameworks, fw)
		}
	}
	return cp, errs
}

// listDir lists the names in dir (none if it does not exist).
func listDir(dir string, errs *[]error) []string {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		*errs = append(*errs, fmt.Errorf("listing %s: %w", dir, err))
		return nil
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	return names
}

func (l layout) readFrameworkCheckpoint(agentID, fid string, errs *[]error) *frameworkCheckpoint {
	info := &mesos.FrameworkInfo{}
	if err := readMessage(l.frameworkInfoFile(agentID, fid), info); err != nil {
		*errs = append(*errs, fmt.Errorf("framework %s: %w", fid, err))
		return nil
	}
	fw := &frameworkCheckpoint{id: fid, info: info}
	for _, eid := range listDir(filepath.Join(l.metaFrameworkDir(agentID, fid), "executors"), errs) {
		if ex := l.readExecutorCheckpoint(agentID, fid, eid, errs); ex != nil {
			fw.executors = append(fw.executors, ex)
		}
	}
	return fw
}

func (l layout) readExecutorCheckpoint(agentID, fid, eid string, errs *[]error) *executorCheckpoint {
	info := &mesos.ExecutorInfo{}
	if err := readMessage(l.executorInfoFile(agentID, fid, eid), info); err != nil {
		if !errors.Is(err, errNotWritten) {
			*errs = append(*errs, fmt.Errorf("executor %s of framework %s: %w", eid, fid, err))
		}
		return nil
	}
	runs := listDir(filepath.Join(l.metaExecutorDir(agentID, fid, eid), "runs"), errs)
	latest := l.latestRunID(agentID, fid, eid, runs)
	if latest == "" {
		return nil // launched, but the agent died before checkpointing the run
	}
	ex := &executorCheckpoint{id: eid, info: info}
	for _, cid := range runs {
		if cid != latest {
			ex.older = append(ex.older, cid)
		}
	}
	ex.latest = l.readRunCheckpoint(l.metaRun(agentID, fid, eid, latest), latest, errs)
	return ex
}

// latestRunID is the container the sandbox's runs/latest names, if its
// checkpoint exists; else the only run there is.
func (l layout) latestRunID(agentID, fid, eid string, runs []string) string {
	if target, err := os.Readlink(l.latestRun(agentID, fid, eid)); err == nil {
		for _, cid := range runs {
			if cid == filepath.Base(target) {
				return cid
			}
		}
	}
	if len(runs) == 1 {
		return runs[0]
	}
	return ""
}

func (l layout) readRunCheckpoint(dir, cid string, errs *[]error) *runCheckpoint {
	run := &runCheckpoint{containerID: cid, pid: readPid(forkedPidFile(dir))}
	if _, err := os.Stat(forkedPidFile(dir)); errors.Is(err, fs.ErrNotExist) {
		run.pidMissing = true
	}
	for _, tid := range listDir(filepath.Join(dir, "tasks"), errs) {
		if t := readTaskCheckpoint(dir, cid, tid, errs); t != nil {
			run.tasks = append(run.tasks, t)
		}
	}
	return run
}

// readTaskCheckpoint reads a task's info and updates. A task whose
// task.info is missing or empty (the agent died before writing it, while
// the executor already reported on it) but that has updates is kept with
// an info holding its ID only.
func readTaskCheckpoint(dir, cid, tid string, errs *[]error) *taskCheckpoint {
	t := &taskCheckpoint{info: &mesos.TaskInfo{}, updatesFile: taskUpdatesFile(dir, tid)}
	recs, complete, err := readUpdateCheckpoint(t.updatesFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		*errs = append(*errs, fmt.Errorf("task %s of container %s: %w", tid, cid, err))
		return nil
	}
	t.updates, t.complete = replayUpdateRecords(recs), complete
	err = readMessage(taskInfoFile(dir, tid), t.info)
	switch {
	case err == nil:
		return t
	case !errors.Is(err, errNotWritten) && !errors.Is(err, fs.ErrNotExist):
		*errs = append(*errs, fmt.Errorf("task %s of container %s: %w", tid, cid, err))
		return nil
	case len(t.updates.all) == 0:
		return nil
	}
	t.info = &mesos.TaskInfo{Name: proto.String(tid), TaskId: &mesos.TaskID{Value: proto.String(tid)}}
	return t
}

// readPid reads forked.pid: 0 when missing, empty or not a pid.
func readPid(path string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// errNotWritten is an info file that exists but is empty: the agent died
// between creating it and writing it (run files are written in place), so
// the thing it describes was never fully checkpointed.
var errNotWritten = errors.New("checkpoint file was created but not written")

// readMessage reads a binary protobuf checkpoint file.
func readMessage(path string, m proto.Message) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(data) == 0 {
		return fmt.Errorf("%s: %w", path, errNotWritten)
	}
	if err := proto.Unmarshal(data, m); err != nil {
		return fmt.Errorf("decoding %s: %w", path, err)
	}
	return nil
}
