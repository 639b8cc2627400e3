package cli

import (
	"log/slog"
	"os"
	"strings"
)

// logLevel is the daemons' log level: AGORA_LOG_LEVEL at start (debug,
// info, warn, error; info by default), changed at run time by the
// operator API's SET_LOGGING_LEVEL.
var logLevel = func() *slog.LevelVar {
	v := new(slog.LevelVar)
	var level slog.Level
	if err := level.UnmarshalText([]byte(strings.TrimSpace(os.Getenv("AGORA_LOG_LEVEL")))); err == nil {
		v.Set(level)
	}
	return v
}()

// newLogger is the daemons' logger: text to stderr at logLevel.
func newLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))
}
