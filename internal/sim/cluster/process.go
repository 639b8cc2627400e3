package cluster

import (
	"net/http"
	"time"
)

// A client process's connection to the leading master:
//
//	idle ──attempt──► subscribing ──open notice──► open ──SUBSCRIBED──► subscribed
//	 ▲                    │ refused, 503, error,                          │
//	 │                    │ no answer in answerTimeout                    │
//	 ├──── backoff ◄──────┘                                               │
//	 └──── backoff ◄── stream closed, broken, silent for missedBeats ─────┘
//
// A 307 sends the next attempt straight to the named master. The backoff
// is random in [0, b]; b starts at minBackoff, doubles after each failure
// up to maxBackoff, and resets on SUBSCRIBED (docs/agent-protocol.md).

const (
	minBackoff    = time.Second
	maxBackoff    = time.Minute
	answerTimeout = 5 * time.Second
)

type linkState int

const (
	linkIdle linkState = iota
	linkSubscribing
	linkOpen
	linkSubscribed
)

// process is what simulated agents and frameworks share: a name, the
// running incarnation, and the link to the leading master.
type process struct {
	s    *Sim
	name string
	inc  int  // bumped on every restart
	up   bool // the process runs

	state     linkState
	masters   []string
	target    int    // index in masters of the master to try next
	master    string // the master of the current attempt or stream
	attempt   int
	stream    *stream
	backoff   time.Duration
	lastHeard time.Time
	liveness  time.Duration // the stream's beat interval

	// subscribe sends the kind's SUBSCRIBE to master to.
	subscribe func(to string, attempt int)
	// connected runs when SUBSCRIBED arrives.
	connected func()
}

func (p *process) init(s *Sim, name string, liveness time.Duration) {
	p.s, p.name, p.liveness = s, name, liveness
	p.masters = s.masterNames()
	p.target = s.rng.IntN(len(p.masters))
	p.backoff = minBackoff
}

// after runs f once d has passed, if this incarnation still runs then.
func (p *process) after(d time.Duration, f func()) *Timer {
	inc := p.inc
	return p.s.clock.After(d, func() {
		if p.up && p.inc == inc {
			f()
		}
	})
}

// start runs the process: it connects after a random delay and keeps
// checking its stream's liveness.
func (p *process) start() {
	p.up = true
	p.state = linkIdle
	p.after(p.s.jitter(p.backoff), p.attemptNow)
	p.checkLiveness()
}

// stop ends the running incarnation; its stream closes.
func (p *process) stop() {
	p.s.clientClose(p.stream)
	p.stream, p.state = nil, linkIdle
	p.up = false
	p.inc++
}

// current reports whether st is this process's stream.
func (p *process) current(st *stream) bool {
	return p != nil && p.up && p.inc == st.clientInc && p.stream == st
}

func (p *process) attemptNow() {
	if p.state != linkIdle {
		return
	}
	p.attempt++
	attempt := p.attempt
	p.master = p.masters[p.target]
	p.state = linkSubscribing
	p.subscribe(p.master, attempt)
	p.after(answerTimeout, func() {
		if p.state == linkSubscribing && p.attempt == attempt {
			p.failed()
		}
	})
}

// failed gives up on the current attempt: the next goes to the next
// master after a backoff.
func (p *process) failed() {
	p.state = linkIdle
	p.target = (p.target + 1) % len(p.masters)
	wait := p.s.jitter(p.backoff)
	p.backoff = min(2*p.backoff, maxBackoff)
	p.after(wait, p.attemptNow)
}

// onAnswer handles an answer to a call: SUBSCRIBE's by its attempt, the
// others by the stream they were made on.
func (p *process) onAnswer(ans *answer) {
	if ans.streamID != "" {
		if p.stream != nil && p.stream.id == ans.streamID && p.state >= linkOpen {
			p.drop() // the master no longer takes calls on this stream
		}
		return
	}
	if p.state != linkSubscribing || ans.attempt != p.attempt {
		return
	}
	if ans.redirect != "" {
		for i, name := range p.masters {
			if name == ans.redirect {
				p.target = i
			}
		}
		p.state = linkIdle
		p.attemptNow()
		return
	}
	if ans.err != nil && statusCode(ans.err) < http.StatusInternalServerError {
		p.s.violate("protocol", "%s: the master refused a valid SUBSCRIBE: %v", p.name, ans.err)
	}
	p.failed()
}

// opened is the open notice of a stream the master accepted.
func (p *process) opened(st *stream, attempt int) {
	if p.state != linkSubscribing || attempt != p.attempt {
		p.s.clientClose(st) // an attempt given up on
		return
	}
	p.stream, p.state = st, linkOpen
	p.lastHeard = p.s.clock.Now()
}

// heard notes traffic on the current stream; SUBSCRIBED completes it.
func (p *process) heard(subscribed bool) {
	p.lastHeard = p.s.clock.Now()
	if subscribed {
		p.state = linkSubscribed
		p.backoff = minBackoff
		p.connected()
	}
}

// drop closes the current stream from this side and reconnects.
func (p *process) drop() {
	p.s.clientClose(p.stream)
	p.stream = nil
	p.failed()
}

// streamEnded: the master closed st or it broke.
func (p *process) streamEnded(st *stream) {
	if p.stream == st {
		p.stream = nil
		p.failed()
	}
}

// checkLiveness drops a stream silent for missedBeats intervals.
func (p *process) checkLiveness() {
	if p.state >= linkOpen && p.s.clock.Now().Sub(p.lastHeard) > missedBeats*p.liveness {
		p.drop()
	}
	p.after(p.liveness, p.checkLiveness)
}

// subscribed reports whether calls can be made.
func (p *process) subscribed() bool { return p.up && p.state == linkSubscribed }
