package master

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/registry"
)

// postAgentSubscribe sends an agent SUBSCRIBE from another goroutine and
// delivers the response (or nil on a transport error).
func postAgentSubscribe(m *Master, hostname string) <-chan *http.Response {
	call := &protocol.AgentCall{Type: protocol.AgentCall_SUBSCRIBE.Enum(), Subscribe: &protocol.AgentCall_Subscribe{
		AgentInfo: &mesos.AgentInfo{Hostname: proto.String(hostname), Port: proto.Int32(5051)},
		Version:   proto.String("test"),
	}}
	body, _ := proto.Marshal(call)
	out := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, m.url("/agora/v1/agent"), bytes.NewReader(body))
		req.Header.Set("Content-Type", wire.MediaProtobuf)
		req.Header.Set("Accept", wire.MediaProtobuf)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			resp = nil
		}
		out <- resp
	}()
	return out
}

// TestAgentSubscribeWaitsForLeader: an agent that subscribes while no
// master leads is held, not turned away, and is served as soon as this
// master leads.
func TestAgentSubscribeWaitsForLeader(t *testing.T) {
	mem := registry.NewMemory()
	m := runMaster(t, func(c *Config) { c.Registry = mem.Node("m1"); c.AgentLeaderWait = time.Minute })
	answered := postAgentSubscribe(m, "early")
	select {
	case resp := <-answered:
		t.Fatalf("answered while no master leads: %v", resp.Status)
	case <-time.After(100 * time.Millisecond):
	}
	mem.SetLeader("m1")
	select {
	case resp := <-answered:
		if resp == nil {
			t.Fatal("the held SUBSCRIBE failed")
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Mesos-Stream-Id") == "" {
			t.Fatalf("held SUBSCRIBE: %s", resp.Status)
		}
	case <-time.After(waitFor):
		t.Fatal("the held SUBSCRIBE was not served after the election")
	}
}

// TestAgentSubscribeNoLeaderAfterWait: with no leader for longer than
// AgentLeaderWait the agent gets the usual 503.
func TestAgentSubscribeNoLeaderAfterWait(t *testing.T) {
	mem := registry.NewMemory()
	m := runMaster(t, func(c *Config) { c.Registry = mem.Node("m1"); c.AgentLeaderWait = 50 * time.Millisecond })
	select {
	case resp := <-postAgentSubscribe(m, "lonely"):
		if resp == nil {
			t.Fatal("SUBSCRIBE failed")
		}
		body := readBody(t, resp)
		if resp.StatusCode != http.StatusServiceUnavailable || body != "No leader elected" {
			t.Fatalf("got %s %q, want 503 No leader elected", resp.Status, body)
		}
	case <-time.After(waitFor):
		t.Fatal("no answer")
	}
}
