package containerizer_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/containerizer/fake"
)

// TestCompositeRoutesByContainerType: DOCKER containers go to the docker
// containerizer, everything else (no ContainerInfo included: its type is
// required, and reads as DOCKER when absent) to mesos; later calls follow
// the container.
func TestCompositeRoutesByContainerType(t *testing.T) {
	ctx := context.Background()
	mesosC, dockerC := fake.New(), fake.New()
	c := containerizer.NewComposite(mesosC, dockerC)
	dockerInfo := &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(), Docker: &mesos.ContainerInfo_DockerInfo{Image: proto.String("x")}}
	for _, spec := range []containerizer.LaunchSpec{
		{ContainerID: "plain", Argv: []string{"true"}},
		{ContainerID: "mesos", Argv: []string{"true"}, Container: &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum()}},
		{ContainerID: "docker", Argv: []string{"true"}, Container: dockerInfo},
	} {
		if _, err := c.Launch(ctx, spec); err != nil {
			t.Fatalf("Launch %s: %v", spec.ContainerID, err)
		}
	}
	if n := len(mesosC.Specs()); n != 2 {
		t.Errorf("mesos launched %d containers, want 2", n)
	}
	if specs := dockerC.Specs(); len(specs) != 1 || specs[0].ContainerID != "docker" {
		t.Errorf("docker launched %v", specs)
	}
	if err := c.Destroy(ctx, "docker"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Wait(ctx, "nope"); !errors.Is(err, containerizer.ErrUnknownContainer) {
		t.Errorf("Wait(unknown) = %v", err)
	}
	noDocker := containerizer.NewComposite(fake.New(), nil)
	if _, err := noDocker.Launch(ctx, containerizer.LaunchSpec{ContainerID: "d", Argv: []string{"x"}, Container: dockerInfo}); !errors.Is(err, containerizer.ErrDockerDisabled) {
		t.Errorf("Launch without docker = %v", err)
	}
}

// TestCompositeForgetsWithItsContainerizer: the route of an ended
// container goes when its containerizer forgets it; a running one's stays.
func TestCompositeForgetsWithItsContainerizer(t *testing.T) {
	ctx := context.Background()
	mesosC := fake.New()
	c := containerizer.NewComposite(mesosC, nil)
	for _, id := range []string{"ended", "running"} {
		if _, err := c.Launch(ctx, containerizer.LaunchSpec{ContainerID: id, Argv: []string{"x"}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Destroy(ctx, "ended"); err != nil {
		t.Fatal(err)
	}
	c.Forget("ended")
	c.Forget("running")
	if _, err := c.Wait(ctx, "ended"); !errors.Is(err, containerizer.ErrUnknownContainer) {
		t.Errorf("Wait after Forget: %v, want ErrUnknownContainer", err)
	}
	if !mesosC.Running("running") {
		t.Fatal("the running container was forgotten by its containerizer")
	}
	if err := c.Destroy(ctx, "running"); err != nil {
		t.Errorf("the running container lost its route: %v", err)
	}
}

// declining is an executor host that takes no new container.
type declining struct{ *fake.Containerizer }

func (declining) Launch(context.Context, containerizer.LaunchSpec) (int, error) {
	return 0, containerizer.ErrUnavailable
}

func (d declining) Adopt(_ context.Context, known []containerizer.RecoverSpec) ([]containerizer.RecoverSpec, error) {
	return known, nil
}

// TestCompositeLaunchesWithMesosWhenTheHostDeclines: a built-in executor
// the executor host declines (ErrUnavailable) is launched by the Mesos
// containerizer, which then owns it.
func TestCompositeLaunchesWithMesosWhenTheHostDeclines(t *testing.T) {
	ctx := context.Background()
	mesosC := fake.New()
	c := containerizer.NewComposite(mesosC, nil)
	c.Hosted = declining{fake.New()}
	if _, err := c.Launch(ctx, containerizer.LaunchSpec{ContainerID: "e1", Argv: []string{"true"}, BuiltinExecutor: true}); err != nil {
		t.Fatalf("Launch: %v", err)
	}
	if specs := mesosC.Specs(); len(specs) != 1 || specs[0].ContainerID != "e1" {
		t.Fatalf("mesos launched %v, want e1", specs)
	}
	if err := c.Destroy(ctx, "e1"); err != nil {
		t.Errorf("Destroy did not reach the Mesos containerizer: %v", err)
	}
}
