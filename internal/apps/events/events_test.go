package events

import (
	"bufio"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestFilterAndFanOut(t *testing.T) {
	b := NewBus(8, nil)
	all := b.Subscribe("all")
	only := b.Subscribe("only", "b")
	b.Publish("a", map[string]int{"n": 1})
	b.Publish("b", map[string]int{"n": 2})
	if got := (<-all.Events()).Type + (<-all.Events()).Type; got != "ab" {
		t.Errorf("all got %q", got)
	}
	if ev := <-only.Events(); ev.Type != "b" || string(ev.Data) != `{"n":2}` {
		t.Errorf("filtered got %+v", ev)
	}
	select {
	case ev := <-only.Events():
		t.Errorf("filtered subscriber got %+v", ev)
	default:
	}
}

func TestSlowConsumerIsDisconnectedNotBlocking(t *testing.T) {
	b := NewBus(2, nil)
	slow := b.Subscribe("slow")
	fast := b.Subscribe("fast")
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 3 {
			b.Publish("x", 1)
			<-fast.Events()
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a slow subscriber")
	}
	select {
	case <-slow.Dropped():
	default:
		t.Fatal("slow subscriber not dropped after overflowing its buffer")
	}
	if !strings.Contains(slow.Reason(), "slow consumer") {
		t.Errorf("reason %q", slow.Reason())
	}
	if _, disc := b.Stats(); disc != 1 || b.Subscribers() != 1 {
		t.Errorf("disconnected=%d subscribers=%d", disc, b.Subscribers())
	}
}

func TestSSEFramesAndAttachedFirst(t *testing.T) {
	b := NewBus(16, nil)
	attached := func(typ, addr string) any { return map[string]string{"eventType": typ, "remoteAddress": addr} }
	srv := httptest.NewServer(b.Handler(attached, 0))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"?event_type=event_stream_attached&event_type=app_terminated_event", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q", ct)
	}
	r := bufio.NewReader(resp.Body)
	frame := readFrame(t, r)
	if !strings.HasPrefix(frame, "event: event_stream_attached\ndata: {") {
		t.Fatalf("first frame %q", frame)
	}
	b.Publish("status_update_event", 1)
	b.Publish("app_terminated_event", map[string]string{"appId": "/x"})
	if frame := readFrame(t, r); frame != "event: app_terminated_event\ndata: {\"appId\":\"/x\"}\n" {
		t.Errorf("filtered frame %q", frame)
	}
}

func readFrame(t *testing.T, r *bufio.Reader) string {
	t.Helper()
	var sb strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("reading frame: %v (so far %q)", err, sb.String())
		}
		if line == "\n" {
			return sb.String()
		}
		sb.WriteString(line)
	}
}
