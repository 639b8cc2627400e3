package mesosjson

import (
	"errors"
	"math"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	master "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	scheduler "github.com/agoraproject/agora/api/v1/scheduler"
)

func TestMarshalRules(t *testing.T) {
	tests := []struct {
		name string
		msg  proto.Message
		want string
	}{
		{
			name: "snake_case keys in declaration order, not number order",
			// roles (12) is declared between role (6) and hostname (7).
			msg: &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"),
				Hostname: proto.String("h"), Roles: []string{"a", "b"}, WebuiUrl: proto.String("w")},
			want: `{"user":"u","name":"n","failover_timeout":0.0,"checkpoint":false,"roles":["a","b"],"hostname":"h","webui_url":"w"}`,
		},
		{
			name: "deprecated defaulted field written only when set",
			msg:  &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"), Role: proto.String("*")},
			want: `{"user":"u","name":"n","failover_timeout":0.0,"checkpoint":false,"role":"*"}`,
		},
		{
			name: "enum as name",
			msg:  &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String("t")}, State: mesos.TaskState_TASK_STAGING.Enum()},
			want: `{"task_id":{"value":"t"},"state":"TASK_STAGING"}`,
		},
		{
			name: "int64 beyond 2^53 as a bare number",
			msg:  &mesos.TimeInfo{Nanoseconds: proto.Int64(1<<62 + 1)},
			want: `{"nanoseconds":4611686018427387905}`,
		},
		{
			name: "negative int64",
			msg:  &mesos.TimeInfo{Nanoseconds: proto.Int64(math.MinInt64)},
			want: `{"nanoseconds":-9223372036854775808}`,
		},
		{
			name: "uint64 max",
			msg:  &mesos.Value_Range{Begin: proto.Uint64(0), End: proto.Uint64(math.MaxUint64)},
			want: `{"begin":0,"end":18446744073709551615}`,
		},
		{
			name: "integral double with .0",
			msg:  &mesos.Value_Scalar{Value: proto.Float64(2)},
			want: `{"value":2.0}`,
		},
		{
			name: "infinite double as a bare token",
			msg:  &mesos.Value_Scalar{Value: proto.Float64(math.Inf(1))},
			want: `{"value":Infinity}`,
		},
		{
			name: "bytes as padded standard base64",
			msg:  &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String("t")}, State: mesos.TaskState_TASK_RUNNING.Enum(), Data: []byte{0xfb, 0xff, 0xfe, 0x01}},
			want: `{"task_id":{"value":"t"},"state":"TASK_RUNNING","data":"+//+AQ=="}`,
		},
		{
			name: "empty repeated omitted, empty bytes written when set",
			msg:  &mesos.CommandInfo{Arguments: []string{}, Value: proto.String(""), Uris: nil},
			want: `{"shell":true,"value":""}`,
		},
		{
			name: "defaults: URI.extract, CommandInfo.shell",
			msg:  &mesos.CommandInfo{Uris: []*mesos.CommandInfo_URI{{Value: proto.String("http://x/y.tgz")}}},
			want: `{"uris":[{"value":"http://x/y.tgz","extract":true}],"shell":true}`,
		},
		{
			name: "explicit value overrides the default",
			msg:  &mesos.CommandInfo{Shell: proto.Bool(false), Value: proto.String("/bin/true")},
			want: `{"shell":false,"value":"/bin/true"}`,
		},
		{
			name: "defaults: Filters.refuse_seconds",
			msg:  &mesos.Filters{},
			want: `{"refuse_seconds":5.0}`,
		},
		{
			name: "defaults: HealthCheck timings",
			msg:  &mesos.HealthCheck{Type: mesos.HealthCheck_TCP.Enum(), Tcp: &mesos.HealthCheck_TCPCheckInfo{Port: proto.Uint32(80)}},
			want: `{"delay_seconds":15.0,"interval_seconds":10.0,"timeout_seconds":20.0,"consecutive_failures":3,"grace_period_seconds":10.0,"type":"TCP","tcp":{"protocol":"IPv4","port":80}}`,
		},
		{
			name: "defaults: AgentInfo.port",
			msg:  &mesos.AgentInfo{Hostname: proto.String("a")},
			want: `{"hostname":"a","port":5051}`,
		},
		{
			name: "defaults: MasterInfo.port (required with a default)",
			msg:  &mesos.MasterInfo{Id: proto.String("m"), Ip: proto.Uint32(0)},
			want: `{"id":"m","ip":0,"port":5050}`,
		},
		{
			name: "map with message values, keys sorted",
			msg: &mesos.TaskInfo{Name: proto.String("t"), TaskId: &mesos.TaskID{Value: proto.String("t")}, AgentId: &mesos.AgentID{Value: proto.String("a")},
				Limits: map[string]*mesos.Value_Scalar{"mem": {Value: proto.Float64(128)}, "cpus": {Value: proto.Float64(math.Inf(1))}}},
			want: `{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},"limits":{"cpus":{"value":Infinity},"mem":{"value":128.0}}}`,
		},
		{
			name: "google.protobuf.Duration as a plain object",
			msg:  &master.Call_DrainAgent{AgentId: &mesos.AgentID{Value: proto.String("a")}, MaxGracePeriod: durationpb.New(600e9)},
			want: `{"agent_id":{"value":"a"},"max_grace_period":{"seconds":600,"nanos":0},"mark_gone":false}`,
		},
		{
			name: "oneof member written as an ordinary field",
			msg: &scheduler.AttributeConstraint_Selector{
				Selector: &scheduler.AttributeConstraint_Selector_AttributeName{AttributeName: "rack"}},
			want: `{"attribute_name":"rack"}`,
		},
		{
			name: "string escaping",
			msg:  &mesos.Label{Key: proto.String("q\"b\\s/\n\r\t\b\f\x00\x1f\x7f"), Value: proto.String("é☃😀\u2028")},
			want: `{"key":"q\"b\\s/\n\r\t\b\f\u0000\u001f` + "\x7f" + `","value":"é☃😀` + "\u2028" + `"}`,
		},
		{
			name: "invalid UTF-8 replaced",
			msg:  &mesos.Label{Key: proto.String("a\xffb\xc3")},
			want: `{"key":"a\ufffdb\ufffd"}`,
		},
		{
			name: "empty message",
			msg:  &mesos.Labels{},
			want: `{}`,
		},
		{
			name: "typed nil message",
			msg:  (*mesos.Labels)(nil),
			want: `{}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Marshal(tt.msg)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("Marshal =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestAppendFloatMatchesRapidJSON(t *testing.T) {
	tests := []struct {
		v    float64
		want string
	}{
		{0, "0.0"},
		{math.Copysign(0, -1), "-0.0"},
		{1, "1.0"},
		{-1, "-1.0"},
		{15, "15.0"},
		{0.5, "0.5"},
		{0.1, "0.1"},
		{1.0 / 3, "0.3333333333333333"},
		{123.456, "123.456"},
		{1715000000.123456, "1715000000.123456"},
		{1e15, "1000000000000000.0"},
		{1e20, "100000000000000000000.0"},
		{1.5e20, "150000000000000000000.0"},
		{1e21, "1e21"},
		{1.5e21, "1.5e21"},
		{-2.5e300, "-2.5e300"},
		{1e-6, "0.000001"},
		{1.25e-6, "0.00000125"},
		{1e-7, "1e-7"},
		{-1.5e-7, "-1.5e-7"},
		{5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e308"},
		{math.Inf(1), "Infinity"},
		{math.Inf(-1), "-Infinity"},
		{math.NaN(), "NaN"},
	}
	for _, tt := range tests {
		if got := string(appendFloat(nil, tt.v, 64)); got != tt.want {
			t.Errorf("appendFloat(%v) = %s, want %s", tt.v, got, tt.want)
		}
	}
	if got := string(appendFloat(nil, float64(float32(0.1)), 32)); got != "0.1" {
		t.Errorf("float32 0.1 = %s, want 0.1 (shortest float32 digits)", got)
	}
}

func TestMarshalMissingRequiredField(t *testing.T) {
	msg := &scheduler.Event{
		Type: scheduler.Event_OFFERS.Enum(),
		Offers: &scheduler.Event_Offers{Offers: []*mesos.Offer{
			sampleOffer(0),
			{Id: &mesos.OfferID{Value: proto.String("o")}}, // no framework_id, agent_id, hostname
		}},
	}
	_, err := Marshal(msg)
	var e *Error
	if !errors.As(err, &e) || !e.Missing || e.Path != "offers.offers[1].framework_id" {
		t.Fatalf("err = %v, want missing offers.offers[1].framework_id", err)
	}
	if want := "mesosjson: missing required field 'offers.offers[1].framework_id'"; err.Error() != want {
		t.Errorf("message = %q, want %q", err, want)
	}
}

func TestMarshalInvalidEnumNumber(t *testing.T) {
	msg := &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String("t")}, State: mesos.TaskState(999).Enum()}
	_, err := Marshal(msg)
	if err == nil || err.Error() != "mesosjson: field 'state': enum mesos.v1.TaskState has no value 999" {
		t.Fatalf("err = %v", err)
	}
}

func TestAppendMarshal(t *testing.T) {
	prefix := []byte("20\n")
	out, err := AppendMarshal(prefix, &scheduler.Event{Type: scheduler.Event_HEARTBEAT.Enum()})
	if err != nil || string(out) != "20\n"+`{"type":"HEARTBEAT"}` {
		t.Fatalf("AppendMarshal = %q, %v", out, err)
	}
	bad := &mesos.TaskStatus{}
	out, err = AppendMarshal(prefix, bad)
	if err == nil || string(out) != "20\n" {
		t.Fatalf("AppendMarshal on error = %q, %v; want dst unchanged and an error", out, err)
	}
	if _, err := AppendMarshal(nil, nil); err == nil {
		t.Fatal("AppendMarshal(nil message) succeeded")
	}
}

func TestMarshalIsDeterministic(t *testing.T) {
	msg := &mesos.TaskInfo{Name: proto.String("t"), TaskId: &mesos.TaskID{Value: proto.String("t")}, AgentId: &mesos.AgentID{Value: proto.String("a")},
		Limits: map[string]*mesos.Value_Scalar{}}
	for i := range 20 {
		msg.Limits[string(rune('a'+i))] = &mesos.Value_Scalar{Value: proto.Float64(float64(i))}
	}
	first, err := Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		again, _ := Marshal(msg)
		if string(again) != string(first) {
			t.Fatalf("map output order changed:\n%s\n%s", first, again)
		}
	}
}
