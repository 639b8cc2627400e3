// Package linux is the containerizer Agora uses when the agent runs as
// root on Linux: every container gets new pid, mount, UTS and IPC
// namespaces (and, when its ContainerInfo asks for a network, a network
// namespace with only loopback; host networking otherwise), cgroups that
// hold it to its cpus, mem and a pids limit, and, when it names an image, a
// root filesystem assembled from the agent's image store.
//
// Launch, step by step:
//
//	agent (Launch)                          container
//	──────────────                          ─────────
//	cgroup created, limits written
//	image provisioned (overlay layers)
//	clone(NEWPID|NEWNS|NEWUTS|NEWIPC) ────▶ `agora container-init` (PID 1)
//	pid written to the cgroups                blocks reading the sync pipe
//	configuration written, pipe closed ────▶ mounts, hostname, loopback
//	error pipe read until EOF         ◀──── exec the built-in executor as PID 1,
//	                                          or start the first process and stay
//	                                          PID 1: forward signals, reap orphans
//
// Because the configuration is sent only after the init joined the
// cgroups, nothing of the container ever runs outside them. The mounts live
// in the container's mount namespace only: when its last process exits
// they are gone, and nothing is left on the host but the directories the
// agent removes.
//
// A container ends when its PID 1 does (the kernel then kills the rest of
// its pid namespace). Its cgroup's OOM kill count is read before the
// cgroup is removed: a container the kernel OOM-killed ends with a
// Limitation (REASON_CONTAINER_LIMITATION_MEMORY).
package linux

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/asuser"
	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/containerizer/cgroups"
	"github.com/agoraproject/agora/internal/containerizer/image"
)

const (
	// cleanupTimeout bounds removing a container's cgroups and root
	// filesystem after it ended.
	cleanupTimeout = 30 * time.Second
	// adoptedPollInterval is how often a recovered container (not our
	// child) is checked.
	adoptedPollInterval = 500 * time.Millisecond
)

// Provisioner makes containers' root filesystems from images; package
// image implements it.
type Provisioner interface {
	Provision(ctx context.Context, containerID string, img *mesos.Image) (*image.Rootfs, error)
	Release(containerID string) error
}

// Config configures a Containerizer.
type Config struct {
	// InitCommand is the argv prefix that runs Init; nil means this
	// binary's hidden `container-init` command.
	InitCommand []string
	// Cgroups, when set, holds containers to their resources.
	Cgroups *cgroups.Hierarchy
	// CFSQuota caps cpu time at the container's cpus, beyond its share.
	CFSQuota bool
	// PidsMax caps each container's processes and threads (0: no cap).
	PidsMax int64
	// Images provides image root filesystems; nil refuses images.
	Images Provisioner
	// Logger receives the containerizer's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Containerizer launches containers in Linux namespaces and cgroups.
type Containerizer struct {
	cfg Config
	log *slog.Logger

	mu         sync.Mutex
	containers map[string]*container
}

type container struct {
	id      string
	pid     int
	proc    *os.Process // a pidfd-backed handle where the kernel has them
	cg      *cgroups.Cgroup
	memory  float64 // MB, for the limitation message
	cpus    float64
	hasRoot bool // an image was provisioned

	done      chan struct{} // closed once status is set
	status    containerizer.ExitStatus
	destroyed bool // guarded by Containerizer.mu
}

// New returns a Containerizer. It checks that the init can be found.
func New(cfg Config) (*Containerizer, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if len(cfg.InitCommand) == 0 {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("linux: locating the container init: %w", err)
		}
		cfg.InitCommand = []string{self, "container-init"}
	}
	return &Containerizer{cfg: cfg, log: cfg.Logger, containers: make(map[string]*container)}, nil
}

// Launch starts spec's container; see the package doc.
func (c *Containerizer) Launch(ctx context.Context, spec containerizer.LaunchSpec) (int, error) {
	if spec.ContainerID == "" || len(spec.Argv) == 0 {
		return 0, errors.New("linux: launch needs a container ID and an argv")
	}
	ct := &container{id: spec.ContainerID, done: make(chan struct{})}
	ct.cpus, ct.memory = scalar(spec.Resources, "cpus"), scalar(spec.Resources, "mem")
	c.mu.Lock()
	if _, dup := c.containers[spec.ContainerID]; dup {
		c.mu.Unlock()
		return 0, fmt.Errorf("linux: container %s already exists", spec.ContainerID)
	}
	c.containers[spec.ContainerID] = ct
	c.mu.Unlock()
	cfg, err := c.prepare(ctx, ct, spec)
	if err != nil {
		c.cleanup(ct)
		c.finish(ct, containerizer.ExitStatus{Message: "launch failed: " + err.Error()})
		return 0, err
	}
	// From here on the init's reaper ends the container, also when the
	// start fails.
	return c.start(ct, spec, cfg)
}

