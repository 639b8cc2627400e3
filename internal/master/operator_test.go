package master

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	masterpb "github.com/agoraproject/agora/api/v1/master"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/api/v1/quota"
	sched "github.com/agoraproject/agora/api/v1/scheduler"
	"github.com/agoraproject/agora/api/wire"
	"github.com/agoraproject/agora/internal/promexport"
)

// operator sends an operator call and decodes the answer's body, if any.
func operator(t *testing.T, m *Master, enc wire.Encoding, call *masterpb.Call) (int, *masterpb.Response, string) {
	t.Helper()
	body, err := enc.Marshal(call)
	if err != nil {
		t.Fatal(err)
	}
	resp := post(t, m, "/api/v1", body, map[string]string{"Content-Type": enc.ContentType(), "Accept": enc.ContentType()})
	raw := readBody(t, resp)
	if resp.StatusCode != http.StatusOK || raw == "" {
		return resp.StatusCode, nil, raw
	}
	if got := resp.Header.Get("Content-Type"); got != enc.ContentType() {
		t.Fatalf("Content-Type %q, want %q", got, enc.ContentType())
	}
	out := &masterpb.Response{}
	if err := enc.Unmarshal([]byte(raw), out); err != nil {
		t.Fatalf("decoding %q: %v", raw, err)
	}
	return resp.StatusCode, out, raw
}

func weightsCall(weights map[string]float64) *masterpb.Call {
	u := &masterpb.Call_UpdateWeights{}
	for role, w := range weights {
		u.WeightInfos = append(u.WeightInfos, &mesos.WeightInfo{Role: proto.String(role), Weight: proto.Float64(w)})
	}
	return &masterpb.Call{Type: masterpb.Call_UPDATE_WEIGHTS.Enum(), UpdateWeights: u}
}

func quotaConfig(role string, guarantees, limits map[string]float64) *quota.QuotaConfig {
	c := &quota.QuotaConfig{Role: proto.String(role), Guarantees: map[string]*mesos.Value_Scalar{}, Limits: map[string]*mesos.Value_Scalar{}}
	for n, v := range guarantees {
		c.Guarantees[n] = &mesos.Value_Scalar{Value: proto.Float64(v)}
	}
	for n, v := range limits {
		c.Limits[n] = &mesos.Value_Scalar{Value: proto.Float64(v)}
	}
	return c
}

func quotaCall(force bool, configs ...*quota.QuotaConfig) *masterpb.Call {
	return &masterpb.Call{Type: masterpb.Call_UPDATE_QUOTA.Enum(),
		UpdateQuota: &masterpb.Call_UpdateQuota{Force: proto.Bool(force), QuotaConfigs: configs}}
}

func TestWeightsAndQuotaOperatorCalls(t *testing.T) {
	for _, enc := range []wire.Encoding{wire.JSON, wire.Protobuf} {
		t.Run(enc.String(), func(t *testing.T) {
			m := startMaster(t, nil)
			if code, _, body := operator(t, m, enc, weightsCall(map[string]float64{"eng": 2.5, "ops": 0.5})); code != http.StatusOK || body != "" {
				t.Fatalf("UPDATE_WEIGHTS: %d %q", code, body)
			}
			code, resp, _ := operator(t, m, enc, &masterpb.Call{Type: masterpb.Call_GET_WEIGHTS.Enum()})
			got := map[string]float64{}
			for _, wi := range resp.GetGetWeights().GetWeightInfos() {
				got[wi.GetRole()] = wi.GetWeight()
			}
			if code != 200 || resp.GetType() != masterpb.Response_GET_WEIGHTS || got["eng"] != 2.5 || got["ops"] != 0.5 {
				t.Fatalf("GET_WEIGHTS: %d %v", code, resp)
			}
			if code, _, body := operator(t, m, enc, weightsCall(map[string]float64{"x": -1})); code != http.StatusBadRequest || !strings.Contains(body, "weight") {
				t.Fatalf("negative weight: %d %q", code, body)
			}

			ok := quotaConfig("eng", map[string]float64{"cpus": 1}, map[string]float64{"cpus": 2, "mem": 512})
			bad := quotaConfig("a//b", nil, map[string]float64{"cpus": 1})
			if code, _, body := operator(t, m, enc, quotaCall(false, ok, bad)); code != http.StatusBadRequest || !strings.Contains(body, "a//b") {
				t.Fatalf("invalid config: %d %q", code, body)
			}
			_, resp, _ = operator(t, m, enc, &masterpb.Call{Type: masterpb.Call_GET_QUOTA.Enum()})
			if n := len(resp.GetGetQuota().GetStatus().GetConfigs()); n != 0 {
				t.Fatalf("a refused UPDATE_QUOTA stored %d configs", n)
			}
			if code, _, body := operator(t, m, enc, quotaCall(false, ok)); code != http.StatusOK {
				t.Fatalf("UPDATE_QUOTA: %d %q", code, body)
			}
			_, resp, _ = operator(t, m, enc, &masterpb.Call{Type: masterpb.Call_GET_QUOTA.Enum()})
			cfgs := resp.GetGetQuota().GetStatus().GetConfigs()
			if len(cfgs) != 1 || cfgs[0].GetLimits()["mem"].GetValue() != 512 || cfgs[0].GetGuarantees()["cpus"].GetValue() != 1 {
				t.Fatalf("GET_QUOTA: %v", resp)
			}
			_, resp, _ = operator(t, m, enc, &masterpb.Call{Type: masterpb.Call_GET_ROLES.Enum()})
			roles := map[string]float64{}
			for _, r := range resp.GetGetRoles().GetRoles() {
				roles[r.GetName()] = r.GetWeight()
			}
			if roles["eng"] != 2.5 {
				t.Fatalf("GET_ROLES: %v", resp)
			}
		})
	}
}

