package apps

import (
	"encoding/json"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/agoraproject/agora/api/marathon"
	"github.com/agoraproject/agora/internal/apps/spec"
)

// Version is the Marathon version Agora reports (clients gate features on
// it).
const Version = "1.10.0"

func strictJSON(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return &spec.Malformed{Details: []marathon.ErrorDetail{{Path: "/", Errors: []string{err.Error()}}}}
	}
	return nil
}

// leaderAddr is host:port of this (the leading) instance's API.
func (f *Framework) leaderAddr() string {
	addr := f.cfg.HTTPAddr
	if a := f.listenAddr.Load(); a != nil {
		addr = *a
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, "8080"
	}
	if f.cfg.Hostname != "" {
		host = f.cfg.Hostname
	}
	if host == "" || host == "::" || host == "0.0.0.0" {
		host = "localhost"
	}
	if port == "" {
		port = "8080"
	}
	return net.JoinHostPort(host, port)
}

func (f *Framework) getInfo(w http.ResponseWriter, r *http.Request) (any, error) {
	info := marathon.Info{Name: "marathon", Version: Version, Buildref: "agora", Elected: f.elected.Load()}
	leader := f.leaderAddr()
	info.Leader = &leader
	err := f.do(r.Context(), func() error {
		if f.frameworkID != "" {
			info.FrameworkID = ptr(f.frameworkID)
		}
		return nil
	})
	port, _ := strconv.Atoi(portOf(leader))
	c := f.cfg
	info.MarathonConfig = marathon.MarathonConfig{
		Master: joinMasters(c.Masters), MesosRole: c.Role, MesosUser: c.User, FrameworkName: c.FrameworkName,
		Executor: "//cmd", FailoverTimeout: int64(c.FailoverTimeout.Seconds()), LocalPortMin: c.ServicePortMin,
		LocalPortMax: c.ServicePortMax, HA: true, Checkpoint: true, Features: []string{},
		DeclineOfferDuration: c.DeclineOfferDuration.Milliseconds(), MaxInstancesPerOffer: c.MaxInstancesPerOffer,
		ReconciliationInitialDelay: 0, ReconciliationInterval: c.ReconciliationInterval.Milliseconds(),
		ScaleAppsInitialDelay: (15 * time.Second).Milliseconds(), ScaleAppsInterval: c.ScaleCheckInterval.Milliseconds(),
		TaskLaunchTimeout: c.TaskLaunchTimeout.Milliseconds(), TaskLaunchConfirmTimeout: c.TaskLaunchTimeout.Milliseconds(),
		TaskReservationTimeout: 20000, MinReviveOffersInterval: c.MinReviveInterval.Milliseconds(),
	}
	info.ZookeeperConfig = marathon.ZookeeperConfig{ZK: "", ZKTimeout: 10000, ZKSessionTimeout: 10000, ZKMaxVersions: c.MaxVersions}
	info.HTTPConfig = marathon.HTTPConfig{HTTPPort: port, HTTPSPort: 8443}
	return info, err
}

func portOf(hostport string) string {
	_, p, _ := net.SplitHostPort(hostport)
	return p
}

func joinMasters(ms []string) string {
	out := ""
	for i, m := range ms {
		if i > 0 {
			out += ","
		}
		out += m
	}
	return out
}

func (f *Framework) getLeader(w http.ResponseWriter, r *http.Request) (any, error) {
	if !f.elected.Load() {
		return nil, errorf(http.StatusNotFound, "There is no leader")
	}
	return marathon.Leader{Leader: f.leaderAddr()}, nil
}

// deleteLeader would abdicate; the apps framework follows the masters'
// leadership, so it answers as Marathon does without stepping down.
func (f *Framework) deleteLeader(w http.ResponseWriter, r *http.Request) (any, error) {
	if !f.elected.Load() {
		return nil, errorf(http.StatusNotFound, "There is no leader")
	}
	return marathon.Message{Message: "Leadership abdicated"}, nil
}

func (f *Framework) getDeployments(w http.ResponseWriter, r *http.Request) (any, error) {
	out := []marathon.Deployment{}
	err := f.do(r.Context(), func() error {
		for _, d := range f.sortedDeployments() {
			out = append(out, f.deploymentView(d))
		}
		return nil
	})
	return out, err
}