// prepare makes the container's cgroups and root filesystem and its init's
// configuration.
func (c *Containerizer) prepare(ctx context.Context, ct *container, spec containerizer.LaunchSpec) (*initConfig, error) {
	if h := c.cfg.Cgroups; h != nil {
		cg, err := h.Create(ct.id, cgroups.Limits{CPUs: ct.cpus, CFSQuota: c.cfg.CFSQuota,
			MemoryBytes: int64(ct.memory * (1 << 20)), PidsMax: c.cfg.PidsMax})
		if err != nil {
			return nil, fmt.Errorf("linux: %w", err)
		}
		ct.cg = cg
	}
	return c.initConfig(ctx, ct, spec)
}

// scalar sums the named scalar resource.
func scalar(rs []*mesos.Resource, name string) float64 {
	total := 0.0
	for _, r := range rs {
		if r.GetName() == name && r.GetType() == mesos.Value_SCALAR {
			total += r.GetScalar().GetValue()
		}
	}
	return total
}

// initConfig is what the container's init is told.
func (c *Containerizer) initConfig(ctx context.Context, ct *container, spec containerizer.LaunchSpec) (*initConfig, error) {
	cfg := &initConfig{
		Path:       spec.Path,
		Argv:       spec.Argv,
		Env:        spec.Env,
		Dir:        spec.Dir,
		Hostname:   spec.Container.GetHostname(),
		NetNS:      len(spec.Container.GetNetworkInfos()) > 0,
		ExecDirect: spec.BuiltinExecutor,
	}
	if cfg.Path == "" {
		cfg.Path = spec.Argv[0]
	}
	if cfg.Dir == "" {
		cfg.Dir = spec.Sandbox
	}
	if cfg.Hostname == "" {
		cfg.Hostname = hostnameFor(spec.ContainerID)
	}
	var err error
	if cfg.User, err = credentialOf(spec.User); err != nil {
		return nil, err
	}
	if u := cfg.User; u != nil {
		if err := os.Chown(spec.Sandbox, int(u.Uid), int(u.Gid)); err != nil {
			return nil, fmt.Errorf("linux: giving the sandbox to user %q: %w", spec.User, err)
		}
	}
	if img := spec.Container.GetMesos().GetImage(); img != nil {
		if err := c.provision(ctx, ct, spec, img, cfg); err != nil {
			return nil, err
		}
	}
	cfg.Binds, err = volumeBinds(spec, cfg.Rootfs != nil)
	if err != nil {
		return nil, err
	}
	if (cfg.Rootfs == nil || !cfg.Rootfs.Pivot) && !isAbs(cfg.Path) {
		if cfg.Path, err = exec.LookPath(cfg.Path); err != nil {
			return nil, fmt.Errorf("linux: %w", err)
		}
	}
	return cfg, nil
}

func isAbs(p string) bool { return len(p) > 0 && p[0] == '/' }

// hostnameFor is a container's default hostname: its ID, cut to the 63
// bytes a hostname may have.
func hostnameFor(id string) string {
	if len(id) > 63 {
		return id[:63]
	}
	return id
}

// provision assembles the image and points the init (or, for a command
// task, its executor) at it.
func (c *Containerizer) provision(ctx context.Context, ct *container, spec containerizer.LaunchSpec, img *mesos.Image, cfg *initConfig) error {
	if c.cfg.Images == nil {
		return errors.New("linux: this agent has no image store (it needs --image_providers=docker)")
	}
	rootfs, err := c.cfg.Images.Provision(ctx, ct.id, img)
	ct.hasRoot = true
	if err != nil {
		return err
	}
	cfg.Rootfs = &rootfsConfig{Dir: rootfs.Dir, Lower: rootfs.Lower, Upper: rootfs.Upper, Work: rootfs.Work,
		Sandbox: spec.Sandbox, Pivot: !spec.ImageForTask}
	if spec.ImageForTask {
		if cfg.User != nil {
			// The executor enters the image with chroot, which takes root;
			// it runs the task as the user.
			cfg.Env = withEnv(cfg.Env, image.EnvTaskUser, spec.User)
			cfg.User = nil
		}
		cfg.Env = withEnv(cfg.Env, image.EnvRootfs, rootfs.Dir)
		cfg.Env = withEnv(cfg.Env, image.EnvRuntimeConfig, rootfs.Config.Encode())
		cfg.Env = withEnv(cfg.Env, "MESOS_SANDBOX", image.SandboxPath)
		return nil
	}
	cfg.Env = append(append([]string(nil), rootfs.Config.Env...), cfg.Env...)
	cfg.Env = withEnv(cfg.Env, "MESOS_SANDBOX", image.SandboxPath)
	cfg.Dir = image.SandboxPath
	if rootfs.Config.WorkingDir != "" {
		cfg.Dir = rootfs.Config.WorkingDir
	}
	return nil
}

