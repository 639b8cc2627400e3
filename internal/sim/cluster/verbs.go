package cluster

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/quota"
	"github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/resources"
)

func parseMasters(args []string) (func(*Sim) error, error) {
	if err := wantArgs(args, 1, 1); err != nil {
		return nil, err
	}
	n, err := parseCount(args[0])
	if err != nil {
		return nil, err
	}
	return func(s *Sim) error { return s.addMasters(n) }, nil
}

func parseAgents(args []string) (func(*Sim) error, error) {
	if err := wantArgs(args, 2, 2); err != nil {
		return nil, err
	}
	n, err := parseCount(args[0])
	if err != nil {
		return nil, err
	}
	if _, err := resources.Parse(args[1], "*"); err != nil {
		return nil, err
	}
	return func(s *Sim) error {
		if len(s.masters) == 0 {
			return errors.New("start the masters first")
		}
		return s.addAgents(n, args[1])
	}, nil
}

func parseFrameworks(args []string) (func(*Sim) error, error) {
	if len(args) == 0 {
		return nil, errors.New("want a count")
	}
	n, err := parseCount(args[0])
	if err != nil {
		return nil, err
	}
	kv, err := keyValues(args[1:], "tasks", "cpus", "mem", "duration", "role", "refuse", "ack-delay", "failover-timeout", "reconcile")
	if err != nil {
		return nil, err
	}
	opts, err := frameworkOptionsFrom(kv)
	if err != nil {
		return nil, err
	}
	return func(s *Sim) error {
		if len(s.masters) == 0 {
			return errors.New("start the masters first")
		}
		return s.addFrameworks(n, opts)
	}, nil
}

func frameworkOptionsFrom(kv map[string]string) (frameworkOptions, error) {
	opts := defaultFrameworkOptions()
	var errs []error
	count := func(key string, into *int) {
		if v, ok := kv[key]; ok {
			n, err := parseCount(v)
			errs = append(errs, err)
			*into = n
		}
	}
	number := func(key string, into *float64) {
		if v, ok := kv[key]; ok {
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || x <= 0 {
				err = fmt.Errorf("%s=%q is not a positive number", key, v)
			}
			errs = append(errs, err)
			*into = x
		}
	}
	duration := func(key string, into *time.Duration) {
		if v, ok := kv[key]; ok {
			d, err := parseDuration(v)
			errs = append(errs, err)
			*into = d
		}
	}
	count("tasks", &opts.tasks)
	number("cpus", &opts.cpus)
	number("mem", &opts.mem)
	duration("duration", &opts.duration)
	duration("refuse", &opts.refuse)
	duration("ack-delay", &opts.ackDelay)
	duration("failover-timeout", &opts.failoverTimeout)
	duration("reconcile", &opts.reconcile)
	if role, ok := kv["role"]; ok {
		opts.role = role
	}
	if opts.reconcile <= 0 {
		errs = append(errs, errors.New("reconcile must be positive"))
	}
	return opts, errors.Join(errs...)
}

func parseSetting(set func(*settings, time.Duration)) verbParser {
	return func(args []string) (func(*Sim) error, error) {
		if err := wantArgs(args, 1, 1); err != nil {
			return nil, err
		}
		d, err := parseDuration(args[0])
		if err != nil {
			return nil, err
		}
		return func(s *Sim) error {
			if len(s.masters) > 0 {
				return errors.New("settings come before `masters`")
			}
			set(&s.cfg, d)
			if s.cfg.tick <= 0 || time.Second%s.cfg.tick != 0 {
				return fmt.Errorf("the tick must divide a second, not %s", s.cfg.tick)
			}
			return nil
		}, nil
	}
}

func parseRun(args []string) (func(*Sim) error, error) {
	if err := wantArgs(args, 1, 1); err != nil {
		return nil, err
	}
	d, err := parseDuration(args[0])
	if err != nil {
		return nil, err
	}
	return func(s *Sim) error { s.runFor(d); return nil }, nil
}

// downArg reads an optional down=D.
func downArg(args []string, def time.Duration) (time.Duration, error) {
	kv, err := keyValues(args, "down")
	if err != nil {
		return 0, err
	}
	if v, ok := kv["down"]; ok {
		return parseDuration(v)
	}
	return def, nil
}

func parseKillLeader(args []string) (func(*Sim) error, error) {
	down, err := downArg(args, 10*time.Second)
	if err != nil {
		return nil, err
	}
	return func(s *Sim) error {
		if s.leader == nil {
			return errors.New("no leader to kill")
		}
		s.restartMaster(s.leader, down)
		return nil
	}, nil
}

func parseRestart(args []string) (func(*Sim) error, error) {
	if len(args) == 0 {
		return nil, errors.New("want a node")
	}
	down, err := downArg(args[1:], time.Second)
	if err != nil {
		return nil, err
	}
	return func(s *Sim) error {
		name, err := s.nodeName(args[0])
		if err != nil {
			return err
		}
		s.hist.record("restart " + name)
		if mn := s.masterNamed(name); mn != nil {
			s.restartMaster(mn, down)
		} else if a := s.agentNamed(name); a != nil {
			a.restart(down)
		} else {
			s.frameworkNamed(name).failover(down)
		}
		return nil
	}, nil
}

