package mesosjson

import (
	"testing"

	"google.golang.org/protobuf/proto"

	scheduler "github.com/agoraproject/agora/api/v1/scheduler"
)

// BenchmarkOffersEvent encodes and decodes a scheduler OFFERS event with
// 100 offers (cpus, mem, disk, ports with allocation_info; 3 attributes) in
// both encodings of the v1 API.
func BenchmarkOffersEvent(b *testing.B) {
	event := sampleOffersEvent(100)
	codecs := []struct {
		name      string
		marshal   func(proto.Message) ([]byte, error)
		unmarshal func([]byte, proto.Message) error
	}{
		{"json", Marshal, Unmarshal},
		{"protobuf", proto.Marshal, proto.Unmarshal},
	}
	for _, c := range codecs {
		data, err := c.marshal(event)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name+"/encode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := c.marshal(event); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "bytes/event")
		})
		b.Run(c.name+"/decode", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				var out scheduler.Event
				if err := c.unmarshal(data, &out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(data)), "bytes/event")
		})
	}
}

// BenchmarkAppendMarshalHeartbeat is the per-event cost floor on a stream:
// a reused buffer and the smallest event.
func BenchmarkAppendMarshalHeartbeat(b *testing.B) {
	event := &scheduler.Event{Type: scheduler.Event_HEARTBEAT.Enum()}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendMarshal(buf[:0], event); err != nil {
			b.Fatal(err)
		}
	}
}
