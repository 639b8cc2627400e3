// Package marathon is a small Go client for the Marathon REST API v2 as
// Agora serves it (and as Marathon does): apps, tasks, deployments and
// server info, with the JSON types of api/marathon. It is what the agora
// CLI uses; it tries the given servers in order and keeps the first that
// answers.
package marathon

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/agoraproject/agora/api/marathon"
)

// Client talks to one of several Marathon API servers.
type Client struct {
	servers []string
	hc      *http.Client
}

// New returns a client for servers given as host:port or http(s) URLs.
func New(servers ...string) *Client {
	c := &Client{hc: &http.Client{Timeout: 30 * time.Second}}
	for _, s := range servers {
		s = strings.TrimRight(strings.TrimSpace(s), "/")
		if s == "" {
			continue
		}
		if !strings.Contains(s, "://") {
			s = "http://" + s
		}
		c.servers = append(c.servers, s)
	}
	return c
}

// Error is an answer other than 2xx, with Marathon's error body.
type Error struct {
	Code int
	Body marathon.Error
}

func (e *Error) Error() string {
	msg := e.Body.Message
	for _, d := range e.Body.Details {
		msg += fmt.Sprintf("; %s: %s", d.Path, strings.Join(d.Errors, ", "))
	}
	for _, d := range e.Body.Deployments {
		msg += "; deployment " + d.ID
	}
	return fmt.Sprintf("marathon: %d %s", e.Code, msg)
}

// IsNotFound reports whether err is a 404.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == http.StatusNotFound
}

// do sends a request to the first server that answers and decodes a JSON
// answer into out (if not nil). It returns the response headers.
func (c *Client) do(ctx context.Context, method, path string, body []byte, out any) (http.Header, error) {
	if len(c.servers) == 0 {
		return nil, errors.New("marathon: no server given")
	}
	var lastErr error
	for _, s := range c.servers {
		h, err := c.doOn(ctx, s, method, path, body, out)
		var apiErr *Error
		if err == nil || errors.As(err, &apiErr) || ctx.Err() != nil {
			return h, err
		}
		lastErr = err
	}
	return nil, lastErr
}

func (c *Client) doOn(ctx context.Context, server, method, path string, body []byte, out any) (http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, server+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("marathon: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("marathon: reading %s %s: %w", method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Code: resp.StatusCode}
		if json.Unmarshal(data, &e.Body) != nil || e.Body.Message == "" {
			e.Body.Message = strings.TrimSpace(string(data))
		}
		return resp.Header, e
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return nil, fmt.Errorf("marathon: decoding %s %s: %w", method, path, err)
		}
	}
	return resp.Header, nil
}

func appPath(id string) string { return "/v2/apps/" + strings.TrimPrefix(id, "/") }

