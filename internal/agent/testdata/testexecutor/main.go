// Command testexecutor is a tiny executor for the agent's tests. It speaks
// the v1 executor API in protobuf and acts out the command of each task it
// is given (the first word picks the act):
//
//	finish [text]   print text to stdout; STARTING, RUNNING, FINISHED
//	run             STARTING, RUNNING, then KILLED when told to kill
//	crash           STARTING, RUNNING, then exit 3 without a terminal update
//	exec <argv...>  STARTING, RUNNING, run argv, FINISHED or FAILED
//
// It exits once every task is terminal and every update acknowledged, or
// at SHUTDOWN.
package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/recordio"
	executorpb "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

type executor struct {
	url     string
	fid     *mesos.FrameworkID
	eid     *mesos.ExecutorID
	client  *http.Client
	mu      sync.Mutex
	unacked map[string]bool
	live    map[string]bool
}

func (ex *executor) pending() int {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return len(ex.unacked)
}

func main() {
	ex := &executor{
		url:     "http://" + os.Getenv("MESOS_AGENT_ENDPOINT") + "/api/v1/executor",
		fid:     &mesos.FrameworkID{Value: proto.String(os.Getenv("MESOS_FRAMEWORK_ID"))},
		eid:     &mesos.ExecutorID{Value: proto.String(os.Getenv("MESOS_EXECUTOR_ID"))},
		client:  &http.Client{Timeout: 30 * time.Second},
		unacked: map[string]bool{},
		live:    map[string]bool{},
	}
	if err := ex.run(); err != nil {
		fmt.Fprintln(os.Stderr, "testexecutor:", err)
		os.Exit(1)
	}
}

func (ex *executor) call(t executorpb.Call_Type) *executorpb.Call {
	return &executorpb.Call{ExecutorId: ex.eid, FrameworkId: ex.fid, Type: t.Enum()}
}

func (ex *executor) run() error {
	sub := ex.call(executorpb.Call_SUBSCRIBE)
	sub.Subscribe = &executorpb.Call_Subscribe{}
	body, _ := proto.Marshal(sub)
	req, _ := http.NewRequest(http.MethodPost, ex.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Accept", "application/x-protobuf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("subscribe: %s", resp.Status)
	}
	r := recordio.NewReader(resp.Body, 0)
	for {
		rec, err := r.ReadRecord()
		if err != nil {
			return fmt.Errorf("event stream: %w", err)
		}
		ev := &executorpb.Event{}
		if err := proto.Unmarshal(rec, ev); err != nil {
			return err
		}
		if done := ex.handle(ev); done {
			return nil
		}
	}
}

// handle reacts to one event; it reports whether the executor is done.
func (ex *executor) handle(ev *executorpb.Event) bool {
	switch ev.GetType() {
	case executorpb.Event_LAUNCH:
		go ex.act(ev.GetLaunch().GetTask())
	case executorpb.Event_KILL:
		ex.update(ev.GetKill().GetTaskId(), mesos.TaskState_TASK_KILLED)
	case executorpb.Event_ACKNOWLEDGED:
		ex.mu.Lock()
		delete(ex.unacked, string(ev.GetAcknowledged().GetUuid()))
		done := len(ex.live) == 0 && len(ex.unacked) == 0
		ex.mu.Unlock()
		return done
	case executorpb.Event_SHUTDOWN:
		return true
	}
	return false
}

func (ex *executor) act(task *mesos.TaskInfo) {
	id := task.GetTaskId()
	words := strings.Fields(task.GetCommand().GetValue())
	if len(words) == 0 {
		words = []string{"finish"}
	}
	ex.mu.Lock()
	ex.live[id.GetValue()] = true
	ex.mu.Unlock()
	ex.update(id, mesos.TaskState_TASK_STARTING)
	ex.update(id, mesos.TaskState_TASK_RUNNING)
	switch words[0] {
	case "finish":
		if len(words) > 1 {
			fmt.Println(strings.Join(words[1:], " "))
		}
		ex.update(id, mesos.TaskState_TASK_FINISHED)
	case "crash":
		for ex.pending() > 0 { // let the agent checkpoint RUNNING first
			time.Sleep(time.Millisecond)
		}
		os.Exit(3)
	case "exec":
		cmd := exec.Command(words[1], words[2:]...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			ex.update(id, mesos.TaskState_TASK_FAILED)
		} else {
			ex.update(id, mesos.TaskState_TASK_FINISHED)
		}
	}
}

func (ex *executor) update(id *mesos.TaskID, state mesos.TaskState) {
	uuid := make([]byte, 16)
	rand.Read(uuid)
	ex.mu.Lock()
	ex.unacked[string(uuid)] = true
	if state != mesos.TaskState_TASK_STARTING && state != mesos.TaskState_TASK_RUNNING {
		delete(ex.live, id.GetValue())
	}
	ex.mu.Unlock()
	c := ex.call(executorpb.Call_UPDATE)
	c.Update = &executorpb.Call_Update{Status: &mesos.TaskStatus{
		TaskId: id, State: state.Enum(), Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
		Uuid: uuid, Timestamp: proto.Float64(float64(time.Now().UnixNano()) / 1e9),
	}}
	body, _ := proto.Marshal(c)
	req, _ := http.NewRequest(http.MethodPost, ex.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := ex.client.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testexecutor: update:", err)
		os.Exit(1)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		fmt.Fprintln(os.Stderr, "testexecutor: update:", resp.Status)
		os.Exit(1)
	}
}
