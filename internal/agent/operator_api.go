package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	agentpb "github.com/agoraproject/agora/api/v1/agent"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/version"
)

// The agent's v1 operator API, POST /api/v1 (reference §6, §6.3): the
// request ladder of apihttp.Decode (405, 400, 415, 413), 406 for an Accept
// it cannot answer, then one handler per call. Reads answer 200 with a
// mesos.v1.agent.Response in the negotiated encoding; SET_LOGGING_LEVEL,
// KILL_CONTAINER and KILL_NESTED_CONTAINER answer 200 with no body; calls
// Agora does not implement answer 501. The state calls are in
// operator_state.go.

// operatorHandler answers one call: a response, or nil for 200 with no body.
type operatorHandler func(a *Agent, ctx context.Context, call *agentpb.Call) (*agentpb.Response, error)

var operatorHandlers = map[agentpb.Call_Type]operatorHandler{
	agentpb.Call_GET_HEALTH:             (*Agent).opGetHealth,
	agentpb.Call_GET_FLAGS:              (*Agent).opGetFlags,
	agentpb.Call_GET_VERSION:            (*Agent).opGetVersion,
	agentpb.Call_GET_METRICS:            (*Agent).opGetMetrics,
	agentpb.Call_GET_LOGGING_LEVEL:      (*Agent).opGetLoggingLevel,
	agentpb.Call_SET_LOGGING_LEVEL:      (*Agent).opSetLoggingLevel,
	agentpb.Call_LIST_FILES:             (*Agent).opListFiles,
	agentpb.Call_READ_FILE:              (*Agent).opReadFile,
	agentpb.Call_GET_STATE:              (*Agent).opGetState,
	agentpb.Call_GET_CONTAINERS:         (*Agent).opGetContainers,
	agentpb.Call_GET_FRAMEWORKS:         (*Agent).opGetFrameworks,
	agentpb.Call_GET_EXECUTORS:          (*Agent).opGetExecutors,
	agentpb.Call_GET_TASKS:              (*Agent).opGetTasks,
	agentpb.Call_GET_AGENT:              (*Agent).opGetAgent,
	agentpb.Call_GET_OPERATIONS:         (*Agent).opGetOperations,
	agentpb.Call_GET_RESOURCE_PROVIDERS: (*Agent).opGetResourceProviders,
	agentpb.Call_KILL_CONTAINER:         (*Agent).opKillContainer,
	agentpb.Call_KILL_NESTED_CONTAINER:  (*Agent).opKillNestedContainer,
}

func (a *Agent) serveOperatorAPI(w http.ResponseWriter, r *http.Request) {
	call := &agentpb.Call{}
	req, err := apihttp.Decode(r, call)
	if err != nil {
		apihttp.WriteError(w, err)
		return
	}
	handle, ok := operatorHandlers[call.GetType()]
	switch {
	case call.GetType() == agentpb.Call_UNKNOWN:
		apihttp.WriteError(w, apihttp.Errorf(http.StatusBadRequest, "Expecting 'type' to be present"))
		return
	case !ok:
		apihttp.WriteError(w, apihttp.Errorf(http.StatusNotImplemented, "Agent call %s is not implemented", call.GetType()))
		return
	case !req.AcceptOK:
		apihttp.WriteError(w, apihttp.NotAcceptable())
		return
	}
	resp, err := handle(a, r.Context(), call)
	switch {
	case err != nil:
		apihttp.WriteError(w, err)
	case resp != nil:
		apihttp.WriteMessage(w, req.Accept, resp)
	default:
		w.WriteHeader(http.StatusOK)
	}
}

func response(t agentpb.Response_Type) *agentpb.Response { return &agentpb.Response{Type: t.Enum()} }

func (a *Agent) opGetHealth(context.Context, *agentpb.Call) (*agentpb.Response, error) {
	resp := response(agentpb.Response_GET_HEALTH)
	resp.GetHealth = &agentpb.Response_GetHealth{Healthy: proto.Bool(true)}
	return resp, nil
}

func (a *Agent) opGetFlags(context.Context, *agentpb.Call) (*agentpb.Response, error) {
	flags := a.flags()
	resp := response(agentpb.Response_GET_FLAGS)
	resp.GetFlags = &agentpb.Response_GetFlags{}
	for _, name := range sortedKeys(flags) {
		resp.GetFlags.Flags = append(resp.GetFlags.Flags, &mesos.Flag{Name: proto.String(name), Value: proto.String(flags[name])})
	}
	return resp, nil
}

func (a *Agent) opGetVersion(context.Context, *agentpb.Call) (*agentpb.Response, error) {
	b := version.Info()
	resp := response(agentpb.Response_GET_VERSION)
	resp.GetVersion = &agentpb.Response_GetVersion{VersionInfo: &mesos.VersionInfo{
		Version: proto.String(version.Mesos), BuildDate: proto.String(b.BuildTime),
		BuildUser: proto.String("agora"), GitSha: proto.String(b.GitSHA),
	}}
	return resp, nil
}

