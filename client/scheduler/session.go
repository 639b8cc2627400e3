package scheduler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/agoraproject/agora/api/recordio"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
)

const apiPath = "/api/v1/scheduler"

// maxRedirects bounds how many 307s one request follows.
const maxRedirects = 5

// post sends a call to master (host:port), following 307s to the leader.
// The returned response's master may differ from the one asked: see
// resp.Request.URL.Host.
func (c *Client) post(ctx context.Context, hc *http.Client, master string, call *sched.Call, streamID string) (*http.Response, error) {
	body, err := c.cfg.Encoding.Marshal(call)
	if err != nil {
		return nil, fmt.Errorf("scheduler: encoding %s: %w", call.GetType(), err)
	}
	target := "http://" + master + apiPath
	for i := 0; i <= maxRedirects; i++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", c.cfg.Encoding.ContentType())
		req.Header.Set("Accept", c.cfg.Encoding.ContentType())
		if streamID != "" {
			req.Header.Set("Mesos-Stream-Id", streamID)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusTemporaryRedirect {
			return resp, nil
		}
		loc := resp.Header.Get("Location")
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		next, err := redirectTarget(target, loc)
		if err != nil {
			return nil, err
		}
		target = next
	}
	return nil, fmt.Errorf("scheduler: more than %d redirects", maxRedirects)
}

// redirectTarget resolves a Location (often protocol-relative, "//host:port")
// against the current URL, keeping the API path when it has none.
func redirectTarget(current, loc string) (string, error) {
	if loc == "" {
		return "", errors.New("scheduler: redirect without Location")
	}
	base, err := url.Parse(current)
	if err != nil {
		return "", err
	}
	u, err := base.Parse(loc)
	if err != nil {
		return "", fmt.Errorf("scheduler: bad redirect %q: %w", loc, err)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = apiPath
	}
	return u.String(), nil
}

func readAPIError(resp *http.Response) error {
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return &APIError{Code: resp.StatusCode, Message: strings.TrimSpace(string(msg))}
}

// session runs one subscription: SUBSCRIBE, then events until the stream
// ends. fatal is set for refusals that retrying cannot fix.
func (c *Client) session(ctx context.Context, h Handler) (fatal, err error) {
	resp, master, err := c.subscribe(ctx)
	if err != nil {
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.Code >= 400 && apiErr.Code < 500 && apiErr.Code != http.StatusConflict {
			return err, err
		}
		return nil, err
	}
	defer resp.Body.Close()
	streamCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer c.unsubscribed()

	events := make(chan *sched.Event)
	readErr := make(chan error, 1)
	go func() { readErr <- c.readEvents(streamCtx, resp.Body, events) }()

	silence := 15 * time.Second * time.Duration(c.cfg.MissedHeartbeats)
	watchdog := time.NewTimer(silence)
	defer watchdog.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case err := <-readErr:
			return nil, err
		case <-watchdog.C:
			return nil, fmt.Errorf("no event from %s for %s", master, silence)
		case ev := <-events:
			if ev.GetType() == sched.Event_SUBSCRIBED {
				c.onSubscribed(ev.GetSubscribed(), master, resp.Header.Get("Mesos-Stream-Id"))
				if hb := ev.GetSubscribed().GetHeartbeatIntervalSeconds(); hb > 0 {
					silence = time.Duration(hb*float64(time.Second)) * time.Duration(c.cfg.MissedHeartbeats)
				}
			}
			watchdog.Reset(silence)
			h.HandleEvent(ctx, ev)
			if ev.GetType() == sched.Event_ERROR {
				return fmt.Errorf("scheduler: master sent ERROR: %s", ev.GetError().GetMessage()), nil
			}
		}
	}
}

// subscribe tries each master in turn until one accepts SUBSCRIBE.
func (c *Client) subscribe(ctx context.Context) (*http.Response, string, error) {
	call := c.subscribeCall()
	var lastErr error
	for _, m := range c.cfg.Masters {
		resp, err := c.post(ctx, c.stream, m, call, "")
		if err != nil {
			lastErr = err
			continue
		}
		if resp.StatusCode == http.StatusOK {
			return resp, resp.Request.URL.Host, nil
		}
		lastErr = readAPIError(resp)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable {
			return nil, "", lastErr
		}
	}
	return nil, "", lastErr
}

func (c *Client) readEvents(ctx context.Context, body io.Reader, out chan<- *sched.Event) error {
	r := recordio.NewReader(body, 0)
	for {
		rec, err := r.ReadRecord()
		if err != nil {
			return err
		}
		ev := &sched.Event{}
		if err := c.cfg.Encoding.Unmarshal(rec, ev); err != nil {
			return fmt.Errorf("scheduler: decoding event: %w", err)
		}
		select {
		case out <- ev:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (c *Client) onSubscribed(s *sched.Event_Subscribed, master, streamID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.frameworkID = s.GetFrameworkId().GetValue()
	c.master, c.streamID = master, streamID
	select {
	case <-c.subscribed:
	default:
		close(c.subscribed)
	}
}

func (c *Client) unsubscribed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.master, c.streamID = "", ""
}
