package master

import (
	"bytes"
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/protocol"
)

// TestOperatorSubscribeDeliversTaskLife: while an agent registers and a
// framework launches, runs and kills a task and is torn down, a subscriber
// gets SUBSCRIBED and then each change, in order. The JSON stream is
// recorded in testdata/operator/events.json.
func TestOperatorSubscribeDeliversTaskLife(t *testing.T) {
	for _, enc := range []wire.Encoding{wire.JSON, wire.Protobuf} {
		t.Run(enc.String(), func(t *testing.T) {
			m := startMaster(t, nil)
			sub := subscribeOperator(t, m, enc)
			first := sub.next()
			if first.GetType() != masterpb.Event_SUBSCRIBED || first.GetSubscribed().GetHeartbeatIntervalSeconds() != 15 ||
				len(first.GetSubscribed().GetGetState().GetGetAgents().GetAgents()) != 0 {
				t.Fatalf("first event %v", first.Event)
			}
			agent := startFakeAgent(t, m, "life.example", "cpus:2;mem:1024")
			s := subscribe(t, m, enc, frameworkInfo("life"))
			offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
			s.Launch(offer, commandTask("life-task", offer, "sleep 600"))
			agent.next(protocol.AgentEvent_RUN_TASK)
			agent.update(s.FrameworkID, "life-task", mesos.TaskState_TASK_RUNNING)
			s.Ack(s.NextUpdate())
			s.MustCall(&sched.Call{Type: sched.Call_KILL.Enum(), Kill: &sched.Call_Kill{TaskId: &mesos.TaskID{Value: proto.String("life-task")}}})
			agent.next(protocol.AgentEvent_KILL_TASK)
			agent.update(s.FrameworkID, "life-task", mesos.TaskState_TASK_KILLED)
			s.Ack(s.NextUpdate())
			s.MustCall(&sched.Call{Type: sched.Call_TEARDOWN.Enum()})

			want := []masterpb.Event_Type{masterpb.Event_AGENT_ADDED, masterpb.Event_FRAMEWORK_ADDED, masterpb.Event_TASK_ADDED,
				masterpb.Event_TASK_UPDATED, masterpb.Event_TASK_UPDATED, masterpb.Event_FRAMEWORK_REMOVED}
			var got []opEvent
			for range want {
				got = append(got, sub.next())
			}
			for i, ev := range got {
				if ev.GetType() != want[i] {
					t.Fatalf("event %d is %s, want %s (all: %v)", i, ev.GetType(), want[i], types(got))
				}
			}
			if st := got[2].GetTaskAdded().GetTask().GetState(); st != mesos.TaskState_TASK_STAGING {
				t.Errorf("TASK_ADDED state %s", st)
			}
			if u := got[3].GetTaskUpdated(); u.GetState() != mesos.TaskState_TASK_RUNNING || u.GetFrameworkId().GetValue() != s.FrameworkID {
				t.Errorf("first TASK_UPDATED %v", u)
			}
			if u := got[4].GetTaskUpdated(); u.GetState() != mesos.TaskState_TASK_KILLED || u.GetStatus().GetState() != mesos.TaskState_TASK_KILLED {
				t.Errorf("second TASK_UPDATED %v", u)
			}
			if enc == wire.JSON {
				var all bytes.Buffer
				for _, ev := range append([]opEvent{first}, got...) {
					all.Write(indent(t, normalizeOperator(m, ev.raw)))
				}
				checkGolden(t, "operator/events.json", all.Bytes())
			}

			// A later subscriber gets the state so far in SUBSCRIBED.
			late := subscribeOperator(t, m, enc).next()
			state := late.GetSubscribed().GetGetState()
			if len(state.GetGetAgents().GetAgents()) != 1 || len(state.GetGetFrameworks().GetCompletedFrameworks()) != 1 ||
				len(state.GetGetTasks().GetCompletedTasks()) != 1 {
				t.Fatalf("late SUBSCRIBED state %v", state)
			}
		})
	}
}

func types(evs []opEvent) []masterpb.Event_Type {
	var out []masterpb.Event_Type
	for _, ev := range evs {
		out = append(out, ev.GetType())
	}
	return out
}

// TestOperatorSubscribeHeartbeat: the first HEARTBEAT comes one heartbeat
// interval after SUBSCRIBED, not at once as on the scheduler stream.
func TestOperatorSubscribeHeartbeat(t *testing.T) {
	const interval = 300 * time.Millisecond
	m := startMaster(t, func(c *Config) { c.HeartbeatInterval = interval })
	sub := subscribeOperator(t, m, wire.JSON)
	subscribed := sub.next()
	if subscribed.GetSubscribed().GetHeartbeatIntervalSeconds() != interval.Seconds() {
		t.Fatalf("SUBSCRIBED %v", subscribed.Event)
	}
	hb := sub.next()
	if hb.GetType() != masterpb.Event_HEARTBEAT {
		t.Fatalf("second event %s, want HEARTBEAT", hb.GetType())
	}
	if gap := hb.at.Sub(subscribed.at); gap < interval*8/10 {
		t.Fatalf("first HEARTBEAT %s after SUBSCRIBED, want about %s", gap, interval)
	}
}

// TestOperatorSubscribersAreBounded: past maxOperatorSubscribers the
// oldest stream is closed.
func TestOperatorSubscribersAreBounded(t *testing.T) {
	m := startMaster(t, nil)
	var subs []*operatorSubscriber
	err := m.exec(context.Background(), func() {
		for range maxOperatorSubscribers + 1 {
			sub := &operatorSubscriber{conn: newOutboxConn[*masterpb.Event](&m.toFlush)}
			subs = append(subs, sub)
			m.addOperatorSubscriber(sub)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	m.exec(context.Background(), func() { n = len(m.ops.subscribers) })
	if n != maxOperatorSubscribers || !subs[0].conn.closed() || subs[1].conn.closed() {
		t.Fatalf("%d subscribers; oldest closed %v, second closed %v", n, subs[0].conn.closed(), subs[1].conn.closed())
	}
}
