package master

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/agoraproject/agora/api/v1/maintenance"
	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/protocol"
	"github.com/agoraproject/agora/internal/schedtest"
	"github.com/agoraproject/agora/internal/version"
)

// goldenCluster is a master with one agent, one framework running a
// command task and a custom-executor task, a finished task, weights,
// quota, a maintenance schedule and a log file.
func goldenCluster(t *testing.T) (*Master, *fakeAgent, *schedtest.Scheduler) {
	t.Helper()
	logFile := filepath.Join(t.TempDir(), "master.log")
	if err := os.WriteFile(logFile, []byte("line one\nline two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := startMaster(t, func(c *Config) {
		c.Cluster = "golden"
		c.LogFile = logFile
		c.Flags = map[string]string{"allocation_interval": "50ms", "cluster": "golden"}
	})
	agent := startFakeAgent(t, m, "agent.example", "cpus:2;mem:1024;disk:2048;ports:[31000-31009]")
	info := frameworkInfo("golden")
	info.FailoverTimeout = proto.Float64(3600)
	s := subscribe(t, m, wire.JSON, info)
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	withExecutor := commandTask("executor-task", offer, "")
	withExecutor.Command = nil
	withExecutor.Executor = &mesos.ExecutorInfo{
		ExecutorId: &mesos.ExecutorID{Value: proto.String("golden-executor")},
		Command:    &mesos.CommandInfo{Value: proto.String("./executor")},
		Resources:  []*mesos.Resource{schedtest.Scalar("cpus", 0.1), schedtest.Scalar("mem", 32)},
	}
	accept(s, offer, 3600, launchOp(commandTask("running-task", offer, "sleep 600"),
		commandTask("finished-task", offer, "true"), withExecutor))
	for range 3 {
		agent.next(protocol.AgentEvent_RUN_TASK)
	}
	for _, st := range []struct {
		id    string
		state mesos.TaskState
	}{{"running-task", mesos.TaskState_TASK_RUNNING}, {"finished-task", mesos.TaskState_TASK_FINISHED}, {"executor-task", mesos.TaskState_TASK_RUNNING}} {
		agent.update(s.FrameworkID, st.id, st.state)
		s.Ack(s.NextUpdate())
		agent.next(protocol.AgentEvent_ACKNOWLEDGE)
	}
	mustCall(t, m, wire.JSON, http.StatusOK, weightsCall(map[string]float64{"eng": 2}))
	mustCall(t, m, wire.JSON, http.StatusOK, quotaCall(false, quotaConfig("eng", map[string]float64{"cpus": 1}, map[string]float64{"cpus": 2})))
	mustCall(t, m, wire.JSON, http.StatusOK, scheduleCall(window(3600, &mesos.MachineID{Hostname: proto.String("maint.example"), Ip: proto.String("10.0.0.9")})))
	return m, agent, s
}

func window(durationSecs int64, machines ...*mesos.MachineID) *maintenance.Window {
	return &maintenance.Window{MachineIds: machines, Unavailability: &mesos.Unavailability{
		Start:    &mesos.TimeInfo{Nanoseconds: proto.Int64(1700000000000000000)},
		Duration: &mesos.DurationInfo{Nanoseconds: proto.Int64(durationSecs * 1e9)},
	}}
}

func scheduleCall(windows ...*maintenance.Window) *masterpb.Call {
	return &masterpb.Call{Type: masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE.Enum(),
		UpdateMaintenanceSchedule: &masterpb.Call_UpdateMaintenanceSchedule{Schedule: &maintenance.Schedule{Windows: windows}}}
}

// TestGoldenOperatorCalls records every read call's answer (JSON, the
// protobuf answer must be the same message) in testdata/operator/.
func TestGoldenOperatorCalls(t *testing.T) {
	m, _, _ := goldenCluster(t)
	calls := map[string]*masterpb.Call{
		"get_health":               getCall(masterpb.Call_GET_HEALTH),
		"get_flags":                getCall(masterpb.Call_GET_FLAGS),
		"get_master":               getCall(masterpb.Call_GET_MASTER),
		"get_state":                getCall(masterpb.Call_GET_STATE),
		"get_agents":               getCall(masterpb.Call_GET_AGENTS),
		"get_frameworks":           getCall(masterpb.Call_GET_FRAMEWORKS),
		"get_executors":            getCall(masterpb.Call_GET_EXECUTORS),
		"get_tasks":                getCall(masterpb.Call_GET_TASKS),
		"get_operations":           getCall(masterpb.Call_GET_OPERATIONS),
		"get_roles":                getCall(masterpb.Call_GET_ROLES),
		"get_weights":              getCall(masterpb.Call_GET_WEIGHTS),
		"get_quota":                getCall(masterpb.Call_GET_QUOTA),
		"get_logging_level":        getCall(masterpb.Call_GET_LOGGING_LEVEL),
		"get_maintenance_schedule": getCall(masterpb.Call_GET_MAINTENANCE_SCHEDULE),
		"get_maintenance_status":   getCall(masterpb.Call_GET_MAINTENANCE_STATUS),
		"list_files": {Type: masterpb.Call_LIST_FILES.Enum(),
			ListFiles: &masterpb.Call_ListFiles{Path: proto.String("/master/log")}},
		"read_file": {Type: masterpb.Call_READ_FILE.Enum(),
			ReadFile: &masterpb.Call_ReadFile{Path: proto.String("/master/log"), Offset: proto.Uint64(5), Length: proto.Uint64(8)}},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			code, body := callBoth(t, m, call)
			if code != http.StatusOK {
				t.Fatalf("%d %s", code, body)
			}
			checkGolden(t, "operator/"+name+".json", indent(t, stableFileInfo(body)))
		})
	}
}

// stableFileInfo hides the log file's owner, which depends on who runs the
// tests.
var regexpUIDGID = regexp.MustCompile(`"(uid|gid)":"[^"]*"`)

func stableFileInfo(b []byte) []byte {
	s := regexpUIDGID.ReplaceAllString(string(b), `"$1":"OWNER"`)
	return []byte(s)
}

// TestOperatorCallsAnswerVersionAndMetrics: GET_VERSION and GET_METRICS
// change with the build and the machine, so their shape is checked.
func TestOperatorCallsAnswerVersionAndMetrics(t *testing.T) {
	m := startMaster(t, nil)
	_, body := callBoth(t, m, getCall(masterpb.Call_GET_VERSION))
	if !strings.Contains(string(body), `"version_info":{"version":"`+version.Mesos+`"`) {
		t.Errorf("GET_VERSION: %s", body)
	}
	resp := mustCall(t, m, wire.Protobuf, http.StatusOK, getCall(masterpb.Call_GET_METRICS))
	names := map[string]bool{}
	for _, mt := range resp.GetGetMetrics().GetMetrics() {
		names[mt.GetName()] = true
	}
	for _, want := range []string{"master/elected", "master/uptime_secs", "master/slaves_active"} {
		if !names[want] {
			t.Errorf("GET_METRICS lacks %s", want)
		}
	}
}
