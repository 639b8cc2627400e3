package mesosjson

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenCase is a realistic message, the file holding its expected output
// (indented for review; the comparison is byte for byte), and facts about
// the compact output that the Mesos reference states.
type goldenCase struct {
	name       string
	msg        proto.Message
	mesosFacts []string
}

var goldenCases = []goldenCase{
	{
		name: "event_subscribed",
		msg:  sampleSubscribedEvent(),
		mesosFacts: []string{
			`{"type":"SUBSCRIBED","subscribed":{"framework_id":{"value":"`,
			`"heartbeat_interval_seconds":15.0`,
			`"ip":16842879,"port":5050,"pid":"master@127.0.0.1:5050"`,
			`"capabilities":[{"type":"AGENT_UPDATE"},{"type":"AGENT_DRAINING"},{"type":"QUOTA_V2"}]`,
		},
	},
	{
		name: "event_offers",
		msg:  sampleOffersEvent(2),
		mesosFacts: []string{
			`{"type":"OFFERS","offers":{"offers":[{"id":{"value":"`,
			`{"name":"cpus","type":"SCALAR","scalar":{"value":3.5},"allocation_info":{"role":"web"}}`,
			`{"name":"mem","type":"SCALAR","scalar":{"value":15360.0}`,
			`{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":32000}]}`,
			`"url":{"scheme":"http","address":{"hostname":"agent-0.example.com","ip":"10.0.0.1","port":5051},"path":"/slave(1)"}`,
			`{"name":"rack","type":"TEXT","text":{"value":"r0"}}`,
		},
	},
	{
		name: "event_update",
		msg:  sampleUpdateEvent(),
		mesosFacts: []string{
			`"state":"TASK_RUNNING"`,
			`"source":"SOURCE_EXECUTOR"`,
			`"uuid":"nzweS3oCTW6x+FXAKp3kFw=="`, // 16 raw bytes -> 24 base64 chars
			`"timestamp":1715000000.123456`,
			`"ip_addresses":[{"protocol":"IPv4","ip_address":"10.0.0.7"}]`, // declared default
		},
	},
	{
		name: "call_subscribe",
		msg:  sampleSubscribeCall(),
		mesosFacts: []string{
			`"failover_timeout":604800.0,"checkpoint":false,"roles":["web"]`,
			`"capabilities":[{"type":"MULTI_ROLE"},{"type":"PARTITION_AWARE"}]`,
		},
	},
}

func TestGolden(t *testing.T) {
	for _, tc := range goldenCases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Marshal(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			for _, fact := range tc.mesosFacts {
				if !bytes.Contains(out, []byte(fact)) {
					t.Errorf("output lacks %s\noutput: %s", fact, out)
				}
			}
			if strings.Contains(string(out), `"role":"*"`) {
				t.Errorf("deprecated defaulted Resource.role/FrameworkInfo.role written while unset: %s", out)
			}
			var pretty bytes.Buffer
			if err := json.Indent(&pretty, out, "", "  "); err != nil {
				t.Fatalf("output is not valid JSON: %v\n%s", err, out)
			}
			pretty.WriteByte('\n')
			path := filepath.Join("testdata", tc.name+".json")
			if *update {
				if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to record)", err)
			}
			if !bytes.Equal(pretty.Bytes(), want) {
				t.Errorf("output differs from %s (re-record with -update if intended)\ngot:\n%s", path, pretty.Bytes())
			}
			decoded := tc.msg.ProtoReflect().New().Interface()
			if err := Unmarshal(want, decoded); err != nil {
				t.Fatalf("decoding %s: %v", path, err)
			}
			if !proto.Equal(decoded, withDefaults(tc.msg)) {
				t.Errorf("decoding %s gave %v, want %v", path, decoded, tc.msg)
			}
		})
	}
}
