package operator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/agoraproject/agora/api/recordio"
	masterpb "github.com/agoraproject/agora/api/v1/master"
	"github.com/agoraproject/agora/api/wire"
)

// The v1 operator API, POST /api/v1 on the leading master, in protobuf.
// Redirects (307) to the leader are followed; a master that answers 503 or
// cannot be reached is skipped for the next one.

// APIError is a call the master refused: its HTTP status and message.
type APIError struct {
	Call    string
	Status  int
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("operator: %s: %d %s: %s", e.Call, e.Status, http.StatusText(e.Status), e.Message)
}

// Call makes one operator call. It returns the Response for calls
// answered with one (GET_*), nil for the others (200 or 202 without a
// body).
func (c *Client) Call(ctx context.Context, call *masterpb.Call) (*masterpb.Response, error) {
	body, err := wire.Protobuf.Marshal(call)
	if err != nil {
		return nil, fmt.Errorf("operator: encoding %s: %w", call.GetType(), err)
	}
	resp, err := c.postV1(ctx, c.hc, body, call.GetType().String())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("operator: reading the answer to %s: %w", call.GetType(), err)
	}
	if len(raw) == 0 {
		return nil, nil
	}
	out := &masterpb.Response{}
	if err := wire.Protobuf.Unmarshal(raw, out); err != nil {
		return nil, fmt.Errorf("operator: decoding the answer to %s: %w", call.GetType(), err)
	}
	return out, nil
}

// postV1 posts an encoded call to the first master that takes it and
// returns the successful (2xx) response, its body unread.
func (c *Client) postV1(ctx context.Context, hc *http.Client, body []byte, what string) (*http.Response, error) {
	if len(c.masters) == 0 {
		return nil, errors.New("operator: no master given")
	}
	var lastErr error
	for _, m := range c.masters {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL(m)+"/api/v1", bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", wire.MediaProtobuf)
		req.Header.Set("Accept", wire.MediaProtobuf)
		resp, err := hc.Do(req)
		if err != nil {
			lastErr = fmt.Errorf("operator: %s: %w", what, err)
			continue
		}
		if resp.StatusCode/100 == 2 {
			return resp, nil
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		lastErr = &APIError{Call: what, Status: resp.StatusCode, Message: strings.TrimSpace(string(msg))}
		if resp.StatusCode != http.StatusServiceUnavailable {
			return nil, lastErr
		}
	}
	return nil, lastErr
}

// EventStream is an open operator event stream (SUBSCRIBE).
type EventStream struct {
	body io.ReadCloser
	r    *recordio.Reader
}

// Subscribe opens the operator event stream. The first event is
// SUBSCRIBED with the cluster's state; the stream lasts until ctx ends,
// Close, or the master goes away.
func (c *Client) Subscribe(ctx context.Context) (*EventStream, error) {
	body, err := wire.Protobuf.Marshal(&masterpb.Call{Type: masterpb.Call_SUBSCRIBE.Enum()})
	if err != nil {
		return nil, err
	}
	resp, err := c.postV1(ctx, c.streams, body, "SUBSCRIBE")
	if err != nil {
		return nil, err
	}
	return &EventStream{body: resp.Body, r: recordio.NewReader(resp.Body, 0)}, nil
}

// Next blocks for the next event. It returns io.EOF when the stream ends.
func (s *EventStream) Next() (*masterpb.Event, error) {
	rec, err := s.r.ReadRecord()
	if err != nil {
		return nil, err
	}
	ev := &masterpb.Event{}
	if err := wire.Protobuf.Unmarshal(rec, ev); err != nil {
		return nil, fmt.Errorf("operator: decoding an event: %w", err)
	}
	return ev, nil
}

// Close ends the stream.
func (s *EventStream) Close() error { return s.body.Close() }
