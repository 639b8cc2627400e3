package agent

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	agentpb "github.com/agoraproject/agora/api/v1/agent"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/wire"
)

// FuzzOperatorCalls sends any agent operator call the protobuf decoder
// accepts to an agent running a task: every answer comes within 10 s and
// is below 500 (or 501 for what Agora does not implement, 503 while it
// cannot act), and the agent never panics.
func FuzzOperatorCalls(f *testing.F) {
	m := newFakeMaster(f)
	m.setAutoAck(true)
	a, fc := fakeAgent(f, m, nil)
	m.nextSubscribe(wait)
	m.send(runTaskEvent(testFramework("fw-1"), commandTask("t1", "sleep 600")))
	launched := nextLaunch(f, fc)
	for _, seed := range []*agentpb.Call{
		{Type: agentpb.Call_GET_STATE.Enum()}, {Type: agentpb.Call_GET_CONTAINERS.Enum()},
		{Type: agentpb.Call_KILL_NESTED_CONTAINER.Enum(), KillNestedContainer: &agentpb.Call_KillNestedContainer{
			ContainerId: &mesos.ContainerID{Value: proto.String(launched.ContainerID)}, Signal: proto.Int32(15)}},
		{Type: agentpb.Call_READ_FILE.Enum(), ReadFile: &agentpb.Call_ReadFile{Path: proto.String("/frameworks/fw-1/executors/t1/runs/latest/stdout"),
			Offset: proto.Uint64(0), Length: proto.Uint64(10)}},
		{Type: agentpb.Call_LIST_FILES.Enum(), ListFiles: &agentpb.Call_ListFiles{Path: proto.String("/")}},
		{Type: agentpb.Call_SET_LOGGING_LEVEL.Enum(), SetLoggingLevel: &agentpb.Call_SetLoggingLevel{Level: proto.Uint32(1),
			Duration: &mesos.DurationInfo{Nanoseconds: proto.Int64(1e9)}}},
	} {
		b, err := proto.Marshal(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	client := &http.Client{Timeout: 10 * time.Second}
	url := "http://" + a.Addr() + "/api/v1"
	f.Fuzz(func(t *testing.T, body []byte) {
		call := &agentpb.Call{}
		if proto.Unmarshal(body, call) != nil {
			return
		}
		req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		req.Header.Set("Content-Type", wire.MediaProtobuf)
		req.Header.Set("Accept", wire.MediaProtobuf)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%v: %v", call, err)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		switch {
		case resp.StatusCode < 500, resp.StatusCode == http.StatusNotImplemented, resp.StatusCode == http.StatusServiceUnavailable:
		default:
			t.Fatalf("%v: %d %s", call, resp.StatusCode, msg)
		}
	})
}
