package registry

import (
	"testing"

	"go.uber.org/goleak"
)

// Every Registry and Registrar a test opens is closed in its cleanup, and
// closing one stops all of its goroutines (Raft's included).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
