package executor

import (
	"bytes"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	executorv1 "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/wire"
)

func TestBareSubscribeMatchesProtobuf(t *testing.T) {
	c := newAgentClient(Config{ExecutorID: "executor-é", FrameworkID: strings.Repeat("f", 200), Encoding: wire.Protobuf})
	call := c.newCall(executorv1.Call_SUBSCRIBE)
	call.Subscribe = &executorv1.Call_Subscribe{}
	got, err := c.encode(call)
	if err != nil {
		t.Fatal(err)
	}
	want, err := proto.MarshalOptions{Deterministic: true}.Marshal(call)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("hand-encoded SUBSCRIBE\n%x\nproto.Marshal\n%x", got, want)
	}
	call.Subscribe.UnacknowledgedTasks = []*mesos.TaskInfo{shellTask("t", "true")}
	if got, _ := c.encode(call); bytes.Equal(got, want) {
		t.Error("a SUBSCRIBE with something to replay used the bare encoding")
	}
}
