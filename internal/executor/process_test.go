package executor

import (
	"syscall"
	"testing"
	"time"
)

func TestDescribeExit(t *testing.T) {
	cases := []struct {
		status syscall.WaitStatus
		want   string
	}{
		{0, "Command exited with status 0"},
		{3 << 8, "Command exited with status 3"},
		{syscall.WaitStatus(syscall.SIGKILL), "Command terminated with signal SIGKILL"},
		{syscall.WaitStatus(syscall.SIGSEGV) | 0x80, "Command terminated with signal SIGSEGV"}, // core dumped
		{syscall.WaitStatus(40), "Command terminated with signal signal 40"},
	}
	for _, tc := range cases {
		if got := describeExit(tc.status); got != tc.want {
			t.Errorf("describeExit(%#x) = %q, want %q", uint32(tc.status), got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	limit := 2 * time.Second
	var got []time.Duration
	for d, i := time.Duration(0), 0; i < 7; i++ {
		d = nextBackoff(d, limit)
		got = append(got, d)
	}
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond,
		800 * time.Millisecond, 1600 * time.Millisecond, 2 * time.Second, 2 * time.Second}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("backoff sequence %v, want %v", got, want)
		}
	}
	if d := nextBackoff(0, 20*time.Millisecond); d != 20*time.Millisecond {
		t.Errorf("first backoff with a 20ms cap = %v", d)
	}
	for range 100 {
		if j := jitter(time.Second); j < 500*time.Millisecond || j > time.Second {
			t.Fatalf("jitter(1s) = %v, outside [500ms, 1s]", j)
		}
	}
}

func TestPendingUpdates(t *testing.T) {
	var p pendingUpdates
	tmpl := statusTemplate{}
	a := p.add(tmpl.status(nil, 0, time.Now()))
	b := p.add(tmpl.status(nil, 1, time.Now()))
	p.markDelivered(1)
	c := p.add(tmpl.status(nil, 2, time.Now()))
	if u := p.undelivered(1); len(u) != 1 || u[0] != c {
		t.Errorf("undelivered on 1 = %v, want only the newest", u)
	}
	if !p.ack(b.uuid()) || p.ack(b.uuid()) {
		t.Error("ack should remove an update exactly once")
	}
	got := p.updates()
	if len(got) != 2 || got[0] != a.update || got[1] != c.update {
		t.Errorf("after ack, pending = %v, want the first and third in order", got)
	}
}
