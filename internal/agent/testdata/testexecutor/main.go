// Command testexecutor is a tiny executor for the agent's tests. It speaks
// the v1 executor API in protobuf and acts out the command of each task it
// is given (the first word picks the act):
//
//	finish [text]   print text to stdout; STARTING, RUNNING, FINISHED
//	run             STARTING, RUNNING, then KILLED when told to kill
//	crash           STARTING, RUNNING, then exit 3 without a terminal update
//	exec <argv...>  STARTING, RUNNING, run argv, FINISHED or FAILED
//	hang            STARTING, RUNNING; when the agent goes away, stay
//	                alive but never reconnect, checkpointing or not
//
// It exits once every task is terminal and every update acknowledged, or
// at SHUTDOWN. With MESOS_CHECKPOINT=1 it survives the agent: when its
// event stream ends it subscribes again (every 50 ms, for up to 30 s),
// replaying its unacknowledged updates and tasks, as a checkpointing
// executor must. A SUBSCRIBE answered 4xx ends it.
package main

import (
	"bytes"
	"crypto/rand"
	"errors"
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

const (
	resubscribeEvery = 50 * time.Millisecond
	resubscribeFor   = 30 * time.Second
)

type executor struct {
	url        string
	fid        *mesos.FrameworkID
	eid        *mesos.ExecutorID
	client     *http.Client
	checkpoint bool

	mu      sync.Mutex
	unacked map[string]*executorpb.Call_Update // by uuid
	live    map[string]bool
	tasks   map[string]*mesos.TaskInfo // launched, no update acknowledged yet
	hang    bool
}

func (ex *executor) pending() int {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return len(ex.unacked)
}

// errRefused is a SUBSCRIBE the agent refused: no point in retrying.
var errRefused = errors.New("subscription refused")

func main() {
	ex := &executor{
		url:        "http://" + os.Getenv("MESOS_AGENT_ENDPOINT") + "/api/v1/executor",
		fid:        &mesos.FrameworkID{Value: proto.String(os.Getenv("MESOS_FRAMEWORK_ID"))},
		eid:        &mesos.ExecutorID{Value: proto.String(os.Getenv("MESOS_EXECUTOR_ID"))},
		client:     &http.Client{Timeout: 30 * time.Second},
		checkpoint: os.Getenv("MESOS_CHECKPOINT") == "1",
		unacked:    map[string]*executorpb.Call_Update{},
		live:       map[string]bool{},
		tasks:      map[string]*mesos.TaskInfo{},
	}
	if err := ex.run(); err != nil {
		fmt.Fprintln(os.Stderr, "testexecutor:", err)
		os.Exit(1)
	}
}

func (ex *executor) call(t executorpb.Call_Type) *executorpb.Call {
	return &executorpb.Call{ExecutorId: ex.eid, FrameworkId: ex.fid, Type: t.Enum()}
}

// run keeps a subscription until the executor is done.
func (ex *executor) run() error {
	var lost time.Time
	for {
		done, subscribed, err := ex.session()
		if !done && ex.hanging() {
			select {} // stay alive, never reconnect
		}
		switch {
		case done:
			return nil
		case !ex.checkpoint || errors.Is(err, errRefused):
			return err
		case subscribed || lost.IsZero():
			lost = time.Now()
		case time.Since(lost) > resubscribeFor:
			return fmt.Errorf("agent not back after %v: %w", resubscribeFor, err)
		}
		time.Sleep(resubscribeEvery)
	}
}

func (ex *executor) hanging() bool {
	ex.mu.Lock()
	defer ex.mu.Unlock()
	return ex.hang
}

// session subscribes and handles events until the stream ends.
func (ex *executor) session() (done, subscribed bool, err error) {
	body, _ := proto.Marshal(ex.subscribeCall())
	req, _ := http.NewRequest(http.MethodPost, ex.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Accept", "application/x-protobuf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false, false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 4 {
		return false, false, fmt.Errorf("%w: %s", errRefused, resp.Status)
	}
	if resp.StatusCode != http.StatusOK {
		return false, false, fmt.Errorf("subscribe: %s", resp.Status)
	}
	r := recordio.NewReader(resp.Body, 0)
	for {
		rec, err := r.ReadRecord()
		if err != nil {
			return false, true, fmt.Errorf("event stream: %w", err)
		}
		ev := &executorpb.Event{}
		if err := proto.Unmarshal(rec, ev); err != nil {
			return false, true, err
		}
		if ex.handle(ev) {
			return true, true, nil
		}
	}
}

// subscribeCall carries what the agent may have missed.
func (ex *executor) subscribeCall() *executorpb.Call {
	sub := ex.call(executorpb.Call_SUBSCRIBE)
	sub.Subscribe = &executorpb.Call_Subscribe{}
	ex.mu.Lock()
	defer ex.mu.Unlock()
	for _, u := range ex.unacked {
		sub.Subscribe.UnacknowledgedUpdates = append(sub.Subscribe.UnacknowledgedUpdates, u)
	}
	for _, t := range ex.tasks {
		sub.Subscribe.UnacknowledgedTasks = append(sub.Subscribe.UnacknowledgedTasks, t)
	}
	return sub
}

// handle reacts to one event; it reports whether the executor is done.
func (ex *executor) handle(ev *executorpb.Event) bool {
	switch ev.GetType() {
	case executorpb.Event_LAUNCH:
		task := ev.GetLaunch().GetTask()
		ex.mu.Lock()
		ex.tasks[task.GetTaskId().GetValue()] = task
		ex.mu.Unlock()
		go ex.act(task)
	case executorpb.Event_KILL:
		ex.update(ev.GetKill().GetTaskId(), mesos.TaskState_TASK_KILLED)
	case executorpb.Event_ACKNOWLEDGED:
		ex.mu.Lock()
		defer ex.mu.Unlock()
		delete(ex.unacked, string(ev.GetAcknowledged().GetUuid()))
		delete(ex.tasks, ev.GetAcknowledged().GetTaskId().GetValue())
		return len(ex.live) == 0 && len(ex.unacked) == 0
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
	ex.hang = ex.hang || words[0] == "hang"
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

// update sends a status update; one the agent does not take stays
// unacknowledged and is replayed by the next SUBSCRIBE when checkpointing.
func (ex *executor) update(id *mesos.TaskID, state mesos.TaskState) {
	uuid := make([]byte, 16)
	rand.Read(uuid)
	u := &executorpb.Call_Update{Status: &mesos.TaskStatus{
		TaskId: id, State: state.Enum(), Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
		Uuid: uuid, Timestamp: proto.Float64(float64(time.Now().UnixNano()) / 1e9),
	}}
	ex.mu.Lock()
	ex.unacked[string(uuid)] = u
	if state != mesos.TaskState_TASK_STARTING && state != mesos.TaskState_TASK_RUNNING {
		delete(ex.live, id.GetValue())
	}
	ex.mu.Unlock()
	c := ex.call(executorpb.Call_UPDATE)
	c.Update = u
	body, _ := proto.Marshal(c)
	req, _ := http.NewRequest(http.MethodPost, ex.url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-protobuf")
	resp, err := ex.client.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			err = errors.New(resp.Status)
		}
	}
	if err != nil && !ex.checkpoint && !ex.hanging() {
		fmt.Fprintln(os.Stderr, "testexecutor: update:", err)
		os.Exit(1)
	}
}
