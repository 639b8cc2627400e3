// Package schedtest is a Mesos v1 scheduler written against the HTTP API
// with net/http only, the way a third-party framework would be, for tests
// of masters: subscribe in either encoding, wait for events, make calls.
// It deliberately does not use client/scheduler.
package schedtest

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/recordio"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
)

// Wait is how long Next waits for an event.
var Wait = 15 * time.Second

// Scheduler is one subscribed framework.
type Scheduler struct {
	t           testing.TB
	master      string
	Enc         wire.Encoding
	Resp        *http.Response
	StreamID    string
	FrameworkID string
	events      chan Event
}

// Event is a decoded event with its raw encoded bytes.
type Event struct {
	*sched.Event
	Raw []byte
}

// FrameworkInfo is a minimal valid FrameworkInfo.
func FrameworkInfo(name string) *mesos.FrameworkInfo {
	return &mesos.FrameworkInfo{User: proto.String("root"), Name: proto.String(name)}
}

// Post sends a body with headers to master (host:port) + path.
func Post(t testing.TB, master, path string, body []byte, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://"+master+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// ReadBody reads and closes a response body.
func ReadBody(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Subscribe subscribes info (re-subscribes when info.id is set) and waits
// for SUBSCRIBED.
func Subscribe(t testing.TB, master string, enc wire.Encoding, info *mesos.FrameworkInfo) *Scheduler {
	t.Helper()
	s := Open(t, master, enc, info)
	if s.Resp.StatusCode != http.StatusOK {
		t.Fatalf("SUBSCRIBE: %d %s", s.Resp.StatusCode, ReadBody(t, s.Resp))
	}
	ev := s.Next(sched.Event_SUBSCRIBED)
	s.FrameworkID = ev.GetSubscribed().GetFrameworkId().GetValue()
	return s
}

// Open sends SUBSCRIBE and starts reading whatever comes back, without
// checking the answer.
func Open(t testing.TB, master string, enc wire.Encoding, info *mesos.FrameworkInfo) *Scheduler {
	t.Helper()
	call := &sched.Call{Type: sched.Call_SUBSCRIBE.Enum(), FrameworkId: info.Id,
		Subscribe: &sched.Call_Subscribe{FrameworkInfo: info}}
	body, err := enc.Marshal(call)
	if err != nil {
		t.Fatal(err)
	}
	resp := Post(t, master, "/api/v1/scheduler", body, map[string]string{
		"Content-Type": enc.ContentType(), "Accept": enc.ContentType(),
	})
	s := &Scheduler{t: t, master: master, Enc: enc, Resp: resp,
		StreamID: resp.Header.Get("Mesos-Stream-Id"), events: make(chan Event, 4096)}
	if resp.StatusCode == http.StatusOK {
		go s.read()
	} else {
		close(s.events)
	}
	t.Cleanup(s.Close)
	return s
}

func (s *Scheduler) read() {
	defer close(s.events)
	r := recordio.NewReader(s.Resp.Body, 0)
	for {
		rec, err := r.ReadRecord()
		if err != nil {
			return
		}
		ev := &sched.Event{}
		if err := s.Enc.Unmarshal(rec, ev); err != nil {
			s.t.Errorf("decoding event %q: %v", rec, err)
			return
		}
		s.events <- Event{Event: ev, Raw: rec}
	}
}

// Close drops the event stream, as a crashed framework would.
func (s *Scheduler) Close() { s.Resp.Body.Close() }

// Next returns the next event of one of the given types, skipping others
// (HEARTBEATs included unless asked for). It fails the test after Wait.
func (s *Scheduler) Next(types ...sched.Event_Type) Event {
	s.t.Helper()
	ev, ok := s.NextWithin(Wait, types...)
	if !ok {
		s.t.Fatalf("no %v event within %s", types, Wait)
	}
	return ev
}

// NextWithin is Next with its own deadline; ok is false when none came.
func (s *Scheduler) NextWithin(d time.Duration, types ...sched.Event_Type) (Event, bool) {
	s.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case ev, open := <-s.events:
			if !open {
				s.t.Fatalf("event stream ended while waiting for %v", types)
			}
			for _, want := range types {
				if ev.GetType() == want {
					return ev, true
				}
			}
		case <-deadline:
			return Event{}, false
		}
	}
}

