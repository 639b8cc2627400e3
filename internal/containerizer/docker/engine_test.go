package docker

import (
	"bytes"
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the log copier and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testImage must be loaded by whoever runs this test (DOCKER_TEST_IMAGE);
// the e2e tests build and load one themselves.
func TestEngineRunCopiesOutputAndReportsTheExitCode(t *testing.T) {
	img := os.Getenv("DOCKER_TEST_IMAGE")
	if img == "" {
		t.Skip("set DOCKER_TEST_IMAGE to an image with /bin/sh loaded in the local engine (internal/e2e covers this in CI)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	e, err := Connect(ctx, "/var/run/docker.sock")
	if err != nil {
		t.Skip(err)
	}
	defer e.Close()
	var out, errOut syncBuffer
	c, err := e.Run(ctx, RunSpec{Name: "agora-engine-test", Image: img, Entrypoint: []string{"/bin/sh", "-c"},
		Cmd: []string{"echo hello; echo oops >&2; exit 3"}, Stdout: &out, Stderr: &errOut})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Remove(context.Background())
	code, err := c.Wait(ctx)
	if err != nil || code != 3 {
		t.Fatalf("Wait = %d, %v", code, err)
	}
	if !strings.Contains(out.String(), "hello") || !strings.Contains(errOut.String(), "oops") {
		t.Fatalf("stdout %q stderr %q", out.String(), errOut.String())
	}
}
