package e2e

import (
	"encoding/json"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMasterMembership adds a fourth master to a running group with
// `agora master add` and removes it with `agora master remove`.
func TestMasterMembership(t *testing.T) {
	c := startHACluster(t, []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"}, nil)
	var peers []string
	for _, m := range c.masters {
		for _, a := range m.args {
			if v, ok := strings.CutPrefix(a, "--peers="); ok {
				peers = strings.Split(v, ",")
			}
		}
	}
	ip := "127.0.0.6"
	raft := net.JoinHostPort(ip, strconv.Itoa(freePort(t, ip)))
	_, raftPort, _ := net.SplitHostPort(raft)
	startAgora(t, "master4", "master", "--ip="+ip, "--port="+strconv.Itoa(freePort(t, ip)), "--raft_port="+raftPort,
		"--peers="+strings.Join(peers, ","), "--raft_timeout=300ms", "--apps_port=0", "--work_dir="+t.TempDir())

	master := c.masters[0].addr
	agora(t, "master", "add", raft, "--master", master)
	waitUntil(t, "four voters", 20*time.Second, func() bool { return voters(t, master) == 4 })
	agora(t, "master", "remove", raft, "--master", master)
	waitUntil(t, "three voters", 20*time.Second, func() bool { return voters(t, master) == 3 })
}

// agora runs the CLI and fails the test if it fails.
func agora(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(agoraBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("agora %v: %v\n%s", args, err, out)
	}
	return string(out)
}

func voters(t *testing.T, master string) int {
	t.Helper()
	var members []struct {
		Voter bool `json:"voter"`
	}
	if err := json.Unmarshal([]byte(agora(t, "master", "list", "--master", master, "-o", "json")), &members); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range members {
		if m.Voter {
			n++
		}
	}
	return n
}
