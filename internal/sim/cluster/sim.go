package cluster

import (
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/agoraproject/agora/internal/registry"
)

// The masters' intervals the simulated clients and the network's pumps
// follow (the master's defaults).
const (
	heartbeatInterval = 15 * time.Second
	agentPingInterval = 15 * time.Second
	// missedBeats is how many intervals of silence make a client drop its
	// stream.
	missedBeats = 5
)

// Options are one run's knobs.
type Options struct {
	// Seed seeds the run's one random number generator.
	Seed uint64
	// KeepAcceptedOffers plants a bug in every master: an accepted offer
	// stays outstanding (master.AcceptKeepingOffers). Only the test that
	// shows the invariants catching it sets it.
	KeepAcceptedOffers bool
	// Trace, if set, receives every step's history as it is recorded.
	Trace io.Writer
}

// Result describes a run that broke no invariant.
type Result struct {
	Steps   int64
	SimTime time.Duration
	// History is the hash of the run's observable history: two runs of a
	// scenario with the same seed must agree on it.
	History string
	// StepDigests fingerprint each step's history, to find where two runs
	// diverge.
	StepDigests []uint64
	Launched    int
	Ended       int
	Stats       Stats
}

// Stats count what a run went through, to show that a scenario exercised
// the faults it is about.
type Stats struct {
	Delivered  int // messages that arrived
	Dropped    int // calls and answers dropped by `drop`
	Lost       int // messages lost to a partition or a broken stream
	Cuts       int // streams broken by `cut` or `cut-at`
	Elections  int
	Offers     int // offers delivered to frameworks
	Declines   int
	Duplicates int // updates a framework saw again
	// AckedDuplicates are updates a framework saw again after it had
	// acknowledged them.
	AckedDuplicates int
	Unreachable     int // TASK_UNREACHABLE updates frameworks saw
	// TaskLost counts TASK_LOST updates frameworks saw. The simulated
	// frameworks are partition-aware, which Mesos never sends TASK_LOST
	// (reference §4: they get DROPPED, GONE, UNREACHABLE ... instead).
	TaskLost int
}

// Violation is a broken invariant. Running the scenario again with Seed
// breaks it again at Step.
type Violation struct {
	Scenario  string
	Seed      uint64
	Step      int64
	At        time.Duration // simulated time since the start
	Invariant string
	Detail    string
}

func (v *Violation) Error() string {
	return fmt.Sprintf("%s: seed %d, step %d (t=%s): invariant %q broken: %s",
		v.Scenario, v.Seed, v.Step, v.At, v.Invariant, v.Detail)
}

// settings are a scenario's cluster-wide parameters.
type settings struct {
	tick          time.Duration
	offerTimeout  time.Duration
	electionDelay time.Duration
}

func defaultSettings() settings {
	return settings{tick: 100 * time.Millisecond, offerTimeout: 30 * time.Second, electionDelay: 2 * time.Second}
}

// Sim is one run of a scenario: the cluster, the network, the clock, the
// random number generator and the invariants' records. It is used from
// one goroutine.
type Sim struct {
	scenario string
	opts     Options
	cfg      settings
	rng      *rand.Rand
	clock    *Clock
	start    time.Time
	step     int64

	net        *network
	reg        *registry.Memory
	masters    []*masterNode
	leader     *masterNode // nil while none is elected
	election   *Timer
	agents     []*simAgent
	frameworks []*simFramework

	oracle  *oracle
	quotas  []*quotaWatch
	stats   Stats
	hist    *history
	failure *Violation
	// busy: the script did something since the last check.
	busy bool
}

func newSim(scenario string, opts Options) *Sim {
	start := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := &Sim{
		scenario: scenario,
		opts:     opts,
		cfg:      defaultSettings(),
		rng:      rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x5eed5eed5eed5eed)),
		clock:    NewClock(start),
		start:    start,
		reg:      registry.NewMemory(),
	}
	s.net = newNetwork(s)
	s.oracle = newOracle(s)
	s.hist = newHistory(opts.Trace)
	return s
}

// violate records the first broken invariant; the run stops after the
// current step.
func (s *Sim) violate(invariant, format string, args ...any) {
	if s.failure != nil {
		return
	}
	s.failure = &Violation{
		Scenario:  s.scenario,
		Seed:      s.opts.Seed,
		Step:      s.step,
		At:        s.elapsed(),
		Invariant: invariant,
		Detail:    fmt.Sprintf(format, args...),
	}
	s.hist.record("VIOLATION " + s.failure.Error())
}

func (s *Sim) elapsed() time.Duration { return s.clock.Now().Sub(s.start) }

// steps converts a duration to whole steps (at least one for d > 0).
func (s *Sim) steps(d time.Duration) int64 {
	n := int64(d / s.cfg.tick)
	if n == 0 && d > 0 {
		n = 1
	}
	return n
}

// runFor advances the simulation by d, step by step, until an invariant
// breaks.
func (s *Sim) runFor(d time.Duration) {
	for n := s.steps(d); n > 0 && s.failure == nil; n-- {
		s.runStep()
	}
}

// runStep is one step: the clock moves one tick (timers fire), masters run
// what that queued and, on the allocation interval, allocate; the pumps
// beat; every message due arrives; the invariants are checked.
func (s *Sim) runStep() {
	s.step++
	fired := s.clock.Advance(s.cfg.tick)
	allocating := s.step%s.steps(time.Second) == 0
	for _, mn := range s.masters {
		if !mn.alive {
			continue
		}
		mn.m.Step()
		if allocating {
			mn.m.Tick()
		}
		s.collect(mn)
	}
	s.net.beat()
	ran := s.net.deliverDue()
	if fired+ran > 0 || s.busy || allocating {
		s.busy = false
		s.checkStep()
	}
	s.hist.endStep()
}

// newUUID is a status update's uuid, from the run's generator.
func (s *Sim) newUUID() []byte {
	b := make([]byte, 16)
	for i := 0; i < 16; i += 8 {
		v := s.rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// jitter is a random duration in [0, d].
func (s *Sim) jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(s.rng.Int64N(int64(d) + 1))
}

// masterNames lists the masters' names, the list clients are given.
func (s *Sim) masterNames() []string {
	names := make([]string, len(s.masters))
	for i, mn := range s.masters {
		names[i] = mn.name
	}
	return names
}

func (s *Sim) masterNamed(name string) *masterNode {
	for _, mn := range s.masters {
		if mn.name == name {
			return mn
		}
	}
	return nil
}

func (s *Sim) agentNamed(name string) *simAgent {
	for _, a := range s.agents {
		if a.name == name {
			return a
		}
	}
	return nil
}

func (s *Sim) frameworkNamed(name string) *simFramework {
	for _, f := range s.frameworks {
		if f.name == name {
			return f
		}
	}
	return nil
}

// frameworkByID finds a simulated framework by the ID a master gave it.
func (s *Sim) frameworkByID(id string) *simFramework {
	for _, f := range s.frameworks {
		if f.id == id {
			return f
		}
	}
	return nil
}

// agentByID finds a simulated agent by the ID a master gave it.
func (s *Sim) agentByID(id string) *simAgent {
	for _, a := range s.agents {
		if a.id == id {
			return a
		}
	}
	return nil
}
