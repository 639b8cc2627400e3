package registry

import (
	"maps"
	"slices"
	"time"

	"github.com/agoraproject/agora/api/v1/maintenance"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/quota"
	"google.golang.org/protobuf/proto"
)

// Constructors of operations, one per Operation field. Times are the
// caller's clock readings: the state machine never reads one.

// SetMaster records info as the leading master, written by Raft node nodeID.
func SetMaster(info *mesos.MasterInfo, nodeID string) *Operation {
	m := &LeadingMaster{Info: info, NodeId: &nodeID}
	return &Operation{Op: &Operation_SetMaster_{SetMaster: &Operation_SetMaster{Master: m}}}
}

// AdmitAgent admits a new agent.
func AdmitAgent(a *Agent) *Operation {
	return &Operation{Op: &Operation_AdmitAgent_{AdmitAgent: &Operation_AdmitAgent{Agent: a}}}
}

// UpdateAgent replaces an admitted agent's info and capabilities.
func UpdateAgent(info *mesos.AgentInfo, caps []*mesos.AgentInfo_Capability) *Operation {
	return &Operation{Op: &Operation_UpdateAgent_{UpdateAgent: &Operation_UpdateAgent{Info: info, Capabilities: caps}}}
}

// RemoveAgent forgets an admitted agent.
func RemoveAgent(id string) *Operation {
	return &Operation{Op: &Operation_RemoveAgent_{RemoveAgent: &Operation_RemoveAgent{Id: agentID(id)}}}
}

// MarkAgentUnreachable moves an admitted agent to the unreachable list.
func MarkAgentUnreachable(id string, now time.Time) *Operation {
	op := &Operation_MarkAgentUnreachable{Id: agentID(id), Time: TimeInfo(now)}
	return &Operation{Op: &Operation_MarkAgentUnreachable_{MarkAgentUnreachable: op}}
}

// MarkAgentReachable re-admits an unreachable agent.
func MarkAgentReachable(a *Agent) *Operation {
	return &Operation{Op: &Operation_MarkAgentReachable_{MarkAgentReachable: &Operation_MarkAgentReachable{Agent: a}}}
}

// MarkAgentGone moves an admitted or unreachable agent to the gone list.
func MarkAgentGone(id string, now time.Time) *Operation {
	op := &Operation_MarkAgentGone{Id: agentID(id), Time: TimeInfo(now)}
	return &Operation{Op: &Operation_MarkAgentGone_{MarkAgentGone: op}}
}

// DeactivateAgent deactivates an admitted agent.
func DeactivateAgent(id string) *Operation {
	return &Operation{Op: &Operation_DeactivateAgent_{DeactivateAgent: &Operation_DeactivateAgent{Id: agentID(id)}}}
}

// ReactivateAgent reactivates an admitted agent and ends its draining.
func ReactivateAgent(id string) *Operation {
	return &Operation{Op: &Operation_ReactivateAgent_{ReactivateAgent: &Operation_ReactivateAgent{Id: agentID(id)}}}
}

// DrainAgent starts draining an admitted agent.
func DrainAgent(id string, config *mesos.DrainConfig) *Operation {
	if config == nil {
		config = &mesos.DrainConfig{}
	}
	return &Operation{Op: &Operation_DrainAgent_{DrainAgent: &Operation_DrainAgent{Id: agentID(id), Config: config}}}
}

// MarkAgentDrained records that a draining agent is drained.
func MarkAgentDrained(id string) *Operation {
	return &Operation{Op: &Operation_MarkAgentDrained_{MarkAgentDrained: &Operation_MarkAgentDrained{Id: agentID(id)}}}
}

// Prune forgets unreachable agents, gone agents and completed frameworks
// marked more than maxAge before now, and the oldest beyond maxCount of
// each list (DefaultMaxAgentAge, DefaultMaxAgentCount).
func Prune(now time.Time, maxAge time.Duration, maxCount uint32) *Operation {
	op := &Operation_Prune{Now: TimeInfo(now), MaxAge: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(maxAge))}, MaxCount: &maxCount}
	return &Operation{Op: &Operation_Prune_{Prune: op}}
}

// UpdateWeights sets roles' weights.
func UpdateWeights(weights map[string]float64) *Operation {
	op := &Operation_UpdateWeights{}
	for _, role := range slices.Sorted(maps.Keys(weights)) {
		op.Weights = append(op.Weights, &Weight{Role: proto.String(role), Weight: proto.Float64(weights[role])})
	}
	return &Operation{Op: &Operation_UpdateWeights_{UpdateWeights: op}}
}

// UpdateQuota sets roles' quota configs (no guarantees and no limits: remove).
func UpdateQuota(configs ...*quota.QuotaConfig) *Operation {
	return &Operation{Op: &Operation_UpdateQuota_{UpdateQuota: &Operation_UpdateQuota{Configs: configs}}}
}

