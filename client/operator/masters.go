package operator

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Member is one master of the cluster's Raft group.
type Member struct {
	Address string `json:"address"` // its Raft address
	Voter   bool   `json:"voter"`
	Leader  bool   `json:"leader"`
}

// Masters lists the masters of the Raft group.
func (c *Client) Masters(ctx context.Context) ([]Member, error) {
	var out struct {
		Masters []Member `json:"masters"`
	}
	return out.Masters, c.get(ctx, "/agora/v1/masters", nil, &out)
}

// AddMaster adds a master (its Raft address, host:5049) to the group. The
// new master must be running without having bootstrapped (docs/ha.md).
func (c *Client) AddMaster(ctx context.Context, raftAddress string) error {
	body, _ := json.Marshal(map[string]string{"address": raftAddress})
	return c.do(ctx, http.MethodPost, "/agora/v1/masters", body)
}

// RemoveMaster removes a master from the group.
func (c *Client) RemoveMaster(ctx context.Context, raftAddress string) error {
	return c.do(ctx, http.MethodDelete, "/agora/v1/masters/"+url.PathEscape(raftAddress), nil)
}

// do sends a request that answers 200 without a body, trying each master.
func (c *Client) do(ctx context.Context, method, path string, body []byte) error {
	var lastErr error
	for _, m := range c.masters {
		req, err := http.NewRequestWithContext(ctx, method, baseURL(m)+path, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.hc.Do(req)
		if err != nil {
			lastErr = err
			continue
		}
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return nil
		}
		lastErr = fmt.Errorf("operator: %s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(msg)))
		if resp.StatusCode != http.StatusServiceUnavailable {
			return lastErr
		}
	}
	return lastErr
}