// nodeName resolves a node argument: a node's name, or "leader" for the
// leading master.
func (s *Sim) nodeName(arg string) (string, error) {
	switch {
	case arg == "leader" && s.leader == nil:
		return "", errors.New("no leader now")
	case arg == "leader":
		return s.leader.name, nil
	case s.masterNamed(arg) != nil, s.agentNamed(arg) != nil, s.frameworkNamed(arg) != nil:
		return arg, nil
	}
	return "", fmt.Errorf("no node %q", arg)
}

// restartMaster kills a master process and starts a new one after down.
func (s *Sim) restartMaster(mn *masterNode, down time.Duration) {
	s.stopMaster(mn)
	s.clock.After(down, func() {
		if mn.alive {
			return
		}
		if err := s.startMaster(mn); err != nil {
			s.violate("masters", "%v", err)
		}
	})
}

func parsePartition(args []string) (func(*Sim) error, error) {
	if err := wantArgs(args, 2, 2); err != nil {
		return nil, err
	}
	d, err := parseDuration(args[1])
	if err != nil {
		return nil, err
	}
	return func(s *Sim) error {
		name, err := s.nodeName(args[0])
		if err != nil {
			return err
		}
		s.net.isolate(name, s.steps(d))
		if s.leader != nil && s.leader.name == name {
			s.scheduleElection()
		}
		return nil
	}, nil
}

func parseHeal(args []string) (func(*Sim) error, error) {
	if err := wantArgs(args, 0, 0); err != nil {
		return nil, err
	}
	return func(s *Sim) error { s.net.heal(); return nil }, nil
}

func parseProbability(set func(*faults, float64)) verbParser {
	return func(args []string) (func(*Sim) error, error) {
		if err := wantArgs(args, 1, 1); err != nil {
			return nil, err
		}
		p, err := strconv.ParseFloat(args[0], 64)
		if err != nil || p < 0 || p > 1 {
			return nil, fmt.Errorf("%q is not a probability", args[0])
		}
		return func(s *Sim) error { set(&s.net.faults, p); return nil }, nil
	}
}

func parseDelay(args []string) (func(*Sim) error, error) {
	if err := wantArgs(args, 1, 1); err != nil {
		return nil, err
	}
	n, err := parseCount(args[0])
	if err != nil {
		return nil, err
	}
	return func(s *Sim) error { s.net.faults.delay = n; return nil }, nil
}

func parseCutAt(args []string) (func(*Sim) error, error) {
	if err := wantArgs(args, 2, 2); err != nil {
		return nil, err
	}
	if _, agent := protocol.AgentEvent_Type_value[args[1]]; !agent {
		if _, fw := scheduler.Event_Type_value[args[1]]; !fw {
			return nil, fmt.Errorf("%q is not an event type", args[1])
		}
	}
	node, kind := args[0], args[1]
	return func(s *Sim) error {
		if s.agentNamed(node) == nil && s.frameworkNamed(node) == nil && !strings.HasPrefix(node, "agent-") && !strings.HasPrefix(node, "fw-") {
			return fmt.Errorf("no agent or framework %q", node)
		}
		s.net.cutAt[node] = kind
		return nil
	}, nil
}

func parseDeclineStorm(args []string) (func(*Sim) error, error) {
	if err := wantArgs(args, 0, 1); err != nil {
		return nil, err
	}
	d := 30 * time.Second
	if len(args) == 1 {
		var err error
		if d, err = parseDuration(args[0]); err != nil {
			return nil, err
		}
	}
	return func(s *Sim) error {
		for _, f := range s.frameworks {
			f.storm = true
		}
		s.clock.After(d, func() {
			for _, f := range s.frameworks {
				f.storm = false
			}
		})
		return nil
	}, nil
}

func parseSetQuota(args []string) (func(*Sim) error, error) {
	if len(args) == 0 {
		return nil, errors.New("want a role")
	}
	kv, err := keyValues(args[1:], "limits", "guarantees")
	if err != nil {
		return nil, err
	}
	cfg := &quota.QuotaConfig{Role: &args[0]}
	if cfg.Limits, err = scalars(kv["limits"]); err != nil {
		return nil, err
	}
	if cfg.Guarantees, err = scalars(kv["guarantees"]); err != nil {
		return nil, err
	}
	return func(s *Sim) error { return s.setQuota(cfg) }, nil
}

// scalars parses "cpus:4;mem:1024" into quota quantities.
func scalars(text string) (map[string]*mesos.Value_Scalar, error) {
	out := map[string]*mesos.Value_Scalar{}
	if text == "" {
		return out, nil
	}
	for _, part := range strings.Split(text, ";") {
		name, value, ok := strings.Cut(part, ":")
		x, err := strconv.ParseFloat(value, 64)
		if !ok || err != nil || x < 0 {
			return nil, fmt.Errorf("%q is not name:quantity", part)
		}
		out[name] = &mesos.Value_Scalar{Value: &x}
	}
	return out, nil
}

