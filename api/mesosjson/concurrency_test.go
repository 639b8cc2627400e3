package mesosjson

import (
	"bytes"
	"sync"
	"testing"

	scheduler "github.com/agoraproject/agora/api/v1/scheduler"
)

// TestConcurrentUse runs encoders and decoders in parallel, sharing the
// descriptor tables and pools (meaningful under -race).
func TestConcurrentUse(t *testing.T) {
	want, err := Marshal(sampleOffersEvent(3))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				var ev scheduler.Event
				if err := Unmarshal(want, &ev); err != nil {
					t.Error(err)
					return
				}
				got, err := Marshal(&ev)
				if err != nil || !bytes.Equal(got, want) {
					t.Errorf("concurrent round trip differs: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestDecodedMessagesOwnTheirBytes: decoding reuses pooled buffers, so a
// decoded message must not alias them.
func TestDecodedMessagesOwnTheirBytes(t *testing.T) {
	decode := func(uuid string) *scheduler.Call {
		in := `{"framework_id":{"value":"f"},"type":"ACKNOWLEDGE","acknowledge":{"agent_id":{"value":"a"},` +
			`"task_id":{"value":"t"},"uuid":"` + uuid + `"}}`
		var c scheduler.Call
		if err := Unmarshal([]byte(in), &c); err != nil {
			t.Fatal(err)
		}
		return &c
	}
	first := decode("AAAAAAAAAAAAAAAAAAAAAA==")
	for range 10 {
		decode("/////////////////////w==")
	}
	if got := first.GetAcknowledge().GetUuid(); !bytes.Equal(got, make([]byte, 16)) {
		t.Fatalf("first message's uuid changed to %x", got)
	}
}
