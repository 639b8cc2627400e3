package operator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	agentpb "github.com/agoraproject/agora/api/v1/agent"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/wire"
)

// Agents' own HTTP API, for what only the agent has: sandbox files
// (/files/read) and containers (KILL_CONTAINER on the agent's /api/v1).
// agent is the agent's host:port, as AgentAddress gives it.

// AgentAddress is the host:port of an agent from its pid
// ("slave(1)@10.0.0.1:5051"), as GET_AGENTS reports it.
func AgentAddress(pid string) string {
	if at := strings.LastIndexByte(pid, '@'); at >= 0 {
		return pid[at+1:]
	}
	return pid
}

// SandboxPath is the virtual path of a file in the latest run of an
// executor's sandbox (a command task's executor ID is its task ID).
func SandboxPath(frameworkID, executorID, file string) string {
	return "/frameworks/" + frameworkID + "/executors/" + executorID + "/runs/latest/" + strings.TrimPrefix(file, "/")
}

// ReadFile reads up to length bytes of an agent's file at offset
// (/files/read; the agent caps one read at 64 KiB). A negative offset asks
// for the size only, returned as next with no data. next is the offset
// after the data.
func (c *Client) ReadFile(ctx context.Context, agent, path string, offset, length int64) (data []byte, next int64, err error) {
	q := url.Values{"path": {path}, "offset": {strconv.FormatInt(max(offset, -1), 10)}}
	if length > 0 {
		q.Set("length", strconv.FormatInt(length, 10))
	}
	u := baseURL(agent) + "/files/read?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("operator: reading %s on %s: %w", path, agent, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, 0, fmt.Errorf("operator: reading %s on %s: %w", path, agent, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, 0, &APIError{Call: "files/read " + path, Status: resp.StatusCode, Message: strings.TrimSpace(string(body))}
	}
	var out struct {
		Data   string `json:"data"`
		Offset int64  `json:"offset"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, 0, fmt.Errorf("operator: decoding files/read of %s: %w", path, err)
	}
	if offset < 0 {
		return nil, out.Offset, nil
	}
	return []byte(out.Data), out.Offset + int64(len(out.Data)), nil
}

// KillContainer sends KILL_CONTAINER to an agent's operator API: the
// container gets the signal (0: the agent's default, SIGKILL).
func (c *Client) KillContainer(ctx context.Context, agent string, containerID *mesos.ContainerID, signal int32) error {
	call := &agentpb.Call{Type: agentpb.Call_KILL_CONTAINER.Enum(),
		KillContainer: &agentpb.Call_KillContainer{ContainerId: containerID}}
	if signal != 0 {
		call.KillContainer.Signal = proto.Int32(signal)
	}
	body, err := wire.Protobuf.Marshal(call)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL(agent)+"/api/v1", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", wire.MediaProtobuf)
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("operator: KILL_CONTAINER on %s: %w", agent, err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return &APIError{Call: "KILL_CONTAINER", Status: resp.StatusCode, Message: strings.TrimSpace(string(msg))}
	}
	return nil
}
