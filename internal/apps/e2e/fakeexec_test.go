package e2e

import (
	"bytes"
	"crypto/rand"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/recordio"
	executorpb "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/containerizer/fake"
)

// fakeExecutors make a fake containerizer's containers act as executors:
// each launch starts an in-process executor that speaks the v1 executor
// API to the agent, reports every task RUNNING at once and KILLED when
// told, then ends its container. No process is started.
func fakeExecutors(fc *fake.Containerizer) {
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	fc.OnLaunch = func(spec containerizer.LaunchSpec) {
		env := map[string]string{}
		for _, kv := range spec.Env {
			if k, v, ok := strings.Cut(kv, "="); ok {
				env[k] = v
			}
		}
		ex := &fakeExecutor{
			url:    "http://" + env["MESOS_AGENT_ENDPOINT"] + "/api/v1/executor",
			fid:    &mesos.FrameworkID{Value: proto.String(env["MESOS_FRAMEWORK_ID"])},
			eid:    &mesos.ExecutorID{Value: proto.String(env["MESOS_EXECUTOR_ID"])},
			client: client,
			exit:   func() { fc.Exit(spec.ContainerID, 0) },
		}
		go ex.run()
	}
}

type fakeExecutor struct {
	url    string
	fid    *mesos.FrameworkID
	eid    *mesos.ExecutorID
	client *http.Client
	exit   func()

	mu      sync.Mutex
	unacked int
	dead    bool
}

func (ex *fakeExecutor) call(t executorpb.Call_Type) *executorpb.Call {
	return &executorpb.Call{ExecutorId: ex.eid, FrameworkId: ex.fid, Type: t.Enum()}
}

func (ex *fakeExecutor) post(c *executorpb.Call) (*http.Response, error) {
	body, _ := proto.Marshal(c)
	req, _ := http.NewRequest(http.MethodPost, ex.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Accept", "application/x-protobuf")
	return ex.client.Do(req)
}

func (ex *fakeExecutor) run() {
	defer ex.exit()
	sub := ex.call(executorpb.Call_SUBSCRIBE)
	sub.Subscribe = &executorpb.Call_Subscribe{}
	resp, err := (&http.Client{}).Do(mustRequest(ex.url, sub))
	if err != nil {
		return
	}
	defer resp.Body.Close()
	r := recordio.NewReader(resp.Body, 0)
	for {
		rec, err := r.ReadRecord()
		if err != nil {
			return
		}
		ev := &executorpb.Event{}
		if proto.Unmarshal(rec, ev) != nil || ex.handle(ev) {
			return
		}
	}
}

func mustRequest(url string, c *executorpb.Call) *http.Request {
	body, _ := proto.Marshal(c)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Accept", "application/x-protobuf")
	return req
}

// handle reacts to an event and reports whether the executor is done.
func (ex *fakeExecutor) handle(ev *executorpb.Event) bool {
	switch ev.GetType() {
	case executorpb.Event_LAUNCH:
		id := ev.GetLaunch().GetTask().GetTaskId()
		go ex.update(id, mesos.TaskState_TASK_RUNNING)
	case executorpb.Event_KILL:
		go ex.update(ev.GetKill().GetTaskId(), mesos.TaskState_TASK_KILLED)
	case executorpb.Event_ACKNOWLEDGED:
		ex.mu.Lock()
		ex.unacked--
		done := ex.dead && ex.unacked == 0
		ex.mu.Unlock()
		return done
	case executorpb.Event_SHUTDOWN:
		return true
	}
	return false
}

func (ex *fakeExecutor) update(id *mesos.TaskID, state mesos.TaskState) {
	uuid := make([]byte, 16)
	rand.Read(uuid)
	ex.mu.Lock()
	ex.unacked++
	if state == mesos.TaskState_TASK_KILLED {
		ex.dead = true
	}
	ex.mu.Unlock()
	c := ex.call(executorpb.Call_UPDATE)
	c.Update = &executorpb.Call_Update{Status: &mesos.TaskStatus{
		TaskId: id, State: state.Enum(), Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
		Uuid: uuid, Timestamp: proto.Float64(float64(time.Now().UnixNano()) / 1e9),
	}}
	if resp, err := ex.post(c); err == nil {
		resp.Body.Close()
	}
}