// setQuota is the operator's UPDATE_QUOTA (forced) to the leader.
func (s *Sim) setQuota(cfg *quota.QuotaConfig) error {
	if s.leader == nil || !s.leader.m.IsLeading() {
		return errors.New("no leading master to set quota on")
	}
	s.hist.record("set-quota " + cfg.GetRole())
	done, err := s.leader.m.UpdateQuota(true, cfg)
	s.collect(s.leader)
	if err != nil {
		return fmt.Errorf("UPDATE_QUOTA: %w", err)
	}
	select {
	case err = <-done:
		if err == nil {
			s.watchQuota(cfg)
		}
		return err
	default:
		return errors.New("UPDATE_QUOTA did not commit within its step")
	}
}

func parseKillTasks(args []string) (func(*Sim) error, error) {
	if err := wantArgs(args, 2, 2); err != nil {
		return nil, err
	}
	n, err := parseCount(args[1])
	if err != nil {
		return nil, err
	}
	name := args[0]
	return func(s *Sim) error {
		f := s.frameworkNamed(name)
		if f == nil {
			return fmt.Errorf("no framework %q", name)
		}
		f.kill(n)
		return nil
	}, nil
}

func parseStabilize(args []string) (func(*Sim) error, error) {
	if err := wantArgs(args, 0, 1); err != nil {
		return nil, err
	}
	limit := defaultSettle
	if len(args) == 1 {
		d, err := parseDuration(args[0])
		if err != nil {
			return nil, err
		}
		limit = d
	}
	return func(s *Sim) error { s.stabilize(limit); return nil }, nil
}

var expectation = regexp.MustCompile(`^(?:(fw-\d+)\.)?([a-z]+)\s*(>=|<=|=)\s*(\d+)$`)

func parseExpect(args []string) (func(*Sim) error, error) {
	m := expectation.FindStringSubmatch(strings.Join(args, " "))
	if m == nil {
		return nil, fmt.Errorf("%q is not KEY OP N", strings.Join(args, " "))
	}
	scope, key, op := m[1], m[2], m[3]
	want, _ := strconv.Atoi(m[4])
	if !slices.Contains([]string{"running", "launched", "finished", "killed", "lost", "unlaunched", "tasklost", "ended", "agents", "frameworks"}, key) {
		return nil, fmt.Errorf("unknown key %q", key)
	}
	return func(s *Sim) error {
		got, err := s.measure(scope, key)
		if err != nil {
			return err
		}
		ok := (op == "=" && got == want) || (op == ">=" && got >= want) || (op == "<=" && got <= want)
		if !ok {
			s.violate("expect", "expected %s%s%s%d, got %d", prefix(scope), key, op, want, got)
		}
		return nil
	}, nil
}

func prefix(scope string) string {
	if scope == "" {
		return ""
	}
	return scope + "."
}

// measure reads a quantity for `expect`: task counts from the leader or
// from what the frameworks saw, scoped to one framework if scope is set.
func (s *Sim) measure(scope, key string) (int, error) {
	if scope != "" && s.frameworkNamed(scope) == nil {
		return 0, fmt.Errorf("no framework %q", scope)
	}
	ended := func(pred func(mesos.TaskState) bool) int {
		return s.oracle.count(scope, func(r *taskRecord) bool { return r.ended && pred(r.endState) })
	}
	switch key {
	case "launched":
		return s.oracle.count(scope, func(*taskRecord) bool { return true }), nil
	case "ended":
		return ended(func(mesos.TaskState) bool { return true }), nil
	case "finished":
		return ended(func(st mesos.TaskState) bool { return st == mesos.TaskState_TASK_FINISHED }), nil
	case "killed":
		return ended(func(st mesos.TaskState) bool { return st == mesos.TaskState_TASK_KILLED }), nil
	case "lost":
		return s.oracle.count(scope, func(r *taskRecord) bool {
			return r.ended && r.agent != "" && r.endState != mesos.TaskState_TASK_FINISHED && r.endState != mesos.TaskState_TASK_KILLED
		}), nil
	case "tasklost":
		return s.stats.TaskLost, nil
	case "unlaunched":
		return s.oracle.count(scope, func(r *taskRecord) bool { return r.ended && r.agent == "" }), nil
	}
	if s.leader == nil || !s.leader.m.IsLeading() {
		return 0, errors.New("no leading master to ask")
	}
	return s.countAtLeader(scope, key), nil
}

func (s *Sim) countAtLeader(scope, key string) int {
	view := s.leader.m.View()
	n := 0
	switch key {
	case "agents":
		for _, ag := range view.Agents {
			if ag.Connected {
				n++
			}
		}
	case "frameworks":
		for _, fw := range view.Frameworks {
			if fw.Connected && (scope == "" || fw.Info.GetName() == scope) {
				n++
			}
		}
	case "running":
		for _, fw := range view.Frameworks {
			if scope != "" && fw.Info.GetName() != scope {
				continue
			}
			for _, t := range fw.Tasks {
				if t.State == mesos.TaskState_TASK_RUNNING {
					n++
				}
			}
		}
	}
	return n
}
