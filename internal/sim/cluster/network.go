package cluster

import (
	"container/heap"
	"fmt"
	"hash/fnv"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/internal/master"
)

// The network. Time on it is counted in steps (ticks of the clock): a
// message sent in step n arrives in step n+latency at the earliest.
//
//   - Calls (one POST each) and their error answers can be dropped, and are
//     lost when either end is partitioned.
//   - A stream (an agent's or a framework's event stream, and the
//     connection's close in either direction) is reliable and ordered:
//     while an end is partitioned its items wait, and a delay never lets a
//     later item overtake an earlier one. A stream can be cut at an event:
//     that event and everything after it are lost, and both ends are told
//     the connection broke.

// faults are the network's current misbehaviour.
type faults struct {
	drop  float64 // probability that a call or an answer is lost
	cut   float64 // probability that a stream breaks at an event
	delay int     // extra steps, uniform in [0, delay], for every message
}

// delivery is one message in flight.
type delivery struct {
	due      int64
	seq      uint64
	from, to string
	stream   *stream // nil for calls and answers
	notice   bool    // a stream's open or close notice: survives a cut
	line     string  // what the history records when it arrives
	run      func()
}

type deliveryHeap []*delivery

func (h deliveryHeap) Len() int { return len(h) }
func (h deliveryHeap) Less(i, j int) bool {
	if h[i].due != h[j].due {
		return h[i].due < h[j].due
	}
	return h[i].seq < h[j].seq
}
func (h deliveryHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *deliveryHeap) Push(x any)   { *h = append(*h, x.(*delivery)) }
func (h *deliveryHeap) Pop() any {
	old := *h
	d := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return d
}

// stream is one event stream between a master process and a client
// process.
type stream struct {
	id        string
	master    *masterNode
	masterInc int
	client    string
	clientInc int
	agentConn *master.SimAgentConn
	fwConn    *master.SimFrameworkConn

	lastDue      int64 // FIFO: no item is due before the one sent before it
	cut          bool
	masterClosed bool // the master side has closed (or died)
	clientClosed bool
	nextBeat     time.Time
	beats        uint64
}

func (st *stream) open() bool { return !st.cut && !st.masterClosed && !st.clientClosed }

type network struct {
	s        *Sim
	seq      uint64
	pending  deliveryHeap
	faults   faults
	latency  int64
	isolated map[string]int64 // node → the step its partition ends
	streams  []*stream        // in opening order, until their master side closes
	opened   int
	// cutAt breaks a client's stream at the next event of a type (a node
	// name → an event type's name).
	cutAt map[string]string
	// lastCall keeps the calls from one node to another in order: a client
	// sends its calls one at a time.
	lastCall map[string]int64
}

func newNetwork(s *Sim) *network {
	return &network{s: s, latency: 1, isolated: map[string]int64{}, lastCall: map[string]int64{}, cutAt: map[string]string{}}
}

// partitioned reports whether a and b cannot talk now.
func (n *network) partitioned(a, b string) bool {
	return n.isolatedNow(a) || n.isolatedNow(b)
}

func (n *network) isolatedNow(node string) bool {
	until, ok := n.isolated[node]
	return ok && n.s.step < until
}

// isolate cuts node off from every other node for the next steps steps.
func (n *network) isolate(node string, steps int64) {
	n.isolated[node] = n.s.step + steps
}

// heal ends every partition.
func (n *network) heal() { clear(n.isolated) }

func (n *network) arrival() int64 {
	due := n.s.step + n.latency
	if n.faults.delay > 0 {
		due += int64(n.s.rng.IntN(n.faults.delay + 1))
	}
	return due
}

func (n *network) enqueue(d *delivery) {
	n.seq++
	d.seq = n.seq
	heap.Push(&n.pending, d)
}

// send puts a call or an answer on the wire; it may be dropped at once.
func (n *network) send(from, to, what string, msg proto.Message, run func()) {
	line := fmt.Sprintf("%s>%s %s %s", from, to, describeOr(msg, what), digest(msg))
	if n.faults.drop > 0 && n.s.rng.Float64() < n.faults.drop {
		n.s.hist.record("drop " + line)
		n.s.stats.Dropped++
		return
	}
	due := max(n.arrival(), n.lastCall[from+">"+to])
	n.lastCall[from+">"+to] = due
	n.enqueue(&delivery{due: due, from: from, to: to, line: line, run: run})
}

// push puts a master's event on st after everything sent on it before.
func (n *network) push(st *stream, what string, msg proto.Message, run func()) {
	due := max(n.arrival(), st.lastDue)
	st.lastDue = due
	line := fmt.Sprintf("%s>%s %s %s %s", st.master.name, st.client, st.id, describeOr(msg, what), digest(msg))
	n.enqueue(&delivery{due: due, from: st.master.name, to: st.client, stream: st, line: line, run: run})
}

