package containerizer

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat; it is
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// procStat is the part of /proc/<pid>/stat that usage accounting needs.
type procStat struct {
	state      byte
	session    int
	utimeTicks uint64
	stimeTicks uint64
	threads    uint64
	rssPages   uint64
}

// readProcStat parses /proc/<pid>/stat. The command name (field 2) may hold
// spaces and parentheses, so fields are counted after its last ')'.
func readProcStat(procRoot string, pid int) (procStat, error) {
	data, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(pid), "stat"))
	if err != nil {
		return procStat{}, err
	}
	return parseProcStat(data)
}

func parseProcStat(data []byte) (procStat, error) {
	end := bytes.LastIndexByte(data, ')')
	if end < 0 {
		return procStat{}, errors.New("malformed stat: no command name")
	}
	f := bytes.Fields(data[end+1:])
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 22 {
		return procStat{}, fmt.Errorf("malformed stat: %d fields", len(f)+2)
	}
	num := func(i int) uint64 { v, _ := strconv.ParseUint(string(f[i]), 10, 64); return v }
	return procStat{
		state:      f[0][0],
		session:    int(num(3)),
		utimeTicks: num(11),
		stimeTicks: num(12),
		threads:    num(17),
		rssPages:   num(21),
	}, nil
}

// usageSample is usage summed over a set of processes.
type usageSample struct {
	processes, threads     uint64
	utimeTicks, stimeTicks uint64
	rssBytes               uint64
}

// sessionUsage sums the statistics of every live process in session sid.
func sessionUsage(procRoot string, sid int) (usageSample, error) {
	entries, err := os.ReadDir(procRoot)
	if err != nil {
		return usageSample{}, err
	}
	page := uint64(os.Getpagesize())
	var s usageSample
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := readProcStat(procRoot, pid)
		if err != nil || st.session != sid || st.state == 'Z' {
			continue // gone meanwhile, another session, or a zombie
		}
		s.processes++
		s.threads += st.threads
		s.utimeTicks += st.utimeTicks
		s.stimeTicks += st.stimeTicks
		s.rssBytes += st.rssPages * page
	}
	if s.processes == 0 {
		return s, fmt.Errorf("no live process in session %d", sid)
	}
	return s, nil
}

func (s usageSample) statistics(now time.Time) *mesos.ResourceStatistics {
	return &mesos.ResourceStatistics{
		Timestamp:          proto.Float64(float64(now.UnixNano()) / 1e9),
		Processes:          proto.Uint32(uint32(s.processes)),
		Threads:            proto.Uint32(uint32(s.threads)),
		CpusUserTimeSecs:   proto.Float64(float64(s.utimeTicks) / clockTicks),
		CpusSystemTimeSecs: proto.Float64(float64(s.stimeTicks) / clockTicks),
		MemRssBytes:        proto.Uint64(s.rssBytes),
	}
}
