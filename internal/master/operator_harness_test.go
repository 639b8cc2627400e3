package master

import (
	"net/http"
	"regexp"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/mesosjson"
	"github.com/agoraproject/agora/api/recordio"
	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/resources"
	"github.com/agoraproject/agora/internal/schedtest"
)

// Helpers for the operator API tests: calls in both encodings, the event
// stream, ACCEPTs with offer operations.

var timeInfoField = regexp.MustCompile(`"(registered_time|reregistered_time|unregistered_time|mtime|timestamp)":\{"nanoseconds":-?\d+\}`)

// normalizeOperator is normalize plus TimeInfo times.
func normalizeOperator(m *Master, b []byte) []byte {
	return timeInfoField.ReplaceAll(normalize(m, "", b), []byte(`"$1":{"nanoseconds":0}`))
}

// callBoth makes the call in JSON and in protobuf. Both must answer the
// same status; with a body, the protobuf answer re-encoded as JSON must be
// the JSON answer (times and IDs normalized). It returns the status and
// the normalized JSON body.
func callBoth(t *testing.T, m *Master, call *masterpb.Call) (int, []byte) {
	t.Helper()
	code, _, body := operator(t, m, wire.JSON, call)
	pcode, presp, _ := operator(t, m, wire.Protobuf, call)
	if code != pcode {
		t.Fatalf("%s: JSON answered %d (%s), protobuf %d", call.GetType(), code, body, pcode)
	}
	if code != http.StatusOK || body == "" {
		return code, []byte(body)
	}
	fromProto, err := mesosjson.Marshal(presp)
	if err != nil {
		t.Fatal(err)
	}
	got, want := normalizeOperator(m, fromProto), normalizeOperator(m, []byte(body))
	if string(got) != string(want) {
		t.Errorf("%s: protobuf and JSON answers differ:\nprotobuf: %s\njson:     %s", call.GetType(), got, want)
	}
	return code, want
}

// mustCall makes a call in enc and fails unless it answers want.
func mustCall(t *testing.T, m *Master, enc wire.Encoding, want int, call *masterpb.Call) *masterpb.Response {
	t.Helper()
	code, resp, body := operator(t, m, enc, call)
	if code != want {
		t.Fatalf("%s: %d %s, want %d", call.GetType(), code, body, want)
	}
	return resp
}

func getCall(t masterpb.Call_Type) *masterpb.Call { return &masterpb.Call{Type: t.Enum()} }

func agentIDOf(id string) *mesos.AgentID { return &mesos.AgentID{Value: proto.String(id)} }

// operatorStream is an open operator SUBSCRIBE stream.
type operatorStream struct {
	t      *testing.T
	events chan opEvent
}

// opEvent is a decoded operator event with its encoded bytes.
type opEvent struct {
	*masterpb.Event
	raw []byte
	at  time.Time
}

func subscribeOperator(t *testing.T, m *Master, enc wire.Encoding) *operatorStream {
	t.Helper()
	body, _ := enc.Marshal(getCall(masterpb.Call_SUBSCRIBE))
	resp := post(t, m, "/api/v1", body, map[string]string{"Content-Type": enc.ContentType(), "Accept": enc.ContentType()})
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != enc.ContentType() {
		t.Fatalf("operator SUBSCRIBE: %d %q %s", resp.StatusCode, resp.Header.Get("Content-Type"), readBody(t, resp))
	}
	s := &operatorStream{t: t, events: make(chan opEvent, 1024)}
	t.Cleanup(func() { resp.Body.Close() })
	go func() {
		defer close(s.events)
		r := recordio.NewReader(resp.Body, 0)
		for {
			rec, err := r.ReadRecord()
			if err != nil {
				return
			}
			ev := &masterpb.Event{}
			if err := enc.Unmarshal(rec, ev); err != nil {
				t.Errorf("decoding operator event %q: %v", rec, err)
				return
			}
			s.events <- opEvent{Event: ev, raw: rec, at: time.Now()}
		}
	}()
	return s
}

