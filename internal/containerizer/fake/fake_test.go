package fake

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/agoraproject/agora/internal/containerizer"
)

func TestFakeLifecycle(t *testing.T) {
	f := New()
	var hooked []string
	f.OnLaunch = func(spec containerizer.LaunchSpec) { hooked = append(hooked, spec.ContainerID) }
	ctx := context.Background()
	pid, err := f.Launch(ctx, containerizer.LaunchSpec{ContainerID: "a", Argv: []string{"x"}})
	if err != nil || pid == 0 {
		t.Fatalf("Launch = %d, %v", pid, err)
	}
	if _, err := f.Launch(ctx, containerizer.LaunchSpec{ContainerID: "a"}); err == nil {
		t.Error("duplicate container launched")
	}
	f.Launch(ctx, containerizer.LaunchSpec{ContainerID: "b"})
	if got := <-f.Launched(); got.ContainerID != "a" || len(hooked) != 2 {
		t.Errorf("first launched %q, hooked %v", got.ContainerID, hooked)
	}
	if !f.Running("a") {
		t.Fatal("a is not running")
	}
	if _, err := f.Usage("a"); err != nil {
		t.Errorf("Usage: %v", err)
	}

	waited := make(chan containerizer.ExitStatus)
	go func() { st, _ := f.Wait(ctx, "a"); waited <- st }()
	if err := f.Exit("a", 7); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-waited:
		if !st.Known || st.WaitStatus.ExitStatus() != 7 || st.Destroyed {
			t.Errorf("status = %+v", st)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after Exit")
	}

	if err := f.Destroy(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if st, _ := f.Wait(ctx, "b"); !st.Destroyed || f.Running("b") {
		t.Errorf("b after Destroy: %+v running=%v", st, f.Running("b"))
	}
	if _, err := f.Wait(ctx, "zzz"); !errors.Is(err, containerizer.ErrUnknownContainer) {
		t.Errorf("Wait of unknown = %v", err)
	}
	if got := len(f.Specs()); got != 2 {
		t.Errorf("Specs has %d entries", got)
	}
}

func TestFakeLaunchError(t *testing.T) {
	f := New()
	f.SetLaunchError(errors.New("no room"))
	if _, err := f.Launch(context.Background(), containerizer.LaunchSpec{ContainerID: "a"}); err == nil {
		t.Error("launch succeeded despite LaunchError")
	}
}
