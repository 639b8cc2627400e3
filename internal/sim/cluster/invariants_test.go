package cluster

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/master"
	"github.com/agoraproject/agora/internal/registry"
	"github.com/agoraproject/agora/internal/resources"
)

// Each invariant must fire on a state that breaks it and stay quiet on one
// that does not: the checks are tested on hand-made views and deliveries.

func unitSim() *Sim { return newSim("unit", Options{Seed: 1}) }

func mustRes(t *testing.T, text string) resources.Resources {
	t.Helper()
	r, err := resources.Parse(text, "*")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func wantViolation(t *testing.T, s *Sim, invariant, fragment string) {
	t.Helper()
	switch {
	case s.failure == nil:
		t.Fatalf("no violation, want %q", invariant)
	case s.failure.Invariant != invariant || !strings.Contains(s.failure.Detail, fragment):
		t.Fatalf("got %v, want invariant %q mentioning %q", s.failure, invariant, fragment)
	}
}

func wantNoViolation(t *testing.T, s *Sim) {
	t.Helper()
	if s.failure != nil {
		t.Fatalf("unexpected violation: %v", s.failure)
	}
}

func offerView(t *testing.T, id, agent, res string) master.OfferView {
	return master.OfferView{ID: id, AgentID: agent, Resources: mustRes(t, res)}
}

func TestCheckOffers(t *testing.T) {
	agent := func(used, offered string) master.AgentView {
		return master.AgentView{ID: "a1", Info: &mesos.AgentInfo{Hostname: proto.String("h1")},
			Total: mustRes(t, "cpus:4;mem:1024"), Used: mustRes(t, used), Offered: mustRes(t, offered)}
	}
	t.Run("fits", func(t *testing.T) {
		s := unitSim()
		s.checkOffers(&master.Snapshot{
			Agents:     []master.AgentView{agent("cpus:1;mem:512", "cpus:3;mem:512")},
			Frameworks: []master.FrameworkView{{ID: "f1", Offers: []master.OfferView{offerView(t, "o1", "a1", "cpus:3;mem:512")}}},
		})
		wantNoViolation(t, s)
	})
	t.Run("over the total", func(t *testing.T) {
		s := unitSim()
		s.checkOffers(&master.Snapshot{
			Agents:     []master.AgentView{agent("cpus:2;mem:512", "cpus:3;mem:512")},
			Frameworks: []master.FrameworkView{{ID: "f1", Offers: []master.OfferView{offerView(t, "o1", "a1", "cpus:3;mem:512")}}},
		})
		wantViolation(t, s, "allocation", "exceed its total")
	})
	t.Run("one offer, two frameworks", func(t *testing.T) {
		s := unitSim()
		o := offerView(t, "o1", "a1", "cpus:1")
		s.checkOffers(&master.Snapshot{
			Agents:     []master.AgentView{agent("cpus:1", "cpus:1")},
			Frameworks: []master.FrameworkView{{ID: "f1", Offers: []master.OfferView{o}}, {ID: "f2", Offers: []master.OfferView{o}}},
		})
		wantViolation(t, s, "offers", "o1")
	})
	t.Run("offered accounting drifts", func(t *testing.T) {
		s := unitSim()
		s.checkOffers(&master.Snapshot{
			Agents:     []master.AgentView{agent("cpus:1", "cpus:1")},
			Frameworks: []master.FrameworkView{{ID: "f1", Offers: []master.OfferView{offerView(t, "o1", "a1", "cpus:2")}}},
		})
		wantViolation(t, s, "allocation", "counts")
	})
}

func TestOracleOffers(t *testing.T) {
	s := unitSim()
	offer := &mesos.Offer{Id: &mesos.OfferID{Value: proto.String("o1")}}
	s.oracle.offersDelivered("fw-1", []*mesos.Offer{offer})
	wantNoViolation(t, s)
	s.oracle.offersDelivered("fw-2", []*mesos.Offer{offer})
	wantViolation(t, s, "offers", "already delivered to fw-1")
}

func status(task string, state mesos.TaskState, uuid byte) *mesos.TaskStatus {
	st := &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String(task)}, State: state.Enum()}
	if uuid != 0 {
		st.Uuid = []byte{uuid, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	}
	return st
}

