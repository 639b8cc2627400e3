// Command testhost is the executor host of the agent's tests, started as
// `testhost --host NAME`, as the agent starts `agora executor --host NAME`.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/agoraproject/agora/internal/executor/host"
)

func main() {
	socket := flag.String("host", "", "the socket to listen on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := host.Main(ctx, *socket, log, slog.LevelInfo); err != nil {
		fmt.Fprintln(os.Stderr, "testhost:", err)
		os.Exit(1)
	}
}
