package cli

import (
	"slices"
	"testing"
)

// TestMesosNegations: --no-<bool flag> is Mesos' spelling of false, in
// either underscore or dash style; anything else is left for pflag.
func TestMesosNegations(t *testing.T) {
	root := newRoot()
	got := mesosNegations(root, []string{"agent", "--no-switch_user", "--no-executor-host", "--no-such_flag", "--no-work_dir", "--work_dir=/x"})
	want := []string{"agent", "--switch_user=false", "--executor-host=false", "--no-such_flag", "--no-work_dir", "--work_dir=/x"}
	if !slices.Equal(got, want) {
		t.Errorf("mesosNegations = %q, want %q", got, want)
	}
}
