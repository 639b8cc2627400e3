// Package operator is a Go client for running a cluster: the Mesos v1
// operator API (POST /api/v1: every master call, and the SUBSCRIBE event
// stream), the legacy read endpoints (/master/slaves, /master/frameworks,
// /master/tasks), the masters' Raft membership, and agents' sandbox files.
// It follows redirects to the leading master.
package operator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client reads from a cluster through any of its masters.
type Client struct {
	masters []string
	hc      *http.Client
	streams *http.Client // no timeout: event streams and log tails
}

// New returns a client for masters given as host:port (or http:// URLs).
func New(masters ...string) *Client {
	return &Client{masters: masters, hc: &http.Client{Timeout: 30 * time.Second}, streams: &http.Client{}}
}

// Agent is an agent as /master/slaves reports it.
type Agent struct {
	ID               string         `json:"id"`
	Hostname         string         `json:"hostname"`
	PID              string         `json:"pid"`
	Active           bool           `json:"active"`
	Version          string         `json:"version"`
	RegisteredTime   float64        `json:"registered_time"`
	Resources        map[string]any `json:"resources"`
	UsedResources    map[string]any `json:"used_resources"`
	OfferedResources map[string]any `json:"offered_resources"`
	Attributes       map[string]any `json:"attributes"`
}

// Framework is a framework as /master/frameworks reports it.
type Framework struct {
	ID             string         `json:"id"`
	Name           string         `json:"name"`
	User           string         `json:"user"`
	Active         bool           `json:"active"`
	Connected      bool           `json:"connected"`
	Role           string         `json:"role"`
	Roles          []string       `json:"roles"`
	RegisteredTime float64        `json:"registered_time"`
	UsedResources  map[string]any `json:"used_resources"`
	Tasks          []Task         `json:"tasks"`
	CompletedTasks []Task         `json:"completed_tasks"`
}

// Task is a task as /master/tasks reports it.
type Task struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	FrameworkID string         `json:"framework_id"`
	ExecutorID  string         `json:"executor_id"`
	SlaveID     string         `json:"slave_id"`
	State       string         `json:"state"`
	Role        string         `json:"role"`
	Resources   map[string]any `json:"resources"`
	Statuses    []struct {
		State     string  `json:"state"`
		Timestamp float64 `json:"timestamp"`
	} `json:"statuses"`
}

// Agents lists the registered agents.
func (c *Client) Agents(ctx context.Context) ([]Agent, error) {
	var out struct {
		Slaves []Agent `json:"slaves"`
	}
	return out.Slaves, c.get(ctx, "/master/slaves", nil, &out)
}

// Frameworks lists the registered and the completed frameworks.
func (c *Client) Frameworks(ctx context.Context) (active, completed []Framework, err error) {
	var out struct {
		Frameworks          []Framework `json:"frameworks"`
		CompletedFrameworks []Framework `json:"completed_frameworks"`
	}
	err = c.get(ctx, "/master/frameworks", nil, &out)
	return out.Frameworks, out.CompletedFrameworks, err
}

// TaskQuery narrows Tasks.
type TaskQuery struct {
	FrameworkID string
	Limit       int // 0 = the master's default (100)
}

// Tasks lists tasks, newest first.
func (c *Client) Tasks(ctx context.Context, q TaskQuery) ([]Task, error) {
	v := url.Values{}
	if q.FrameworkID != "" {
		v.Set("framework_id", q.FrameworkID)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out struct {
		Tasks []Task `json:"tasks"`
	}
	return out.Tasks, c.get(ctx, "/master/tasks", v, &out)
}

// get fetches path from the first master that answers, decoding JSON.
func (c *Client) get(ctx context.Context, path string, query url.Values, out any) error {
	if len(c.masters) == 0 {
		return fmt.Errorf("operator: no master given")
	}
	var lastErr error
	for _, m := range c.masters {
		u := baseURL(m) + path
		if len(query) > 0 {
			u += "?" + query.Encode()
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			lastErr = err
			continue
		}
		if resp.StatusCode != http.StatusOK {
			lastErr = fmt.Errorf("operator: GET %s: %s: %s", u, resp.Status, strings.TrimSpace(string(body)))
			continue
		}
		if err := json.Unmarshal(body, out); err != nil {
			return fmt.Errorf("operator: decoding %s: %w", u, err)
		}
		return nil
	}
	return lastErr
}

func baseURL(master string) string {
	if strings.HasPrefix(master, "http://") || strings.HasPrefix(master, "https://") {
		return strings.TrimSuffix(master, "/")
	}
	return "http://" + master
}
