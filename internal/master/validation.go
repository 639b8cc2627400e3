package master

import (
	"errors"
	"fmt"
	"strings"
	"unicode"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/resources"
)

// launchPlan is a validated task: what it takes from the offer.
type launchPlan struct {
	taskResources     resources.Resources
	executorResources resources.Resources // only for a new executor
	newExecutor       *mesos.ExecutorInfo
}

// validateTask checks a TaskInfo as Mesos' master does and fills in what
// the master owns (allocation_info for non-MULTI_ROLE frameworks, the
// executor's framework_id). The error message is what the framework sees in
// TASK_ERROR.
func (m *Master) validateTask(fw *framework, ag *agent, role string, available resources.Resources, ti *mesos.TaskInfo) (launchPlan, error) {
	var plan launchPlan
	taskID := ti.GetTaskId().GetValue()
	if err := validateID("Task ID", taskID); err != nil {
		return plan, err
	}
	if t := fw.tasks[taskID]; t != nil {
		return plan, fmt.Errorf("Task has duplicate ID: '%s'", taskID)
	}
	if ti.GetAgentId().GetValue() != ag.id {
		return plan, fmt.Errorf("Task uses agent %s but the offer is for agent %s", ti.GetAgentId().GetValue(), ag.id)
	}
	if (ti.Executor == nil) == (ti.Command == nil) {
		return plan, errors.New("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present")
	}
	if ti.Command != nil && ti.GetCommand().GetShell() && ti.GetCommand().Value == nil {
		return plan, errors.New("Task's CommandInfo with 'shell' set needs a 'value'")
	}
	if ti.Command != nil && !ti.GetCommand().GetShell() && ti.GetCommand().Value == nil && !hasImage(ti.GetContainer()) {
		// In an image, no value runs the image's entrypoint and cmd.
		return plan, errors.New("Task's CommandInfo needs a 'value' (the program to run) unless its container has an image")
	}
	taskRes, err := m.taskResources(fw, role, ti.GetResources())
	if err != nil {
		return plan, fmt.Errorf("Task has invalid resources: %w", err)
	}
	if taskRes.IsEmpty() {
		return plan, errors.New("Task uses no resources")
	}
	ti.Resources = taskRes.ToProto(resources.PostRefinement)
	if !fw.caps.reservationRefinement {
		ti.Resources = taskRes.ToProto(resources.PreRefinement)
	}
	plan.taskResources = taskRes
	if ti.Executor != nil {
		if err := m.validateExecutor(fw, ag, role, ti, &plan); err != nil {
			return plan, err
		}
	}
	if err := validateKillPolicy(ti.GetKillPolicy()); err != nil {
		return plan, err
	}
	if ti.MaxCompletionTime != nil && ti.GetMaxCompletionTime().GetNanoseconds() < 0 {
		return plan, errors.New("Task's 'max_completion_time' must not be negative")
	}
	need := plan.taskResources.Add(plan.executorResources)
	if !available.Contains(need) {
		return plan, fmt.Errorf("Total resources %s required by task and its executor is more than available %s",
			need.String(), available.String())
	}
	return plan, nil
}

// taskResources validates resources and puts them in the offer's role.
func (m *Master) taskResources(fw *framework, role string, rs []*mesos.Resource) (resources.Resources, error) {
	res, err := resources.FromProto(rs)
	if err != nil {
		return res, err
	}
	if fw.caps.multiRole {
		for _, r := range rs {
			if r.GetAllocationInfo().GetRole() != role {
				return res, fmt.Errorf("resource %s has allocation role %q but the offer is for role %q",
					r.GetName(), r.GetAllocationInfo().GetRole(), role)
			}
		}
	} else {
		res = res.AllocatedTo(role)
	}
	if !res.Revocable().IsEmpty() && !res.NonRevocable().IsEmpty() {
		return res, errors.New("revocable and non-revocable resources cannot be mixed")
	}
	return res, nil
}

// validateExecutor checks a task's custom executor; a new one is charged to
// the plan, a running one must be the same executor.
func (m *Master) validateExecutor(fw *framework, ag *agent, role string, ti *mesos.TaskInfo, plan *launchPlan) error {
	e := ti.GetExecutor()
	eid := e.GetExecutorId().GetValue()
	if err := validateID("Executor ID", eid); err != nil {
		return err
	}
	switch {
	case e.FrameworkId == nil:
		e.FrameworkId = &mesos.FrameworkID{Value: ptr(fw.id)}
	case e.GetFrameworkId().GetValue() != fw.id:
		return fmt.Errorf("ExecutorInfo has an invalid FrameworkID (actual: %s vs expected: %s)", e.GetFrameworkId().GetValue(), fw.id)
	}
	if e.GetType() == mesos.ExecutorInfo_DEFAULT {
		return errors.New("an executor of type DEFAULT can only be used with LAUNCH_GROUP")
	}
	if e.Command == nil {
		return errors.New("ExecutorInfo must have a CommandInfo")
	}
	execRes, err := m.taskResources(fw, role, e.GetResources())
	if err != nil {
		return fmt.Errorf("Executor has invalid resources: %w", err)
	}
	e.Resources = execRes.ToProto(resources.PreRefinement)
	if existing := ag.executors[fw.id][eid]; existing != nil {
		if !sameExecutor(existing, e) {
			return fmt.Errorf("ExecutorInfo is not compatible with the one of the running executor '%s'", eid)
		}
		return nil
	}
	plan.newExecutor = e
	plan.executorResources = execRes
	return nil
}

// sameExecutor compares two ExecutorInfos as Mesos does for a task joining
// a running executor.
func sameExecutor(a, b *mesos.ExecutorInfo) bool {
	return proto.Equal(a.GetCommand(), b.GetCommand()) && proto.Equal(a.GetContainer(), b.GetContainer()) &&
		a.GetType() == b.GetType()
}

func validateKillPolicy(kp *mesos.KillPolicy) error {
	if kp != nil && kp.GracePeriod != nil && kp.GetGracePeriod().GetNanoseconds() < 0 {
		return errors.New("Task's 'kill_policy.grace_period' must not be negative")
	}
	return nil
}

// validateID applies Mesos' rules for task, executor, framework and agent
// IDs: non-empty, at most 255 bytes, not "." or "..", no control
// characters, '/' or '\'.
func validateID(kind, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s must not be empty", kind)
	case len(id) > 255:
		return fmt.Errorf("%s '%s...' is longer than 255 characters", kind, id[:32])
	case id == "." || id == "..":
		return fmt.Errorf("%s '%s' is invalid", kind, id)
	case strings.ContainsAny(id, "/\\"):
		return fmt.Errorf("%s '%s' contains a path separator", kind, id)
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		return fmt.Errorf("%s '%s' contains a control character", kind, id)
	}
	return nil
}

// hasImage reports whether a ContainerInfo runs an image (MESOS with an
// image, or DOCKER).
func hasImage(c *mesos.ContainerInfo) bool {
	return c.GetMesos().GetImage() != nil || c.GetDocker().GetImage() != ""
}
