package executor

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/recordio"
	executorv1 "github.com/agoraproject/agora/api/v1/executor"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/wire"
)

// callTimeout bounds one non-streaming call; the agent answers 202 at once.
const callTimeout = 30 * time.Second

// eventBufferSize is the read buffer of the event stream.
const eventBufferSize = 4 << 10

// maxErrorBody bounds how much of an error answer is read into a message.
const maxErrorBody = 4 << 10

// agentClient speaks the executor side of POST /api/v1/executor. One
// http.Client is shared by the event stream and the calls, so the calls reuse
// one keep-alive connection.
type agentClient struct {
	url string
	// bareSubscribe is the protobuf encoding of a SUBSCRIBE with nothing to
	// replay, built without protobuf reflection: the first use of reflection
	// initializes mesos.proto's descriptors (~0.6 ms of CPU), which then
	// happens while the agent answers instead of before it is asked.
	bareSubscribe []byte
	enc           wire.Encoding
	token         string
	http          *http.Client
	frameworkID   *mesos.FrameworkID
	executorID    *mesos.ExecutorID
	// streams carries SUBSCRIBE: http, or a client of its own in a host.
	streams *http.Client
	// sharedTransport: the host's other executors use the transports too.
	sharedTransport bool
}

func newAgentClient(cfg Config) *agentClient {
	c := &agentClient{
		url:           "http://" + cfg.AgentEndpoint + "/api/v1/executor",
		bareSubscribe: appendBareSubscribe(nil, cfg.ExecutorID, cfg.FrameworkID),
		enc:           cfg.Encoding,
		token:         cfg.AuthToken,
		frameworkID:   &mesos.FrameworkID{Value: proto.String(cfg.FrameworkID)},
		executorID:    &mesos.ExecutorID{Value: proto.String(cfg.ExecutorID)},
	}
	if h := cfg.Hosting; h != nil && h.Calls != nil && h.Streams != nil {
		c.http, c.streams, c.sharedTransport = &http.Client{Transport: h.Calls}, &http.Client{Transport: h.Streams}, true
		return c
	}
	c.http = &http.Client{Transport: newTransport()}
	c.streams = c.http
	return c
}

// NewTransport returns the HTTP transport executors use to reach their
// agent; an executor host shares one among its executors.
func NewTransport() *http.Transport { return newTransport() }

func newTransport() *http.Transport {
	return &http.Transport{
		Proxy: nil, // the agent is local; HTTP_PROXY in the task's env must not apply
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          4,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       5 * time.Minute,
		ResponseHeaderTimeout: callTimeout,
		DisableCompression:    true,
	}
}

// newCall returns a call of type t carrying the executor's identity, which
// every call must.
func (c *agentClient) newCall(t executorv1.Call_Type) *executorv1.Call {
	return &executorv1.Call{
		ExecutorId:  c.executorID,
		FrameworkId: c.frameworkID,
		Type:        t.Enum(),
	}
}

// close drops idle keep-alive connections.
func (c *agentClient) close() {
	if !c.sharedTransport {
		c.http.CloseIdleConnections()
	}
}

// statusError is a call answered with an unexpected status code.
type statusError struct {
	call executorv1.Call_Type
	code int
	body string
}

func (e *statusError) Error() string {
	return fmt.Sprintf("%s call answered %d %s: %s", e.call, e.code, http.StatusText(e.code), e.body)
}

// post sends a call that the agent answers with 202 and no body: UPDATE,
// MESSAGE, HEARTBEAT.
func (c *agentClient) post(ctx context.Context, call *executorv1.Call) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	resp, err := c.do(ctx, c.http, call)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return readStatusError(call.GetType(), resp)
	}
	// Drain so the connection goes back to the pool.
	_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	return err
}

