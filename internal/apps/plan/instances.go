package plan

import (
	"cmp"
	"slices"
	"time"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/internal/apps/constraints"
	"github.com/agoraproject/agora/internal/apps/spec"
)

// Instance is what the decision logic needs to know of one instance.
type Instance struct {
	ID string
	// Current is true when the instance runs the target config (its
	// version is not older than the app's lastConfigChangeAt).
	Current bool
	// GoalRunning is false once the instance is being decommissioned.
	GoalRunning bool
	// Scheduled is true while it waits for an offer (no live task).
	Scheduled bool
	// Live is true while it has a non-terminal task.
	Live bool
	// Healthy is true when it runs and passes its health checks (or has
	// none); Ready when it also passed its readiness check (or has none).
	Healthy, Ready bool
	// Condition ranks kill order: see conditionRank.
	Condition string
	// Unreachable and Inactive mark TASK_UNREACHABLE instances and those
	// past inactiveAfterSeconds.
	Unreachable, Inactive bool
	// Since is when it started running, or was staged/scheduled.
	Since time.Time
	// Values are the agent's constraint values (nil while scheduled).
	Values constraints.Values
}

// conditionRank orders victims: scheduled, unreachable, staging, starting,
// running, the rest.
func conditionRank(in Instance) int {
	switch {
	case in.Scheduled:
		return 0
	case in.Unreachable:
		return 1
	case in.Condition == "Provisioned" || in.Condition == "Staging":
		return 2
	case in.Condition == "Starting":
		return 3
	case in.Condition == "Running":
		return 4
	}
	return 5
}

// KillOrder sorts instances into the order they should be killed in:
// by condition, then by age per killSelection (YOUNGEST_FIRST: the latest
// started first).
func KillOrder(ins []Instance, killSelection string) []Instance {
	out := slices.Clone(ins)
	slices.SortStableFunc(out, func(a, b Instance) int {
		if c := cmp.Compare(conditionRank(a), conditionRank(b)); c != 0 {
			return c
		}
		if killSelection == spec.KillOldestFirst {
			return cmp.Or(a.Since.Compare(b.Since), cmp.Compare(a.ID, b.ID))
		}
		return cmp.Or(b.Since.Compare(a.Since), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// Scale is the outcome of a scaling decision.
type Scale struct {
	// Decommission lists the instances to stop, in kill order.
	Decommission []string
	// Start is how many new instances to schedule.
	Start int
}

// ScaleTo decides how to bring an app to target instances (reference
// §4.4). Candidates are instances with goal Running that are not
// unreachable-inactive; sentenced ones (kill & scale) go first, then picks
// that rebalance GROUP_BY constraints, then the kill order.
func ScaleTo(target int, ins []Instance, app *marathon.App, sentenced map[string]bool) Scale {
	var candidates []Instance
	for _, in := range ins {
		if in.GoalRunning && !in.Inactive {
			candidates = append(candidates, in)
		}
	}
	nSentenced := 0
	for _, c := range candidates {
		if sentenced[c.ID] {
			nSentenced++
		}
	}
	decommission := max(len(candidates)-target, nSentenced, 0)
	victims := pickVictims(candidates, decommission, app, sentenced)
	return Scale{Decommission: victims, Start: target - len(candidates) + decommission}
}

func pickVictims(candidates []Instance, n int, app *marathon.App, sentenced map[string]bool) []string {
	order := KillOrder(candidates, app.KillSelection)
	var out []string
	taken := map[string]bool{}
	take := func(in Instance) {
		out = append(out, in.ID)
		taken[in.ID] = true
	}
	for _, in := range order {
		if len(out) < n && sentenced[in.ID] {
			take(in)
		}
	}
	field := groupByField(app)
	for len(out) < n {
		var pick *Instance
		if field != "" {
			pick = fromLargestGroup(order, taken, field)
		}
		if pick == nil {
			for i := range order {
				if !taken[order[i].ID] {
					pick = &order[i]
					break
				}
			}
		}
		if pick == nil {
			break
		}
		take(*pick)
	}
	return out
}

func groupByField(app *marathon.App) string {
	for _, c := range app.Constraints {
		if c.Operator() == "GROUP_BY" {
			if c.Field() == "hostname" {
				return constraints.Hostname
			}
			return c.Field()
		}
	}
	return ""
}

// fromLargestGroup returns the first instance in order whose group (by
// field) is the largest among those not taken; scheduled instances (no
// group) come first since killing them costs nothing.
func fromLargestGroup(order []Instance, taken map[string]bool, field string) *Instance {
	counts := map[string]int{}
	for _, in := range order {
		if !taken[in.ID] && in.Values != nil {
			counts[in.Values[field]]++
		}
	}
	best := -1
	for i, in := range order {
		if taken[in.ID] {
			continue
		}
		if in.Values == nil {
			return &order[i]
		}
		if best < 0 || counts[in.Values[field]] > counts[order[best].Values[field]] {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	return &order[best]
}
