package events

import (
	"fmt"
	"net/http"
	"time"
)

// Attached builds the event_stream_attached/detached payloads; the
// framework supplies it so the payload types stay in api/marathon.
type Attached func(eventType, remoteAddr string) any

// Handler serves /v2/events: text/event-stream frames
// "event: <type>\ndata: <json>\n\n", filtered by repeated event_type
// parameters. The first frame is event_stream_attached. heartbeat > 0
// sends an SSE comment that often to keep proxies from timing out.
func (b *Bus) Handler(attached Attached, heartbeat time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		flusher, ok := w.(http.Flusher)
		if !ok {
			http.Error(w, "streaming unsupported", http.StatusInternalServerError)
			return
		}
		types := r.URL.Query()["event_type"]
		sub := b.Subscribe(r.RemoteAddr, types...)
		defer sub.Close()
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache, no-store, must-revalidate")
		w.Header().Set("X-Accel-Buffering", "no")
		w.WriteHeader(http.StatusOK)
		b.Publish("event_stream_attached", attached("event_stream_attached", r.RemoteAddr))
		flusher.Flush()
		defer b.Publish("event_stream_detached", attached("event_stream_detached", r.RemoteAddr))
		stream(w, flusher, r, sub, heartbeat)
	})
}

func stream(w http.ResponseWriter, flusher http.Flusher, r *http.Request, sub *Subscription, heartbeat time.Duration) {
	var tick <-chan time.Time
	if heartbeat > 0 {
		t := time.NewTicker(heartbeat)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case ev := <-sub.Events():
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, ev.Data); err != nil {
				return
			}
			flusher.Flush()
		case <-tick:
			if _, err := fmt.Fprint(w, ":\n\n"); err != nil {
				return
			}
			flusher.Flush()
		case <-sub.Dropped():
			drain(w, sub)
			fmt.Fprintf(w, ": disconnected: %s\n\n", sub.Reason())
			flusher.Flush()
			return
		}
	}
}

// drain writes what is still buffered before a slow consumer is cut off,
// so the events it does get are complete and in order.
func drain(w http.ResponseWriter, sub *Subscription) {
	for {
		select {
		case ev := <-sub.Events():
			fmt.Fprintf(w, "event: %s\ndata: %s\n\n", ev.Type, ev.Data)
		default:
			return
		}
	}
}
