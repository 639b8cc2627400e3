package executor

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/agoraproject/agora/api/wire"
)

// envOf is a getenv over a map.
func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// minimalEnv is what every agent sets.
func minimalEnv() map[string]string {
	return map[string]string{
		"MESOS_FRAMEWORK_ID":   "fw",
		"MESOS_EXECUTOR_ID":    "ex",
		"MESOS_AGENT_ENDPOINT": "127.0.0.1:5051",
		"MESOS_DIRECTORY":      "/var/lib/agora/sandbox",
	}
}

func TestConfigFromEnv(t *testing.T) {
	full := minimalEnv()
	for k, v := range map[string]string{
		"MESOS_SLAVE_ID":                       "agent-S1",
		"MESOS_SANDBOX":                        "/mnt/mesos/sandbox",
		"MESOS_CHECKPOINT":                     "1",
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "7secs",
		"MESOS_RECOVERY_TIMEOUT":               "15mins",
		"MESOS_SUBSCRIPTION_BACKOFF_MAX":       "500ms",
		"MESOS_EXECUTOR_AUTHENTICATION_TOKEN":  "tok",
	} {
		full[k] = v
	}
	cases := []struct {
		name string
		env  map[string]string
		want Config
	}{
		{"minimal, defaults", minimalEnv(), Config{
			FrameworkID: "fw", ExecutorID: "ex", AgentEndpoint: "127.0.0.1:5051",
			Directory: "/var/lib/agora/sandbox", Sandbox: "/var/lib/agora/sandbox",
			ShutdownGracePeriod: 5 * time.Second, RecoveryTimeout: 15 * time.Minute,
			SubscriptionBackoffMax: 2 * time.Second, Encoding: wire.Protobuf,
		}},
		{"everything", full, Config{
			FrameworkID: "fw", ExecutorID: "ex", AgentID: "agent-S1", AgentEndpoint: "127.0.0.1:5051",
			Directory: "/var/lib/agora/sandbox", Sandbox: "/mnt/mesos/sandbox", Checkpoint: true,
			ShutdownGracePeriod: 7 * time.Second, RecoveryTimeout: 15 * time.Minute,
			SubscriptionBackoffMax: 500 * time.Millisecond, AuthToken: "tok", Encoding: wire.Protobuf,
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ConfigFromEnv(envOf(tc.env))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(Config{}, "Logger")); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigFromEnvErrors(t *testing.T) {
	cases := []struct {
		name    string
		change  map[string]string // "" deletes
		wantMsg []string
	}{
		{"no framework id", map[string]string{"MESOS_FRAMEWORK_ID": ""}, []string{"MESOS_FRAMEWORK_ID is not set"}},
		{"no executor id or directory", map[string]string{"MESOS_EXECUTOR_ID": "", "MESOS_DIRECTORY": ""},
			[]string{"MESOS_EXECUTOR_ID is not set", "MESOS_DIRECTORY is not set"}},
		{"no endpoint", map[string]string{"MESOS_AGENT_ENDPOINT": ""}, []string{"MESOS_AGENT_ENDPOINT is not set"}},
		{"endpoint without port", map[string]string{"MESOS_AGENT_ENDPOINT": "10.0.0.1"}, []string{`"10.0.0.1" is not ip:port`}},
		{"bad duration", map[string]string{"MESOS_RECOVERY_TIMEOUT": "soon"}, []string{"MESOS_RECOVERY_TIMEOUT", `"soon"`}},
		{"negative duration", map[string]string{"MESOS_SUBSCRIPTION_BACKOFF_MAX": "-2secs"}, []string{"MESOS_SUBSCRIPTION_BACKOFF_MAX"}},
		{"bad checkpoint", map[string]string{"MESOS_CHECKPOINT": "yes please"}, []string{"MESOS_CHECKPOINT"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := minimalEnv()
			for k, v := range tc.change {
				if v == "" {
					delete(env, k)
				} else {
					env[k] = v
				}
			}
			_, err := ConfigFromEnv(envOf(env))
			if !errors.Is(err, ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
			for _, m := range tc.wantMsg {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	good := map[string]time.Duration{
		"5secs":     5 * time.Second,
		"15mins":    15 * time.Minute,
		"2secs":     2 * time.Second,
		"1.5secs":   1500 * time.Millisecond,
		"100ms":     100 * time.Millisecond,
		"250us":     250 * time.Microsecond,
		"10ns":      10,
		"2hrs":      2 * time.Hour,
		"3days":     72 * time.Hour,
		"1weeks":    7 * 24 * time.Hour,
		"0secs":     0,
		"5s":        5 * time.Second,
		"1m30s":     90 * time.Second,
		" 20secs\n": 20 * time.Second,
	}
	for in, want := range good {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "secs", "-1secs", "1e3secs", "NaNsecs", "0x10secs", "1..5secs",
		"5 secs", "5parsecs", "-5s", "abc", "99999999999weeks"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		}
	}
}
