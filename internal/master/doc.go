// Package master is the Agora master: it keeps the cluster's agents,
// frameworks, tasks and offers, runs the allocator, and serves the Mesos v1
// scheduler API, the agent protocol and the Mesos read endpoints.
//
// # One writer
//
// All state is owned by one goroutine (loop in master.go). HTTP handlers
// decode and validate a request, then run a function on the loop (exec)
// and render what it returned; they never touch state themselves. Timers
// (failover timeouts, agent liveness) post functions to the loop too.
// Events for frameworks and agents are put in per-connection outboxes that
// never block the loop; each connection's handler goroutine encodes and
// writes them (conn.go). Readers get a Snapshot: a copy built on the loop
// only when the state changed, rendered off the loop (snapshot.go).
//
// # Offers are plans, ACCEPT re-checks
//
// The allocator (internal/allocator) decides who is offered what from its
// own incremental view. An ACCEPT is validated again against the live state
// (accept.go, validation.go): offers must still be outstanding and the
// tasks must fit, or they fail with TASK_LOST/DROPPED or TASK_ERROR.
//
// # Files
//
//	master.go          the Master, its loop, exec/post/after
//	frameworks.go      subscribe, failover, disconnect, removal
//	agents.go          agent registration, liveness, unreachable agents
//	offers.go          allocation, offers, rescind, decline, revive/suppress
//	accept.go          ACCEPT and LAUNCH
//	validation.go      TaskInfo/ExecutorInfo validation
//	tasks.go           task states, status updates, acknowledgements, kill
//	reconcile.go       implicit and explicit reconciliation
//	scheduler_http.go  POST /api/v1/scheduler
//	agent_http.go      POST /agora/v1/agent (docs/agent-protocol.md)
//	snapshot.go        read-only views for readers
//	state_*.go, http.go, metrics*.go  the read endpoints
//	operator.go        POST /api/v1, the operator API; operator_*.go its
//	                   calls (state, files, reservations and volumes,
//	                   maintenance, agents), events.go and
//	                   operator_subscribe.go its event stream
package master
