package mesosjson

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"

	executor "github.com/agoraproject/agora/api/v1/executor"
	scheduler "github.com/agoraproject/agora/api/v1/scheduler"
)

// FuzzUnmarshal decodes arbitrary input as a scheduler.Call, an
// executor.Call and the test-only Kinds message (every other field kind).
// Decoding must never panic and must fail only with *Error;
// whatever decodes must encode, decode again to the same message (modulo
// the defaults the encoder writes) and encode to the same bytes.
func FuzzUnmarshal(f *testing.F) {
	seeds := []string{
		`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"root","name":"m","roles":["web"],"capabilities":[{"type":"MULTI_ROLE"}],"failover_timeout":"1e3","checkpoint":"true"}}}`,
		`{"framework_id":{"value":"f"},"type":"ACCEPT","accept":{"offer_ids":[{"value":"o"}],"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":0.1}}],"limits":{"cpus":{"value":Infinity}},"command":{"value":"sleep 1"}}]}}],"filters":{"refuse_seconds":-Infinity}}}`,
		`{"framework_id":{"value":"f"},"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"a"},"task_id":{"value":"t"},"uuid":"nzweS3oCTW6x+FXAKp3kFw=="}}`,
		`{"framework_id":{"value":"f"},"type":"DECLINE","decline":{"offer_ids":[{"value":"o1"},{"value":"o2"}],"filters":{"refuse_seconds":NaN}}}`,
		`{"type":"RECONCILE","reconcile":{"tasks":[{"task_id":{"value":"t"}}]},"framework_id":{"value":"f"},"x":[null,{"y":[]}]}`,
		`{"type":"UPDATE","framework_id":{"value":"f"},"executor_id":{"value":"e"},"update":{"status":{"task_id":{"value":"t"},"state":"TASK_RUNNING","uuid":"-__-AQ","timestamp":"1715000000.5","data":""}}}`,
		`{"type":"SUBSCRIBE","framework_id":{"value":"f"},"executor_id":{"value":"e"},"subscribe":{"unacknowledged_tasks":[{"name":"t","task_id":{"value":"t\u00e9\ud83d\ude00"},"agent_id":{"value":"a"}}],"unacknowledged_updates":[]}}`,
		`{"type":"KILL","kill":{"task_id":{"value":"t"},"kill_policy":{"grace_period":{"nanoseconds":9223372036854775807}}},"framework_id":{"value":"f"}}`,
		`{"type":null,"type":"TEARDOWN","framework_id":{"value":"f","value":"g"}}`,
		`{"a":` + strings.Repeat("[", 120) + strings.Repeat("]", 120) + `}`,
		`{"type":1}`,
		`{"s32":-3,"f64":"18446744073709551615","fl":"NaN","packed_s32":[-1,0,1],"colors":["RED","X"],"by_int":{"-5":"a","3":"b"},"by_bool":{"true":{"child":{}}},"by_fixed":{"1":"NOPE"}}`,
		`[]`,
		``,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, root := range []proto.Message{&scheduler.Call{}, &executor.Call{}, dynamicpb.NewMessage(kindsDescriptor)} {
			checkUnmarshalRoundTrip(t, root, data)
		}
	})
}

func checkUnmarshalRoundTrip(t *testing.T, root proto.Message, data []byte) {
	first := root.ProtoReflect().New().Interface()
	if err := Unmarshal(data, first); err != nil {
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("Unmarshal returned %T, want *Error: %v", err, err)
		}
		return
	}
	out, err := Marshal(first)
	if err != nil {
		t.Fatalf("decoded message does not encode: %v\ninput: %q", err, data)
	}
	second := root.ProtoReflect().New().Interface()
	if err := Unmarshal(out, second); err != nil {
		if strings.Contains(err.Error(), "nesting deeper than") && nestingDepth(out) > MaxDepth {
			return // a single value given for a list gains a '[' when re-encoded
		}
		t.Fatalf("re-decoding failed: %v\ninput:  %q\noutput: %s", err, data, out)
	}
	if !proto.Equal(second, withDefaults(first)) {
		t.Fatalf("decode(encode(m)) != m\ninput:  %q\noutput: %s", data, out)
	}
	again, err := Marshal(second)
	if err != nil || !bytes.Equal(again, out) {
		t.Fatalf("re-encoding differs (%v)\nfirst:  %s\nsecond: %s", err, out, again)
	}
}

// nestingDepth returns the deepest bracket nesting of a JSON document.
func nestingDepth(doc []byte) int {
	depth, deepest, inString := 0, 0, false
	for i := 0; i < len(doc); i++ {
		switch c := doc[i]; {
		case inString && c == '\\':
			i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}