// subscribe sends SUBSCRIBE and returns the event stream it opens. The stream
// lives until ctx is done, the agent ends it, or it is closed.
func (c *agentClient) subscribe(ctx context.Context, call *executorv1.Call) (*eventStream, error) {
	resp, err := c.do(ctx, c.streams, call)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		return nil, readStatusError(call.GetType(), resp)
	}
	enc, err := streamEncoding(resp.Header)
	if err != nil {
		resp.Body.Close()
		return nil, err
	}
	// Events are small; recordio's default 64 KB buffer would be most of
	// what a hosted executor allocates.
	records := recordio.NewReader(bufio.NewReaderSize(resp.Body, eventBufferSize), 0)
	return &eventStream{body: resp.Body, records: records, enc: enc}, nil
}

func (c *agentClient) do(ctx context.Context, client *http.Client, call *executorv1.Call) (*http.Response, error) {
	body, err := c.encode(call)
	if err != nil {
		return nil, fmt.Errorf("encoding %s call: %w", call.GetType(), err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("building %s call: %w", call.GetType(), err)
	}
	req.Header.Set("Content-Type", c.enc.ContentType())
	req.Header.Set("Accept", c.enc.ContentType())
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s call: %w", call.GetType(), err)
	}
	return resp, nil
}

func (c *agentClient) encode(call *executorv1.Call) ([]byte, error) {
	sub := call.GetSubscribe()
	if c.enc == wire.Protobuf && call.GetType() == executorv1.Call_SUBSCRIBE &&
		len(sub.GetUnacknowledgedTasks()) == 0 && len(sub.GetUnacknowledgedUpdates()) == 0 {
		return c.bareSubscribe, nil
	}
	return c.enc.Marshal(call)
}

// Field numbers of mesos.v1.executor.Call and of the ID messages' value.
const (
	callExecutorID  protowire.Number = 1
	callFrameworkID protowire.Number = 2
	callType        protowire.Number = 3
	callSubscribe   protowire.Number = 4
	idValue         protowire.Number = 1
)

// appendBareSubscribe appends the protobuf encoding of
// Call{executor_id, framework_id, type: SUBSCRIBE, subscribe: {}}.
func appendBareSubscribe(b []byte, executorID, frameworkID string) []byte {
	b = appendID(b, callExecutorID, executorID)
	b = appendID(b, callFrameworkID, frameworkID)
	b = protowire.AppendTag(b, callType, protowire.VarintType)
	b = protowire.AppendVarint(b, uint64(executorv1.Call_SUBSCRIBE))
	b = protowire.AppendTag(b, callSubscribe, protowire.BytesType)
	return protowire.AppendVarint(b, 0)
}

// appendID appends an ID message ({value: id}) as field num.
func appendID(b []byte, num protowire.Number, id string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(protowire.SizeTag(idValue)+protowire.SizeBytes(len(id))))
	b = protowire.AppendTag(b, idValue, protowire.BytesType)
	return protowire.AppendString(b, id)
}

func readStatusError(t executorv1.Call_Type, resp *http.Response) error {
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return &statusError{call: t, code: resp.StatusCode, body: strings.TrimSpace(string(msg))}
}

// streamEncoding is the encoding of the events of a stream: its Content-Type,
// or Message-Content-Type when the stream says application/recordio.
func streamEncoding(h http.Header) (wire.Encoding, error) {
	ct := h.Get("Content-Type")
	if ct == wire.MediaRecordIO {
		ct = h.Get("Message-Content-Type")
	}
	enc, ok := wire.ParseContentType(ct)
	if !ok {
		return 0, fmt.Errorf("event stream has unsupported Content-Type %q", ct)
	}
	return enc, nil
}

// eventStream reads the RecordIO-framed events of a subscription.
type eventStream struct {
	body    io.ReadCloser
	records *recordio.Reader
	enc     wire.Encoding
}

// next returns the next event; io.EOF when the agent ended the stream.
func (s *eventStream) next() (*executorv1.Event, error) {
	payload, err := s.records.ReadRecord()
	if err != nil {
		return nil, err
	}
	ev := &executorv1.Event{}
	if err := s.enc.Unmarshal(payload, ev); err != nil {
		return nil, fmt.Errorf("decoding event: %w", err)
	}
	return ev, nil
}

func (s *eventStream) close() error { return s.body.Close() }
