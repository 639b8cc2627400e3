package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/allocator"
	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/master"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/registry"
)

// masterNode is one simulated master machine. Each start is a new process
// (incarnation) with a new master ID, as a restarted Mesos master gets.
type masterNode struct {
	name  string
	addr  string
	inc   int
	alive bool
	m     *master.Master
	clock *lifetimeClock
	reg   *registry.MemoryNode
}

// addMasters starts n more masters; the first ones elect a leader at once.
func (s *Sim) addMasters(n int) error {
	for range n {
		i := len(s.masters) + 1
		name := fmt.Sprintf("m%d", i)
		mn := &masterNode{name: name, addr: fmt.Sprintf("10.0.0.%d:5050", i), reg: s.reg.Node(name)}
		s.masters = append(s.masters, mn)
		if err := s.startMaster(mn); err != nil {
			return err
		}
	}
	if s.leader == nil && s.election == nil {
		s.elect()
	}
	return nil
}

func (s *Sim) startMaster(mn *masterNode) error {
	mn.inc++
	mn.clock = &lifetimeClock{Clock: s.clock}
	opts := allocator.DefaultOptions()
	opts.Seed = s.rng.Uint64()
	cfg := master.Config{
		Registry:     mn.reg,
		Clock:        mn.clock,
		ID:           fmt.Sprintf("%s-%d", mn.name, mn.inc),
		Hostname:     mn.name,
		Logger:       slog.New(slog.DiscardHandler),
		OfferTimeout: s.cfg.offerTimeout,
		Allocator:    &opts,
	}
	m, err := master.NewSimulated(cfg, mn.addr)
	if err != nil {
		return fmt.Errorf("cluster: start master %s: %w", mn.name, err)
	}
	mn.m, mn.alive = m, true
	s.hist.record(fmt.Sprintf("start %s-%d", mn.name, mn.inc))
	return nil
}

// stopMaster kills a master process: its streams reset, its timers stop,
// and if it led, an election follows.
func (s *Sim) stopMaster(mn *masterNode) {
	if !mn.alive {
		return
	}
	s.hist.record("stop " + mn.name)
	mn.alive = false
	mn.clock.dead = true
	for _, st := range s.net.streamsOf(mn) {
		st.masterClosed = true
		if !st.cut {
			s.net.notice(st, true, "reset", func() { s.streamEnded(st) })
		}
	}
	if s.leader == mn {
		s.leader = nil
		s.setRegistryLeader("")
		s.scheduleElection()
	}
}

// scheduleElection elects a leader after the election delay, as Raft
// would after its election timeout.
func (s *Sim) scheduleElection() {
	if s.election == nil {
		s.election = s.clock.After(s.cfg.electionDelay, s.elect)
	}
}

// elect makes a live, reachable master the leader: the old one, if it
// still runs, steps down first.
func (s *Sim) elect() {
	s.election = nil
	if s.leader != nil && s.leader.alive && !s.net.isolatedNow(s.leader.name) {
		return
	}
	var candidates []*masterNode
	for _, mn := range s.masters {
		if mn.alive && !s.net.isolatedNow(mn.name) {
			candidates = append(candidates, mn)
		}
	}
	if len(candidates) == 0 {
		s.scheduleElection()
		return
	}
	next := candidates[s.rng.IntN(len(candidates))]
	if old := s.leader; old != nil && old.alive {
		s.leader = nil
		s.setRegistryLeader("")
		old.m.Elected(false)
		s.collect(old)
	}
	s.leader = next
	s.setRegistryLeader(next.name)
	s.hist.record("elected " + next.name)
	s.stats.Elections++
	next.m.Elected(true)
	s.collect(next)
	s.busy = true
}

// setRegistryLeader moves the registry's leadership. The masters'
// LeaderCh are drained: the simulator calls Elected itself.
func (s *Sim) setRegistryLeader(name string) {
	s.reg.SetLeader(name)
	for _, mn := range s.masters {
		for drained := false; !drained; {
			select {
			case <-mn.reg.LeaderCh():
			default:
				drained = true
			}
		}
	}
}

// collect moves what a master sent on its streams onto the network, in a
// canonical order, and passes on the closes.
func (s *Sim) collect(mn *masterNode) {
	for _, st := range s.net.streamsOf(mn) {
		var closed bool
		if st.agentConn != nil {
			var evs []*protocol.AgentEvent
			evs, closed, _ = st.agentConn.Take()
			sortAgentEvents(evs)
			for _, ev := range evs {
				s.pushAgentEvent(st, ev)
			}
		} else {
			var evs []*scheduler.Event
			evs, closed, _ = st.fwConn.Take()
			sortFrameworkEvents(evs)
			for _, ev := range evs {
				s.pushFrameworkEvent(st, ev)
			}
		}
		if closed && !st.masterClosed {
			st.masterClosed = true
			if !st.cut {
				s.net.notice(st, true, "closed", func() { s.streamEnded(st) })
			}
		}
	}
}

