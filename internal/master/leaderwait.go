package master

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// Agents reach the leader through any master. While there is none (an
// election is running, or the new leader is still recovering) the agent
// protocol holds a request instead of answering 503 at once: it goes on,
// served or redirected to the leader, the moment a leader can take it, or
// gets the 503 after Config.AgentLeaderWait. After a failover agents thus
// come back as soon as the new leader leads, instead of polling through the
// election with a growing backoff. The agent protocol is Agora's own; the
// scheduler and operator APIs keep Mesos' immediate 503.

// leaderPollInterval is how often a master notices that a follower has
// learned who leads (the registry does not announce it).
const leaderPollInterval = 20 * time.Millisecond

// leaderSignal wakes every waiter when whether a leader is known changes.
type leaderSignal struct {
	mu sync.Mutex
	ch chan struct{}
}

func newLeaderSignal() *leaderSignal { return &leaderSignal{ch: make(chan struct{})} }

// next is closed at the next change.
func (s *leaderSignal) next() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

func (s *leaderSignal) broadcast() {
	s.mu.Lock()
	defer s.mu.Unlock()
	close(s.ch)
	s.ch = make(chan struct{})
}

// leaderKnown reports whether a request can be acted on or redirected:
// this master leads, or it follows a leader it knows.
func (m *Master) leaderKnown() bool {
	switch leadership(m.status.Load()) {
	case leading:
		return true
	case recovering:
		return false
	}
	return m.leaderAddress() != ""
}

// watchLeader wakes the held requests when a leader becomes known (or
// stops being known) until ctx ends.
func (m *Master) watchLeader(ctx context.Context) {
	tick := time.NewTicker(leaderPollInterval)
	defer tick.Stop()
	known := m.leaderKnown()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if k := m.leaderKnown(); k != known {
			known = k
			m.leaderChanged.broadcast()
		}
	}
}

// holdForLeader wraps a leader-only handler so that a request arriving
// while no leader is known waits for one (up to Config.AgentLeaderWait).
func (m *Master) holdForLeader(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !m.waitForLeader(r.Context()) {
			return // the client went away
		}
		h(w, r)
	}
}

// waitForLeader returns when a leader is known or AgentLeaderWait has
// passed (true), or when ctx ends (false).
func (m *Master) waitForLeader(ctx context.Context) bool {
	changed := m.leaderChanged.next()
	if m.leaderKnown() || m.cfg.AgentLeaderWait <= 0 {
		return true
	}
	limit := time.NewTimer(m.cfg.AgentLeaderWait)
	defer limit.Stop()
	for {
		select {
		case <-ctx.Done():
			return false
		case <-limit.C:
			return true
		case <-changed:
		}
		changed = m.leaderChanged.next()
		if m.leaderKnown() {
			return true
		}
	}
}
