package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/containerizer"
	"github.com/agoraproject/agora/internal/containerizer/cgroups"
	"github.com/agoraproject/agora/internal/containerizer/docker"
	"github.com/agoraproject/agora/internal/containerizer/hosted"
	"github.com/agoraproject/agora/internal/containerizer/image"
	"github.com/agoraproject/agora/internal/containerizer/linux"
	"github.com/agoraproject/agora/internal/executor/host"
	"github.com/agoraproject/agora/internal/fetcher"
)

// Container defaults (reference §8, §10).
const (
	DefaultIsolation      = "posix/cpu,posix/mem"
	DefaultCgroupsRoot    = "agora"
	DefaultCgroupsPidsMax = 4096
	DefaultDockerSocket   = "/var/run/docker.sock"
)

// ContainerConfig is how the agent runs containers: Mesos'
// --containerizers, --isolation, cgroups, image and fetcher flags.
type ContainerConfig struct {
	// Containerizers lists "mesos" and/or "docker" (default: mesos). With
	// docker, tasks whose ContainerInfo is of type DOCKER run through the
	// Docker Engine.
	Containerizers []string
	// Isolation is --isolation. The default, posix/cpu,posix/mem, runs
	// plain processes. Any of cgroups/*, namespaces/*, filesystem/linux or
	// docker/runtime runs containers in Linux namespaces (root only);
	// cgroups/* adds cgroups (cpu share and CFS quota, memory, pids).
	Isolation string
	// CgroupsRoot is the cgroup sub-tree of the agent's containers
	// ("agora").
	CgroupsRoot string
	// CgroupsEnableCFS caps containers' cpu time at their cpus.
	CgroupsEnableCFS bool
	// CgroupsPidsMax caps each container's processes (4096).
	CgroupsPidsMax int64
	// ImageProviders is --image_providers; "docker" turns on the image
	// store (<work_dir>/images), for the linux isolation.
	ImageProviders string
	// ImageProvisionerBackend is "overlay", "copy", or "" to pick overlay
	// where it works.
	ImageProvisionerBackend string
	// DockerSocket is the Docker Engine's Unix socket.
	DockerSocket string
	// FrameworksHome prefixes relative URIs.
	FrameworksHome string
	// FetcherCacheDir holds cached downloads ("" = <work_dir>/fetch_cache);
	// FetcherCacheSize bounds it (2 GB).
	FetcherCacheDir  string
	FetcherCacheSize int64
	// FetcherStallTimeout abandons a stalled download (1 min).
	FetcherStallTimeout time.Duration
	// InitCommand is the argv prefix of the linux containers' init; nil
	// means this binary's `container-init`.
	InitCommand []string
	// ExecutorHost runs the built-in executors (command and default
	// executor) of MESOS containers as goroutines of one long-lived
	// executor host process (package executor/host) instead of as a
	// process each. Only with the posix isolation: the linux one gives
	// every executor namespaces and cgroups of its own.
	ExecutorHost bool
}

func (c ContainerConfig) withDefaults() ContainerConfig {
	if len(c.Containerizers) == 0 {
		c.Containerizers = []string{"mesos"}
	}
	if c.Isolation == "" {
		c.Isolation = DefaultIsolation
	}
	if c.CgroupsRoot == "" {
		c.CgroupsRoot = DefaultCgroupsRoot
	}
	if c.CgroupsPidsMax == 0 {
		c.CgroupsPidsMax = DefaultCgroupsPidsMax
	}
	if c.DockerSocket == "" {
		c.DockerSocket = DefaultDockerSocket
	}
	return c
}

// isolators lists the --isolation entries.
func (c ContainerConfig) isolators() []string {
	var out []string
	for _, i := range strings.Split(c.Isolation, ",") {
		if i = strings.TrimSpace(i); i != "" {
			out = append(out, i)
		}
	}
	return out
}

// linuxIsolation reports whether the isolators need the linux launcher,
// and whether they include cgroups.
func (c ContainerConfig) linuxIsolation() (linuxLauncher, withCgroups bool) {
	for _, i := range c.isolators() {
		switch {
		case strings.HasPrefix(i, "cgroups/"):
			linuxLauncher, withCgroups = true, true
		case strings.HasPrefix(i, "namespaces/"), i == "filesystem/linux", i == "docker/runtime":
			linuxLauncher = true
		}
	}
	return linuxLauncher, withCgroups
}

