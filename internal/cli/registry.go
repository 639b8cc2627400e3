package cli

import (
	"errors"
	"log/slog"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/agoraproject/agora/internal/registry"
)

// raftFlags are the flags that place a master in its Raft group.
type raftFlags struct {
	port    int
	peers   string
	timeout time.Duration
}

// openRegistry opens the master's registry under workDir/registry. A master
// bootstraps a new cluster when it has no peers (a cluster of one) or is one
// of its peers; otherwise it waits to be added by the leader (docs/ha.md).
func (f raftFlags) openRegistry(workDir, ip, advertiseIP string, log *slog.Logger) (*registry.Registry, error) {
	if workDir == "" {
		return nil, errors.New("--work_dir is required: the registry lives there")
	}
	var peers []string
	for _, p := range strings.Split(f.peers, ",") {
		if p = strings.TrimSpace(p); p != "" {
			peers = append(peers, p)
		}
	}
	raftIP := advertiseIP
	if raftIP == "" {
		raftIP = ip
	}
	if parsed := net.ParseIP(raftIP); parsed == nil || parsed.IsUnspecified() {
		if len(peers) > 0 {
			return nil, errors.New("--advertise_ip is required with --peers when listening on all addresses")
		}
		raftIP = "127.0.0.1"
	}
	self := net.JoinHostPort(raftIP, strconv.Itoa(f.port))
	bind := net.JoinHostPort(ip, strconv.Itoa(f.port))
	if parsed := net.ParseIP(ip); parsed == nil || parsed.IsUnspecified() && len(peers) == 0 {
		bind = self
	}
	cfg := registry.Config{
		NodeID:        self,
		BindAddr:      bind,
		AdvertiseAddr: self,
		DataDir:       filepath.Join(workDir, "registry"),
		Peers:         peers,
		Bootstrap:     len(peers) == 0 || slices.Contains(peers, self),
		Logger:        log.With("component", "registry"),
	}
	if f.timeout > 0 {
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = f.timeout, f.timeout, f.timeout/2
	}
	return registry.Open(cfg)
}
