// Command agora is the single Agora binary: master, agent, command executor,
// local dev cluster and client commands. All logic lives in internal/cli.
package main

import (
	"os"

	"github.com/agoraproject/agora/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