// deleteDeployment cancels a deployment: force=true only stops it (202),
// otherwise it is reverted by a new deployment (200).
func (f *Framework) deleteDeployment(w http.ResponseWriter, r *http.Request) (any, error) {
	id := r.PathValue("id")
	force := flag(r, "force", false)
	var revert *deployment
	err := f.do(r.Context(), func() error {
		d := f.deployments[id]
		if d == nil {
			return errorf(http.StatusNotFound, "DeploymentPlan %s does not exist", id)
		}
		var err error
		revert, err = f.cancel(r.Context(), d, force)
		return err
	})
	if err != nil {
		return nil, err
	}
	if revert == nil {
		w.WriteHeader(http.StatusAccepted)
		return nil, nil
	}
	return deploymentResult(w, http.StatusOK, revert)
}

// getQueue is GET /v2/queue[?embed=lastUnusedOffers].
func (f *Framework) getQueue(w http.ResponseWriter, r *http.Request) (any, error) {
	withOffers := slices.Contains(r.URL.Query()["embed"], "lastUnusedOffers")
	out := marathon.QueueResponse{Queue: []marathon.QueueItem{}}
	err := f.do(r.Context(), func() error {
		now := f.now()
		for _, id := range slices.Sorted(maps.Keys(f.byApp)) {
			if item, ok := f.queueItem(id, now, withOffers); ok {
				out.Queue = append(out.Queue, item)
			}
		}
		return nil
	})
	return out, err
}

func (f *Framework) queueItem(id string, now time.Time, withOffers bool) (marathon.QueueItem, bool) {
	a := f.apps[id]
	if a == nil {
		return marathon.QueueItem{}, false
	}
	var since time.Time
	count := 0
	for _, in := range f.byApp[id] {
		if in.scheduled() && in.Goal == goalRunning {
			count++
			if since.IsZero() || in.ScheduledAt.Before(since) {
				since = in.ScheduledAt
			}
		}
	}
	if count == 0 {
		return marathon.QueueItem{}, false
	}
	delay := f.delays[backoffKey{id, a.def.VersionInfo.LastConfigChangeAt}]
	item := marathon.QueueItem{App: a.def, Count: count, Role: a.def.Role, Since: spec.FormatTime(since),
		Delay: marathon.QueueDelay{TimeLeftSeconds: int64(delay.TimeLeft(now).Seconds()), Overdue: delay.Ready(now)}}
	item.ProcessedOffersSummary = marathon.ProcessedOffersSummary{
		RejectSummaryLastOffers: []marathon.RejectSummary{}, RejectSummaryLaunchAttempt: []marathon.RejectSummary{}}
	if s := f.stats[id]; s != nil {
		p := &item.ProcessedOffersSummary
		p.ProcessedOffersCount, p.UnusedOffersCount = s.processed, s.unused
		p.LastUnusedOfferAt, p.LastUsedOfferAt = formatTime(s.lastUnusedAt), formatTime(s.lastUsedAt)
		for _, reason := range slices.Sorted(maps.Keys(s.rejects)) {
			rs := marathon.RejectSummary{Reason: reason, Declined: s.rejects[reason], Processed: s.processed}
			p.RejectSummaryLastOffers = append(p.RejectSummaryLastOffers, rs)
			p.RejectSummaryLaunchAttempt = append(p.RejectSummaryLaunchAttempt, rs)
		}
		if withOffers {
			item.LastUnusedOffers = slices.Clone(s.lastUnused)
		}
	}
	return item, true
}

// resetDelay is DELETE /v2/queue/{id}/delay: the app's backoff is
// forgotten (204).
func (f *Framework) resetDelay(w http.ResponseWriter, r *http.Request) (any, error) {
	rest := r.PathValue("id")
	if len(rest) < len("/delay") || rest[len(rest)-len("/delay"):] != "/delay" {
		return nil, errorf(http.StatusNotFound, "not found")
	}
	id, err := spec.Resolve(rest[:len(rest)-len("/delay")], spec.Root)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "invalid app id: %v", err)
	}
	err = f.do(r.Context(), func() error {
		if _, queued := f.queueItem(id, f.now(), false); !queued {
			return errorf(http.StatusNotFound, "Application %s not found in tasks queue.", id)
		}
		f.clearDelays(id)
		return nil
	})
	if err != nil {
		return nil, err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil, nil
}
