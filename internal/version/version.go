// Package version names the Agora release and the Mesos and Marathon API
// versions it speaks. Tools that check a master's version (the Mesos CLI,
// exporters) see the Mesos version; Agora's own version is reported beside it.
package version

import (
	"runtime/debug"
	"sync"
)

const (
	// Agora is this release.
	Agora = "0.1.0"
	// Mesos is the Mesos release whose APIs Agora implements.
	Mesos = "1.11.0"
	// Marathon is the Marathon release whose REST API Agora implements.
	Marathon = "1.11.0"
)

// Build describes the binary, for /version and GET_VERSION.
type Build struct {
	GitSHA    string
	BuildTime string
	GoVersion string
}

var (
	buildOnce sync.Once
	build     Build
)

// Info returns what the Go toolchain recorded about this binary.
func Info() Build {
	buildOnce.Do(func() {
		bi, ok := debug.ReadBuildInfo()
		if !ok {
			return
		}
		build.GoVersion = bi.GoVersion
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				build.GitSHA = s.Value
			case "vcs.time":
				build.BuildTime = s.Value
			}
		}
	})
	return build
}
