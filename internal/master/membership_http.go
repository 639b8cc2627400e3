package master

import (
	"encoding/json"
	"io"
	"net/http"

	"github.com/agoraproject/agora/internal/apihttp"
)

// The masters' membership (docs/ha.md), an Agora endpoint:
//
//	GET    /agora/v1/masters            the Raft group, any master
//	POST   /agora/v1/masters            {"address": "host:5049"}: add a master (leader)
//	DELETE /agora/v1/masters/{address}  remove a master (leader)

// MemberJSON is one master in GET /agora/v1/masters.
type MemberJSON struct {
	Address string `json:"address"`
	Voter   bool   `json:"voter"`
	Leader  bool   `json:"leader"`
}

func (m *Master) serveMembers(w http.ResponseWriter, r *http.Request) {
	servers, err := m.reg.Servers()
	if err != nil {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusServiceUnavailable, "Reading the Raft configuration: %v", err))
		return
	}
	out := []MemberJSON{}
	for _, s := range servers {
		out = append(out, MemberJSON{Address: s.Address, Voter: s.Voter, Leader: s.Leader})
	}
	writeJSON(w, r, map[string]any{"masters": out})
}

func (m *Master) serveAddMember(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Address string `json:"address"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil || req.Address == "" {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusBadRequest, `Expecting a JSON body {"address": "host:raft_port"}`))
		return
	}
	if err := m.reg.AddVoter(r.Context(), req.Address, req.Address); err != nil {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusConflict, "Adding %s: %v", req.Address, err))
		return
	}
	m.log.Info("master added to the Raft group", "address", req.Address)
	w.WriteHeader(http.StatusOK)
}

func (m *Master) serveRemoveMember(w http.ResponseWriter, r *http.Request) {
	addr := r.PathValue("address")
	if err := m.reg.RemoveServer(r.Context(), addr); err != nil {
		apihttp.WriteError(w, apihttp.Errorf(http.StatusConflict, "Removing %s: %v", addr, err))
		return
	}
	m.log.Info("master removed from the Raft group", "address", addr)
	w.WriteHeader(http.StatusOK)
}
