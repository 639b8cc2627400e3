package executor

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/agoraproject/agora/internal/testenv"
)

// inNewNetns makes a network namespace with its loopback up and a
// listener on its 127.0.0.1, kept by a locked thread until the test ends;
// the namespace goes away with the thread.
func inNewNetns(t *testing.T) (path string, ln net.Listener) {
	t.Helper()
	testenv.RequireRoot(t, "making a network namespace")
	type made struct {
		path string
		ln   net.Listener
		err  error
	}
	ready, release := make(chan made, 1), make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		m := made{err: unix.Unshare(unix.CLONE_NEWNET)}
		if m.err == nil {
			m.err = loopbackUp()
		}
		if m.err == nil {
			m.ln, m.err = net.Listen("tcp", "127.0.0.1:0")
		}
		m.path = fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		ready <- m
		<-release
	}()
	m := <-ready
	t.Cleanup(func() { close(release) })
	if m.err != nil {
		t.Fatalf("setting up the namespace: %v", m.err)
	}
	t.Cleanup(func() { m.ln.Close() })
	return m.path, m.ln
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// TestDialerInReachesTheNamespacesLoopback: a listener on a namespace's
// 127.0.0.1 is reached by dialerIn and not from the test's own network;
// the dialing threads come back to the test's namespace.
func TestDialerInReachesTheNamespacesLoopback(t *testing.T) {
	ns, ln := inNewNetns(t)
	accepted := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err == nil {
			conn.Close()
		}
		accepted <- err
	}()
	own, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := dialerIn(ns)(ctx, "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dialing %s in %s: %v", ln.Addr(), ns, err)
	}
	conn.Close()
	select {
	case err := <-accepted:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the namespace's listener accepted nothing")
	}
	// Every thread is back home: many goroutines find the test's namespace.
	for range 50 {
		done := make(chan string)
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cur, _ := os.Readlink("/proc/thread-self/ns/net")
			done <- cur
		}()
		if cur := <-done; cur != own {
			t.Fatalf("a thread is in %s, want %s", cur, own)
		}
	}
}

func TestDialerInReportsAMissingNamespace(t *testing.T) {
	_, err := dialerIn("/proc/0/ns/net")(context.Background(), "tcp", "127.0.0.1:1")
	if err == nil {
		t.Fatal("dialing in a namespace that does not exist succeeded")
	}
}