// Call sends a non-SUBSCRIBE call with the stream ID and framework ID.
func (s *Scheduler) Call(call *sched.Call) *http.Response {
	s.t.Helper()
	if call.FrameworkId == nil {
		call.FrameworkId = &mesos.FrameworkID{Value: proto.String(s.FrameworkID)}
	}
	body, err := s.Enc.Marshal(call)
	if err != nil {
		s.t.Fatal(err)
	}
	return Post(s.t, s.master, "/api/v1/scheduler", body, map[string]string{
		"Content-Type": s.Enc.ContentType(), "Mesos-Stream-Id": s.StreamID,
	})
}

// MustCall sends a call that must be accepted (202, or 200).
func (s *Scheduler) MustCall(call *sched.Call) {
	s.t.Helper()
	resp := s.Call(call)
	body := ReadBody(s.t, resp)
	if resp.StatusCode != http.StatusAccepted && resp.StatusCode != http.StatusOK {
		s.t.Fatalf("%s: %d %s", call.GetType(), resp.StatusCode, body)
	}
}

// Launch accepts an offer with a LAUNCH of tasks.
func (s *Scheduler) Launch(offer *mesos.Offer, tasks ...*mesos.TaskInfo) {
	s.t.Helper()
	s.MustCall(&sched.Call{
		Type: sched.Call_ACCEPT.Enum(),
		Accept: &sched.Call_Accept{
			OfferIds: []*mesos.OfferID{offer.GetId()},
			Operations: []*mesos.Offer_Operation{{
				Type:   mesos.Offer_Operation_LAUNCH.Enum(),
				Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks},
			}},
		},
	})
}

// Decline declines offers with refuse_seconds.
func (s *Scheduler) Decline(refuseSeconds float64, offers ...*mesos.Offer) {
	s.t.Helper()
	var ids []*mesos.OfferID
	for _, o := range offers {
		ids = append(ids, o.GetId())
	}
	s.MustCall(&sched.Call{Type: sched.Call_DECLINE.Enum(), Decline: &sched.Call_Decline{
		OfferIds: ids, Filters: &mesos.Filters{RefuseSeconds: proto.Float64(refuseSeconds)}}})
}

// Ack acknowledges a status update; updates without a uuid (the master's
// own) need none and are skipped.
func (s *Scheduler) Ack(status *mesos.TaskStatus) {
	s.t.Helper()
	if len(status.GetUuid()) == 0 {
		return
	}
	s.MustCall(&sched.Call{
		Type: sched.Call_ACKNOWLEDGE.Enum(),
		Acknowledge: &sched.Call_Acknowledge{
			AgentId: status.GetAgentId(), TaskId: status.GetTaskId(), Uuid: status.GetUuid(),
		},
	})
}

// NextUpdate returns the next UPDATE's status.
func (s *Scheduler) NextUpdate() *mesos.TaskStatus {
	s.t.Helper()
	return s.Next(sched.Event_UPDATE).GetUpdate().GetStatus()
}

// Scalar is a scalar resource.
func Scalar(name string, v float64) *mesos.Resource {
	return &mesos.Resource{
		Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(),
		Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)},
	}
}

// CommandTask is a shell command task using 0.1 cpus and 32 MB of offer.
func CommandTask(id string, offer *mesos.Offer, cmd string) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name:      proto.String(id),
		TaskId:    &mesos.TaskID{Value: proto.String(id)},
		AgentId:   offer.GetAgentId(),
		Resources: []*mesos.Resource{Scalar("cpus", 0.1), Scalar("mem", 32)},
		Command:   &mesos.CommandInfo{Value: proto.String(cmd)},
	}
}
