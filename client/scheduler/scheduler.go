// Package scheduler is a Go client for the Mesos v1 scheduler HTTP API, as
// served by Agora (or Apache Mesos). It subscribes a framework, delivers the
// event stream to a handler, makes calls on the subscribed master, follows
// redirects to the leading master, and re-subscribes with the framework's ID
// when the connection or the leader is lost.
//
// Typical use:
//
//	c, _ := scheduler.New(scheduler.Config{Masters: []string{"127.0.0.1:5050"}, Framework: info})
//	err := c.Run(ctx, scheduler.HandlerFunc(func(ctx context.Context, ev *schedpb.Event) {
//		switch ev.GetType() {
//		case schedpb.Event_OFFERS: ...
//		case schedpb.Event_UPDATE: c.Acknowledge(ctx, ev.GetUpdate().GetStatus())
//		}
//	}))
//
// The handler runs on the stream's goroutine, one event at a time, in
// order; calls made from it are safe.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
)

// Config configures a Client.
type Config struct {
	// Masters are host:port addresses of masters, tried in order; any
	// master will do, the client follows redirects to the leader.
	Masters []string
	// Framework is the FrameworkInfo to subscribe with. Set its id to
	// re-subscribe an existing framework.
	Framework *mesos.FrameworkInfo
	// SuppressedRoles are passed on SUBSCRIBE.
	SuppressedRoles []string
	// Encoding of requests and events; JSON by default.
	Encoding wire.Encoding
	// MinBackoff and MaxBackoff bound the reconnect delay (defaults 100 ms
	// and 15 s).
	MinBackoff, MaxBackoff time.Duration
	// MissedHeartbeats is how many heartbeat intervals of silence make the
	// client drop the stream and reconnect (default 5).
	MissedHeartbeats int
	// HTTPClient makes the calls; nil uses a client with keep-alive.
	HTTPClient *http.Client
	Logger     *slog.Logger
}

// Handler receives events.
type Handler interface {
	HandleEvent(ctx context.Context, ev *sched.Event)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, ev *sched.Event)

// HandleEvent calls f.
func (f HandlerFunc) HandleEvent(ctx context.Context, ev *sched.Event) { f(ctx, ev) }

// ErrNotSubscribed is returned by calls made while no stream is open.
var ErrNotSubscribed = errors.New("scheduler: not subscribed")

// Client is a framework's connection to the cluster.
type Client struct {
	cfg    Config
	log    *slog.Logger
	calls  *http.Client
	stream *http.Client

	mu          sync.Mutex
	frameworkID string
	streamID    string
	master      string // host:port of the master the stream is open on
	subscribed  chan struct{}
}

// New returns a client; nothing is sent until Run.
func New(cfg Config) (*Client, error) {
	if len(cfg.Masters) == 0 {
		return nil, errors.New("scheduler: no masters given")
	}
	if cfg.Framework == nil {
		return nil, errors.New("scheduler: FrameworkInfo is required")
	}
	if err := proto.CheckInitialized(cfg.Framework); err != nil {
		return nil, fmt.Errorf("scheduler: invalid FrameworkInfo: %w", err)
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 100 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 15 * time.Second
	}
	if cfg.MissedHeartbeats <= 0 {
		cfg.MissedHeartbeats = 5
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Client{
		cfg:        cfg,
		log:        cfg.Logger,
		calls:      cfg.HTTPClient,
		subscribed: make(chan struct{}),
	}
	if c.calls == nil {
		c.calls = &http.Client{
			Timeout:   30 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second},
		}
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.calls.CheckRedirect = noRedirect
	c.stream = &http.Client{Transport: &http.Transport{}, CheckRedirect: noRedirect}
	if id := cfg.Framework.GetId().GetValue(); id != "" {
		c.frameworkID = id
	}
	return c, nil
}

// FrameworkID is the framework's ID once subscribed ("" before).
func (c *Client) FrameworkID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.frameworkID
}

// Subscribed is closed once the first SUBSCRIBED event has arrived.
func (c *Client) Subscribed() <-chan struct{} { return c.subscribed }

// Run subscribes and delivers events to h until ctx ends, re-subscribing
// with the framework's ID whenever the stream is lost. It returns ctx's
// error, or the error of an unrecoverable refusal (a 4xx on SUBSCRIBE, or
// an ERROR event, such as "Framework has been removed").
func (c *Client) Run(ctx context.Context, h Handler) error {
	backoff := c.cfg.MinBackoff
	for {
		fatal, err := c.session(ctx, h)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if fatal != nil {
			return fatal
		}
		c.log.Info("scheduler stream lost; re-subscribing", "error", err, "backoff", backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(jitter(backoff)):
		}
		backoff = min(backoff*2, c.cfg.MaxBackoff)
		if err == nil {
			backoff = c.cfg.MinBackoff
		}
	}
}

func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// subscribeCall builds the SUBSCRIBE call, with the framework ID once known.
func (c *Client) subscribeCall() *sched.Call {
	c.mu.Lock()
	info := proto.Clone(c.cfg.Framework).(*mesos.FrameworkInfo)
	suppressed := c.cfg.SuppressedRoles
	c.mu.Unlock()
	call := &sched.Call{
		Type:      sched.Call_SUBSCRIBE.Enum(),
		Subscribe: &sched.Call_Subscribe{FrameworkInfo: info, SuppressedRoles: suppressed},
	}
	if id := c.FrameworkID(); id != "" {
		info.Id = &mesos.FrameworkID{Value: &id}
		call.FrameworkId = &mesos.FrameworkID{Value: &id}
	}
	return call
}

// Call sends a call on the subscribed master, filling in framework_id and
// the stream ID. A 202 or 200 is success; anything else is an *APIError.
func (c *Client) Call(ctx context.Context, call *sched.Call) error {
	c.mu.Lock()
	master, streamID, fid := c.master, c.streamID, c.frameworkID
	c.mu.Unlock()
	if master == "" {
		return ErrNotSubscribed
	}
	if call.FrameworkId == nil {
		call.FrameworkId = &mesos.FrameworkID{Value: &fid}
	}
	resp, err := c.post(ctx, c.calls, master, call, streamID)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusAccepted {
		return nil
	}
	return readAPIError(resp)
}

// APIError is a call the master refused.
type APIError struct {
	Code    int
	Message string
}

func (e *APIError) Error() string { return fmt.Sprintf("scheduler: %d %s", e.Code, e.Message) }
