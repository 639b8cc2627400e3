package mesosjson

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// TestRoundTrip: for random messages of every API root type,
// Unmarshal(Marshal(m)) equals m once m's unset defaulted fields are filled
// in, and re-encoding gives the same bytes.
func TestRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		root := rapid.SampledFrom(rootMessages).Draw(t, "root")
		gen := &messageGen{t: t, maxDepth: 4}
		m := gen.draw(root)
		out, err := Marshal(m)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		got := root.ProtoReflect().New().Interface()
		if err := Unmarshal(out, got); err != nil {
			t.Fatalf("Unmarshal: %v\n%s", err, out)
		}
		if !proto.Equal(got, withDefaults(m)) {
			t.Fatalf("round trip changed the message\nout: %s\ngot: %v\nwant: %v", out, got, m)
		}
		again, err := Marshal(got)
		if err != nil || !bytes.Equal(again, out) {
			t.Fatalf("re-encoding differs (%v)\nfirst:  %s\nsecond: %s", err, out, again)
		}
	})
}

// TestOutputIsStandardJSON: with finite doubles, the output is RFC 8259
// JSON that a standard parser accepts, and a client decoding numbers as
// json.Number sees every integer exactly.
func TestOutputIsStandardJSON(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		root := rapid.SampledFrom(rootMessages).Draw(t, "root")
		gen := &messageGen{t: t, maxDepth: 3, finite: true}
		out, err := Marshal(gen.draw(root))
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("encoding/json rejects the output: %v\n%s", err, out)
		}
	})
}

// TestTolerantDecoderReadsNonFinite: Mesos-style output with bare Infinity
// and NaN is read back by this package (the tolerant decoder clients need).
func TestTolerantDecoderReadsNonFinite(t *testing.T) {
	in := &mesos.TaskInfo{
		Name: proto.String("t"), TaskId: taskID("t"), AgentId: &mesos.AgentID{Value: proto.String("a")},
		Limits: map[string]*mesos.Value_Scalar{
			"cpus": {Value: proto.Float64(math.Inf(1))},
			"mem":  {Value: proto.Float64(math.Inf(-1))},
			"disk": {Value: proto.Float64(math.NaN())},
		},
	}
	out, err := Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	want := `"limits":{"cpus":{"value":Infinity},"disk":{"value":NaN},"mem":{"value":-Infinity}}`
	if !bytes.Contains(out, []byte(want)) {
		t.Fatalf("output %s lacks %s", out, want)
	}
	got := &mesos.TaskInfo{}
	if err := Unmarshal(out, got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, in) {
		t.Fatalf("got %v, want %v", got, in)
	}
}

func TestInt64BeyondDoublePrecision(t *testing.T) {
	for _, n := range []int64{1<<53 + 1, 1715000000123456789, math.MaxInt64, math.MinInt64 + 1} {
		in := &mesos.TimeInfo{Nanoseconds: proto.Int64(n)}
		out, err := Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		got := &mesos.TimeInfo{}
		if err := Unmarshal(out, got); err != nil || got.GetNanoseconds() != n {
			t.Errorf("%d: round trip gave %d, %v (output %s)", n, got.GetNanoseconds(), err, out)
		}
		var generic map[string]json.Number
		dec := json.NewDecoder(bytes.NewReader(out))
		dec.UseNumber()
		if err := dec.Decode(&generic); err != nil || string(generic["nanoseconds"]) != strconv.FormatInt(n, 10) {
			t.Errorf("%d: encoding/json sees %q, %v", n, generic["nanoseconds"], err)
		}
	}
}