// validate checks the container settings' shape.
func (c ContainerConfig) validate() error {
	var errs []error
	for _, name := range c.Containerizers {
		if name != "mesos" && name != "docker" {
			errs = append(errs, fmt.Errorf("containerizers: unknown containerizer %q (mesos, docker)", name))
		}
	}
	for _, i := range c.isolators() {
		if !knownIsolator(i) {
			errs = append(errs, fmt.Errorf("isolation: unknown isolator %q", i))
		}
	}
	if p := c.ImageProviders; p != "" && p != "docker" {
		errs = append(errs, fmt.Errorf("image_providers: %q is not supported (docker)", p))
	}
	if c.CgroupsPidsMax < 0 || c.FetcherCacheSize < 0 || c.FetcherStallTimeout < 0 {
		errs = append(errs, errors.New("cgroups_pids_max, fetcher_cache_size and fetcher_stall_timeout must not be negative"))
	}
	return errors.Join(errs...)
}

func knownIsolator(i string) bool {
	return strings.HasPrefix(i, "posix/") || strings.HasPrefix(i, "cgroups/") || strings.HasPrefix(i, "namespaces/") ||
		strings.HasPrefix(i, "network/") || strings.HasPrefix(i, "volume/") || strings.HasPrefix(i, "disk/") ||
		i == "filesystem/linux" || i == "filesystem/posix" || i == "docker/runtime"
}

// newContainerizer builds the agent's containerizer from its flags: the
// mesos one (posix, or linux for root with linux isolators) and, when
// enabled, the docker one, behind a Composite that routes by
// ContainerInfo.type.
func newContainerizer(cfg Config, executorCmd, environ []string) (containerizer.Containerizer, error) {
	cc := cfg.Containers.withDefaults()
	var mesosC, dockerC containerizer.Containerizer
	var hostedC containerizer.Adopter
	if slices.Contains(cc.Containerizers, "mesos") {
		var err error
		if mesosC, err = newMesosContainerizer(cfg, cc); err != nil {
			return nil, err
		}
		if _, posix := mesosC.(*containerizer.Posix); posix && cc.ExecutorHost {
			hostedC = hosted.New(hosted.Config{WorkDir: cfg.WorkDir, Command: executorCmd, Env: environ,
				AgentSocket: host.AgentSocketName(cfg.WorkDir), Logger: cfg.Logger})
		}
	}
	if slices.Contains(cc.Containerizers, "docker") {
		dockerC = docker.NewContainerizer(docker.Config{Socket: cc.DockerSocket, Logger: cfg.Logger,
			Executors: containerizer.NewPosix(cfg.Logger)})
	}
	if mesosC == nil {
		mesosC = refuseMesos{}
	}
	c := containerizer.NewComposite(mesosC, dockerC)
	c.Hosted = hostedC
	return c, nil
}

func newMesosContainerizer(cfg Config, cc ContainerConfig) (containerizer.Containerizer, error) {
	useLinux, withCgroups := cc.linuxIsolation()
	if !useLinux {
		if cc.ImageProviders != "" {
			return nil, fmt.Errorf("%w: image_providers needs the linux isolation (filesystem/linux,docker/runtime)", ErrConfig)
		}
		return containerizer.NewPosix(cfg.Logger), nil
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("%w: isolation %q needs root", ErrConfig, cc.Isolation)
	}
	lc := linux.Config{InitCommand: cc.InitCommand, CFSQuota: cc.CgroupsEnableCFS, PidsMax: cc.CgroupsPidsMax, Logger: cfg.Logger}
	if withCgroups {
		h, err := cgroups.Detect(cc.CgroupsRoot)
		if err != nil {
			return nil, fmt.Errorf("agent: %w", err)
		}
		lc.Cgroups = h
	}
	if cc.ImageProviders == "docker" {
		store, err := image.Open(filepath.Join(cfg.WorkDir, "images"))
		if err != nil {
			return nil, err
		}
		if lc.Images, err = image.NewProvisioner(store, filepath.Join(cfg.WorkDir, "provisioner"), cc.ImageProvisionerBackend, cfg.Logger); err != nil {
			return nil, err
		}
	}
	return linux.New(lc)
}

