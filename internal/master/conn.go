package master

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/protocol"
)

// frameworkConn is a subscribed framework's event stream as the loop sees
// it: sending never blocks, closing ends the stream. Production streams are
// HTTP (outboxConn); the simulator supplies in-memory ones.
type frameworkConn interface {
	send(ev *scheduler.Event)
	close(reason string)
	closed() bool
}

// agentConn is an agent's event stream, likewise.
type agentConn interface {
	send(ev *protocol.AgentEvent)
	close(reason string)
	closed() bool
}

// outboxConn is a connection backed by an Outbox that an HTTP handler
// goroutine drains onto its response. Messages put in it must not be
// mutated afterwards: they are encoded on the handler's goroutine.
//
// send only queues; the handler is woken when the loop finishes its batch
// (flusher), so the events of one batch go out in one write.
type outboxConn[T proto.Message] struct {
	box     *apihttp.Outbox[T]
	batch   *flushList
	pending bool // queued since the last flush; owned by the loop
}

// flushList collects the connections that got events during a loop batch.
// It is owned by the loop.
type flushList struct{ conns []interface{ flush() } }

// flushAll wakes every connection with queued events.
func (l *flushList) flushAll() {
	for _, c := range l.conns {
		c.flush()
	}
	clear(l.conns)
	l.conns = l.conns[:0]
}

func newOutboxConn[T proto.Message](batch *flushList) *outboxConn[T] {
	return &outboxConn[T]{box: apihttp.NewOutbox[T](), batch: batch}
}

func (c *outboxConn[T]) send(ev T) {
	if c.box.Append(ev) && !c.pending {
		c.pending = true
		c.batch.conns = append(c.batch.conns, c)
	}
}

func (c *outboxConn[T]) flush() {
	c.pending = false
	c.box.Signal()
}

func (c *outboxConn[T]) close(reason string) { c.box.Close(reason) }

func (c *outboxConn[T]) closed() bool {
	select {
	case <-c.box.Closed():
		return true
	default:
		return false
	}
}

// pump writes the outbox onto stream until the outbox closes (after writing
// what it holds), the client goes away, or a write fails. Every interval
// with no other traffic it writes heartbeat(). It returns true when the
// connection ended from the client's side (so the loop must be told).
func (c *outboxConn[T]) pump(ctx context.Context, stream *apihttp.Stream, interval time.Duration, heartbeat func() T) (clientGone bool) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	var batch []T
	var payloads [][]byte
	for {
		select {
		case <-ctx.Done():
			return true
		case <-c.box.Wake():
		case <-c.box.Closed():
		case <-ticker.C:
			c.box.Put(heartbeat())
		}
		var closed bool
		batch, closed = c.box.Take(batch)
		payloads = payloads[:0]
		for _, ev := range batch {
			p, err := stream.Encoding().Marshal(ev)
			if err != nil {
				return true
			}
			payloads = append(payloads, p)
		}
		if len(payloads) > 0 {
			if err := stream.SendBatch(payloads); err != nil {
				return true
			}
		}
		if closed {
			return false
		}
	}
}
