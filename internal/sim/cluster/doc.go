// Package cluster is Agora's deterministic cluster simulator: real master
// cores (internal/master, driven through its sim.go entry points), simulated
// agents and frameworks, all in one goroutine over an in-memory network,
// with a fake clock and one seeded random number generator.
//
// # What is simulated
//
//   - Masters: several master.Master values sharing one registry.Memory. The
//     simulator stands in for Raft's election: killing or isolating the
//     leader elects another after ElectionDelay (SetLeader, Elected(true)).
//     A follower answers calls with a redirect to the leader it knows, as
//     the HTTP handlers do.
//   - Agents speak the agent protocol (docs/agent-protocol.md) with a fake
//     containerizer: RUN_TASK gives TASK_RUNNING at once and TASK_FINISHED
//     after the framework's task duration; updates are re-sent until
//     acknowledged; a restarted agent re-subscribes with its tasks.
//   - Frameworks speak the scheduler API: subscribe, launch on offers,
//     decline, acknowledge every update, kill, reconcile, and re-subscribe
//     with their ID after a failover.
//   - The network carries every call, answer and stream event. Calls can be
//     dropped; a stream is reliable and ordered until it is cut; a
//     partitioned node's calls are lost and its streams stall until the
//     partition heals; delays are whole ticks.
//
// # Determinism
//
// Time is the fake Clock (timers fire in deadline order, ties in creation
// order) and all randomness comes from one math/rand/v2 PCG seeded from the
// scenario's seed. The master emits the events of one batch partly in map
// order, so each batch is put in a canonical order (stable, per entity)
// before it enters the network. Every step's observable events, sorted, are
// folded into a history hash: the same seed gives the same hash.
//
// # Invariants
//
// Checked after every step (and, for deliveries, as each event arrives);
// the first one broken ends the run with a *Violation naming the seed and
// the step:
//
//   - no offer is delivered twice or to two frameworks, and on every agent
//     the outstanding offers plus the resources in use fit its total;
//   - no offer takes a role above its quota limit, and a role's
//     consumption stays within the limit the scenario set (or within what
//     it already consumed when a forced limit was set, shrinking);
//   - every launched task reaches exactly one terminal state or keeps
//     running, and runs on at most one agent (a reconciliation answer that
//     the master no longer knows the task may follow its end);
//   - an acknowledged update is only ever seen again as the same update;
//   - one master leads, and the registry agrees with it (agents,
//     frameworks, the recorded leader);
//   - once the cluster is stable again (stabilize), no task has vanished:
//     each is ended for its framework or running on its agent and known to
//     the leader.
//
// # Scenarios
//
// Scenarios are small line-based scripts (internal/sim/testdata/scenarios/
// *.sim; scenario.go lists the verbs). The tests run each one for a fixed
// set of seeds; -seeds=N runs N random seeds more and prints any failing
// seed. Scenarios that reproduce master bugs not fixed yet live in
// scenarios/known-bugs: a test checks they still fail. README.md says how
// to run, read and add scenarios.
package cluster
