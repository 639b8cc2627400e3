// Package executor is the command executor: the process (`agora executor`)
// the agent starts for every command task. It speaks the executor side of
// the Mesos v1 executor HTTP API to its agent and runs the task's command as
// a child process in its own process group.
//
// Usage: the agent sets the MESOS_* environment; ConfigFromEnv reads it and
// Run does the rest, returning once the task is over and the agent has
// acknowledged its terminal update.
//
// Task states, as this executor reports them:
//
//	LAUNCH ──▶ STARTING ──▶ RUNNING ──────────────────────────▶ FINISHED (exit 0)
//	   │            │           │                         └───▶ FAILED (exit N, signal)
//	   │            │           ├─ KILL/SHUTDOWN ─▶ [KILLING] ─▶ KILLED
//	   │            │           └─ max_completion_time ─▶ [KILLING] ─▶ FAILED
//	   │            └─ exec fails ─▶ FAILED (REASON_CONTAINER_LAUNCH_FAILED)
//	   └─ invalid (secret, unknown user) ─▶ FAILED
//
// KILLING is sent only to frameworks with TASK_KILLING_STATE. A kill sends
// SIGTERM to the task's process group and SIGKILL after the grace period (the
// KILL's kill policy, else the task's, else 3 s; a later KILL may only bring
// the SIGKILL closer). When the task's process exits, whatever is left of its
// group is SIGKILLed too.
//
// Reliability: every update carries a fresh uuid and stays pending until the
// agent's ACKNOWLEDGED for it arrives. Updates are posted in order by one
// sender. When the event stream breaks, a checkpointing executor keeps the
// task running and re-subscribes with backoff (up to
// MESOS_SUBSCRIPTION_BACKOFF_MAX) for up to MESOS_RECOVERY_TIMEOUT, replaying
// the pending updates (and the task, if none of its updates was
// acknowledged) in SUBSCRIBE; a non-checkpointing one kills the task and
// exits with ErrAgentLost.
package executor