// UpdateSchedule replaces the maintenance schedule.
func UpdateSchedule(s *maintenance.Schedule) *Operation {
	if s == nil {
		s = &maintenance.Schedule{}
	}
	return &Operation{Op: &Operation_UpdateSchedule_{UpdateSchedule: &Operation_UpdateSchedule{Schedule: s}}}
}

// StartMaintenance takes scheduled machines down.
func StartMaintenance(machines ...*mesos.MachineID) *Operation {
	return &Operation{Op: &Operation_StartMaintenance_{StartMaintenance: &Operation_StartMaintenance{Machines: machines}}}
}

// StopMaintenance brings down machines back up and out of the schedule.
func StopMaintenance(machines ...*mesos.MachineID) *Operation {
	return &Operation{Op: &Operation_StopMaintenance_{StopMaintenance: &Operation_StopMaintenance{Machines: machines}}}
}

// AddMinimumCapability requires a capability of every master.
func AddMinimumCapability(c string) *Operation {
	op := &Operation_AddMinimumCapability{Capability: &c}
	return &Operation{Op: &Operation_AddMinimumCapability_{AddMinimumCapability: op}}
}

// RemoveMinimumCapability stops requiring a capability.
func RemoveMinimumCapability(c string) *Operation {
	op := &Operation_RemoveMinimumCapability{Capability: &c}
	return &Operation{Op: &Operation_RemoveMinimumCapability_{RemoveMinimumCapability: op}}
}

// AddFramework registers a framework (info.id set), connected at now.
func AddFramework(info *mesos.FrameworkInfo, now time.Time) *Operation {
	op := &Operation_AddFramework{Info: info, Time: TimeInfo(now)}
	return &Operation{Op: &Operation_AddFramework_{AddFramework: op}}
}

// UpdateFramework replaces a registered framework's info.
func UpdateFramework(info *mesos.FrameworkInfo) *Operation {
	return &Operation{Op: &Operation_UpdateFramework_{UpdateFramework: &Operation_UpdateFramework{Info: info}}}
}

// MarkFrameworkDisconnected records that a framework went away at now.
func MarkFrameworkDisconnected(id string, now time.Time) *Operation {
	op := &Operation_MarkFrameworkDisconnected{Id: frameworkID(id), Time: TimeInfo(now)}
	return &Operation{Op: &Operation_MarkFrameworkDisconnected_{MarkFrameworkDisconnected: op}}
}

// MarkFrameworkConnected records that a disconnected framework is back.
func MarkFrameworkConnected(id string) *Operation {
	op := &Operation_MarkFrameworkConnected{Id: frameworkID(id)}
	return &Operation{Op: &Operation_MarkFrameworkConnected_{MarkFrameworkConnected: op}}
}

// RemoveFramework removes a framework for good at now.
func RemoveFramework(id string, now time.Time) *Operation {
	op := &Operation_RemoveFramework{Id: frameworkID(id), Time: TimeInfo(now)}
	return &Operation{Op: &Operation_RemoveFramework_{RemoveFramework: op}}
}

// Put writes a key unconditionally.
func Put(namespace, key string, value []byte) *Operation {
	op := &Operation_Put{Namespace: &namespace, Key: &key, Value: value}
	return &Operation{Op: &Operation_Put_{Put: op}}
}

// PutIfVersion writes a key only if its version is version (0: only if it
// does not exist).
func PutIfVersion(namespace, key string, value []byte, version uint64) *Operation {
	op := Put(namespace, key, value)
	op.GetPut().ExpectedVersion = &version
	return op
}

// Delete removes a key (no-op if absent).
func Delete(namespace, key string) *Operation {
	return &Operation{Op: &Operation_Delete_{Delete: &Operation_Delete{Namespace: &namespace, Key: &key}}}
}

// DeleteIfVersion removes a key only if its version is version.
func DeleteIfVersion(namespace, key string, version uint64) *Operation {
	op := Delete(namespace, key)
	op.GetDelete().ExpectedVersion = &version
	return op
}

// TimeInfo converts a clock reading.
func TimeInfo(t time.Time) *mesos.TimeInfo {
	return &mesos.TimeInfo{Nanoseconds: proto.Int64(t.UnixNano())}
}

// TimeOf converts back; the zero time for nil.
func TimeOf(t *mesos.TimeInfo) time.Time {
	if t == nil {
		return time.Time{}
	}
	return time.Unix(0, t.GetNanoseconds())
}

func agentID(id string) *mesos.AgentID         { return &mesos.AgentID{Value: &id} }
func frameworkID(id string) *mesos.FrameworkID { return &mesos.FrameworkID{Value: &id} }
