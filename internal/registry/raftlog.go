package registry

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"

	"github.com/hashicorp/go-hclog"
)

// raftLogger makes hashicorp/raft log through slog. hclog's key/value
// arguments are slog's; levels map one to one (Trace goes to Debug-4).
type raftLogger struct {
	l    *slog.Logger
	name string
	args []any
}

func newRaftLogger(l *slog.Logger) hclog.Logger {
	return &raftLogger{l: l.With("component", "raft"), name: "raft"}
}

func slogLevel(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return slog.LevelDebug - 4
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	default:
		return slog.LevelInfo
	}
}

func (r *raftLogger) Log(level hclog.Level, msg string, args ...any) {
	r.l.Log(context.Background(), slogLevel(level), msg, args...)
}

func (r *raftLogger) Trace(msg string, args ...any) { r.Log(hclog.Trace, msg, args...) }
func (r *raftLogger) Debug(msg string, args ...any) { r.Log(hclog.Debug, msg, args...) }
func (r *raftLogger) Info(msg string, args ...any)  { r.Log(hclog.Info, msg, args...) }
func (r *raftLogger) Warn(msg string, args ...any)  { r.Log(hclog.Warn, msg, args...) }
func (r *raftLogger) Error(msg string, args ...any) { r.Log(hclog.Error, msg, args...) }

func (r *raftLogger) enabled(level hclog.Level) bool {
	return r.l.Enabled(context.Background(), slogLevel(level))
}

func (r *raftLogger) IsTrace() bool { return r.enabled(hclog.Trace) }
func (r *raftLogger) IsDebug() bool { return r.enabled(hclog.Debug) }
func (r *raftLogger) IsInfo() bool  { return r.enabled(hclog.Info) }
func (r *raftLogger) IsWarn() bool  { return r.enabled(hclog.Warn) }
func (r *raftLogger) IsError() bool { return r.enabled(hclog.Error) }

func (r *raftLogger) ImpliedArgs() []any { return r.args }

func (r *raftLogger) With(args ...any) hclog.Logger {
	return &raftLogger{l: r.l.With(args...), name: r.name, args: append(append([]any(nil), r.args...), args...)}
}

func (r *raftLogger) Name() string { return r.name }

func (r *raftLogger) Named(name string) hclog.Logger {
	return r.ResetNamed(r.name + "." + name)
}

func (r *raftLogger) ResetNamed(name string) hclog.Logger {
	return &raftLogger{l: r.l.With("logger", name), name: name, args: r.args}
}

// SetLevel is ignored: the slog handler decides.
func (r *raftLogger) SetLevel(hclog.Level) {}

func (r *raftLogger) GetLevel() hclog.Level {
	for _, level := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Info, hclog.Warn} {
		if r.enabled(level) {
			return level
		}
	}
	return hclog.Error
}

func (r *raftLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(r.StandardWriter(opts), "", 0)
}

func (r *raftLogger) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return lineWriter{r}
}

// lineWriter logs each write as one Info message.
type lineWriter struct{ r *raftLogger }

func (w lineWriter) Write(p []byte) (int, error) {
	w.r.Info(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}
