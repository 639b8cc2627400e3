package master

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/agoraproject/agora/api/mesosjson"
	masterpb "github.com/agoraproject/agora/api/v1/master"
	"github.com/agoraproject/agora/api/wire"
)

// TestSplicedTasksEqualTheCodec: GET_STATE and GET_TASKS encoded from the
// tasks' caches are, in Mesos JSON, byte for byte what the codec writes
// for the whole answer, and in protobuf decode to the same answer; so are
// they the second time, from warm caches.
func TestSplicedTasksEqualTheCodec(t *testing.T) {
	m, _, _ := goldenCluster(t)
	s, err := m.Snapshot(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	lists := taskListsOf(s)
	if len(lists.tasks) < 2 || len(lists.completed) == 0 {
		t.Fatalf("the golden cluster should have running and completed tasks: %+v", lists)
	}
	// All three lists in use (unreachable_tasks comes after completed_tasks
	// by field number, before it in the proto file).
	lists.unreachable, lists.tasks = lists.tasks[:1], lists.tasks[1:]
	whole := response(masterpb.Response_GET_STATE)
	whole.GetState = getState(s)
	whole.GetState.GetTasks = &masterpb.Response_GetTasks{Tasks: taskProtos(lists.tasks),
		UnreachableTasks: taskProtos(lists.unreachable), CompletedTasks: taskProtos(lists.completed)}
	wantJSON, err := mesosjson.Marshal(whole)
	if err != nil {
		t.Fatal(err)
	}
	for round := range 2 {
		for _, enc := range []wire.Encoding{wire.JSON, wire.Protobuf} {
			resp, holder := response(masterpb.Response_GET_STATE), &masterpb.Response_GetTasks{}
			resp.GetState = &masterpb.Response_GetState{GetTasks: holder, GetExecutors: getExecutors(s),
				GetFrameworks: getFrameworks(s), GetAgents: getAgents(s)}
			got, err := encodeWithTasks(enc, resp, holder, []protoreflect.Name{"get_state", "get_tasks"}, lists)
			if err != nil {
				t.Fatal(err)
			}
			if enc == wire.JSON {
				if !bytes.Equal(got, wantJSON) {
					t.Errorf("round %d: spliced JSON differs from the codec's:\n%s\n%s", round, got, wantJSON)
				}
				continue
			}
			decoded := &masterpb.Response{}
			if err := proto.Unmarshal(got, decoded); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(decoded, whole) {
				t.Errorf("round %d: spliced protobuf decodes to\n%v\nwant\n%v", round, decoded, whole)
			}
		}
	}

	tasksOnly := response(masterpb.Response_GET_TASKS)
	tasksOnly.GetTasks = whole.GetState.GetTasks
	want, _ := mesosjson.Marshal(tasksOnly)
	resp, holder := response(masterpb.Response_GET_TASKS), &masterpb.Response_GetTasks{}
	resp.GetTasks = holder
	got, err := encodeWithTasks(wire.JSON, resp, holder, []protoreflect.Name{"get_tasks"}, lists)
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("GET_TASKS: %v\n%s\n%s", err, got, want)
	}
}

// TestOperatorSubscribedCarriesTheState: a subscriber that joins a cluster
// with tasks gets, as its first event, the state GET_STATE answers, in
// both encodings (both spliced from the tasks' encoding caches).
func TestOperatorSubscribedCarriesTheState(t *testing.T) {
	m, _, _ := goldenCluster(t)
	for _, enc := range []wire.Encoding{wire.JSON, wire.Protobuf} {
		t.Run(enc.String(), func(t *testing.T) {
			first := subscribeOperator(t, m, enc).next()
			_, resp, body := operator(t, m, enc, getCall(masterpb.Call_GET_STATE))
			got, err := mesosjson.Marshal(first.GetSubscribed().GetGetState())
			if err != nil {
				t.Fatal(err)
			}
			want, _ := mesosjson.Marshal(resp.GetGetState())
			if first.GetType() != masterpb.Event_SUBSCRIBED || len(first.GetSubscribed().GetGetState().GetGetTasks().GetTasks()) == 0 {
				t.Fatalf("first event %v", first.Event)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("SUBSCRIBED's state differs from GET_STATE's:\n%s\n%s\n(%s)", got, want, body)
			}
		})
	}
}
