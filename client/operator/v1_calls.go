package operator

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/agoraproject/agora/api/v1/maintenance"
	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/quota"
)

// Typed wrappers of Call, one per operator call the CLI uses.

func (c *Client) getCall(ctx context.Context, t masterpb.Call_Type) (*masterpb.Response, error) {
	resp, err := c.Call(ctx, &masterpb.Call{Type: t.Enum()})
	if err == nil && resp == nil {
		err = fmt.Errorf("operator: %s: the master answered without a body", t)
	}
	return resp, err
}

// GetState is GET_STATE: tasks, executors, frameworks and agents.
func (c *Client) GetState(ctx context.Context) (*masterpb.Response_GetState, error) {
	resp, err := c.getCall(ctx, masterpb.Call_GET_STATE)
	return resp.GetGetState(), err
}

// GetAgents is GET_AGENTS.
func (c *Client) GetAgents(ctx context.Context) (*masterpb.Response_GetAgents, error) {
	resp, err := c.getCall(ctx, masterpb.Call_GET_AGENTS)
	return resp.GetGetAgents(), err
}

// GetFrameworks is GET_FRAMEWORKS.
func (c *Client) GetFrameworks(ctx context.Context) (*masterpb.Response_GetFrameworks, error) {
	resp, err := c.getCall(ctx, masterpb.Call_GET_FRAMEWORKS)
	return resp.GetGetFrameworks(), err
}

// GetTasks is GET_TASKS.
func (c *Client) GetTasks(ctx context.Context) (*masterpb.Response_GetTasks, error) {
	resp, err := c.getCall(ctx, masterpb.Call_GET_TASKS)
	return resp.GetGetTasks(), err
}

// GetMaster is GET_MASTER: the leading master's info and times.
func (c *Client) GetMaster(ctx context.Context) (*masterpb.Response_GetMaster, error) {
	resp, err := c.getCall(ctx, masterpb.Call_GET_MASTER)
	return resp.GetGetMaster(), err
}

// GetRoles is GET_ROLES.
func (c *Client) GetRoles(ctx context.Context) ([]*mesos.Role, error) {
	resp, err := c.getCall(ctx, masterpb.Call_GET_ROLES)
	return resp.GetGetRoles().GetRoles(), err
}

// GetWeights is GET_WEIGHTS: the roles whose weight is not 1.
func (c *Client) GetWeights(ctx context.Context) ([]*mesos.WeightInfo, error) {
	resp, err := c.getCall(ctx, masterpb.Call_GET_WEIGHTS)
	return resp.GetGetWeights().GetWeightInfos(), err
}

// UpdateWeights is UPDATE_WEIGHTS.
func (c *Client) UpdateWeights(ctx context.Context, weights map[string]float64) error {
	u := &masterpb.Call_UpdateWeights{}
	for role, w := range weights {
		u.WeightInfos = append(u.WeightInfos, &mesos.WeightInfo{Role: proto.String(role), Weight: proto.Float64(w)})
	}
	_, err := c.Call(ctx, &masterpb.Call{Type: masterpb.Call_UPDATE_WEIGHTS.Enum(), UpdateWeights: u})
	return err
}

// GetQuota is GET_QUOTA.
func (c *Client) GetQuota(ctx context.Context) (*quota.QuotaStatus, error) {
	resp, err := c.getCall(ctx, masterpb.Call_GET_QUOTA)
	return resp.GetGetQuota().GetStatus(), err
}

// UpdateQuota is UPDATE_QUOTA: all configs or none; force skips the check
// against current consumption.
func (c *Client) UpdateQuota(ctx context.Context, force bool, configs ...*quota.QuotaConfig) error {
	_, err := c.Call(ctx, &masterpb.Call{Type: masterpb.Call_UPDATE_QUOTA.Enum(),
		UpdateQuota: &masterpb.Call_UpdateQuota{Force: proto.Bool(force), QuotaConfigs: configs}})
	return err
}

// GetMaintenanceSchedule is GET_MAINTENANCE_SCHEDULE.
func (c *Client) GetMaintenanceSchedule(ctx context.Context) (*maintenance.Schedule, error) {
	resp, err := c.getCall(ctx, masterpb.Call_GET_MAINTENANCE_SCHEDULE)
	return resp.GetGetMaintenanceSchedule().GetSchedule(), err
}

// UpdateMaintenanceSchedule is UPDATE_MAINTENANCE_SCHEDULE: it replaces
// the whole schedule.
func (c *Client) UpdateMaintenanceSchedule(ctx context.Context, s *maintenance.Schedule) error {
	_, err := c.Call(ctx, &masterpb.Call{Type: masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE.Enum(),
		UpdateMaintenanceSchedule: &masterpb.Call_UpdateMaintenanceSchedule{Schedule: s}})
	return err
}

// GetMaintenanceStatus is GET_MAINTENANCE_STATUS.
func (c *Client) GetMaintenanceStatus(ctx context.Context) (*maintenance.ClusterStatus, error) {
	resp, err := c.getCall(ctx, masterpb.Call_GET_MAINTENANCE_STATUS)
	return resp.GetGetMaintenanceStatus().GetStatus(), err
}

