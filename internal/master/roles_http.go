package master

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/agoraproject/agora/api/mesosjson"
	mesos "github.com/agoraproject/agora/api/v1/mesos"
	"github.com/agoraproject/agora/internal/apihttp"
	"github.com/agoraproject/agora/internal/resources"
)

// The legacy role endpoints (reference §7): /roles, /weights (GET, PUT)
// and /quota (GET).

type roleJSON struct {
	Name       string             `json:"name"`
	Weight     float64            `json:"weight"`
	Quota      roleQuotaJSON      `json:"quota"`
	Resources  map[string]float64 `json:"resources"`
	Allocated  map[string]float64 `json:"allocated"`
	Offered    map[string]float64 `json:"offered"`
	Reserved   map[string]float64 `json:"reserved"`
	Frameworks []string           `json:"frameworks"`
}

type roleQuotaJSON struct {
	Role      string             `json:"role"`
	Guarantee map[string]float64 `json:"guarantee"`
	Limit     map[string]float64 `json:"limit"`
	Consumed  map[string]float64 `json:"consumed"`
}

func (m *Master) serveRoles(w http.ResponseWriter, r *http.Request) {
	var roles []roleJSON
	if err := m.exec(r.Context(), func() { roles = m.legacyRoles() }); err != nil {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusServiceUnavailable, "%v", err))
		return
	}
	writeJSON(w, r, map[string]any{"roles": roles})
}

func (m *Master) legacyRoles() []roleJSON {
	offered := map[string]resources.Quantities{}
	for _, o := range m.offers {
		offered[o.role] = offered[o.role].Add(o.resources.Quantities())
	}
	roles := []roleJSON{}
	for _, v := range m.alloc.Roles() {
		off := offered[v.Name]
		j := roleJSON{
			Name:       v.Name,
			Weight:     v.Weight,
			Resources:  quantitiesMap(v.Allocated),
			Allocated:  quantitiesMap(v.Allocated.Subtract(off)),
			Offered:    quantitiesMap(off),
			Reserved:   quantitiesMap(v.Reserved),
			Frameworks: nonNil(v.Frameworks),
			Quota: roleQuotaJSON{Role: v.Name, Guarantee: quantitiesMap(v.Quota.Guarantees),
				Limit: map[string]float64{}, Consumed: quantitiesMap(v.Consumed)},
		}
		for name, l := range v.Quota.Limits {
			j.Quota.Limit[name] = l.Float()
		}
		roles = append(roles, j)
	}
	return roles
}

// serveWeights answers GET /weights with [{"role","weight"}] and applies
// PUT /weights with the same shape.
func (m *Master) serveWeights(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut {
		m.putWeights(w, r)
		return
	}
	var infos []*mesos.WeightInfo
	if err := m.exec(r.Context(), func() { infos = m.weightInfos() }); err != nil {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusServiceUnavailable, "%v", err))
		return
	}
	out := []json.RawMessage{}
	for _, wi := range infos {
		out = append(out, protoJSON(wi))
	}
	writeJSON(w, r, out)
}

func (m *Master) putWeights(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, apihttp.MaxBodyBytes))
	var raw []json.RawMessage
	if err == nil {
		err = json.Unmarshal(body, &raw)
	}
	var infos []*mesos.WeightInfo
	for _, item := range raw {
		wi := &mesos.WeightInfo{}
		if err == nil {
			err = mesosjson.Unmarshal(item, wi)
		}
		infos = append(infos, wi)
	}
	if err != nil {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusBadRequest, "Expecting a JSON array of {\"role\", \"weight\"}: %v", err))
		return
	}
	var wait <-chan error
	var callErr error
	if err := m.exec(r.Context(), func() { wait, callErr = m.updateWeights(infos) }); err != nil {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusServiceUnavailable, "%v", err))
		return
	}
	if callErr == nil {
		callErr = <-wait
	}
	if callErr != nil {
		apihttp.WriteError(w, callErr)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (m *Master) serveQuota(w http.ResponseWriter, r *http.Request) {
	var body json.RawMessage
	if err := m.exec(r.Context(), func() { body = protoJSON(m.quotaStatus()) }); err != nil {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusServiceUnavailable, "%v", err))
		return
	}
	if body == nil {
		body = json.RawMessage(`{}`)
	}
	writeJSON(w, r, body)
}
