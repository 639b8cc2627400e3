package health

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// Target is what to probe.
type Target struct {
	// Protocol is HTTP, HTTPS or TCP.
	Protocol string
	// Addr is host:port.
	Addr string
	// Path is the HTTP(S) path.
	Path          string
	Timeout       time.Duration
	IgnoreHTTP1xx bool
}

// Prober runs probes; one may be shared by many goroutines.
type Prober struct {
	client *http.Client
}

// NewProber returns a prober whose HTTPS probes skip certificate checks
// (Marathon's behaviour) and that never follows redirects (a 3xx is
// healthy).
func NewProber() *Prober {
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // Marathon semantics
		DisableKeepAlives:   true,
		MaxIdleConnsPerHost: -1,
	}
	return &Prober{client: &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Probe returns nil when t is healthy, or why it is not. For HTTP(S) a
// status in 200–399 is healthy (1xx is ignored, i.e. healthy, with
// IgnoreHTTP1xx); for TCP a connection within the timeout.
func (p *Prober) Probe(ctx context.Context, t Target) error {
	ctx, cancel := context.WithTimeout(ctx, t.Timeout)
	defer cancel()
	if t.Protocol == "TCP" {
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", t.Addr)
		if err != nil {
			return fmt.Errorf("TCP connection to %s failed: %w", t.Addr, err)
		}
		return conn.Close()
	}
	status, _, _, err := p.Get(ctx, t)
	if err != nil {
		return err
	}
	switch {
	case status >= 200 && status < 400:
		return nil
	case status < 200 && t.IgnoreHTTP1xx:
		return nil
	}
	return fmt.Errorf("HTTP %d from %s%s", status, t.Addr, t.Path)
}

// Get fetches t's path and returns the status, content type and (first
// 64 KiB of the) body; readiness checks use it.
func (p *Prober) Get(ctx context.Context, t Target) (int, string, string, error) {
	scheme := "http"
	if t.Protocol == "HTTPS" {
		scheme = "https"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+t.Addr+t.Path, nil)
	if err != nil {
		return 0, "", "", err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, "", "", fmt.Errorf("%s probe of %s%s failed: %w", t.Protocol, t.Addr, t.Path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(body), nil
}
