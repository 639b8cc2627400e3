package containerizer

import (
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// leftoverBatchWindow is how long the leftover sweeper collects ended
// containers before one /proc listing serves them all. Their first
// processes stay unreaped (zombies) meanwhile, which pins their session IDs.
const leftoverBatchWindow = 250 * time.Millisecond

// leftoverSweeper kills what the first process of each ended container left
// behind in its session. Listing /proc is the expensive part: ~150 µs with
// the few hundred processes of a busy agent, far more on a host with
// thousands, against ~2 ms of agent CPU per task in all. So the sweeper
// lists /proc at most once per leftoverBatchWindow, for every container
// that ended meanwhile. Nothing waits for it but the reaping of the first
// process: the container has ended already (Wait returned). Its goroutine
// runs only while it has work.
type leftoverSweeper struct {
	proc string
	log  *slog.Logger

	mu      sync.Mutex
	queue   []*leftoverCheck
	running bool
}

type leftoverCheck struct {
	sid      int
	deadline time.Time
	done     chan struct{}
}

// sweep blocks until session sid, whose leader has ended but is not
// reaped, has no live process left (or leftoverKillTimeout passed).
func (s *leftoverSweeper) sweep(sid int) {
	c := &leftoverCheck{sid: sid, deadline: time.Now().Add(leftoverKillTimeout), done: make(chan struct{})}
	s.mu.Lock()
	s.queue = append(s.queue, c)
	start := !s.running
	s.running = true
	s.mu.Unlock()
	if start {
		go s.run()
	}
	<-c.done
}

// run sweeps, a round per window, until no check is pending.
func (s *leftoverSweeper) run() {
	var pending []*leftoverCheck
	for {
		time.Sleep(leftoverBatchWindow)
		s.mu.Lock()
		pending = append(pending, s.queue...)
		s.queue = nil
		if len(pending) == 0 {
			s.running = false
			s.mu.Unlock()
			return
		}
		s.mu.Unlock()
		pending = s.round(pending)
	}
}

// round lists /proc once, kills the live members of every pending session,
// completes the checks of the sessions found empty, and returns the rest.
func (s *leftoverSweeper) round(pending []*leftoverCheck) []*leftoverCheck {
	members := make(map[int][]int, len(pending))
	for _, c := range pending {
		members[c.sid] = nil
	}
	err := forEachPid(s.proc, func(pid int) {
		if _, leader := members[pid]; leader {
			return // exited, unreaped: a zombie
		}
		if sid, err := unix.Getsid(pid); err == nil {
			if list, ok := members[sid]; ok {
				members[sid] = append(list, pid)
			}
		}
	})
	if err != nil {
		s.log.Error("listing processes to kill what containers left behind", "err", err)
	}
	left := pending[:0]
	now := time.Now()
	for _, c := range pending {
		live := liveOnly(s.proc, c.sid, members[c.sid])
		switch {
		case len(live) == 0 || err != nil:
			close(c.done)
		case now.After(c.deadline):
			s.log.Error("processes a container left behind do not die", "session", c.sid, "pids", live)
			close(c.done)
		default:
			for _, pid := range live {
				killMember(pid, c.sid)
			}
			left = append(left, c)
		}
	}
	clear(pending[len(left):])
	return left
}