func query(kv ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			v.Add(kv[i], kv[i+1])
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

func boolParam(b bool) string {
	if !b {
		return ""
	}
	return "true"
}

// Apps lists apps with their counts and deployments.
func (c *Client) Apps(ctx context.Context) ([]marathon.AppInfo, error) {
	var r marathon.AppsResponse
	_, err := c.do(ctx, http.MethodGet, "/v2/apps", nil, &r)
	return r.Apps, err
}

// App returns one app with its tasks and last failure.
func (c *Client) App(ctx context.Context, id string) (*marathon.AppInfo, error) {
	var r marathon.AppResponse
	if _, err := c.do(ctx, http.MethodGet, appPath(id)+"?embed=app.taskStats&embed=app.readiness", nil, &r); err != nil {
		return nil, err
	}
	return &r.App, nil
}

// PutApp creates or replaces an app from its JSON definition (PUT with
// partialUpdate=false). created reports a 201.
func (c *Client) PutApp(ctx context.Context, def []byte, force bool) (res marathon.DeploymentResult, created bool, err error) {
	var head struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(def, &head); err != nil {
		return res, false, fmt.Errorf("marathon: the definition is not a JSON object: %w", err)
	}
	if head.ID == "" {
		return res, false, errors.New("marathon: the definition has no id")
	}
	var before marathon.AppResponse
	_, getErr := c.do(ctx, http.MethodGet, appPath(head.ID), nil, &before)
	_, err = c.do(ctx, http.MethodPut, appPath(head.ID)+query("partialUpdate", "false", "force", boolParam(force)), def, &res)
	return res, IsNotFound(getErr), err
}

// UpdateApp applies a partial update (PATCH-like PUT).
func (c *Client) UpdateApp(ctx context.Context, id string, patch any, force bool) (marathon.DeploymentResult, error) {
	body, err := json.Marshal(patch)
	if err != nil {
		return marathon.DeploymentResult{}, err
	}
	var res marathon.DeploymentResult
	_, err = c.do(ctx, http.MethodPut, appPath(id)+query("force", boolParam(force)), body, &res)
	return res, err
}

// ScaleApp sets an app's instance count.
func (c *Client) ScaleApp(ctx context.Context, id string, instances int, force bool) (marathon.DeploymentResult, error) {
	return c.UpdateApp(ctx, id, map[string]int{"instances": instances}, force)
}

// RollbackApp deploys an earlier version of an app.
func (c *Client) RollbackApp(ctx context.Context, id, version string, force bool) (marathon.DeploymentResult, error) {
	return c.UpdateApp(ctx, id, map[string]string{"version": version}, force)
}

// RestartApp restarts all instances of an app (a rolling restart).
func (c *Client) RestartApp(ctx context.Context, id string, force bool) (marathon.DeploymentResult, error) {
	var res marathon.DeploymentResult
	_, err := c.do(ctx, http.MethodPost, appPath(id)+"/restart"+query("force", boolParam(force)), nil, &res)
	return res, err
}

// DeleteApp removes an app and kills its tasks.
func (c *Client) DeleteApp(ctx context.Context, id string) (marathon.DeploymentResult, error) {
	var res marathon.DeploymentResult
	_, err := c.do(ctx, http.MethodDelete, appPath(id), nil, &res)
	return res, err
}

// AppVersions lists an app's stored versions, newest first.
func (c *Client) AppVersions(ctx context.Context, id string) ([]string, error) {
	var r marathon.VersionsResponse
	_, err := c.do(ctx, http.MethodGet, appPath(id)+"/versions", nil, &r)
	return r.Versions, err
}

// Tasks lists the tasks of one app ("" for all apps).
func (c *Client) Tasks(ctx context.Context, appID string) ([]marathon.Task, error) {
	path := "/v2/tasks"
	if appID != "" {
		path = appPath(appID) + "/tasks"
	}
	var r marathon.TasksResponse
	_, err := c.do(ctx, http.MethodGet, path, nil, &r)
	return r.Tasks, err
}

// KillTasks kills tasks by id; scale also lowers their apps' instances.
func (c *Client) KillTasks(ctx context.Context, ids []string, scale bool) error {
	body, _ := json.Marshal(marathon.TaskIDs{IDs: ids})
	_, err := c.do(ctx, http.MethodPost, "/v2/tasks/delete"+query("scale", boolParam(scale)), body, nil)
	return err
}

// Deployments lists the running deployments.
func (c *Client) Deployments(ctx context.Context) ([]marathon.Deployment, error) {
	var out []marathon.Deployment
	_, err := c.do(ctx, http.MethodGet, "/v2/deployments", nil, &out)
	return out, err
}

// CancelDeployment cancels a deployment. Without force it is reverted by a
// new deployment (returned); with force it just stops (nil).
func (c *Client) CancelDeployment(ctx context.Context, id string, force bool) (*marathon.DeploymentResult, error) {
	var res marathon.DeploymentResult
	_, err := c.do(ctx, http.MethodDelete, "/v2/deployments/"+url.PathEscape(id)+query("force", boolParam(force)), nil, &res)
	if err != nil || force {
		return nil, err
	}
	return &res, nil
}

// Info returns /v2/info.
func (c *Client) Info(ctx context.Context) (*marathon.Info, error) {
	var out marathon.Info
	_, err := c.do(ctx, http.MethodGet, "/v2/info", nil, &out)
	return &out, err
}

// DeploymentRunning reports whether a deployment is still running.
func (c *Client) DeploymentRunning(ctx context.Context, id string) (bool, error) {
	ds, err := c.Deployments(ctx)
	if err != nil {
		return false, err
	}
	for _, d := range ds {
		if d.ID == id {
			return true, nil
		}
	}
	return false, nil
}

// Progress is how far an app is toward its target.
type Progress struct {
	Target int
	// Done counts tasks of the latest config that run (and are healthy,
	// when the app has health checks).
	Done int
}

// AppProgress measures an app against its target.
func (c *Client) AppProgress(ctx context.Context, id string) (Progress, error) {
	a, err := c.App(ctx, id)
	if err != nil {
		return Progress{}, err
	}
	p := Progress{Target: a.Instances}
	for _, t := range a.Tasks {
		if t.State != "TASK_RUNNING" || a.VersionInfo == nil || t.Version < a.VersionInfo.LastConfigChangeAt {
			continue
		}
		if len(a.HealthChecks) > 0 && (len(t.HealthCheckResults) == 0 || !t.HealthCheckResults[0].Alive) {
			continue
		}
		p.Done++
	}
	return p, nil
}
