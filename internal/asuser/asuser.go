// Package asuser does file work with a task user's file-system identity.
//
// The agent and the executor host run as root, yet they create, open and
// link files in sandboxes that belong to a task's user, whose processes
// may have left symlinks or hard links there by the time the work is
// done. Done as root, opening <sandbox>/stderr could append to
// /etc/shadow. Done as the user, the kernel's own permission checks keep
// the work to what the user could do anyway, as Mesos gets by running its
// executors and fetcher as the user. The user needs to be able to walk
// the host's path to the sandbox, as any task of theirs run as a process
// does.
//
// Do switches only the calling OS thread's file-system identity (fsuid,
// fsgid and supplementary groups, which setfsuid(2) and a raw setgroups(2)
// change per thread), on a goroutine locked to that thread; the rest of
// the process stays root. A thread whose identity cannot be restored is
// not returned to the Go scheduler: it exits with its goroutine.
package asuser

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"runtime"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// Resolve looks name up in the user database: its credential (uid, gid
// and supplementary groups; unreadable group data means none beyond the
// primary group) and its entry.
func Resolve(name string) (*syscall.Credential, *user.User, error) {
	u, err := user.Lookup(name)
	if _, unknown := err.(user.UnknownUserError); unknown {
		return nil, nil, fmt.Errorf("unknown user %q", name)
	} else if err != nil {
		return nil, nil, fmt.Errorf("looking up user %q: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, nil, fmt.Errorf("user %q has a non-numeric id: %w", name, err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	groups, _ := u.GroupIds()
	for _, g := range groups {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			cred.Groups = append(cred.Groups, uint32(n))
		}
	}
	return cred, u, nil
}

// Lookup is the credential to do name's file work with: nil when there is
// nothing to switch, because name is "" or root, or the process is not
// root (its file work is its own user's, no more).
func Lookup(name string) (*syscall.Credential, error) {
	if name == "" || os.Geteuid() != 0 {
		return nil, nil
	}
	cred, _, err := Resolve(name)
	if err != nil || cred.Uid == 0 {
		return nil, err
	}
	return cred, nil
}

// Do runs fn with cred's file-system identity and returns its error; with
// a nil cred it just runs fn. Only fn's own goroutine has the identity:
// fn must do its file work itself, not in goroutines it starts. A panic
// in fn is raised again in the caller.
func Do(cred *syscall.Credential, fn func() error) error {
	if cred == nil {
		return fn()
	}
	type result struct {
		err      error
		panicked any
	}
	done := make(chan result, 1)
	// A goroutine of its own: should the thread's identity not come back,
	// the goroutine ends still locked to it, and the runtime ends the
	// thread instead of giving it to other goroutines.
	go func() {
		runtime.LockOSThread()
		if err := become(cred); err != nil {
			if restore() == nil {
				runtime.UnlockOSThread()
			}
			done <- result{err: err}
			return
		}
		var r result
		func() {
			defer func() { r.panicked = recover() }()
			r.err = fn()
		}()
		if err := restore(); err != nil {
			r.err = errors.Join(r.err, err) // the thread stays locked and ends
		} else {
			runtime.UnlockOSThread()
		}
		done <- r
	}()
	r := <-done
	if r.panicked != nil {
		panic(r.panicked)
	}
	return r.err
}

// become gives the calling thread cred's file-system identity: groups
// first, then the gid, then the uid (which drops the file capabilities).
func become(cred *syscall.Credential) error {
	groups := make([]int, len(cred.Groups))
	for i, g := range cred.Groups {
		groups[i] = int(g)
	}
	if err := unix.Setgroups(groups); err != nil {
		return fmt.Errorf("asuser: setgroups: %w", err)
	}
	unix.Setfsgid(int(cred.Gid))
	unix.Setfsuid(int(cred.Uid))
	if uid, gid := currentFS(); uid != int(cred.Uid) || gid != int(cred.Gid) {
		return fmt.Errorf("asuser: could not take fsuid %d / fsgid %d (have %d / %d)", cred.Uid, cred.Gid, uid, gid)
	}
	return nil
}

// restore gives the calling thread the process's identity back.
func restore() error {
	unix.Setfsuid(os.Geteuid())
	unix.Setfsgid(os.Getegid())
	// The process's groups, as every other thread has them: getgroups(2)
	// here would read this thread's.
	if err := unix.Setgroups(processGroups); err != nil {
		return fmt.Errorf("asuser: restoring groups: %w", err)
	}
	if uid, gid := currentFS(); uid != os.Geteuid() || gid != os.Getegid() {
		return fmt.Errorf("asuser: could not restore fsuid %d / fsgid %d (have %d / %d)", os.Geteuid(), os.Getegid(), uid, gid)
	}
	return nil
}

// currentFS reads the thread's fsuid and fsgid: setfs*(-1) changes
// nothing and returns the current value.
func currentFS() (uid, gid int) {
	uid, _ = unix.SetfsuidRetUid(-1)
	gid, _ = unix.SetfsgidRetGid(-1)
	return uid, gid
}

// processGroups are the supplementary groups the process started with.
var processGroups = func() []int {
	g, _ := unix.Getgroups()
	return g
}()
