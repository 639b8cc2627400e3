package wire

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

func TestParseContentTypeIsExact(t *testing.T) {
	tests := []struct {
		header string
		want   Encoding
		ok     bool
	}{
		{"application/json", JSON, true},
		{"application/x-protobuf", Protobuf, true},
		{"application/json; charset=utf-8", JSON, false},
		{"application/json;charset=utf-8", JSON, false},
		{"Application/JSON", JSON, false},
		{" application/json", JSON, false},
		{"application/json ", JSON, false},
		{"application/x-protobuf; proto=mesos.v1.scheduler.Call", JSON, false},
		{"application/protobuf", JSON, false},
		{"application/recordio", JSON, false},
		{"text/plain", JSON, false},
		{"", JSON, false},
	}
	for _, tt := range tests {
		got, ok := ParseContentType(tt.header)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("ParseContentType(%q) = %v, %v; want %v, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}

func TestNegotiate(t *testing.T) {
	tests := []struct {
		accept string
		want   Encoding
		ok     bool
	}{
		{"", JSON, true},
		{"   ", JSON, true},
		{"*/*", JSON, true},
		{"application/*", JSON, true},
		{"application/json", JSON, true},
		{"application/x-protobuf", Protobuf, true},
		{"APPLICATION/X-PROTOBUF", Protobuf, true},
		{"application/x-protobuf, application/json", JSON, true},
		// Mesos prefers JSON whenever it is acceptable; qualities only
		// decide acceptability.
		{"application/x-protobuf;q=1.0, application/json;q=0.1", JSON, true},
		{"application/json;q=0, application/x-protobuf", Protobuf, true},
		{"application/json; q=0.0, application/x-protobuf; q=0.5", Protobuf, true},
		// The most specific range decides: an explicit q=0 beats a wildcard.
		{"application/json;q=0, */*", Protobuf, true},
		{"application/json;q=0, application/*;q=1", Protobuf, true},
		{"*/*;q=0, application/x-protobuf", Protobuf, true},
		{"text/html, */*;q=0.1", JSON, true},
		{"application/json;q=0, application/x-protobuf;q=0", JSON, false},
		{"*/*;q=0", JSON, false},
		{"text/html", JSON, false},
		{"text/html, application/xml;q=0.9", JSON, false},
		{"application/recordio", JSON, false},
		{"application/json;q=abc", Protobuf, false},
		{"application/json;q=abc, application/x-protobuf", Protobuf, true},
	}
	for _, tt := range tests {
		got, ok := Negotiate(tt.accept)
		if ok != tt.ok || (ok && got != tt.want) {
			t.Errorf("Negotiate(%q) = %v, %v; want %v, %v", tt.accept, got, ok, tt.want, tt.ok)
		}
	}
}

func TestEncodingContentType(t *testing.T) {
	if JSON.ContentType() != "application/json" || JSON.String() != "application/json" {
		t.Errorf("JSON content type = %q", JSON.ContentType())
	}
	if Protobuf.ContentType() != "application/x-protobuf" {
		t.Errorf("Protobuf content type = %q", Protobuf.ContentType())
	}
}

func TestEncodingsRoundTrip(t *testing.T) {
	in := &mesos.TaskStatus{
		TaskId: &mesos.TaskID{Value: proto.String("task-1")},
		State:  mesos.TaskState_TASK_RUNNING.Enum(),
		Uuid:   []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	}
	for _, enc := range []Encoding{JSON, Protobuf} {
		data, err := enc.Marshal(in)
		if err != nil {
			t.Fatalf("%v: Marshal: %v", enc, err)
		}
		out := &mesos.TaskStatus{}
		if err := enc.Unmarshal(data, out); err != nil {
			t.Fatalf("%v: Unmarshal: %v", enc, err)
		}
		if !proto.Equal(in, out) {
			t.Errorf("%v: round trip = %v, want %v", enc, out, in)
		}
	}
	if data, _ := JSON.Marshal(in); !strings.Contains(string(data), `"state":"TASK_RUNNING"`) {
		t.Errorf("JSON encoding is not Mesos JSON: %s", data)
	}
}

func TestUnmarshalEnforcesRequiredFields(t *testing.T) {
	// TaskStatus.task_id and state are required.
	partial := &mesos.TaskStatus{State: mesos.TaskState_TASK_RUNNING.Enum()}
	pb, err := proto.MarshalOptions{AllowPartial: true}.Marshal(partial)
	if err != nil {
		t.Fatal(err)
	}
	inputs := map[Encoding][]byte{
		JSON:     []byte(`{"state":"TASK_RUNNING"}`),
		Protobuf: pb,
	}
	for enc, data := range inputs {
		if err := enc.Unmarshal(data, &mesos.TaskStatus{}); err == nil {
			t.Errorf("%v: Unmarshal of a TaskStatus without task_id succeeded", enc)
		}
	}
}
