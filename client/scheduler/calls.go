package scheduler

import (
	"context"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
)

// Launch accepts one offer with a LAUNCH of tasks; what the tasks do not
// use is declined with the given filters (nil: the master's default).
func (c *Client) Launch(ctx context.Context, offerID *mesos.OfferID, tasks []*mesos.TaskInfo, filters *mesos.Filters) error {
	return c.Accept(ctx, []*mesos.OfferID{offerID}, []*mesos.Offer_Operation{{
		Type:   mesos.Offer_Operation_LAUNCH.Enum(),
		Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks},
	}}, filters)
}

// Accept accepts offers with operations.
func (c *Client) Accept(ctx context.Context, offerIDs []*mesos.OfferID, ops []*mesos.Offer_Operation, filters *mesos.Filters) error {
	return c.Call(ctx, &sched.Call{
		Type:   sched.Call_ACCEPT.Enum(),
		Accept: &sched.Call_Accept{OfferIds: offerIDs, Operations: ops, Filters: filters},
	})
}

// Decline declines offers; filters.refuse_seconds hides the agents for that
// long (nil: the default 5 s).
func (c *Client) Decline(ctx context.Context, offerIDs []*mesos.OfferID, filters *mesos.Filters) error {
	return c.Call(ctx, &sched.Call{
		Type:    sched.Call_DECLINE.Enum(),
		Decline: &sched.Call_Decline{OfferIds: offerIDs, Filters: filters},
	})
}

// Acknowledge acknowledges a status update. Updates without a uuid need
// none; for them it does nothing.
func (c *Client) Acknowledge(ctx context.Context, status *mesos.TaskStatus) error {
	if len(status.GetUuid()) == 0 {
		return nil
	}
	return c.Call(ctx, &sched.Call{
		Type: sched.Call_ACKNOWLEDGE.Enum(),
		Acknowledge: &sched.Call_Acknowledge{
			AgentId: status.GetAgentId(),
			TaskId:  status.GetTaskId(),
			Uuid:    status.GetUuid(),
		},
	})
}

// Kill kills a task, optionally overriding its kill policy.
func (c *Client) Kill(ctx context.Context, taskID *mesos.TaskID, agentID *mesos.AgentID, policy *mesos.KillPolicy) error {
	return c.Call(ctx, &sched.Call{
		Type: sched.Call_KILL.Enum(),
		Kill: &sched.Call_Kill{TaskId: taskID, AgentId: agentID, KillPolicy: policy},
	})
}

// Reconcile asks for the state of the given tasks, or of all the
// framework's tasks when none are given.
func (c *Client) Reconcile(ctx context.Context, tasks []*sched.Call_Reconcile_Task) error {
	return c.Call(ctx, &sched.Call{
		Type:      sched.Call_RECONCILE.Enum(),
		Reconcile: &sched.Call_Reconcile{Tasks: tasks},
	})
}

// Revive clears filters and suppression for roles (all when none given).
func (c *Client) Revive(ctx context.Context, roles ...string) error {
	return c.Call(ctx, &sched.Call{Type: sched.Call_REVIVE.Enum(), Revive: &sched.Call_Revive{Roles: roles}})
}

// Suppress stops offers for roles (all when none given).
func (c *Client) Suppress(ctx context.Context, roles ...string) error {
	return c.Call(ctx, &sched.Call{Type: sched.Call_SUPPRESS.Enum(), Suppress: &sched.Call_Suppress{Roles: roles}})
}

// Message sends data to an executor (best-effort).
func (c *Client) Message(ctx context.Context, agentID *mesos.AgentID, executorID *mesos.ExecutorID, data []byte) error {
	return c.Call(ctx, &sched.Call{
		Type:    sched.Call_MESSAGE.Enum(),
		Message: &sched.Call_Message{AgentId: agentID, ExecutorId: executorID, Data: data},
	})
}

// Shutdown stops an executor.
func (c *Client) Shutdown(ctx context.Context, executorID *mesos.ExecutorID, agentID *mesos.AgentID) error {
	return c.Call(ctx, &sched.Call{
		Type:     sched.Call_SHUTDOWN.Enum(),
		Shutdown: &sched.Call_Shutdown{ExecutorId: executorID, AgentId: agentID},
	})
}

// Teardown removes the framework: all its tasks are killed.
func (c *Client) Teardown(ctx context.Context) error {
	return c.Call(ctx, &sched.Call{Type: sched.Call_TEARDOWN.Enum()})
}

// UpdateFramework changes the framework's info and suppressed roles; later
// re-subscriptions use them too.
func (c *Client) UpdateFramework(ctx context.Context, info *mesos.FrameworkInfo, suppressedRoles []string) error {
	err := c.Call(ctx, &sched.Call{
		Type:            sched.Call_UPDATE_FRAMEWORK.Enum(),
		UpdateFramework: &sched.Call_UpdateFramework{FrameworkInfo: info, SuppressedRoles: suppressedRoles},
	})
	if err == nil {
		c.mu.Lock()
		c.cfg.Framework = proto.Clone(info).(*mesos.FrameworkInfo)
		c.cfg.SuppressedRoles = append([]string(nil), suppressedRoles...)
		c.mu.Unlock()
	}
	return err
}
