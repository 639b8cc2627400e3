package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/agoraproject/agora/internal/apps"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/agoraproject/agora/internal/agent"
	"github.com/agoraproject/agora/internal/master"
	"github.com/agoraproject/agora/internal/registry"
)

// newDevCommand is `agora dev`: a whole cluster in one process (master and
// one agent) with its data under ./.agora, for trying Agora out.
func newDevCommand() *cobra.Command {
	var ip, workDir, res, attrs string
	var masterPort, agentPort, raftPort, appsPort int
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run a local cluster (master + agent) in one process, data under ./.agora",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			abs, err := filepath.Abs(workDir)
			if err != nil {
				return err
			}
			log := newLogger()
			masterDir := filepath.Join(abs, "master")
			reg, err := raftFlags{port: raftPort, timeout: 200 * time.Millisecond}.openRegistry(masterDir, ip, "", log)
			if err != nil {
				return err
			}
			defer reg.Close()
			m, err := master.New(master.Config{
				Registry:       reg,
				Apps:           &apps.Config{},
				AppsListenAddr: appsListenAddr(ip, appsPort),
				ListenAddr:     net.JoinHostPort(ip, strconv.Itoa(masterPort)),
				WorkDir:        masterDir,
				Cluster:        "agora-dev",
				Flags:          flagValues(cmd.Flags()),
				Logger:         log.With("component", "master"),
			})
			if err != nil {
				return err
			}
			a, err := agent.New(agent.Config{
				WorkDir:    filepath.Join(abs, "agent"),
				Masters:    []string{m.Addr()},
				ListenAddr: net.JoinHostPort(ip, strconv.Itoa(agentPort)),
				Hostname:   ip,
				Resources:  res,
				Attributes: attrs,
				Logger:     log.With("component", "agent"),
				LogLevel:   logLevel,
				Containers: agent.ContainerConfig{ExecutorHost: true},
			})
			if err != nil {
				return err
			}
			return runDev(cmd.Context(), m, a)
		},
	}
	f := cmd.Flags()
	f.SetNormalizeFunc(underscoreFlags)
	f.StringVar(&ip, "ip", "127.0.0.1", "IP address the master and agent listen on")
	f.IntVar(&masterPort, "port", 5050, "master port")
	f.IntVar(&agentPort, "agent_port", 5051, "agent port")
	f.IntVar(&raftPort, "raft_port", registry.DefaultRaftPort, "the master's Raft port")
	f.IntVar(&appsPort, "apps_port", 8080, "port of the Marathon API (0: only on the master's port)")
	f.StringVar(&workDir, "work_dir", ".agora", "directory for the cluster's data")
	f.StringVar(&res, "resources", "", "agent resources (default: autodetected)")
	f.StringVar(&attrs, "attributes", "", "agent attributes")
	return cmd
}

func runDev(ctx context.Context, m *master.Master, a *agent.Agent) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return m.Run(ctx) })
	g.Go(func() error { return a.Run(ctx) })
	g.Go(func() error {
		for _, ready := range []<-chan struct{}{m.Leading(), a.Ready()} {
			select {
			case <-ready:
			case <-ctx.Done():
				return nil
			}
		}
		fmt.Fprintf(os.Stderr, "\nAgora dev cluster is up.\n"+
			"  master:        http://%s   (scheduler API: http://%[1]s/api/v1/scheduler)\n"+
			"  master state:  http://%[1]s/master/state\n"+
			"  marathon API:  http://%[1]s/v2/apps\n"+
			"  agent:         http://%s\n"+
			"  try:           agora agent list --master %[1]s\n\n", m.Addr(), a.Addr())
		return nil
	})
	err := g.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

func appsListenAddr(ip string, port int) string {
	if port <= 0 {
		return ""
	}
	return net.JoinHostPort(ip, strconv.Itoa(port))
}
