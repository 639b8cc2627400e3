package mesosjson

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	scheduler "github.com/agoraproject/agora/api/v1/scheduler"
)

// Realistic messages, shaped like what a Mesos 1.11 master sends and a
// framework such as Marathon subscribes with.

const (
	sampleMasterID    = "a5f1c3d2-7b3e-4c1a-9f0e-2d4b6c8a0e1f"
	sampleFrameworkID = sampleMasterID + "-0000"
	sampleAgentID     = sampleMasterID + "-S0"
)

func sampleSubscribeCall() *scheduler.Call {
	return &scheduler.Call{
		Type: scheduler.Call_SUBSCRIBE.Enum(),
		Subscribe: &scheduler.Call_Subscribe{
			FrameworkInfo: &mesos.FrameworkInfo{
				User:            proto.String("root"),
				Name:            proto.String("marathon"),
				FailoverTimeout: proto.Float64(604800),
				Roles:           []string{"web"},
				Hostname:        proto.String("marathon-1.example.com"),
				WebuiUrl:        proto.String("http://marathon-1.example.com:8080"),
				Capabilities: []*mesos.FrameworkInfo_Capability{
					{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE.Enum()},
					{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()},
				},
			},
		},
	}
}

func sampleSubscribedEvent() *scheduler.Event {
	return &scheduler.Event{
		Type: scheduler.Event_SUBSCRIBED.Enum(),
		Subscribed: &scheduler.Event_Subscribed{
			FrameworkId:              &mesos.FrameworkID{Value: proto.String(sampleFrameworkID)},
			HeartbeatIntervalSeconds: proto.Float64(15),
			MasterInfo: &mesos.MasterInfo{
				Id:       proto.String(sampleMasterID),
				Ip:       proto.Uint32(16842879), // 127.0.0.1 in network order, as Mesos writes it
				Port:     proto.Uint32(5050),
				Pid:      proto.String("master@127.0.0.1:5050"),
				Hostname: proto.String("master-1.example.com"),
				Version:  proto.String("1.11.0"),
				Address: &mesos.Address{
					Hostname: proto.String("master-1.example.com"),
					Ip:       proto.String("127.0.0.1"),
					Port:     proto.Int32(5050),
				},
				Capabilities: []*mesos.MasterInfo_Capability{
					{Type: mesos.MasterInfo_Capability_AGENT_UPDATE.Enum()},
					{Type: mesos.MasterInfo_Capability_AGENT_DRAINING.Enum()},
					{Type: mesos.MasterInfo_Capability_QUOTA_V2.Enum()},
				},
			},
		},
	}
}

func sampleOffersEvent(n int) *scheduler.Event {
	offers := make([]*mesos.Offer, n)
	for i := range offers {
		offers[i] = sampleOffer(i)
	}
	return &scheduler.Event{
		Type:   scheduler.Event_OFFERS.Enum(),
		Offers: &scheduler.Event_Offers{Offers: offers},
	}
}

func sampleOffer(i int) *mesos.Offer {
	alloc := &mesos.Resource_AllocationInfo{Role: proto.String("web")}
	host := fmt.Sprintf("agent-%d.example.com", i)
	return &mesos.Offer{
		Id:          &mesos.OfferID{Value: proto.String(fmt.Sprintf("%s-O%d", sampleMasterID, i))},
		FrameworkId: &mesos.FrameworkID{Value: proto.String(sampleFrameworkID)},
		AgentId:     &mesos.AgentID{Value: proto.String(fmt.Sprintf("%s-S%d", sampleMasterID, i))},
		Hostname:    proto.String(host),
		Url: &mesos.URL{
			Scheme: proto.String("http"),
			Address: &mesos.Address{
				Hostname: proto.String(host),
				Ip:       proto.String(fmt.Sprintf("10.0.%d.%d", i/250, i%250+1)),
				Port:     proto.Int32(5051),
			},
			Path: proto.String("/slave(1)"),
		},
		Resources: []*mesos.Resource{
			scalarResource("cpus", 3.5, alloc),
			scalarResource("mem", 15360, alloc),
			scalarResource("disk", 470000, alloc),
			{
				Name:           proto.String("ports"),
				Type:           mesos.Value_RANGES.Enum(),
				Ranges:         &mesos.Value_Ranges{Range: []*mesos.Value_Range{{Begin: proto.Uint64(31000), End: proto.Uint64(32000)}}},
				AllocationInfo: alloc,
			},
		},
		Attributes: []*mesos.Attribute{
			{Name: proto.String("rack"), Type: mesos.Value_TEXT.Enum(), Text: &mesos.Value_Text{Value: proto.String(fmt.Sprintf("r%d", i%8))}},
			{Name: proto.String("zone"), Type: mesos.Value_TEXT.Enum(), Text: &mesos.Value_Text{Value: proto.String("us-east-1a")}},
			{Name: proto.String("level"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(2)}},
		},
		AllocationInfo: alloc,
	}
}

func scalarResource(name string, v float64, alloc *mesos.Resource_AllocationInfo) *mesos.Resource {
	return &mesos.Resource{
		Name:           proto.String(name),
		Type:           mesos.Value_SCALAR.Enum(),
		Scalar:         &mesos.Value_Scalar{Value: proto.Float64(v)},
		AllocationInfo: alloc,
	}
}

func sampleUpdateEvent() *scheduler.Event {
	return &scheduler.Event{
		Type: scheduler.Event_UPDATE.Enum(),
		Update: &scheduler.Event_Update{
			Status: &mesos.TaskStatus{
				TaskId:     &mesos.TaskID{Value: proto.String("web.4b1e5c3a-0f2d-11ef-9a4c-0242ac120002")},
				State:      mesos.TaskState_TASK_RUNNING.Enum(),
				Source:     mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
				AgentId:    &mesos.AgentID{Value: proto.String(sampleAgentID)},
				ExecutorId: &mesos.ExecutorID{Value: proto.String("web.4b1e5c3a-0f2d-11ef-9a4c-0242ac120002")},
				Timestamp:  proto.Float64(1715000000.123456),
				Uuid: []byte{0x9f, 0x3c, 0x1e, 0x4b, 0x7a, 0x02, 0x4d, 0x6e,
					0xb1, 0xf8, 0x55, 0xc0, 0x2a, 0x9d, 0xe4, 0x17},
				Healthy: proto.Bool(true),
				ContainerStatus: &mesos.ContainerStatus{
					ContainerId: &mesos.ContainerID{Value: proto.String("5e7b2c9d-1a3f-4e6b-8c0d-2f4a6b8c0e1d")},
					ExecutorPid: proto.Uint32(4242),
					NetworkInfos: []*mesos.NetworkInfo{{
						IpAddresses: []*mesos.NetworkInfo_IPAddress{{IpAddress: proto.String("10.0.0.7")}},
					}},
				},
			},
		},
	}
}
