package plan

import (
	"math"

	"github.com/agoraproject/agora/api/marathon"
)

// eps absorbs float error in instances × capacity (10 × 0.7 is
// 7.000000000000001).
const eps = 1e-9

// Capacity is the rolling-restart bounds of reference §4.3.
type Capacity struct {
	// MinHealthy is ceil(instances × minimumHealthCapacity): the healthy
	// instances kept throughout.
	MinHealthy int
	// MaxCapacity is floor(instances × (1 + maximumOverCapacity)), plus one
	// when it equals MinHealthy (so a strict upgrade can proceed one at a
	// time).
	MaxCapacity int
}

// Bounds computes the capacity bounds of a rolling restart.
func Bounds(instances int, s marathon.UpgradeStrategy) Capacity {
	n := float64(instances)
	c := Capacity{
		MinHealthy:  int(math.Ceil(n*s.MinimumHealthCapacity - eps)),
		MaxCapacity: int(math.Floor(n*(1+s.MaximumOverCapacity) + eps)),
	}
	if c.MinHealthy == c.MaxCapacity && instances > 0 {
		c.MaxCapacity++
	}
	return c
}

// Restart is one rolling-restart decision.
type Restart struct {
	// Kill lists old instances to decommission now (unhealthy first).
	Kill []string
	// Launch is how many new-config instances to schedule now.
	Launch int
	// Done is true when the restart is complete.
	Done bool
}

// RestartStep decides the next move of a rolling restart to instances
// new-config instances (reference §4.3, TaskReplaceActor). It is stateless:
// kills are bounded by the healthy count above MinHealthy, launches by
// MaxCapacity minus the old instances still alive and the new ones
// started; calling it after every change replays the same algorithm,
// including after a failover.
func RestartStep(instances int, s marathon.UpgradeStrategy, killSelection string, ins []Instance) Restart {
	bounds := Bounds(instances, s)
	var oldRunning []Instance
	// stopping counts old instances killed but not yet ended: the restart
	// ends when they have (Marathon's TaskReplaceActor waits for each old
	// instance to be terminal), except on an agent that is unreachable.
	oldLive, stopping, started, newReady, healthy := 0, 0, 0, 0, 0
	var out Restart
	for _, in := range ins {
		switch {
		case !in.Current && in.GoalRunning && !in.Live:
			// An old instance that died by itself is replaced, not relaunched.
			out.Kill = append(out.Kill, in.ID)
			continue
		case !in.Current && in.GoalRunning:
			oldRunning = append(oldRunning, in)
			if in.Healthy {
				healthy++
			}
		case in.Current && in.GoalRunning:
			started++
			if in.Healthy && in.Ready {
				newReady++
				healthy++
			}
		}
		if !in.Current && in.Live {
			oldLive++
			if !in.GoalRunning && !in.Unreachable {
				stopping++
			}
		}
	}
	// Healthy instances above MinHealthy may go; so may old instances
	// beyond the target (leftovers of a forced deployment) or beyond the
	// capacity.
	kill := max(0, healthy-bounds.MinHealthy, len(oldRunning)-instances, len(oldRunning)+started-bounds.MaxCapacity)
	for _, in := range unhealthyFirst(oldRunning, killSelection) {
		if kill == 0 {
			break
		}
		out.Kill = append(out.Kill, in.ID)
		kill--
	}
	out.Launch = max(0, min(instances-started, bounds.MaxCapacity-oldLive-started))
	out.Done = newReady >= instances && len(oldRunning) == 0 && len(out.Kill) == 0 && stopping == 0
	return out
}

func unhealthyFirst(ins []Instance, killSelection string) []Instance {
	var unhealthy, rest []Instance
	for _, in := range KillOrder(ins, killSelection) {
		if in.Healthy {
			rest = append(rest, in)
		} else {
			unhealthy = append(unhealthy, in)
		}
	}
	return append(unhealthy, rest...)
}
