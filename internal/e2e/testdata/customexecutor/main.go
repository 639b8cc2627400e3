// Command customexecutor is a minimal custom Mesos executor for the e2e
// tests: it subscribes to its agent over protobuf with net/http only, runs
// nothing, and reports each launched task RUNNING then FINISHED (with the
// task's data echoed in the message), exiting once both are acknowledged.
package main

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/recordio"
	"github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "customexecutor:", err)
		os.Exit(1)
	}
}

var (
	endpoint    = "http://" + os.Getenv("MESOS_AGENT_ENDPOINT") + "/api/v1/executor"
	frameworkID = &mesos.FrameworkID{Value: proto.String(os.Getenv("MESOS_FRAMEWORK_ID"))}
	executorID  = &mesos.ExecutorID{Value: proto.String(os.Getenv("MESOS_EXECUTOR_ID"))}
)

func run() error {
	body, _ := proto.Marshal(&executor.Call{
		Type: executor.Call_SUBSCRIBE.Enum(), FrameworkId: frameworkID, ExecutorId: executorID,
		Subscribe: &executor.Call_Subscribe{},
	})
	req, _ := http.NewRequest(http.MethodPost, endpoint, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("Accept", "application/x-protobuf")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("SUBSCRIBE: %s", resp.Status)
	}
	r := recordio.NewReader(resp.Body, 0)
	pending := map[string]bool{}
	launched := false
	for !launched || len(pending) > 0 {
		rec, err := r.ReadRecord()
		if err != nil {
			return err
		}
		ev := &executor.Event{}
		if err := proto.Unmarshal(rec, ev); err != nil {
			return err
		}
		switch ev.GetType() {
		case executor.Event_LAUNCH:
			launched = true
			task := ev.GetLaunch().GetTask()
			for _, st := range []mesos.TaskState{mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED} {
				uuid, err := update(task, st)
				if err != nil {
					return err
				}
				pending[string(uuid)] = true
			}
		case executor.Event_ACKNOWLEDGED:
			delete(pending, string(ev.GetAcknowledged().GetUuid()))
		case executor.Event_SHUTDOWN:
			return nil
		}
	}
	return nil
}

func update(task *mesos.TaskInfo, state mesos.TaskState) ([]byte, error) {
	uuid := make([]byte, 16)
	rand.Read(uuid)
	body, _ := proto.Marshal(&executor.Call{
		Type: executor.Call_UPDATE.Enum(), FrameworkId: frameworkID, ExecutorId: executorID,
		Update: &executor.Call_Update{Status: &mesos.TaskStatus{
			TaskId:     task.GetTaskId(),
			State:      state.Enum(),
			Source:     mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
			Uuid:       uuid,
			ExecutorId: executorID,
			Message:    proto.String("custom executor says " + string(task.GetData())),
			Timestamp:  proto.Float64(float64(time.Now().UnixNano()) / 1e9),
		}},
	})
	resp, err := http.Post(endpoint, "application/x-protobuf", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return nil, fmt.Errorf("UPDATE %v: %s", state, resp.Status)
	}
	return uuid, nil
}
