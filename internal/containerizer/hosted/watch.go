package hosted

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/executor/host"
)

// maxWatchLine bounds one line of the watch stream.
const maxWatchLine = 64 << 10

// watch opens the host's watch stream, reads the host's containers,
// reconciles the known ones with them, and leaves a goroutine reading the
// ends that follow. Containers the host holds for which adopt says true
// are made known first. It returns what the host listed.
func (h *Containerizer) watch(ctx context.Context, adopt func(id string) bool) ([]host.WatchLine, error) {
	req, err := http.NewRequestWithContext(context.WithoutCancel(ctx), http.MethodGet, "http://host/watch", nil)
	if err != nil {
		return nil, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("watch answered %s", resp.Status)
	}
	lines := bufio.NewScanner(resp.Body)
	lines.Buffer(make([]byte, 4096), maxWatchLine)
	var states []host.WatchLine
	var synced host.WatchLine
	for {
		line, err := nextLine(lines)
		if err != nil {
			resp.Body.Close()
			return nil, fmt.Errorf("reading the executor host's containers: %w", err)
		}
		if line.Synced {
			synced = line
			break
		}
		states = append(states, line)
	}
	if h.reconcile(states, adopt, synced.Protocol) {
		resp.Body.Close() // outdated and idle: let it exit
		return states, nil
	}
	go h.follow(resp.Body, lines)
	return states, nil
}

// reconcile makes the known containers agree with the host's list: those
// it ended, or does not hold, have ended. It reports whether the host,
// of protocol version, is outdated and holds nothing of ours: then it is
// not watched.
func (h *Containerizer) reconcile(states []host.WatchLine, adopt func(id string) bool, version int) (letGo bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.hostProtocol, h.outdated = version, version != host.Protocol // a host before version 1 says none: 0
	if h.outdated {
		h.log.Warn("the executor host speaks another protocol version: it gets no new executor, and is let go once its executors have ended",
			"host_protocol", version, "agent_protocol", host.Protocol)
	}
	held := make(map[string]*host.Status, len(states))
	for _, s := range states {
		held[s.ContainerID] = s.Ended
		if _, known := h.containers[s.ContainerID]; !known && adopt != nil && adopt(s.ContainerID) {
			h.containers[s.ContainerID] = &hostedContainer{done: make(chan struct{}), sandbox: s.Sandbox}
		}
	}
	for id, c := range h.containers {
		if containerizer.Ended(c.done) || c.launching {
			continue
		}
		ended, ok := held[id]
		switch {
		case !ok:
			c.status = containerizer.ExitStatus{Message: "the executor host does not know the container"}
			close(c.done)
		case ended != nil:
			c.status = ended.ExitStatus()
			close(c.done)
		}
	}
	h.watching = !h.drained()
	return !h.watching
}

// follow reads ends until the stream breaks, or an outdated host has no
// live container of ours left (then it is let go). Otherwise, if the host
// still answers, it watches again (the host drops a watcher that falls
// behind); if not, every hosted container has ended with the host.
func (h *Containerizer) follow(body io.ReadCloser, lines *bufio.Scanner) {
	for {
		line, err := nextLine(lines)
		if err != nil {
			break
		}
		if line.Ended != nil {
			h.finish(line.ContainerID, line.Ended.ExitStatus())
		}
		if h.letGo() {
			body.Close()
			return
		}
	}
	body.Close()
	h.mu.Lock()
	h.watching = false
	h.mu.Unlock()
	h.launching.Lock()
	defer h.launching.Unlock()
	if h.hostAlive() {
		return // a launch connected meanwhile
	}
	if _, err := h.watch(context.Background(), nil); err == nil {
		return
	}
	h.log.Warn("the executor host exited: its executors ended")
	var sandboxes []string
	h.mu.Lock()
	for _, c := range h.containers {
		if !containerizer.Ended(c.done) {
			c.status = hostExited
			close(c.done)
			sandboxes = append(sandboxes, c.sandbox)
		}
	}
	h.mu.Unlock()
	// The tasks' leaders died with the host; what they started lives on.
	ctx, cancel := context.WithTimeout(context.Background(), orphanKillTimeout)
	defer cancel()
	if err := containerizer.KillSandboxProcesses(ctx, sandboxes); err != nil {
		h.log.Error("killing what the dead executor host's tasks left", "err", err)
	}
}

// letGo stops watching an outdated host that holds nothing of ours any
// more, so that it idles out; it reports whether it did.
func (h *Containerizer) letGo() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.drained() {
		return false
	}
	h.watching = false
	h.log.Info("letting the outdated executor host go: its executors have ended")
	return true
}

// orphanKillTimeout bounds killing what a dead host's tasks left.
const orphanKillTimeout = 30 * time.Second

func nextLine(lines *bufio.Scanner) (host.WatchLine, error) {
	if !lines.Scan() {
		if err := lines.Err(); err != nil {
			return host.WatchLine{}, err
		}
		return host.WatchLine{}, io.ErrUnexpectedEOF
	}
	var line host.WatchLine
	if err := json.Unmarshal(lines.Bytes(), &line); err != nil {
		return host.WatchLine{}, errors.Join(errors.New("bad watch line"), err)
	}
	return line, nil
}
