package cluster

import (
	"bufio"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// A scenario is a script, one command per line; '#' starts a comment.
//
//	masters N                       start N masters (the first election is immediate)
//	agents N RESOURCES              start N agents, e.g. agents 5 cpus:4;mem:4096
//	frameworks N [key=value ...]    start N frameworks; keys: tasks, cpus, mem,
//	                                duration (0: run until killed), role, refuse,
//	                                ack-delay, failover-timeout, reconcile
//	tick D | offer-timeout D | election-delay D
//	                                settings, before `masters`
//	run D                           let D of simulated time pass
//	kill-leader [down=D]            the leading master dies, back as a follower after D (10s)
//	restart NODE [down=D]           a master ("leader" too), agent or framework process restarts after D (1s);
//	                                an agent's tasks keep running, a framework fails over
//	partition NODE D                cut NODE off from every other node for D
//	                                (NODE may be "leader": the leading master)
//	heal                            end every partition
//	drop P                          lose each call and answer with probability P
//	cut P                           break a stream at each event with probability P
//	delay N                         add 0..N extra steps to every message
//	cut-at NODE EVENT               break NODE's stream at the next EVENT (a type:
//	                                SUBSCRIBED, OFFERS, RUN_TASK, ...) sent on it
//	decline-storm [D]               every framework declines every offer at once, for D (30s)
//	set-quota ROLE limits=R [guarantees=R]
//	                                UPDATE_QUOTA (forced) through the leader
//	kill-tasks FRAMEWORK N          the framework kills N of its running tasks
//	stabilize [D]                   end every fault and wait (at most D, 10m) until settled
//	expect KEY OP N                 KEY: running (at the leader), launched, finished,
//	                                killed, lost (ran, then ended otherwise),
//	                                unlaunched (ended without reaching an agent),
//	                                tasklost (TASK_LOST updates seen, any framework),
//	                                ended, agents, frameworks (connected at the
//	                                leader); optionally prefixed "fw-1."; OP: = >= <=
//
// Every run ends with an implicit stabilize.

// Scenario is a parsed scenario.
type Scenario struct {
	Name     string
	commands []command
}

type command struct {
	line  int
	text  string
	apply func(s *Sim) error
}

// ParseScenario parses a scenario script.
func ParseScenario(name, text string) (*Scenario, error) {
	sc := &Scenario{Name: name}
	lines := bufio.NewScanner(strings.NewReader(text))
	for n := 1; lines.Scan(); n++ {
		line, _, _ := strings.Cut(lines.Text(), "#")
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		parse, ok := verbs[fields[0]]
		if !ok {
			return nil, fmt.Errorf("%s:%d: unknown verb %q", name, n, fields[0])
		}
		apply, err := parse(fields[1:])
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %w", name, n, fields[0], err)
		}
		sc.commands = append(sc.commands, command{line: n, text: strings.Join(fields, " "), apply: apply})
	}
	if len(sc.commands) == 0 {
		return nil, fmt.Errorf("%s: empty scenario", name)
	}
	return sc, nil
}

// Run runs the scenario with opts.Seed. A broken invariant or a failed
// expectation is returned as a *Violation; a script that cannot run (a
// bad node name, say) as another error.
func (sc *Scenario) Run(opts Options) (*Result, error) {
	s := newSim(sc.Name, opts)
	for _, c := range sc.commands {
		s.hist.record(fmt.Sprintf("script %d: %s", c.line, c.text))
		s.busy = true
		if err := c.apply(s); err != nil {
			return nil, fmt.Errorf("%s:%d: %s: %w", sc.Name, c.line, c.text, err)
		}
		if s.failure != nil {
			return nil, s.failure
		}
	}
	s.stabilize(defaultSettle)
	s.hist.endStep()
	if s.failure != nil {
		return nil, s.failure
	}
	return &Result{
		Steps:       s.step,
		SimTime:     s.elapsed(),
		History:     s.hist.hash(),
		StepDigests: s.hist.steps,
		Launched:    len(s.oracle.order),
		Ended:       s.oracle.count("", func(r *taskRecord) bool { return r.ended }),
		Stats:       s.stats,
	}, nil
}

type verbParser func(args []string) (func(s *Sim) error, error)

var verbs map[string]verbParser

func init() {
	verbs = map[string]verbParser{
		"masters":        parseMasters,
		"agents":         parseAgents,
		"frameworks":     parseFrameworks,
		"tick":           parseSetting(func(c *settings, d time.Duration) { c.tick = d }),
		"offer-timeout":  parseSetting(func(c *settings, d time.Duration) { c.offerTimeout = d }),
		"election-delay": parseSetting(func(c *settings, d time.Duration) { c.electionDelay = d }),
		"run":            parseRun,
		"kill-leader":    parseKillLeader,
		"restart":        parseRestart,
		"partition":      parsePartition,
		"heal":           parseHeal,
		"drop":           parseProbability(func(f *faults, p float64) { f.drop = p }),
		"cut":            parseProbability(func(f *faults, p float64) { f.cut = p }),
		"delay":          parseDelay,
		"cut-at":         parseCutAt,
		"decline-storm":  parseDeclineStorm,
		"set-quota":      parseSetQuota,
		"kill-tasks":     parseKillTasks,
		"stabilize":      parseStabilize,
		"expect":         parseExpect,
	}
}

func wantArgs(args []string, lo, hi int) error {
	if len(args) < lo || len(args) > hi {
		if lo == hi {
			return fmt.Errorf("want %d arguments, got %d", lo, len(args))
		}
		return fmt.Errorf("want %d to %d arguments, got %d", lo, hi, len(args))
	}
	return nil
}

func parseCount(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a count", s)
	}
	return n, nil
}

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q is not a duration", s)
	}
	return d, nil
}

// keyValues splits key=value arguments, refusing keys not in allowed.
func keyValues(args []string, allowed ...string) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if !ok || !slices.Contains(allowed, k) {
			return nil, fmt.Errorf("unexpected argument %q (want %s)", a, strings.Join(allowed, "=, ")+"=")
		}
		out[k] = v
	}
	return out, nil
}