func (a *Agent) opGetMetrics(context.Context, *agentpb.Call) (*agentpb.Response, error) {
	metrics := a.metricsSnapshot()
	names := make([]string, 0, len(metrics))
	for name := range metrics {
		names = append(names, name)
	}
	sort.Strings(names)
	resp := response(agentpb.Response_GET_METRICS)
	resp.GetMetrics = &agentpb.Response_GetMetrics{}
	for _, name := range names {
		resp.GetMetrics.Metrics = append(resp.GetMetrics.Metrics,
			&mesos.Metric{Name: proto.String(name), Value: proto.Float64(metrics[name])})
	}
	return resp, nil
}

// Logging levels are glog verbosities, as on the master: 0 is slog's Info,
// 1 Debug, each further step 4 slog levels lower; Warn and Error read as
// 0. SET_LOGGING_LEVEL lasts its duration, then the starting level is back.

func verbosityOf(l slog.Level) uint32 {
	if l >= slog.LevelInfo {
		return 0
	}
	return uint32((slog.LevelInfo - l + 3) / 4)
}

func levelOf(verbosity uint32) slog.Level {
	return slog.LevelInfo - slog.Level(4*min(verbosity, 64))
}

func (a *Agent) opGetLoggingLevel(context.Context, *agentpb.Call) (*agentpb.Response, error) {
	resp := response(agentpb.Response_GET_LOGGING_LEVEL)
	resp.GetLoggingLevel = &agentpb.Response_GetLoggingLevel{Level: proto.Uint32(verbosityOf(a.cfg.LogLevel.Level()))}
	return resp, nil
}

func (a *Agent) opSetLoggingLevel(_ context.Context, call *agentpb.Call) (*agentpb.Response, error) {
	set := call.GetSetLoggingLevel()
	if set == nil {
		return nil, apihttp.Errorf(http.StatusBadRequest, "Expecting 'set_logging_level' to be present")
	}
	d := time.Duration(set.GetDuration().GetNanoseconds())
	if d <= 0 {
		return nil, apihttp.Errorf(http.StatusBadRequest, "'set_logging_level.duration' must be positive")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.cfg.LogLevel.Set(levelOf(set.GetLevel()))
	stopTimer(a.logRevert)
	base, level := a.baseLogLevel, a.cfg.LogLevel
	a.logRevert = time.AfterFunc(d, func() { level.Set(base) })
	a.log.Info("logging level changed", "level", set.GetLevel(), "duration", d)
	return nil, nil
}

// LIST_FILES and READ_FILE serve the paths /files/browse and /files/read
// serve (files.go): sandboxes, by real path or by
// /frameworks/<fid>/executors/<eid>/runs/latest.

func (a *Agent) opListFiles(_ context.Context, call *agentpb.Call) (*agentpb.Response, error) {
	if call.ListFiles == nil {
		return nil, apihttp.Errorf(http.StatusBadRequest, "Expecting 'list_files' to be present")
	}
	requested := call.GetListFiles().GetPath()
	real, err := a.files.resolve(requested)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(real)
	if err != nil {
		return nil, apihttp.Errorf(http.StatusNotFound, "No such file or directory: %s", requested)
	}
	resp := response(agentpb.Response_LIST_FILES)
	resp.ListFiles = &agentpb.Response_ListFiles{FileInfos: []*mesos.FileInfo{}}
	if !fi.IsDir() {
		resp.ListFiles.FileInfos = append(resp.ListFiles.FileInfos, a.files.fileInfo(requested, fi))
		return resp, nil
	}
	entries, err := os.ReadDir(real)
	if err != nil {
		return nil, apihttp.Errorf(http.StatusInternalServerError, "Failed to list %s: %v", requested, err)
	}
	for _, e := range entries {
		full := filepath.Join(real, e.Name())
		efi, err := os.Stat(full)
		if err != nil {
			if efi, err = os.Lstat(full); err != nil {
				continue
			}
		}
		resp.ListFiles.FileInfos = append(resp.ListFiles.FileInfos, a.files.fileInfo(path.Join(requested, e.Name()), efi))
	}
	return resp, nil
}

func (a *Agent) opReadFile(_ context.Context, call *agentpb.Call) (*agentpb.Response, error) {
	rf := call.GetReadFile()
	if rf == nil {
		return nil, apihttp.Errorf(http.StatusBadRequest, "Expecting 'read_file' to be present")
	}
	file, size, err := a.files.openFile(rf.GetPath())
	if err != nil {
		return nil, err
	}
	defer file.Close()
	length := uint64(filesReadCap)
	if rf.Length != nil {
		length = min(rf.GetLength(), filesReadCap)
	}
	data := []byte{}
	if offset := rf.GetOffset(); offset < uint64(size) {
		data = make([]byte, min(length, uint64(size)-offset))
		n, err := file.ReadAt(data, int64(offset))
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, apihttp.Errorf(http.StatusInternalServerError, "Failed to read %s: %v", rf.GetPath(), err)
		}
		data = data[:n]
	}
	resp := response(agentpb.Response_READ_FILE)
	resp.ReadFile = &agentpb.Response_ReadFile{Size: proto.Uint64(uint64(size)), Data: data}
	return resp, nil
}

