// Package events is the apps framework's event bus and the /v2/events
// Server-Sent Events endpoint. Publishing never blocks: each subscriber
// has its own bounded buffer, and a subscriber that falls behind by more
// than that buffer is disconnected loudly (a warning in the log, a
// metric, and a final SSE comment saying why) rather than silently
// missing events.
package events

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Event is one published event: its type and JSON payload.
type Event struct {
	Type string
	Data []byte
}

// Bus fans events out to subscribers.
type Bus struct {
	log        *slog.Logger
	bufferSize int

	mu   sync.Mutex
	subs map[*Subscription]struct{}

	published    atomic.Int64
	disconnected atomic.Int64
}

// NewBus returns a bus whose subscribers each buffer up to bufferSize
// events.
func NewBus(bufferSize int, log *slog.Logger) *Bus {
	if bufferSize <= 0 {
		bufferSize = 1024
	}
	if log == nil {
		log = slog.Default()
	}
	return &Bus{log: log, bufferSize: bufferSize, subs: map[*Subscription]struct{}{}}
}

// Subscription is one subscriber's queue.
type Subscription struct {
	bus    *Bus
	name   string
	filter map[string]bool
	ch     chan Event
	// dropped is closed when the subscriber was disconnected for being
	// slow; reason says why.
	dropped chan struct{}
	reason  string
	once    sync.Once
}

// Subscribe adds a subscriber for the given event types (all when none).
// name identifies it in logs.
func (b *Bus) Subscribe(name string, types ...string) *Subscription {
	s := &Subscription{bus: b, name: name, ch: make(chan Event, b.bufferSize), dropped: make(chan struct{})}
	if len(types) > 0 {
		s.filter = map[string]bool{}
		for _, t := range types {
			s.filter[t] = true
		}
	}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Events delivers the subscriber's events.
func (s *Subscription) Events() <-chan Event { return s.ch }

// Dropped is closed when the bus disconnected the subscriber.
func (s *Subscription) Dropped() <-chan struct{} { return s.dropped }

// Reason says why the subscriber was dropped.
func (s *Subscription) Reason() string { return s.reason }

// Close removes the subscriber.
func (s *Subscription) Close() {
	s.bus.mu.Lock()
	delete(s.bus.subs, s)
	s.bus.mu.Unlock()
}

// Publish marshals payload (a struct embedding marathon.EventHeader) and
// delivers it to every interested subscriber without blocking.
func (b *Bus) Publish(eventType string, payload any) {
	data, err := json.Marshal(payload)
	if err != nil {
		b.log.Error("event not published: marshal failed", "type", eventType, "error", err)
		return
	}
	b.published.Add(1)
	ev := Event{Type: eventType, Data: data}
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if s.filter != nil && !s.filter[eventType] {
			continue
		}
		select {
		case s.ch <- ev:
		default:
			b.drop(s)
		}
	}
}

// drop disconnects a slow subscriber (b.mu held).
func (b *Bus) drop(s *Subscription) {
	delete(b.subs, s)
	s.once.Do(func() {
		s.reason = fmt.Sprintf("slow consumer: %d events buffered and not read", b.bufferSize)
		b.disconnected.Add(1)
		b.log.Warn("event stream subscriber disconnected", "subscriber", s.name, "reason", s.reason)
		close(s.dropped)
	})
}

// Subscribers is the number of subscribers.
func (b *Bus) Subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// Stats returns how many events were published and how many subscribers
// were disconnected for being slow.
func (b *Bus) Stats() (published, disconnected int64) {
	return b.published.Load(), b.disconnected.Load()
}