func TestUpdateQuotaBelowConsumptionNeedsForce(t *testing.T) {
	m := startMaster(t, nil)
	startFakeAgent(t, m, "a1", "cpus:4;mem:1024")
	info := frameworkInfo("eng-fw")
	info.Role = proto.String("eng")
	s := subscribe(t, m, wire.JSON, info)
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	task := commandTask("t", offer, "sleep 1")
	task.Resources[0].Scalar.Value = proto.Float64(2)
	s.Launch(offer, task)

	limit := quotaConfig("eng", nil, map[string]float64{"cpus": 1})
	code, _, body := operator(t, m, wire.JSON, quotaCall(false, limit))
	if code != http.StatusBadRequest || !strings.Contains(body, "force") {
		t.Fatalf("limit below consumption: %d %q", code, body)
	}
	if code, _, body := operator(t, m, wire.JSON, quotaCall(true, limit)); code != http.StatusOK {
		t.Fatalf("forced: %d %q", code, body)
	}
}

func TestQuotaChangeRescindsOffers(t *testing.T) {
	m := startMaster(t, nil)
	startFakeAgent(t, m, "a1", "cpus:4;mem:1024")
	info := frameworkInfo("eng-fw")
	info.Role = proto.String("eng")
	s := subscribe(t, m, wire.JSON, info)
	offer := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	if code, _, body := operator(t, m, wire.JSON, quotaCall(false, quotaConfig("eng", nil, map[string]float64{"cpus": 1}))); code != 200 {
		t.Fatalf("%d %q", code, body)
	}
	if got := s.Next(sched.Event_RESCIND).GetRescind().GetOfferId().GetValue(); got != offer.GetId().GetValue() {
		t.Fatalf("rescinded %s, want %s", got, offer.GetId().GetValue())
	}
	again := s.Next(sched.Event_OFFERS).GetOffers().GetOffers()[0]
	for _, r := range again.GetResources() {
		if r.GetName() == "cpus" && r.GetScalar().GetValue() > 1 {
			t.Fatalf("offer of %v cpus beyond the role's limit of 1", r.GetScalar().GetValue())
		}
	}
}

func TestOperatorLadder(t *testing.T) {
	m := startMaster(t, nil)
	resp := post(t, m, "/api/v1", []byte(`{"type":"GET_HEALTH"}`), map[string]string{"Content-Type": "application/json; charset=utf-8"})
	if readBody(t, resp); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("charset: %d", resp.StatusCode)
	}
	resp = post(t, m, "/api/v1", []byte(`{"type":"GET_HEALTH"}`), map[string]string{"Content-Type": "application/json", "Accept": "text/html"})
	if readBody(t, resp); resp.StatusCode != http.StatusNotAcceptable {
		t.Fatalf("Accept text/html: %d", resp.StatusCode)
	}
	resp = post(t, m, "/api/v1", []byte(`{"type":"GET_HEALTH"}`), map[string]string{"Content-Type": "application/json"})
	if body := readBody(t, resp); resp.StatusCode != 200 || body != `{"type":"GET_HEALTH","get_health":{"healthy":true}}` {
		t.Fatalf("GET_HEALTH: %d %s", resp.StatusCode, body)
	}
}