// KILL_CONTAINER sends a signal to an executor's container: SIGKILL (the
// default) destroys it, and its live tasks fail as when an executor dies
// (TASK_FAILED for the command executor); another signal goes to the
// container's first process, which decides (the command executor kills its
// task on SIGTERM and reports TASK_KILLED). Only executors' containers
// exist on an Agora agent: nested containers (task groups) are not
// addressable, so KILL_NESTED_CONTAINER answers 404.

func (a *Agent) opKillContainer(ctx context.Context, call *agentpb.Call) (*agentpb.Response, error) {
	kc := call.GetKillContainer()
	if kc == nil {
		return nil, apihttp.Errorf(http.StatusBadRequest, "Expecting 'kill_container' to be present")
	}
	return nil, a.killContainer(ctx, kc.GetContainerId(), kc.Signal)
}

func (a *Agent) opKillNestedContainer(ctx context.Context, call *agentpb.Call) (*agentpb.Response, error) {
	kc := call.GetKillNestedContainer()
	if kc == nil {
		return nil, apihttp.Errorf(http.StatusBadRequest, "Expecting 'kill_nested_container' to be present")
	}
	if kc.GetContainerId().GetParent() == nil {
		return nil, apihttp.Errorf(http.StatusBadRequest, "Expecting 'kill_nested_container.container_id.parent' to be present")
	}
	return nil, a.killContainer(ctx, kc.GetContainerId(), kc.Signal)
}

// signaler is a Containerizer that can deliver a signal to a container's
// processes; without it a signal goes to the container's first process.
type signaler interface {
	Signal(ctx context.Context, containerID string, sig syscall.Signal) error
}

func (a *Agent) killContainer(ctx context.Context, id *mesos.ContainerID, signal *int32) error {
	sig := syscall.SIGKILL
	if signal != nil {
		sig = syscall.Signal(*signal)
	}
	if sig <= 0 || sig >= 65 {
		return apihttp.Errorf(http.StatusBadRequest, "Invalid signal %d", sig)
	}
	ex, pid, err := a.containerForKill(id, sig)
	if err != nil {
		return err
	}
	a.log.Info("killing a container on the operator's request", "container_id", ex.containerID,
		"executor_id", ex.id, "signal", sig)
	if sig == syscall.SIGKILL {
		// An unknown container ended (and was forgotten) meanwhile.
		if err := a.cont.Destroy(ctx, ex.containerID); err != nil && !errors.Is(err, containerizer.ErrUnknownContainer) {
			return apihttp.Errorf(http.StatusInternalServerError, "Failed to kill container %s: %v", ex.containerID, err)
		}
		return nil
	}
	if s, ok := a.cont.(signaler); ok {
		err = s.Signal(ctx, ex.containerID, sig)
	} else {
		err = syscall.Kill(pid, sig)
	}
	if err != nil {
		return apihttp.Errorf(http.StatusInternalServerError, "Failed to signal container %s: %v", ex.containerID, err)
	}
	return nil
}

// containerForKill finds the live executor running a top-level container
// and, for SIGKILL, records why its tasks end.
func (a *Agent) containerForKill(id *mesos.ContainerID, sig syscall.Signal) (*executor, int, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var found *executor
	if id.GetParent() == nil {
		found = a.executorByContainer(id.GetValue())
	}
	if found == nil || found.state == executorTerminated || found.pid == 0 {
		return nil, 0, apihttp.Errorf(http.StatusNotFound, "Container %s cannot be found", containerIDString(id))
	}
	if sig == syscall.SIGKILL && found.cause == nil {
		found.state = executorTerminating
		found.cause = &termination{mesos.TaskState_TASK_FAILED, mesos.TaskStatus_REASON_EXECUTOR_TERMINATED,
			"Container killed through the agent's operator API (KILL_CONTAINER)"}
		stopTimer(found.regTimer)
	}
	return found, found.pid, nil
}

// executorByContainer finds a live executor by its container ID. Callers
// hold a.mu.
func (a *Agent) executorByContainer(containerID string) *executor {
	for _, fw := range a.frameworks {
		for _, ex := range fw.executors {
			if ex.containerID == containerID {
				return ex
			}
		}
	}
	return nil
}

// containerIDString is a container ID with its parents, parent first
// ("a.b").
func containerIDString(id *mesos.ContainerID) string {
	if id.GetParent() == nil {
		return id.GetValue()
	}
	return fmt.Sprintf("%s.%s", containerIDString(id.GetParent()), id.GetValue())
}
