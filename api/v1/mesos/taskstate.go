package mesos

// IsTerminal reports whether a task in state s is over for good: finished,
// failed, killed, errored, lost, dropped or gone, the terminal states of
// the v1 API. No update follows a terminal one.
func (s TaskState) IsTerminal() bool {
	switch s {
	case TaskState_TASK_FINISHED, TaskState_TASK_FAILED, TaskState_TASK_KILLED,
		TaskState_TASK_ERROR, TaskState_TASK_LOST, TaskState_TASK_DROPPED,
		TaskState_TASK_GONE, TaskState_TASK_GONE_BY_OPERATOR:
		return true
	}
	return false
}
