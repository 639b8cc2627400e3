// Package testenv decides what a test does on a machine that lacks
// something it needs (root, a program): it is skipped with a message that
// says what is missing, except under CI=true, where the suite's
// requirements are installed and a missing one fails the test instead of
// hiding it.
package testenv

import (
	"os"
	"os/user"
	"testing"
)

// Require skips or fails t unless ok; missing says what the machine lacks
// and what the test needs it for.
func Require(t testing.TB, ok bool, missing string) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: not skipping)", missing)
		return
	}
	t.Skip(missing)
}

// RequireRoot is Require for a test that must run as root; why says what
// for.
func RequireRoot(t testing.TB, why string) {
	t.Helper()
	Require(t, os.Geteuid() == 0, "this test needs root ("+why+")")
}

// Nobody is RequireRoot for a test that runs something as the user nobody,
// which the machine must also have; it returns that user.
func Nobody(t testing.TB, why string) *user.User {
	t.Helper()
	RequireRoot(t, why)
	u, err := user.Lookup("nobody")
	Require(t, err == nil, "this test needs the user nobody ("+why+")")
	return u
}
