package resources

import (
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

func TestWithCheckpointedReplacesWhatEachWasMadeFrom(t *testing.T) {
	static := mustParse(t, "cpus:4;mem:1024;disk:1000")
	reserved := withStack(scalarRes("disk", 300), dynamicRes("db", "ops"))
	volume := withStack(scalarRes("disk", 200), dynamicRes("db", "ops"))
	volume.Disk = &mesos.Resource_DiskInfo{
		Persistence: &mesos.Resource_DiskInfo_Persistence{Id: proto.String("pv-1")},
		Volume:      &mesos.Volume{ContainerPath: proto.String("data"), Mode: mesos.Volume_RW.Enum()},
	}
	tooBig := withStack(scalarRes("mem", 4096), dynamicRes("db", "ops"))
	checkpointed := MustFromProto([]*mesos.Resource{reserved, volume, tooBig})

	total, unfit := WithCheckpointed(static, checkpointed)
	checkCanonical(t, total)
	if got := total.Scalar("disk"); got != ScalarFromFloat(1000) {
		t.Errorf("disk in total %v, want all 1000 (500 of it reserved)", got)
	}
	if got := total.ReservedTo("db").Scalar("disk"); got != ScalarFromFloat(500) {
		t.Errorf("disk reserved to db %v, want 500", got)
	}
	if got := total.ReservedTo("db").Scalar("mem"); got != 0 {
		t.Errorf("mem reserved to db %v: the reservation larger than the agent should be left out", got)
	}
	if len(unfit) != 1 || unfit[0].Scalar("mem") != ScalarFromFloat(4096) {
		t.Errorf("unfit %v, want the 4096 MB reservation", unfit)
	}
	if got := total.Scalar("mem"); got != ScalarFromFloat(1024) {
		t.Errorf("mem %v, want 1024 unchanged", got)
	}
}
