package executor

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"

	"go.uber.org/goleak"
)

// helperEnv makes the test binary act as a task instead of running tests.
const helperEnv = "AGORA_EXECUTOR_TEST_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		runHelper(mode)
		return
	}
	goleak.VerifyTestMain(m)
}

// runHelper is a task with exactly known signal behaviour, which a shell
// script cannot promise (a SIGTERM that arrives while dash forks is lost).
func runHelper(mode string) {
	switch mode {
	case "trap-term": // report SIGTERM, never exit on it
		sigs := make(chan os.Signal, 1)
		signal.Notify(sigs, syscall.SIGTERM)
		fmt.Println("ready")
		for range sigs {
			fmt.Println("got-term")
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
		os.Exit(2)
	}
}