// notice puts an open or close notice on st; it arrives even if st is cut.
func (n *network) notice(st *stream, toClient bool, what string, run func()) {
	from, to := st.master.name, st.client
	if !toClient {
		from, to = to, from
	}
	due := max(n.arrival(), st.lastDue)
	st.lastDue = due
	line := fmt.Sprintf("%s>%s %s %s", from, to, st.id, what)
	n.enqueue(&delivery{due: due, from: from, to: to, stream: st, notice: true, line: line, run: run})
}

// maybeCut breaks st at an event of type kind being sent: by chance, or
// because the script asked for it. It reports whether it did.
func (n *network) maybeCut(st *stream, kind string) bool {
	if want, ok := n.cutAt[st.client]; ok && want == kind {
		delete(n.cutAt, st.client)
	} else if n.faults.cut == 0 || n.s.rng.Float64() >= n.faults.cut {
		return false
	}
	n.s.hist.record("cut " + st.id)
	n.s.stats.Cuts++
	n.cutStream(st)
	return true
}

// cutStream breaks st: both ends learn the connection is gone.
func (n *network) cutStream(st *stream) {
	if st.cut {
		return
	}
	st.cut = true
	n.notice(st, true, "broken", func() { n.s.streamEnded(st) })
	if !st.masterClosed {
		n.notice(st, false, "broken", func() { n.s.streamGoneAtMaster(st) })
	}
}

// deliverDue runs every delivery due by now, in (due, send order).
// It reports how many ran.
func (n *network) deliverDue() int {
	ran := 0
	var held []*delivery
	for len(n.pending) > 0 && n.pending[0].due <= n.s.step {
		d := heap.Pop(&n.pending).(*delivery)
		switch {
		case d.stream != nil && d.stream.cut && !d.notice:
			n.s.hist.record("lost " + d.line)
			n.s.stats.Lost++
		case d.stream != nil && n.partitioned(d.from, d.to):
			held = append(held, d)
		case d.stream == nil && n.partitioned(d.from, d.to):
			n.s.hist.record("lost " + d.line)
			n.s.stats.Lost++
		default:
			n.s.hist.record(d.line)
			n.s.stats.Delivered++
			d.run()
			ran++
		}
	}
	for _, d := range held {
		d.due = n.s.step + 1
		heap.Push(&n.pending, d)
	}
	return ran
}

// openStream starts a stream between a master and a client process.
func (n *network) openStream(mn *masterNode, client string, clientInc int, agent bool) *stream {
	n.opened++
	st := &stream{
		id:        fmt.Sprintf("s%d", n.opened),
		master:    mn,
		masterInc: mn.inc,
		client:    client,
		clientInc: clientInc,
	}
	if agent {
		st.agentConn = &master.SimAgentConn{}
		st.nextBeat = n.s.clock.Now().Add(agentPingInterval)
	} else {
		st.fwConn = &master.SimFrameworkConn{}
		st.nextBeat = n.s.clock.Now().Add(heartbeatInterval)
	}
	n.streams = append(n.streams, st)
	return st
}

// beat sends the pings and heartbeats that a master's HTTP handler would
// write on its open streams. Streams whose master side has closed are
// forgotten here.
func (n *network) beat() {
	now := n.s.clock.Now()
	kept := n.streams[:0]
	for _, st := range n.streams {
		if st.masterClosed {
			continue
		}
		kept = append(kept, st)
		if !st.open() || now.Before(st.nextBeat) || !st.master.alive || st.master.inc != st.masterInc {
			continue
		}
		if st.agentConn != nil {
			st.nextBeat = st.nextBeat.Add(agentPingInterval)
			n.s.pushAgentEvent(st, pingEvent(st))
		} else {
			st.nextBeat = st.nextBeat.Add(heartbeatInterval)
			n.s.pushFrameworkEvent(st, heartbeatEvent())
		}
	}
	clear(n.streams[len(kept):])
	n.streams = kept
}

// streamsOf lists the open streams of one master process, in opening order.
func (n *network) streamsOf(mn *masterNode) []*stream {
	var out []*stream
	for _, st := range n.streams {
		if st.master == mn && st.masterInc == mn.inc && !st.masterClosed {
			out = append(out, st)
		}
	}
	return out
}

// describeOr describes msg, or says what.
func describeOr(msg proto.Message, what string) string {
	if msg == nil {
		return what
	}
	if d := describe(msg); d != "" {
		return d
	}
	return what
}

// digest is a short deterministic fingerprint of a message for the
// history.
func digest(msg proto.Message) string {
	if msg == nil {
		return "-"
	}
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(msg)
	if err != nil {
		return "unmarshalable"
	}
	h := fnv.New64a()
	h.Write(b)
	return fmt.Sprintf("%016x", h.Sum64())
}
