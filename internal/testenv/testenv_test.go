package testenv

import (
	"testing"
)

// recorder is a testing.TB that records how a test ended.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Skip(args ...any)                  { r.skipped = args[0].(string) }
func (r *recorder) Fatalf(format string, args ...any) { r.failed = format }

func TestRequire(t *testing.T) {
	for _, c := range []struct {
		ci, ok     bool
		skip, fail bool
	}{
		{ci: false, ok: true},
		{ci: true, ok: true},
		{ci: false, ok: false, skip: true},
		{ci: true, ok: false, fail: true},
	} {
		if c.ci {
			t.Setenv("CI", "true")
		} else {
			t.Setenv("CI", "")
		}
		r := &recorder{TB: t}
		Require(r, c.ok, "no frobnicator")
		if (r.skipped != "") != c.skip || (r.failed != "") != c.fail {
			t.Errorf("CI=%v ok=%v: skipped %q, failed %q", c.ci, c.ok, r.skipped, r.failed)
		}
	}
}
