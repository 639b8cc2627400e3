package cli

import (
	"log/slog"
	"os"
	"strings"
)

// newLogger is the daemons' logger: text to stderr, level from
// AGORA_LOG_LEVEL (debug, info, warn, error; info by default).
func newLogger() *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.TrimSpace(os.Getenv("AGORA_LOG_LEVEL")))); err != nil {
		level = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}
