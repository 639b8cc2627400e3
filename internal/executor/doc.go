// Package executor is Agora's built-in executor: what the agent runs for
// every command task (the command executor) and for every task group (the
// default executor), either as a process of its own (`agora executor`) or
// as a goroutine of the agent's executor host (package executor/host; see
// Hosting). It speaks the executor side of the Mesos v1 executor HTTP API
// to its agent and runs each task's command as a child process in its own
// process group (in a host: its own session), or, for a task whose
// ContainerInfo is of type DOCKER, as a Docker container through the
// Engine API.
//
// Usage: the agent sets the MESOS_* environment; ConfigFromEnv reads it and
// Run does the rest, returning once every task is over and the agent has
// acknowledged its terminal update. What it is decides the first launch:
// LAUNCH makes it a command executor (one task), LAUNCH_GROUP the default
// executor (any number of groups; each task in a nested sandbox,
// <sandbox>/containers/<id>, linked from <sandbox>/tasks/<task id>; when a
// task of a group fails or is killed, the rest of its group is killed).
//
// Task states, as this executor reports them:
//
//	LAUNCH ──▶ STARTING ──▶ RUNNING ──────────────────────────▶ FINISHED (exit 0)
//	   │            │           │                         └───▶ FAILED (exit N, signal)
//	   │            │           ├─ health updates (RUNNING, healthy=…) / check updates
//	   │            │           ├─ KILL/SHUTDOWN ─▶ [KILLING] ─▶ KILLED
//	   │            │           ├─ unhealthy N times ─▶ [KILLING] ─▶ KILLED, healthy=false
//	   │            │           ├─ OOM in its container ─▶ FAILED (REASON_CONTAINER_LIMITATION_MEMORY)
//	   │            │           └─ max_completion_time ─▶ [KILLING] ─▶ FAILED
//	   │            └─ exec fails ─▶ FAILED (REASON_CONTAINER_LAUNCH_FAILED)
//	   └─ invalid (secret, unknown user) ─▶ FAILED
//
// KILLING is sent only to frameworks with TASK_KILLING_STATE. A kill sends
// SIGTERM to the task's process group and SIGKILL after the grace period (the
// KILL's kill policy, else the task's, else 3 s; a later KILL may only bring
// the SIGKILL closer). When the task's process exits, whatever is left of its
// group is SIGKILLed too. Health checks and checks are in health.go.
//
// Images: in a linux container whose task names an image, the agent's
// containerizer assembles the image's root filesystem in the container's
// mount namespace and says where (AGORA_TASK_ROOTFS, with the image's
// runtime configuration in AGORA_TASK_IMAGE_CONFIG): the executor stays on
// the host's filesystem and starts the task chrooted there, with the image's
// environment, entrypoint and cmd applied as Mesos does. There the executor
// is PID 1 of the container and reaps the orphans that come to it.
//
// Reliability: every update carries a fresh uuid and stays pending until the
// agent's ACKNOWLEDGED for it arrives. Updates are posted in order by one
// sender. When the event stream breaks, a checkpointing executor keeps its
// tasks running and re-subscribes with backoff (up to
// MESOS_SUBSCRIPTION_BACKOFF_MAX) for up to MESOS_RECOVERY_TIMEOUT, replaying
// the pending updates (and the tasks none of whose updates was
// acknowledged) in SUBSCRIBE; a non-checkpointing one kills its tasks and
// exits with ErrAgentLost.
package executor
