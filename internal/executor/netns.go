package executor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// dialerIn returns a dial function whose connections are made in the
// network namespace at nsPath (a container's /proc/<pid>/ns/net): its
// loopback is the container's own, as Mesos' checks see it. Each dial
// enters the namespace on a locked OS thread of its own and leaves it
// before the thread is given back; a socket stays in the namespace it was
// made in. It needs CAP_SYS_ADMIN.
func dialerIn(nsPath string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		type result struct {
			conn net.Conn
			err  error
		}
		done := make(chan result, 1)
		go func() {
			// Should the thread not get back to its namespace, the goroutine
			// ends locked to it and the runtime ends the thread.
			runtime.LockOSThread()
			conn, err := dialFromNamespace(ctx, nsPath, network, addr)
			if !errors.Is(err, errStuckInNamespace) {
				runtime.UnlockOSThread()
			}
			done <- result{conn, err}
		}()
		r := <-done
		return r.conn, r.err
	}
}

var errStuckInNamespace = errors.New("could not return to the executor's network namespace")

// dialFromNamespace dials from nsPath on the calling (locked) thread and
// returns the thread to its own namespace.
func dialFromNamespace(ctx context.Context, nsPath, network, addr string) (net.Conn, error) {
	own, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, fmt.Errorf("opening the executor's network namespace: %w", err)
	}
	defer own.Close()
	target, err := os.Open(nsPath)
	if err != nil {
		return nil, fmt.Errorf("opening the task's network namespace: %w", err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, fmt.Errorf("entering the task's network namespace %s: %w", nsPath, err)
	}
	// A single literal address: the socket is made on this thread.
	conn, err := (&net.Dialer{}).DialContext(ctx, network, addr)
	if serr := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); serr != nil {
		if conn != nil {
			conn.Close()
		}
		return nil, fmt.Errorf("%w: %v", errStuckInNamespace, serr)
	}
	return conn, err
}
