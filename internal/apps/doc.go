// Package apps is Agora's built-in Marathon: a Mesos framework like any
// other (it talks to the masters only through client/scheduler) that keeps
// N instances of each app running, deploys changes as rolling upgrades,
// health-checks instances, places them under constraints, backs off crash
// loops, and serves the Marathon REST API v2 (/v2/*, /ping, /metrics) with
// Marathon's JSON, codes and events.
//
// Design: one goroutine (the loop) owns the state. API handlers, scheduler
// events, probe results and timer ticks reach it as closures; each turn
// ends by advancing deployments, adjusting offer interest
// (revive/suppress), writing changed instances to the Store in one atomic
// write, and only then sending the turn's calls (LAUNCH, KILL, ...) to the
// master. Decisions live in pure sub-packages: spec (definitions), plan
// (deployment planner, rolling restart, scaling), constraints, launch
// (offer matching, TaskInfo), backoff and health (check state).
//
// Deployments are resumable: every action is recomputed from the instance
// tracker on every turn (plan.RestartStep and plan.ScaleTo are stateless),
// and the deployment's step index is stored; a new Framework on the same
// Store continues where the old one stopped after reconciling with the
// master.
//
// Instance lifecycle (goal Running unless decommissioned):
//
//	Scheduled --offer--> Provisioned --> Staging --> Starting --> Running
//	    ^                     |  (launch failed)                    |
//	    +---------------------+<-------- terminal, goal Running ----+
//	                               terminal, goal Decommissioned --> expunged
//	Running --TASK_UNREACHABLE--> Unreachable --inactiveAfter--> UnreachableInactive
//	    (replacement scheduled) --expungeAfter--> expunged (killed if it returns)
//
// Agora extensions (opt-in, documented in docs/apps.md): a deployment
// timeout with automatic rollback, and constraint checks that count
// instances of older versions during upgrades.
package apps
