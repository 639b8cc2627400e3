package registry

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"time"

	"github.com/hashicorp/raft"
)

// DefaultRaftPort is the masters' Raft port, next to the HTTP port 5050.
const DefaultRaftPort = 5049

// Pruning defaults (Mesos' registry_max_agent_age and registry_max_agent_count).
const (
	DefaultMaxAgentAge   = 14 * 24 * time.Hour
	DefaultMaxAgentCount = 102400
)

// Config configures one registry node.
type Config struct {
	// NodeID is the node's stable Raft server ID. Empty: AdvertiseAddr.
	// Nodes bootstrapped together from Peers must use their addresses.
	NodeID string
	// BindAddr is the Raft TCP listen address, e.g. "0.0.0.0:5049"
	// (DefaultRaftPort). Port 0 picks a free port.
	BindAddr string
	// AdvertiseAddr is the address other masters dial. Empty: BindAddr,
	// which must then not be an unspecified address such as 0.0.0.0.
	AdvertiseAddr string
	// DataDir holds the Raft log and stable store (raft.db) and snapshots.
	DataDir string
	// Peers are the Raft addresses of all masters of a new cluster,
	// including this one. Used only with Bootstrap; empty means just this node.
	Peers []string
	// Bootstrap makes a node with no state in DataDir bootstrap a new
	// cluster of Peers. Without it, a node with no state waits to be added
	// by the leader (AddVoter). A node with state ignores both.
	Bootstrap bool
	// Logger receives Raft's and the registry's logs. Nil: slog.Default().
	Logger *slog.Logger

	// Raft tuning; zero takes hashicorp/raft's default. Tests shorten the
	// timeouts; SnapshotThreshold and TrailingLogs bound the log on disk.
	HeartbeatTimeout   time.Duration // default 1s
	ElectionTimeout    time.Duration // default 1s
	LeaderLeaseTimeout time.Duration // default 500ms; at most HeartbeatTimeout
	SnapshotInterval   time.Duration // default 120s: how often to check SnapshotThreshold
	SnapshotThreshold  uint64        // default 8192 entries since the last snapshot
	TrailingLogs       uint64        // default 10240 entries kept after a snapshot
}

// check validates the config and fills in defaults that need no I/O.
func (c Config) check() (Config, error) {
	var errs []error
	if c.BindAddr == "" {
		errs = append(errs, errors.New("BindAddr is required"))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("DataDir is required"))
	}
	if c.AdvertiseAddr != "" {
		if _, err := advertiseTCPAddr(c.AdvertiseAddr); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range c.Peers {
		if _, _, err := net.SplitHostPort(p); err != nil {
			errs = append(errs, fmt.Errorf("peer %q: %w", p, err))
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if err := errors.Join(errs...); err != nil {
		return c, fmt.Errorf("registry: config: %w", err)
	}
	return c, nil
}

// advertiseTCPAddr resolves an address others can dial.
func advertiseTCPAddr(addr string) (*net.TCPAddr, error) {
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("advertise address %q: %w", addr, err)
	}
	if a.IP == nil || a.IP.IsUnspecified() || a.Port == 0 {
		return nil, fmt.Errorf("advertise address %q: needs a specific IP and port", addr)
	}
	return a, nil
}

// raftConfig is hashicorp/raft's config for this node.
func (c Config) raftConfig(id string, notify chan<- bool) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(id)
	rc.Logger = newRaftLogger(c.Logger)
	rc.NotifyCh = notify
	setIfNonZero(&rc.HeartbeatTimeout, c.HeartbeatTimeout)
	setIfNonZero(&rc.ElectionTimeout, c.ElectionTimeout)
	setIfNonZero(&rc.LeaderLeaseTimeout, c.LeaderLeaseTimeout)
	setIfNonZero(&rc.SnapshotInterval, c.SnapshotInterval)
	setIfNonZero(&rc.SnapshotThreshold, c.SnapshotThreshold)
	setIfNonZero(&rc.TrailingLogs, c.TrailingLogs)
	return rc
}

func setIfNonZero[T comparable](dst *T, v T) {
	var zero T
	if v != zero {
		*dst = v
	}
}

// bootstrapServers is the first configuration of a new cluster: Peers (or
// just this node), with server ID = address, this node under its NodeID.
func (c Config) bootstrapServers(id, addr string) (raft.Configuration, error) {
	peers := slices.Compact(slices.Sorted(slices.Values(c.Peers)))
	if len(peers) == 0 {
		peers = []string{addr}
	}
	if !slices.Contains(peers, addr) {
		return raft.Configuration{}, fmt.Errorf("registry: peers %v do not include this node's address %s", peers, addr)
	}
	if len(peers) > 1 && id != addr {
		// The others know this node only by its address.
		return raft.Configuration{}, fmt.Errorf("registry: node ID %q must be its address %s to bootstrap with peers", id, addr)
	}
	var conf raft.Configuration
	for _, p := range peers {
		sid := p
		if p == addr {
			sid = id
		}
		conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(sid), Address: raft.ServerAddress(p)})
	}
	return conf, nil
}