// withEnv returns env with name set to value, replacing an earlier value.
func withEnv(env []string, name, value string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if len(kv) <= len(name) || kv[:len(name)+1] != name+"=" {
			out = append(out, kv)
		}
	}
	return append(out, name+"="+value)
}

// credentialOf resolves the user the first process runs as (nil: root,
// the agent's own).
func credentialOf(name string) (*credential, error) {
	if name == "" {
		return nil, nil
	}
	cred, _, err := asuser.Resolve(name)
	if err != nil {
		return nil, fmt.Errorf("linux: %w", err)
	}
	if cred.Uid == 0 {
		return nil, nil
	}
	return &credential{Uid: cred.Uid, Gid: cred.Gid, Groups: cred.Groups}, nil
}

// start clones the init, puts it in the cgroups, sends its configuration
// and waits for its verdict on the setup.
func (c *Containerizer) start(ct *container, spec containerizer.LaunchSpec, cfg *initConfig) (int, error) {
	syncR, syncW, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("linux: %w", err)
	}
	defer syncW.Close()
	errR, errW, err := os.Pipe()
	if err != nil {
		syncR.Close()
		return 0, fmt.Errorf("linux: %w", err)
	}
	defer errR.Close()
	cmd, closeOutputs, err := c.initCommand(spec, cfg.NetNS, syncR, errW)
	if err == nil {
		err = cmd.Start()
	}
	syncR.Close()
	errW.Close()
	if closeOutputs != nil {
		closeOutputs()
	}
	if err != nil {
		err = fmt.Errorf("linux: starting the container init: %w", err)
		c.cleanup(ct)
		c.finish(ct, containerizer.ExitStatus{Message: "launch failed: " + err.Error()})
		return 0, err
	}
	ct.pid, ct.proc = cmd.Process.Pid, cmd.Process
	go c.reap(ct, cmd)
	if err := c.configure(ct, cfg, syncW); err != nil {
		cmd.Process.Kill()
		return 0, err
	}
	msg, _ := io.ReadAll(io.LimitReader(errR, 64<<10))
	if len(msg) > 0 {
		return 0, fmt.Errorf("linux: setting up the container: %s", msg)
	}
	return ct.pid, nil
}

// configure puts the init in its cgroups, then releases it.
func (c *Containerizer) configure(ct *container, cfg *initConfig, syncW *os.File) error {
	if ct.cg != nil {
		if err := ct.cg.AddProcess(ct.pid); err != nil {
			return fmt.Errorf("linux: %w", err)
		}
	}
	if err := writeInitConfig(syncW, cfg); err != nil {
		return fmt.Errorf("linux: sending the container its configuration: %w", err)
	}
	return syncW.Close()
}

func (c *Containerizer) initCommand(spec containerizer.LaunchSpec, netns bool, syncR, errW *os.File) (*exec.Cmd, func(), error) {
	// Confined to the sandbox: fetched archives may have put links in it.
	// (Not as the user, who reaches the sandbox through a mount and may not
	// be able to walk the host's path to it.)
	out, err := containerizer.OpenSandboxOutput(spec)
	if err != nil {
		return nil, nil, fmt.Errorf("linux: %w", err)
	}
	stdout, stderr := out.Stdout, out.Stderr
	flags := uintptr(syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC)
	if netns {
		flags |= syscall.CLONE_NEWNET
	}
	cmd := exec.Command(c.cfg.InitCommand[0], c.cfg.InitCommand[1:]...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.ExtraFiles = []*os.File{syncR, errW}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Cloneflags: flags}
	return cmd, func() { stdout.Close(); stderr.Close() }, nil
}