// next returns the next event, failing after waitFor.
func (s *operatorStream) next() opEvent {
	s.t.Helper()
	select {
	case ev, ok := <-s.events:
		if !ok {
			s.t.Fatal("operator stream ended")
		}
		return ev
	case <-time.After(waitFor):
		s.t.Fatal("no operator event")
	}
	return opEvent{}
}

// nextOf skips events until one of the given types.
func (s *operatorStream) nextOf(types ...masterpb.Event_Type) opEvent {
	s.t.Helper()
	for {
		ev := s.next()
		for _, want := range types {
			if ev.GetType() == want {
				return ev
			}
		}
	}
}

// accept sends an ACCEPT of one offer with operations and a refusal filter.
func accept(s *schedtest.Scheduler, offer *mesos.Offer, refuse float64, ops ...*mesos.Offer_Operation) {
	s.MustCall(&sched.Call{Type: sched.Call_ACCEPT.Enum(), Accept: &sched.Call_Accept{
		OfferIds:   []*mesos.OfferID{offer.GetId()},
		Operations: ops,
		Filters:    &mesos.Filters{RefuseSeconds: proto.Float64(refuse)},
	}})
}

func launchOp(tasks ...*mesos.TaskInfo) *mesos.Offer_Operation {
	return &mesos.Offer_Operation{Type: mesos.Offer_Operation_LAUNCH.Enum(), Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks}}
}

// reserved is res (text syntax) dynamically reserved to role by principal
// ops, in the post-refinement format.
func reserved(t testing.TB, res, role string) []*mesos.Resource {
	t.Helper()
	parsed, err := resources.Parse(res, "*")
	if err != nil {
		t.Fatal(err)
	}
	out := parsed.ToProto(resources.PostRefinement)
	for _, p := range out {
		p.Reservations = []*mesos.Resource_ReservationInfo{{
			Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: proto.String(role), Principal: proto.String("ops"),
		}}
	}
	return out
}

// volume is a persistent volume of size MB of disk reserved to role.
func volume(t testing.TB, size float64, role, id string) *mesos.Resource {
	t.Helper()
	v := reserved(t, "disk:1", role)[0]
	v.Scalar.Value = proto.Float64(size)
	v.Disk = &mesos.Resource_DiskInfo{
		Persistence: &mesos.Resource_DiskInfo_Persistence{Id: proto.String(id), Principal: proto.String("ops")},
		Volume:      &mesos.Volume{ContainerPath: proto.String("data"), Mode: mesos.Volume_RW.Enum()},
	}
	return v
}

// offerHas reports whether an offer holds all of want.
func offerHas(t *testing.T, offer *mesos.Offer, want []*mesos.Resource) bool {
	t.Helper()
	got, err := resources.FromProto(offer.GetResources())
	if err != nil {
		t.Fatal(err)
	}
	w, err := resources.FromProto(want)
	if err != nil {
		t.Fatal(err)
	}
	return got.Unallocated().Contains(w)
}

// nextOfferWith waits for an offer holding want, declining the others
// without a filter.
func nextOfferWith(t *testing.T, s *schedtest.Scheduler, want []*mesos.Resource) *mesos.Offer {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		ev, ok := s.NextWithin(time.Until(deadline), sched.Event_OFFERS)
		if !ok {
			break
		}
		for _, o := range ev.GetOffers().GetOffers() {
			if offerHas(t, o, want) {
				return o
			}
			s.Decline(0, o)
		}
	}
	t.Fatalf("no offer with %v", want)
	return nil
}

// checkpointEvent waits for the agent's next CHECKPOINT_RESOURCES.
func (a *fakeAgent) checkpointEvent() []*mesos.Resource {
	a.t.Helper()
	return a.next(protocol.AgentEvent_CHECKPOINT_RESOURCES).GetCheckpointResources().GetResources()
}
