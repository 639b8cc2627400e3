package apihttp

import (
	"net/http"
	"sync"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/recordio"
	"github.com/agoraproject/agora/api/wire"
)

// Stream is an outgoing RecordIO event stream on a chunked 200 response.
type Stream struct {
	w   http.ResponseWriter
	rc  *http.ResponseController
	enc wire.Encoding
	buf []byte
}

// StartStream writes the 200 header of an event stream (Content-Type of enc
// plus any extra headers) and flushes it, so the client sees the stream open
// before the first event.
func StartStream(w http.ResponseWriter, enc wire.Encoding, headers map[string]string) (*Stream, error) {
	h := w.Header()
	h.Set("Content-Type", enc.ContentType())
	h.Set("Cache-Control", "no-cache")
	for k, v := range headers {
		h.Set(k, v)
	}
	w.WriteHeader(http.StatusOK)
	s := &Stream{w: w, rc: http.NewResponseController(w), enc: enc}
	return s, s.rc.Flush()
}

// Encoding is the stream's message encoding.
func (s *Stream) Encoding() wire.Encoding { return s.enc }

// Send encodes, frames, writes and flushes one message.
func (s *Stream) Send(msg proto.Message) error {
	payload, err := s.enc.Marshal(msg)
	if err != nil {
		return err
	}
	return s.SendEncoded(payload)
}

// SendEncoded frames and writes an already encoded payload, then flushes.
func (s *Stream) SendEncoded(payload []byte) error {
	return s.SendBatch([][]byte{payload})
}

// SendBatch frames and writes several encoded payloads with one flush.
func (s *Stream) SendBatch(payloads [][]byte) error {
	s.buf = s.buf[:0]
	for _, p := range payloads {
		s.buf = recordio.Append(s.buf, p)
	}
	if _, err := s.w.Write(s.buf); err != nil {
		return err
	}
	return s.rc.Flush()
}

// Outbox is an unbounded FIFO of messages for one connection. A single
// writer (such as the master's loop) puts messages in without ever blocking on
// the network; the connection's goroutine takes them out and writes them.
// Closing it wakes the reader through Closed.
type Outbox[T any] struct {
	mu      sync.Mutex
	items   []T
	closed  bool
	wake    chan struct{}
	done    chan struct{}
	doneErr string
}

// NewOutbox returns an empty, open outbox.
func NewOutbox[T any]() *Outbox[T] {
	return &Outbox[T]{wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// Put appends an item and wakes the reader. It reports false if the
// outbox is closed.
func (o *Outbox[T]) Put(item T) bool {
	if !o.Append(item) {
		return false
	}
	o.Signal()
	return true
}

// Append appends an item without waking the reader, so that a writer
// producing a burst can wake it once (Signal) and have the burst written
// together. It reports false if the outbox is closed.
func (o *Outbox[T]) Append(item T) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	o.items = append(o.items, item)
	return true
}

// Signal wakes the reader.
func (o *Outbox[T]) Signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// Close marks the outbox closed with a reason; items already in it can still
// be taken. Closing twice is harmless.
func (o *Outbox[T]) Close(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.closed = true
	o.doneErr = reason
	close(o.done)
}

// Closed is closed when the outbox is.
func (o *Outbox[T]) Closed() <-chan struct{} { return o.done }

// Reason is the reason given to Close.
func (o *Outbox[T]) Reason() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.doneErr
}

// Wake receives a value whenever items may be waiting.
func (o *Outbox[T]) Wake() <-chan struct{} { return o.wake }

// Take removes and returns all waiting items (nil if none), and whether the
// outbox is closed.
func (o *Outbox[T]) Take(into []T) (items []T, closed bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	into = append(into[:0], o.items...)
	clear(o.items)
	o.items = o.items[:0]
	return into, o.closed
}