// reap waits for the init, then ends the container.
func (c *Containerizer) reap(ct *container, cmd *exec.Cmd) {
	cmd.Wait()
	status := containerizer.ExitStatus{Message: "wait failed"}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
		status = containerizer.ExitStatus{Known: true, WaitStatus: ws}
	}
	c.end(ct, status)
}

// end checks for an OOM kill, removes the container's cgroups and root
// filesystem, and only then lets Wait return.
func (c *Containerizer) end(ct *container, status containerizer.ExitStatus) {
	status.Limitation = c.limitation(ct)
	c.cleanup(ct)
	c.finish(ct, status)
}

func (c *Containerizer) limitation(ct *container) *containerizer.Limitation {
	if ct.cg == nil {
		return nil
	}
	st, err := ct.cg.Stats()
	if err != nil || st.OOMKills == 0 {
		return nil
	}
	return &containerizer.Limitation{
		Reason:  mesos.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY,
		Message: fmt.Sprintf("Memory limit exceeded: Requested: %gMB Maximum Used: %dMB", ct.memory, st.MemoryUsage>>20),
		Resources: []*mesos.Resource{{Name: proto.String("mem"), Type: mesos.Value_SCALAR.Enum(),
			Scalar: &mesos.Value_Scalar{Value: proto.Float64(ct.memory)}}},
	}
}

func (c *Containerizer) cleanup(ct *container) {
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	if ct.cg != nil {
		if err := ct.cg.Destroy(ctx); err != nil {
			c.log.Error("removing a container's cgroups", "container_id", ct.id, "err", err)
		}
	}
	if ct.hasRoot {
		if err := c.cfg.Images.Release(ct.id); err != nil {
			c.log.Error("removing a container's root filesystem", "container_id", ct.id, "err", err)
		}
	}
}

func (c *Containerizer) finish(ct *container, status containerizer.ExitStatus) {
	c.mu.Lock()
	status.Destroyed = ct.destroyed
	ct.status = status
	c.mu.Unlock()
	close(ct.done)
}

func (c *Containerizer) container(id string) (*container, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ct, ok := c.containers[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", containerizer.ErrUnknownContainer, id)
	}
	return ct, nil
}

// Wait blocks until the container ended and was cleaned up, or ctx is done.
func (c *Containerizer) Wait(ctx context.Context, id string) (containerizer.ExitStatus, error) {
	ct, err := c.container(id)
	if err != nil {
		return containerizer.ExitStatus{}, err
	}
	return containerizer.AwaitEnd(ctx, ct.done, &ct.status)
}

// Forget drops an ended container.
func (c *Containerizer) Forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ct, ok := c.containers[id]; ok && containerizer.Ended(ct.done) {
		delete(c.containers, id)
	}
}

// Destroy SIGKILLs the container's PID 1 (the kernel kills the rest of its
// pid namespace) and whatever else is in its cgroups, and waits for its
// end.
func (c *Containerizer) Destroy(ctx context.Context, id string) error {
	ct, err := c.container(id)
	if err != nil {
		return err
	}
	c.mu.Lock()
	if !containerizer.Ended(ct.done) {
		ct.destroyed = true
	}
	proc := ct.proc
	c.mu.Unlock()
	if proc != nil {
		proc.Signal(syscall.SIGKILL) // a pidfd: never a recycled pid
	}
	if ct.cg != nil {
		if err := ct.cg.Kill(ctx); err != nil {
			return fmt.Errorf("linux: destroying %s: %w", id, err)
		}
	}
	select {
	case <-ct.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("linux: destroying %s: %w", id, ctx.Err())
	}
}

// Usage reads the container's cgroups.
func (c *Containerizer) Usage(id string) (*mesos.ResourceStatistics, error) {
	ct, err := c.container(id)
	if err != nil {
		return nil, err
	}
	if containerizer.Ended(ct.done) {
		return nil, fmt.Errorf("linux: container %s has ended", id)
	}
	if ct.cg == nil {
		return nil, fmt.Errorf("linux: container %s has no cgroups", id)
	}
	st, err := ct.cg.Stats()
	if err != nil {
		return nil, fmt.Errorf("linux: usage of %s: %w", id, err)
	}
	return statistics(st, ct, time.Now()), nil
}