func (s *Sim) pushAgentEvent(st *stream, ev *protocol.AgentEvent) {
	if st.cut || st.clientClosed || s.net.maybeCut(st, ev.GetType().String()) {
		return
	}
	s.net.push(st, ev.GetType().String(), ev, func() {
		if a := s.agentNamed(st.client); a.current(st) {
			a.onEvent(st, ev)
		}
	})
}

func (s *Sim) pushFrameworkEvent(st *stream, ev *scheduler.Event) {
	if st.cut || st.clientClosed || s.net.maybeCut(st, ev.GetType().String()) {
		return
	}
	s.net.push(st, ev.GetType().String(), ev, func() {
		if f := s.frameworkNamed(st.client); f.current(st) {
			f.onEvent(st, ev)
		}
	})
}

// streamEnded tells the client that its master closed st (or it broke).
func (s *Sim) streamEnded(st *stream) {
	if p := s.processNamed(st.client); p != nil && p.inc == st.clientInc && p.up {
		p.streamEnded(st)
	}
}

// streamGoneAtMaster tells the master that the client closed st (or it
// broke).
func (s *Sim) streamGoneAtMaster(st *stream) {
	mn := st.master
	if !mn.alive || mn.inc != st.masterInc || st.masterClosed {
		return
	}
	st.masterClosed = true
	if st.agentConn != nil {
		mn.m.AgentGone(st.agentConn)
	} else {
		mn.m.FrameworkGone(st.fwConn)
	}
	s.collect(mn)
}

// clientClose is a client closing its end of st.
func (s *Sim) clientClose(st *stream) {
	if st == nil || st.clientClosed || st.cut {
		return
	}
	st.clientClosed = true
	s.net.notice(st, false, "closed", func() { s.streamGoneAtMaster(st) })
}

// answer is how a master's HTTP layer answers a call it does not stream.
type answer struct {
	attempt     int    // the subscription attempt it answers (SUBSCRIBE)
	streamID    string // the stream a call was made on (other calls)
	refused     bool   // no master process listens
	unavailable bool   // 503: no leader, or the leader is recovering
	redirect    string // 307 to the named master
	err         error  // the master refused the call
}

func (a *answer) String() string {
	switch {
	case a.refused:
		return "refused"
	case a.unavailable:
		return "503"
	case a.redirect != "":
		return "307 " + a.redirect
	}
	return fmt.Sprintf("%d", statusCode(a.err))
}

func statusCode(err error) int {
	var apiErr *apihttp.Error
	if errors.As(err, &apiErr) {
		return apiErr.Code
	}
	return http.StatusInternalServerError
}

// leaderAnswer is what a master's HTTP layer answers before its loop sees
// a call: nil when it leads.
func (s *Sim) leaderAnswer(mn *masterNode) *answer {
	switch {
	case !mn.alive:
		return &answer{refused: true}
	case mn.m.IsLeading():
		return nil
	case s.leader == mn:
		return &answer{unavailable: true} // still recovering
	}
	if lm, ok := mn.reg.LeadingMaster(); ok {
		return &answer{redirect: lm.GetInfo().GetHostname()}
	}
	return &answer{unavailable: true}
}

func (s *Sim) reply(from string, p *process, inc int, ans *answer) {
	s.net.send(from, p.name, "answer "+ans.String(), nil, func() {
		if p.inc == inc && p.up {
			p.onAnswer(ans)
		}
	})
}

// subscribeAt is a client's SUBSCRIBE arriving at master node to: on
// success a stream opens, its first item the open notice.
func (s *Sim) subscribeAt(to string, p *process, inc, attempt int, agent bool, subscribe func(mn *masterNode, st *stream) error) {
	mn := s.masterNamed(to)
	if ans := s.leaderAnswer(mn); ans != nil {
		ans.attempt = attempt
		s.reply(to, p, inc, ans)
		return
	}
	st := s.net.openStream(mn, p.name, inc, agent)
	if err := subscribe(mn, st); err != nil {
		st.masterClosed = true
		s.reply(to, p, inc, &answer{attempt: attempt, err: err})
		s.collect(mn)
		return
	}
	s.net.notice(st, true, "opened", func() {
		if p.inc == inc && p.up {
			p.opened(st, attempt)
		} else {
			s.clientClose(st)
		}
	})
	s.collect(mn)
}

// callAt is a client's non-SUBSCRIBE call arriving at master node to.
func (s *Sim) callAt(to string, p *process, inc int, streamID string, call func(mn *masterNode) error) {
	mn := s.masterNamed(to)
	if ans := s.leaderAnswer(mn); ans != nil {
		ans.streamID = streamID
		s.reply(to, p, inc, ans)
		return
	}
	err := call(mn)
	s.collect(mn)
	if err != nil {
		s.reply(to, p, inc, &answer{streamID: streamID, err: err})
	}
}

// processNamed is the agent's or framework's process called name.
func (s *Sim) processNamed(name string) *process {
	if a := s.agentNamed(name); a != nil {
		return &a.process
	}
	if f := s.frameworkNamed(name); f != nil {
		return &f.process
	}
	return nil
}
