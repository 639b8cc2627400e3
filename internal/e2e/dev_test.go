package e2e

import (
	"net"
	"strconv"
	"testing"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/schedtest"
)

// TestDevCluster: `agora dev` alone is a working cluster — a framework
// subscribes, gets an offer from its agent and runs a task.
func TestDevCluster(t *testing.T) {
	workDir := t.TempDir()
	mport, aport := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.1")
	startAgora(t, "dev", "dev", "--port="+strconv.Itoa(mport), "--agent_port="+strconv.Itoa(aport),
		"--raft_port="+strconv.Itoa(freePort(t, "127.0.0.1")), "--apps_port=0", "--work_dir="+workDir)
	t.Cleanup(func() { killLeftovers(workDir) })
	master := net.JoinHostPort("127.0.0.1", strconv.Itoa(mport))
	waitUntil(t, "dev master leading", 15*time.Second, func() bool { return httpOK("http://" + master + "/master/state") })

	s := schedtest.Subscribe(t, master, wire.JSON, schedtest.FrameworkInfo("dev"))
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	if got := offer.GetUrl().GetAddress().GetPort(); got != int32(aport) {
		t.Fatalf("offer from agent port %d, want %d", got, aport)
	}
	s.Launch(offer, schedtest.CommandTask("dev-task", offer, "echo from dev"))
	waitForState(t, s, "dev-task", mesos.TaskState_TASK_FINISHED)
}