func statistics(st cgroups.Stats, ct *container, now time.Time) *mesos.ResourceStatistics {
	s := &mesos.ResourceStatistics{
		Timestamp:             proto.Float64(float64(now.UnixNano()) / 1e9),
		Processes:             proto.Uint32(uint32(st.Pids)),
		CpusUserTimeSecs:      proto.Float64(st.CPUUser.Seconds()),
		CpusSystemTimeSecs:    proto.Float64(st.CPUSystem.Seconds()),
		CpusNrPeriods:         proto.Uint32(uint32(st.CPUPeriods)),
		CpusNrThrottled:       proto.Uint32(uint32(st.CPUThrottled)),
		CpusThrottledTimeSecs: proto.Float64(st.CPUThrottledTime.Seconds()),
		MemTotalBytes:         proto.Uint64(st.MemoryUsage),
		MemRssBytes:           proto.Uint64(st.MemoryRSS),
		MemCacheBytes:         proto.Uint64(st.MemoryCache),
	}
	if ct.cpus > 0 {
		s.CpusLimit = proto.Float64(ct.cpus)
	}
	if st.MemoryLimit > 0 {
		s.MemLimitBytes = proto.Uint64(st.MemoryLimit)
	}
	return s
}

// Recover adopts the listed containers whose PID 1 is still alive; the
// others are cleaned up and known as ended.
func (c *Containerizer) Recover(ctx context.Context, known []containerizer.RecoverSpec) error {
	for _, spec := range known {
		ct := &container{id: spec.ContainerID, pid: spec.Pid, done: make(chan struct{}), hasRoot: c.cfg.Images != nil}
		if c.cfg.Cgroups != nil {
			ct.cg = c.cfg.Cgroups.Open(spec.ContainerID)
		}
		c.mu.Lock()
		if _, dup := c.containers[spec.ContainerID]; dup {
			c.mu.Unlock()
			return fmt.Errorf("linux: recovering %s: already known", spec.ContainerID)
		}
		c.containers[spec.ContainerID] = ct
		c.mu.Unlock()
		proc, err := os.FindProcess(spec.Pid)
		if err != nil || proc.Signal(syscall.Signal(0)) != nil || !c.inCgroup(ct) {
			c.log.Info("recovered container is gone", "container_id", spec.ContainerID, "pid", spec.Pid)
			c.end(ct, containerizer.ExitStatus{Message: "container ended while the agent was down"})
			continue
		}
		ct.proc = proc
		go c.watchAdopted(ct)
	}
	c.destroyUnknownCgroups(ctx, known)
	return nil
}

// destroyUnknownCgroups kills and removes the cgroups under the agent's
// sub-tree that belong to no container it recovers: containers of an
// earlier run that ended, or were never checkpointed, while the agent was
// down (as Mesos' linux launcher destroys its orphans). Nothing else may
// share the agent's --cgroups_root.
func (c *Containerizer) destroyUnknownCgroups(ctx context.Context, known []containerizer.RecoverSpec) {
	if c.cfg.Cgroups == nil {
		return
	}
	ids, err := c.cfg.Cgroups.Containers()
	if err != nil {
		c.log.Error("listing the containers' cgroups", "err", err)
		return
	}
	for _, id := range ids {
		if slices.ContainsFunc(known, func(k containerizer.RecoverSpec) bool { return k.ContainerID == id }) {
			continue
		}
		c.log.Warn("destroying the cgroup of an unknown container left by an earlier run", "container_id", id)
		if err := c.cfg.Cgroups.Open(id).Destroy(ctx); err != nil {
			c.log.Error("destroying an unknown container's cgroup", "container_id", id, "err", err)
		}
	}
}

// inCgroup reports whether the container's PID 1 is in its cgroup (a pid
// reused by a stranger is not).
func (c *Containerizer) inCgroup(ct *container) bool {
	if ct.cg == nil {
		return true
	}
	pids, err := ct.cg.Pids()
	if err != nil {
		return false
	}
	for _, p := range pids {
		if p == ct.pid {
			return true
		}
	}
	return false
}

// watchAdopted polls a recovered container's PID 1 until it is gone.
func (c *Containerizer) watchAdopted(ct *container) {
	t := time.NewTicker(adoptedPollInterval)
	defer t.Stop()
	for range t.C {
		if ct.proc.Signal(syscall.Signal(0)) == nil {
			continue
		}
		ct.proc.Release()
		c.end(ct, containerizer.ExitStatus{Message: "recovered container ended; exit status unknown"})
		return
	}
}