func TestOracleTasks(t *testing.T) {
	running, finished := mesos.TaskState_TASK_RUNNING, mesos.TaskState_TASK_FINISHED
	cases := []struct {
		name      string
		do        func(o *oracle)
		invariant string // "" for none
	}{
		{"a normal life, with duplicates", func(o *oracle) {
			o.taskStarted("agent-1", "t1")
			o.updateDelivered("fw-1", status("t1", running, 1))
			o.acknowledged(status("t1", running, 1))
			o.updateDelivered("fw-1", status("t1", running, 1))
			o.updateDelivered("fw-1", status("t1", finished, 2))
			o.updateDelivered("fw-1", status("t1", finished, 2))
			o.updateDelivered("fw-1", status("t1", finished, 0)) // reconciliation
		}, ""},
		{"started twice", func(o *oracle) {
			o.taskStarted("agent-1", "t1")
			o.taskStarted("agent-2", "t1")
		}, "tasks"},
		{"started unlaunched", func(o *oracle) { o.taskStarted("agent-1", "t9") }, "tasks"},
		{"ended twice", func(o *oracle) {
			o.updateDelivered("fw-1", status("t1", finished, 1))
			o.updateDelivered("fw-1", status("t1", mesos.TaskState_TASK_LOST, 0))
		}, "tasks"},
		{"running after it ended", func(o *oracle) {
			o.updateDelivered("fw-1", status("t1", mesos.TaskState_TASK_KILLED, 1))
			o.updateDelivered("fw-1", status("t1", running, 2))
		}, "tasks"},
		{"a uuid with another state", func(o *oracle) {
			o.updateDelivered("fw-1", status("t1", running, 1))
			o.updateDelivered("fw-1", status("t1", finished, 1))
		}, "acks"},
		{"an acknowledged update new again", func(o *oracle) {
			o.updateDelivered("fw-1", status("t1", running, 1))
			o.acknowledged(status("t1", running, 1))
			o.updateDelivered("fw-1", status("t1", running, 2))
		}, "acks"},
		{"someone else's task", func(o *oracle) { o.updateDelivered("fw-2", status("t1", running, 1)) }, "tasks"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := unitSim()
			s.oracle.taskLaunched("fw-1", "t1")
			c.do(s.oracle)
			if c.invariant == "" {
				wantNoViolation(t, s)
				return
			}
			wantViolation(t, s, c.invariant, "")
		})
	}
}

func TestCheckRegistry(t *testing.T) {
	s := unitSim()
	s.leader = &masterNode{name: "m1"}
	node := s.reg.Node("m1")
	s.reg.SetLeader("m1")
	info := &mesos.MasterInfo{Id: proto.String("m1-1"), Ip: proto.Uint32(1), Port: proto.Uint32(5050), Hostname: proto.String("m1")}
	agentInfo := &mesos.AgentInfo{Id: &mesos.AgentID{Value: proto.String("a1")}, Hostname: proto.String("h1")}
	if err := node.Apply(context.Background(), registry.SetMaster(info, "m1"), registry.AdmitAgent(&registry.Agent{Info: agentInfo})); err != nil {
		t.Fatal(err)
	}
	s.checkRegistry(&master.Snapshot{Agents: []master.AgentView{{ID: "a1"}}})
	wantNoViolation(t, s)

	s.checkRegistry(&master.Snapshot{Agents: []master.AgentView{{ID: "a1"}, {ID: "a2"}}})
	wantViolation(t, s, "registry", "a2")

	s = unitSim()
	s.reg, s.leader = registry.NewMemory(), &masterNode{name: "m1"}
	s.checkRegistry(&master.Snapshot{})
	wantViolation(t, s, "registry", "records")
}