// newFetcher is the agent's fetcher; its cache is under the work dir
// unless --fetcher_cache_dir says otherwise.
func newFetcher(cfg Config) *fetcher.Fetcher {
	cc := cfg.Containers
	dir := cc.FetcherCacheDir
	if dir == "" {
		dir = filepath.Join(cfg.WorkDir, "fetch_cache")
	}
	return fetcher.New(fetcher.Config{CacheDir: dir, CacheSize: cc.FetcherCacheSize, FrameworksHome: cc.FrameworksHome,
		StallTimeout: cc.FetcherStallTimeout, Logger: cfg.Logger})
}

// fetchURIs fetches the executor's URIs (a command executor's are its
// task's) into the sandbox, as the executor's user.
func (a *Agent) fetchURIs(ex *executor, first *mesos.TaskInfo) error {
	uris := ex.info.GetCommand().GetUris()
	if ex.command {
		uris = first.GetCommand().GetUris()
	}
	if len(uris) == 0 {
		return nil
	}
	return a.fetch.Fetch(a.lifetime, fetcher.Request{URIs: uris, Sandbox: ex.directory, User: ex.user})
}

// launchContainer is the ContainerInfo an executor's container is made
// from: a command task's own (its image is the task's), else the
// executor's.
func launchContainer(ex *executor, first *task) (info *mesos.ContainerInfo, imageForTask bool) {
	if ex.command && first != nil {
		info = first.info.GetContainer()
		return info, info.GetMesos().GetImage() != nil
	}
	return ex.info.GetContainer(), false
}

// containerResources are what the container is held to: the executor's
// resources and, for the default executor, those of its task group too.
func containerResources(ex *executor, tasks []*task) []*mesos.Resource {
	rs := append([]*mesos.Resource(nil), ex.info.GetResources()...)
	if ex.info.GetType() == mesos.ExecutorInfo_DEFAULT {
		for _, t := range tasks {
			rs = append(rs, t.info.GetResources()...)
		}
	}
	return rs
}

// builtinExecutor reports whether the executor is Agora's own (the command
// executor, or the default executor of task groups).
func builtinExecutor(ex *executor) bool {
	return ex.command || ex.info.GetType() == mesos.ExecutorInfo_DEFAULT
}

// errMesosDisabled fails MESOS containers when --containerizers leaves
// the mesos containerizer out.
var errMesosDisabled = errors.New("the mesos containerizer is not enabled on this agent (--containerizers=mesos)")

// refuseMesos stands in for the mesos containerizer when it is disabled.
type refuseMesos struct{}

func (refuseMesos) Launch(context.Context, containerizer.LaunchSpec) (int, error) {
	return 0, errMesosDisabled
}

func (refuseMesos) Wait(_ context.Context, id string) (containerizer.ExitStatus, error) {
	return containerizer.ExitStatus{}, fmt.Errorf("%w: %s", containerizer.ErrUnknownContainer, id)
}

func (refuseMesos) Destroy(_ context.Context, id string) error {
	return fmt.Errorf("%w: %s", containerizer.ErrUnknownContainer, id)
}

func (refuseMesos) Usage(id string) (*mesos.ResourceStatistics, error) {
	return nil, fmt.Errorf("%w: %s", containerizer.ErrUnknownContainer, id)
}

func (refuseMesos) Recover(context.Context, []containerizer.RecoverSpec) error { return nil }
func (refuseMesos) Forget(string)                                              {}

// listenForHostedExecutors listens on the Unix socket the executor host's
// executors reach the agent by (host.AgentSocketName); nil without a host,
// or when the socket cannot be had (the executors then use TCP).
func (a *Agent) listenForHostedExecutors() net.Listener {
	if c, ok := a.cont.(*containerizer.Composite); !ok || c.Hosted == nil {
		return nil
	}
	ln, err := host.ListenOwnUser(host.AgentSocketName(a.cfg.WorkDir))
	if err != nil {
		a.log.Warn("hosted executors will reach the agent over TCP", "err", err)
		return nil
	}
	return ln
}