func TestLegacyRoleEndpoints(t *testing.T) {
	m := startMaster(t, nil)
	req, _ := http.NewRequest(http.MethodPut, m.url("/weights"), strings.NewReader(`[{"role":"eng","weight":3}]`))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if readBody(t, resp); resp.StatusCode != 200 {
		t.Fatalf("PUT /weights: %d", resp.StatusCode)
	}
	var weights []map[string]any
	getJSON(t, m, "/weights", &weights)
	if len(weights) != 1 || weights[0]["role"] != "eng" || weights[0]["weight"] != 3.0 {
		t.Fatalf("/weights = %v", weights)
	}
	operator(t, m, wire.JSON, quotaCall(false, quotaConfig("eng", map[string]float64{"cpus": 1}, nil)))
	var roles struct {
		Roles []map[string]any `json:"roles"`
	}
	getJSON(t, m, "/roles", &roles)
	if len(roles.Roles) == 0 || roles.Roles[0]["name"] != "eng" || roles.Roles[0]["weight"] != 3.0 {
		t.Fatalf("/roles = %v", roles)
	}
	q := roles.Roles[0]["quota"].(map[string]any)
	if q["guarantee"].(map[string]any)["cpus"] != 1.0 {
		t.Fatalf("/roles quota = %v", q)
	}
	var status map[string]any
	getJSON(t, m, "/quota", &status)
	if len(status["configs"].([]any)) != 1 || len(status["infos"].([]any)) != 1 {
		t.Fatalf("/quota = %v", status)
	}
}

func getJSON(t *testing.T, m *Master, path string, out any) {
	t.Helper()
	resp, err := http.Get(m.url(path))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// TestWeightsSurviveRestart: weights and quota are in the registry, so a
// master restarted from its data directory has them.
func TestWeightsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	func() {
		reg := openRegistry(t, dir, addr)
		m := startMaster(t, func(c *Config) { c.Registry = reg })
		operator(t, m, wire.JSON, weightsCall(map[string]float64{"eng": 4}))
		operator(t, m, wire.JSON, quotaCall(false, quotaConfig("eng", map[string]float64{"mem": 64}, nil)))
		m.stop()
		reg.Close()
	}()
	reg := openRegistry(t, dir, addr)
	m := startMaster(t, func(c *Config) { c.Registry = reg })
	_, resp, _ := operator(t, m, wire.JSON, &masterpb.Call{Type: masterpb.Call_GET_WEIGHTS.Enum()})
	if infos := resp.GetGetWeights().GetWeightInfos(); len(infos) != 1 || infos[0].GetWeight() != 4 {
		t.Fatalf("weights after restart: %v", resp)
	}
	_, resp, _ = operator(t, m, wire.JSON, &masterpb.Call{Type: masterpb.Call_GET_QUOTA.Enum()})
	if len(resp.GetGetQuota().GetStatus().GetConfigs()) != 1 {
		t.Fatalf("quota after restart: %v", resp)
	}
}

// TestPrometheusMatchesSnapshot: /metrics carries every /metrics/snapshot
// number under its Prometheus name, with the same value.
func TestPrometheusMatchesSnapshot(t *testing.T) {
	m := startMaster(t, nil)
	startFakeAgent(t, m, "a1", "cpus:2;mem:1024")
	s := subscribe(t, m, wire.JSON, frameworkInfo("prom"))
	s.Next(sched.Event_OFFERS)
	var snap map[string]float64
	getJSON(t, m, "/metrics/snapshot", &snap)
	resp, err := http.Get(m.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	prom := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if v, err := strconv.ParseFloat(val, 64); ok && err == nil {
			prom[name] = v
		}
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	for _, name := range []string{"master/cpus_total", "master/slaves_active", "allocator/mesos/allocation_runs",
		"allocator/mesos/resources/cpus/total", "master/frameworks_active"} {
		v, ok := prom[promexport.Name(name)]
		if !ok {
			t.Errorf("/metrics lacks %s", promexport.Name(name))
			continue
		}
		// Counters may move between the two reads; gauges here do not.
		if name != "allocator/mesos/allocation_runs" && v != snap[name] {
			t.Errorf("%s: prometheus %v, snapshot %v", name, v, snap[name])
		}
	}
}
