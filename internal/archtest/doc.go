// Package archtest holds tests that keep the architecture of DESIGN.md
// true: which packages may import which, which packages stay pure (no I/O,
// goroutines or clock), and that every package is documented. It has no
// non-test code.
package archtest
