package mesosjson

import (
	"errors"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	executor "github.com/agoraproject/agora/api/v1/executor"
	master "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	scheduler "github.com/agoraproject/agora/api/v1/scheduler"
)

func taskID(v string) *mesos.TaskID { return &mesos.TaskID{Value: proto.String(v)} }

func TestUnmarshalAccepts(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want proto.Message // decoded into a new message of the same type
	}{
		{
			name: "unknown keys ignored, whatever their value",
			in:   `{"value":"t","extra":{"a":[1,{"b":null},"x",true,-1.5e3,Infinity]},"more":[],"x":NaN}`,
			want: taskID("t"),
		},
		{
			name: "null is unset",
			in:   `{"task_id":{"value":"t"},"state":"TASK_RUNNING","message":null,"labels":null,"uuid":null}`,
			want: &mesos.TaskStatus{TaskId: taskID("t"), State: mesos.TaskState_TASK_RUNNING.Enum()},
		},
		{
			name: "null clears an earlier duplicate",
			in:   `{"value":"t","parent":{"value":"p"},"parent":null}`,
			want: &mesos.ContainerID{Value: proto.String("t")},
		},
		{
			name: "duplicate keys: last wins, messages replaced not merged",
			in:   `{"value":"a","parent":{"value":"p","parent":{"value":"q"}},"value":"b","parent":{"value":"r"}}`,
			want: &mesos.ContainerID{Value: proto.String("b"), Parent: &mesos.ContainerID{Value: proto.String("r")}},
		},
		{
			name: "duplicate repeated key replaces the list",
			in:   `{"item":["a","b"],"item":["c"]}`,
			want: &mesos.Value_Set{Item: []string{"c"}},
		},
		{
			name: "single value for a repeated field",
			in:   `{"item":"a"}`,
			want: &mesos.Value_Set{Item: []string{"a"}},
		},
		{
			name: "empty array",
			in:   `{"item":[]}`,
			want: &mesos.Value_Set{},
		},
		{
			name: "unknown enum name dropped in an optional field",
			in:   `{"task_id":{"value":"t"},"state":"TASK_RUNNING","source":"SOURCE_MOON"}`,
			want: &mesos.TaskStatus{TaskId: taskID("t"), State: mesos.TaskState_TASK_RUNNING.Enum()},
		},
		{
			name: "unknown enum name dropped from a repeated field",
			in:   `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","capabilities":[{"type":"MULTI_ROLE"}]}},"x":["NOPE"]}`,
			want: &scheduler.Call{Type: scheduler.Call_SUBSCRIBE.Enum(), Subscribe: &scheduler.Call_Subscribe{
				FrameworkInfo: &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"),
					Capabilities: []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE.Enum()}}}}},
		},
		{
			name: "numbers may be quoted",
			in:   `{"nanoseconds":"-1500000000000000000"}`,
			want: &mesos.TimeInfo{Nanoseconds: proto.Int64(-15e17)},
		},
		{
			name: "int64 beyond 2^53 exact",
			in:   `{"nanoseconds":9007199254740993}`,
			want: &mesos.TimeInfo{Nanoseconds: proto.Int64(1<<53 + 1)},
		},
		{
			name: "int64 extremes",
			in:   `{"begin":0,"end":18446744073709551615}`,
			want: &mesos.Value_Range{Begin: proto.Uint64(0), End: proto.Uint64(math.MaxUint64)},
		},
		{
			name: "int64 minimum",
			in:   `{"nanoseconds":-9223372036854775808}`,
			want: &mesos.TimeInfo{Nanoseconds: proto.Int64(math.MinInt64)},
		},
		{
			name: "integral values with fraction or exponent",
			in:   `{"begin":5.0,"end":1e3}`,
			want: &mesos.Value_Range{Begin: proto.Uint64(5), End: proto.Uint64(1000)},
		},
		{
			name: "negative zero for unsigned",
			in:   `{"begin":-0,"end":"0.0"}`,
			want: &mesos.Value_Range{Begin: proto.Uint64(0), End: proto.Uint64(0)},
		},
		{
			name: "bare Infinity",
			in:   `{"value":Infinity}`,
			want: &mesos.Value_Scalar{Value: proto.Float64(math.Inf(1))},
		},
		{
			name: "bare -Infinity",
			in:   `{"value":-Infinity}`,
			want: &mesos.Value_Scalar{Value: proto.Float64(math.Inf(-1))},
		},
		{
			name: "quoted Infinity",
			in:   `{"value":"Infinity"}`,
			want: &mesos.Value_Scalar{Value: proto.Float64(math.Inf(1))},
		},
		{
			name: "quoted -Infinity",
			in:   `{"value":"-Infinity"}`,
			want: &mesos.Value_Scalar{Value: proto.Float64(math.Inf(-1))},
		},
		{
			name: "bare NaN",
			in:   `{"value":NaN}`,
			want: &mesos.Value_Scalar{Value: proto.Float64(math.NaN())},
		},
		{
			name: "quoted NaN",
			in:   `{"value":"NaN"}`,
			want: &mesos.Value_Scalar{Value: proto.Float64(math.NaN())},
		},
		{
			name: "quoted double",
			in:   `{"value":"0.25"}`,
			want: &mesos.Value_Scalar{Value: proto.Float64(0.25)},
		},
		{
			name: "double underflow to zero",
			in:   `{"value":1e-400}`,
			want: &mesos.Value_Scalar{Value: proto.Float64(0)},
		},
		{
			name: "quoted bools",
			in:   `{"user":"u","name":"n","checkpoint":"true"}`,
			want: &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"), Checkpoint: proto.Bool(true)},
		},
		{
			name: "bytes: padded standard base64",
			in:   `{"task_id":{"value":"t"},"state":"TASK_RUNNING","data":"+//+AQ=="}`,
			want: &mesos.TaskStatus{TaskId: taskID("t"), State: mesos.TaskState_TASK_RUNNING.Enum(), Data: []byte{0xfb, 0xff, 0xfe, 1}},
		},
		{
			name: "bytes: unpadded",
			in:   `{"task_id":{"value":"t"},"state":"TASK_RUNNING","data":"+//+AQ"}`,
			want: &mesos.TaskStatus{TaskId: taskID("t"), State: mesos.TaskState_TASK_RUNNING.Enum(), Data: []byte{0xfb, 0xff, 0xfe, 1}},
		},
		{
			name: "bytes: URL-safe",
			in:   `{"task_id":{"value":"t"},"state":"TASK_RUNNING","data":"-__-AQ=="}`,
			want: &mesos.TaskStatus{TaskId: taskID("t"), State: mesos.TaskState_TASK_RUNNING.Enum(), Data: []byte{0xfb, 0xff, 0xfe, 1}},
		},
		{
			name: "bytes: empty",
			in:   `{"task_id":{"value":"t"},"state":"TASK_RUNNING","data":""}`,
			want: &mesos.TaskStatus{TaskId: taskID("t"), State: mesos.TaskState_TASK_RUNNING.Enum(), Data: []byte{}},
		},
		{
			name: "string escapes and surrogate pairs",
			in:   `{"key":"a\"\\\/\b\f\n\r\t\u00e9\u2603\ud83d\ude00","value":"\ud800x\udc00"}`,
			want: &mesos.Label{Key: proto.String("a\"\\/\b\f\n\r\té☃😀"), Value: proto.String("\ufffdx\ufffd")},
		},
		{
			name: "raw UTF-8",
			in:   `{"key":"é☃😀"}`,
			want: &mesos.Label{Key: proto.String("é☃😀")},
		},
		{
			name: "whitespace everywhere",
			in:   " \t\r\n{ \"value\" :\n\"t\" \t}\n ",
			want: taskID("t"),
		},
		{
			name: "map of messages",
			in:   `{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},"limits":{"cpus":{"value":Infinity},"mem":{"value":"128"}}}`,
			want: &mesos.TaskInfo{Name: proto.String("t"), TaskId: taskID("t"), AgentId: &mesos.AgentID{Value: proto.String("a")},
				Limits: map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(math.Inf(1))}, "mem": {Value: proto.Float64(128)}}},
		},
		{
			name: "google.protobuf.Duration object",
			in:   `{"agent_id":{"value":"a"},"max_grace_period":{"seconds":600,"nanos":5}}`,
			want: &master.Call_DrainAgent{AgentId: &mesos.AgentID{Value: proto.String("a")}, MaxGracePeriod: &durationpb.Duration{Seconds: 600, Nanos: 5}},
		},
		{
			name: "oneof member",
			in:   `{"pseudoattribute_type":"HOSTNAME","attribute_name":"rack"}`,
			want: &scheduler.AttributeConstraint_Selector{
				Selector: &scheduler.AttributeConstraint_Selector_AttributeName{AttributeName: "rack"}},
		},
		{
			name: "executor call",
			in:   `{"type":"MESSAGE","framework_id":{"value":"f"},"executor_id":{"value":"e"},"message":{"data":"aGk="}}`,
			want: &executor.Call{Type: executor.Call_MESSAGE.Enum(), FrameworkId: &mesos.FrameworkID{Value: proto.String("f")},
				ExecutorId: &mesos.ExecutorID{Value: proto.String("e")}, Message: &executor.Call_Message{Data: []byte("hi")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.want.ProtoReflect().New().Interface()
			if err := Unmarshal([]byte(tt.in), got); err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			if !proto.Equal(got, tt.want) {
				t.Errorf("Unmarshal =\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}

func TestUnmarshalRejects(t *testing.T) {
	tests := []struct {
		name string
		msg  proto.Message
		in   string
		want string // the complete error message
	}{
		{"missing required field, nested", &scheduler.Call{},
			`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"name":"x"}}}`,
			"mesosjson: missing required field 'subscribe.framework_info.user'"},
		{"missing required field in a list element", &scheduler.Call{},
			`{"type":"ACCEPT","accept":{"offer_ids":[{"value":"o1"},{}]}}`,
			"mesosjson: missing required field 'accept.offer_ids[1].value'"},
		{"missing required field in a map value", &mesos.TaskInfo{},
			`{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},"limits":{"cpus":{}}}`,
			`mesosjson: missing required field 'limits["cpus"].value'`},
		{"missing required field at top level", &mesos.TaskID{}, `{}`,
			"mesosjson: missing required field 'value'"},
		{"required field set to null", &mesos.TaskID{}, `{"value":null}`,
			"mesosjson: missing required field 'value'"},
		{"enum as a number", &scheduler.Call{}, `{"type":1}`,
			"mesosjson: field 'type' at offset 8: expected an enum value name (a string), got number 1"},
		{"unknown enum name in a required field", &mesos.TaskStatus{},
			`{"task_id":{"value":"t"},"state":"TASK_FLYING"}`,
			`mesosjson: field 'state' at offset 33: unknown value "TASK_FLYING" for enum mesos.v1.TaskState`},
		{"null in an array", &mesos.Value_Set{}, `{"item":["a",null]}`,
			"mesosjson: field 'item[1]' at offset 13: null is not allowed as a list element"},
		{"null map value", &mesos.TaskInfo{},
			`{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},"limits":{"cpus":null}}`,
			`mesosjson: field 'limits["cpus"]' at offset 78: null is not allowed as a map value`},
		{"int32 overflow", &mesos.Address{}, `{"port":2147483648}`,
			"mesosjson: field 'port' at offset 8: 2147483648 is out of range for int32"},
		{"int32 underflow", &mesos.Address{}, `{"port":-2147483649}`,
			"mesosjson: field 'port' at offset 8: -2147483649 is out of range for int32"},
		{"uint32 overflow", &mesos.Port{}, `{"number":4294967296}`,
			"mesosjson: field 'number' at offset 10: 4294967296 is out of range for uint32"},
		{"negative unsigned", &mesos.Port{}, `{"number":-1}`,
			"mesosjson: field 'number' at offset 10: -1 is out of range for uint32"},
		{"int64 overflow", &mesos.TimeInfo{}, `{"nanoseconds":9223372036854775808}`,
			"mesosjson: field 'nanoseconds' at offset 15: 9223372036854775808 is out of range for int64"},
		{"uint64 overflow", &mesos.Value_Range{}, `{"begin":18446744073709551616,"end":0}`,
			"mesosjson: field 'begin' at offset 9: 18446744073709551616 is out of range for uint64"},
		{"huge integer", &mesos.TimeInfo{}, `{"nanoseconds":1` + strings.Repeat("0", 400) + `}`,
			"mesosjson: field 'nanoseconds' at offset 15: 1000000000000000000000000000000000000000... is out of range for int64"},
		{"integer exponent overflow", &mesos.TimeInfo{}, `{"nanoseconds":1e999999999}`,
			"mesosjson: field 'nanoseconds' at offset 15: 1e999999999 is out of range for int64"},
		{"fractional integer", &mesos.TimeInfo{}, `{"nanoseconds":1.5}`,
			"mesosjson: field 'nanoseconds' at offset 15: 1.5 is not an integer"},
		{"Infinity for an integer", &mesos.TimeInfo{}, `{"nanoseconds":Infinity}`,
			`mesosjson: field 'nanoseconds' at offset 15: expected an integer, got "Infinity"`},
		{"double out of range", &mesos.Value_Scalar{}, `{"value":1e400}`,
			"mesosjson: field 'value' at offset 9: 1e400 is out of range for double"},
		{"non-numeric string for a number", &mesos.Value_Scalar{}, `{"value":"abc"}`,
			`mesosjson: field 'value' at offset 9: expected a number, got "abc"`},
		{"quoted number with spaces", &mesos.Value_Scalar{}, `{"value":" 1"}`,
			`mesosjson: field 'value' at offset 9: expected a number, got " 1"`},
		{"bool as a number", &mesos.FrameworkInfo{}, `{"checkpoint":1}`,
			"mesosjson: field 'checkpoint' at offset 14: expected true or false, got number 1"},
		{"bool as another string", &mesos.FrameworkInfo{}, `{"checkpoint":"yes"}`,
			`mesosjson: field 'checkpoint' at offset 14: expected true or false, got "yes"`},
		{"string as a number", &mesos.TaskID{}, `{"value":5}`,
			"mesosjson: field 'value' at offset 9: expected a string, got number 5"},
		{"object for a scalar", &mesos.TaskID{}, `{"value":{}}`,
			"mesosjson: field 'value' at offset 9: expected a string, got object"},
		{"scalar for a message", &mesos.ContainerID{}, `{"value":"v","parent":"p"}`,
			`mesosjson: field 'parent' at offset 22: expected an object, got string "p"`},
		{"array for a map", &mesos.TaskInfo{}, `{"limits":[]}`,
			"mesosjson: field 'limits' at offset 10: expected an object for a map field, got array"},
		{"invalid base64", &mesos.TaskStatus{}, `{"data":"a$b="}`,
			"mesosjson: field 'data' at offset 8: invalid base64 at byte 1"},
		{"top level array", &mesos.TaskID{}, `[]`,
			"mesosjson: at offset 0: expected a JSON object, got array"},
		{"top level null", &mesos.TaskID{}, `null`,
			"mesosjson: at offset 0: expected a JSON object, got null"},
		{"empty input", &mesos.TaskID{}, ``,
			"mesosjson: at offset 0: expected a JSON object, got end of input"},
		{"trailing data", &mesos.TaskID{}, `{"value":"t"} {}`,
			"mesosjson: at offset 14: unexpected object after the top-level object"},
		{"truncated", &mesos.TaskID{}, `{"value":"t"`,
			"mesosjson: at offset 12: expected ',' or '}', got end of input"},
		{"trailing comma", &mesos.TaskID{}, `{"value":"t",}`,
			"mesosjson: at offset 13: expected a string key, got character '}'"},
		{"single quotes", &mesos.TaskID{}, `{'value':'t'}`,
			`mesosjson: at offset 1: expected a string key, got character '\''`},
		{"missing colon", &mesos.TaskID{}, `{"value" "t"}`,
			`mesosjson: at offset 9: expected ':' after object key, got string "t"`},
		{"unterminated string", &mesos.TaskID{}, `{"value":"t`,
			"mesosjson: field 'value' at offset 11: unterminated string"},
		{"raw control character in a string", &mesos.TaskID{}, "{\"value\":\"a\nb\"}",
			`mesosjson: field 'value' at offset 11: control character '\n' in string (must be escaped)`},
		{"invalid escape", &mesos.TaskID{}, `{"value":"a\qb"}`,
			`mesosjson: field 'value' at offset 9: invalid escape sequence \q in string`},
		{"bad unicode escape", &mesos.TaskID{}, `{"value":"\u12g4"}`,
			`mesosjson: field 'value' at offset 9: invalid \u escape in string`},
		{"invalid UTF-8", &mesos.TaskID{}, "{\"value\":\"a\xffb\"}",
			"mesosjson: field 'value' at offset 9: string is not valid UTF-8"},
		{"invalid number", &mesos.Value_Scalar{}, `{"value":01}`,
			"mesosjson: field 'value' at offset 9: invalid number 01"},
		{"invalid literal", &mesos.FrameworkInfo{}, `{"checkpoint":True}`,
			"mesosjson: field 'checkpoint' at offset 14: expected true or false, got True"},
		{"invalid literal in an unknown field", &mesos.TaskID{}, `{"x":nul}`,
			"mesosjson: at offset 5: invalid literal nul"},
		{"bad syntax inside an unknown field", &mesos.TaskID{}, `{"x":[1 2]}`,
			"mesosjson: at offset 8: expected ',' or ']', got number 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Unmarshal([]byte(tt.in), tt.msg)
			if err == nil {
				t.Fatalf("Unmarshal succeeded: %v", tt.msg)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not *Error: %v", err, err)
			}
			if err.Error() != tt.want {
				t.Errorf("error =\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestUnmarshalDepthLimit(t *testing.T) {
	nested := func(depth int) string {
		// ContainerID.parent nests objects as deep as we like.
		return strings.Repeat(`{"value":"c","parent":`, depth-1) + `{"value":"c"}` + strings.Repeat("}", depth-1)
	}
	if err := Unmarshal([]byte(nested(MaxDepth)), &mesos.ContainerID{}); err != nil {
		t.Fatalf("depth %d rejected: %v", MaxDepth, err)
	}
	err := Unmarshal([]byte(nested(MaxDepth+1)), &mesos.ContainerID{})
	if err == nil || !strings.Contains(err.Error(), "nesting deeper than 100 levels") {
		t.Fatalf("depth %d: err = %v", MaxDepth+1, err)
	}
	// Unknown fields are skipped with the same bound, without recursion
	// blowing up on a million brackets.
	deep := `{"x":` + strings.Repeat("[", 1_000_000) + strings.Repeat("]", 1_000_000) + `}`
	err = Unmarshal([]byte(deep), &mesos.TaskID{})
	if err == nil || !strings.Contains(err.Error(), "nesting deeper than 100 levels") {
		t.Fatalf("a million brackets: err = %v", err)
	}
}

func TestUnmarshalResetsMessage(t *testing.T) {
	m := &mesos.TaskStatus{TaskId: taskID("old"), State: mesos.TaskState_TASK_FAILED.Enum(), Message: proto.String("stale")}
	if err := Unmarshal([]byte(`{"task_id":{"value":"new"},"state":"TASK_RUNNING"}`), m); err != nil {
		t.Fatal(err)
	}
	want := &mesos.TaskStatus{TaskId: taskID("new"), State: mesos.TaskState_TASK_RUNNING.Enum()}
	if !proto.Equal(m, want) {
		t.Fatalf("got %v, want %v (stale fields must be cleared)", m, want)
	}
}

func TestUnmarshalErrorFields(t *testing.T) {
	err := Unmarshal([]byte(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","checkpoint":7}}}`), &scheduler.Call{})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v", err)
	}
	if e.Path != "subscribe.framework_info.checkpoint" || e.Offset != 86 || e.Missing {
		t.Fatalf("Error{Path: %q, Offset: %d, Missing: %v}", e.Path, e.Offset, e.Missing)
	}
}

// TestUnmarshalLongValuesAndRepeatedKeys covers nested messages whose length
// needs a multi-byte prefix, and repeated keys whose earlier values (long or
// short, before or after other fields) must be replaced.
func TestUnmarshalLongValuesAndRepeatedKeys(t *testing.T) {
	long := strings.Repeat("x", 200)
	huge := strings.Repeat("y", 20000)
	in := `{"type":"UPDATE","framework_id":{"value":"` + huge + `"},"executor_id":{"value":"e"},` +
		`"update":{"status":{"task_id":{"value":"` + long + `"},"state":"TASK_RUNNING","message":"` + huge + `",` +
		`"labels":{"labels":[{"key":"` + long + `"},{"key":"k","value":"` + huge + `"}]},"message":"short",` +
		`"task_id":{"value":"t"},"labels":{"labels":[{"key":"` + long + `"}]}}},` +
		`"framework_id":{"value":"f"}}`
	want := &executor.Call{
		Type:        executor.Call_UPDATE.Enum(),
		FrameworkId: &mesos.FrameworkID{Value: proto.String("f")},
		ExecutorId:  &mesos.ExecutorID{Value: proto.String("e")},
		Update: &executor.Call_Update{Status: &mesos.TaskStatus{
			TaskId:  taskID("t"),
			State:   mesos.TaskState_TASK_RUNNING.Enum(),
			Message: proto.String("short"),
			Labels:  &mesos.Labels{Labels: []*mesos.Label{{Key: proto.String(long)}}},
		}},
	}
	got := &executor.Call{}
	if err := Unmarshal([]byte(in), got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, want) {
		t.Fatalf("got %v", got)
	}
}