// StartMaintenance is START_MAINTENANCE: the machines go down.
func (c *Client) StartMaintenance(ctx context.Context, machines ...*mesos.MachineID) error {
	_, err := c.Call(ctx, &masterpb.Call{Type: masterpb.Call_START_MAINTENANCE.Enum(),
		StartMaintenance: &masterpb.Call_StartMaintenance{Machines: machines}})
	return err
}

// StopMaintenance is STOP_MAINTENANCE: the machines come back up.
func (c *Client) StopMaintenance(ctx context.Context, machines ...*mesos.MachineID) error {
	_, err := c.Call(ctx, &masterpb.Call{Type: masterpb.Call_STOP_MAINTENANCE.Enum(),
		StopMaintenance: &masterpb.Call_StopMaintenance{Machines: machines}})
	return err
}

// DrainAgent is DRAIN_AGENT; maxGrace 0 leaves each task its own grace
// period.
func (c *Client) DrainAgent(ctx context.Context, agentID string, maxGrace time.Duration, markGone bool) error {
	d := &masterpb.Call_DrainAgent{AgentId: agentIDProto(agentID), MarkGone: proto.Bool(markGone)}
	if maxGrace > 0 {
		d.MaxGracePeriod = durationpb.New(maxGrace)
	}
	_, err := c.Call(ctx, &masterpb.Call{Type: masterpb.Call_DRAIN_AGENT.Enum(), DrainAgent: d})
	return err
}

// DeactivateAgent is DEACTIVATE_AGENT.
func (c *Client) DeactivateAgent(ctx context.Context, agentID string) error {
	_, err := c.Call(ctx, &masterpb.Call{Type: masterpb.Call_DEACTIVATE_AGENT.Enum(),
		DeactivateAgent: &masterpb.Call_DeactivateAgent{AgentId: agentIDProto(agentID)}})
	return err
}

// ReactivateAgent is REACTIVATE_AGENT.
func (c *Client) ReactivateAgent(ctx context.Context, agentID string) error {
	_, err := c.Call(ctx, &masterpb.Call{Type: masterpb.Call_REACTIVATE_AGENT.Enum(),
		ReactivateAgent: &masterpb.Call_ReactivateAgent{AgentId: agentIDProto(agentID)}})
	return err
}

// MarkAgentGone is MARK_AGENT_GONE.
func (c *Client) MarkAgentGone(ctx context.Context, agentID string) error {
	_, err := c.Call(ctx, &masterpb.Call{Type: masterpb.Call_MARK_AGENT_GONE.Enum(),
		MarkAgentGone: &masterpb.Call_MarkAgentGone{AgentId: agentIDProto(agentID)}})
	return err
}

// Teardown is TEARDOWN: the framework is removed and its tasks killed.
func (c *Client) Teardown(ctx context.Context, frameworkID string) error {
	_, err := c.Call(ctx, &masterpb.Call{Type: masterpb.Call_TEARDOWN.Enum(),
		Teardown: &masterpb.Call_Teardown{FrameworkId: &mesos.FrameworkID{Value: proto.String(frameworkID)}}})
	return err
}

// ReserveResources is RESERVE_RESOURCES (resources carry their dynamic
// reservation).
func (c *Client) ReserveResources(ctx context.Context, agentID string, res []*mesos.Resource) error {
	_, err := c.Call(ctx, &masterpb.Call{Type: masterpb.Call_RESERVE_RESOURCES.Enum(),
		ReserveResources: &masterpb.Call_ReserveResources{AgentId: agentIDProto(agentID), Resources: res}})
	return err
}

// UnreserveResources is UNRESERVE_RESOURCES.
func (c *Client) UnreserveResources(ctx context.Context, agentID string, res []*mesos.Resource) error {
	_, err := c.Call(ctx, &masterpb.Call{Type: masterpb.Call_UNRESERVE_RESOURCES.Enum(),
		UnreserveResources: &masterpb.Call_UnreserveResources{AgentId: agentIDProto(agentID), Resources: res}})
	return err
}

// CreateVolumes is CREATE_VOLUMES.
func (c *Client) CreateVolumes(ctx context.Context, agentID string, volumes []*mesos.Resource) error {
	_, err := c.Call(ctx, &masterpb.Call{Type: masterpb.Call_CREATE_VOLUMES.Enum(),
		CreateVolumes: &masterpb.Call_CreateVolumes{AgentId: agentIDProto(agentID), Volumes: volumes}})
	return err
}

// DestroyVolumes is DESTROY_VOLUMES.
func (c *Client) DestroyVolumes(ctx context.Context, agentID string, volumes []*mesos.Resource) error {
	_, err := c.Call(ctx, &masterpb.Call{Type: masterpb.Call_DESTROY_VOLUMES.Enum(),
		DestroyVolumes: &masterpb.Call_DestroyVolumes{AgentId: agentIDProto(agentID), Volumes: volumes}})
	return err
}

func agentIDProto(id string) *mesos.AgentID { return &mesos.AgentID{Value: proto.String(id)} }
