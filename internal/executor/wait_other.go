//go:build !linux

package executor

// waitExitedNoReap is a no-op where waitid(WNOWAIT) is not available: the
// process is then reaped before its group is swept.
func waitExitedNoReap(pid int) error { return nil }
