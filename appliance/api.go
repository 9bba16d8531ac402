package appliance

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/spanvault/spanvault/appliance/config"
)

// The local API lets agent desktops and the CRM act on calls in progress:
//
//	POST /api/v1/pause    {"call": "<Call-ID or agent extension>"}
//	POST /api/v1/resume   {"call": ...}
//	POST /api/v1/consent  {"call": ...}      one-sided -> both sides
//	POST /api/v1/tag      {"call": ..., "tag": "..."}
//	GET  /api/v1/call?call=...   the call's state (answered, paused, ...)
//
// Every request carries "Authorization: Bearer <token>"; the configuration
// holds only the token's SHA-256 and its role. Every accepted call is
// audited (with the recording ID when the call is being recorded, never
// the Call-ID or a number). Errors are JSON {"error": "..."} with 400
// (malformed), 401 (no or bad token), 403 (role), 404 (no such call).

type apiRequest struct {
	Call string `json:"call"`
	Tag  string `json:"tag,omitempty"`
}

type apiResponse struct {
	OK        bool   `json:"ok"`
	Recording string `json:"recording,omitempty"`
	State     string `json:"state,omitempty"`
	Paused    bool   `json:"paused"`
	Consented bool   `json:"consented"`
}

func apiError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	if code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="spanvault"`)
	}
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]string{"error": msg})
}

// authenticate returns the token the request carries, comparing hashes in
// constant time.
func (a *Appliance) authenticate(r *http.Request) (config.Token, bool) {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || tok == "" {
		return config.Token{}, false
	}
	sum := sha256.Sum256([]byte(tok))
	var found config.Token
	match := 0
	for _, t := range a.cfg.API.Tokens {
		want, _ := hex.DecodeString(t.SHA256)
		if subtle.ConstantTimeCompare(sum[:], want) == 1 {
			found, match = t, 1
		}
	}
	return found, match == 1
}

var roleAllows = map[string]map[string]bool{
	"pause":   {"agent": true, "supervisor": true, "admin": true},
	"resume":  {"agent": true, "supervisor": true, "admin": true},
	"consent": {"agent": true, "supervisor": true, "admin": true},
	"tag":     {"agent": true, "supervisor": true, "admin": true},
}

func (a *Appliance) api(mux *http.ServeMux) {
	for action := range roleAllows {
		mux.HandleFunc("/api/v1/"+action, func(w http.ResponseWriter, r *http.Request) { a.callAction(w, r, action) })
	}
	mux.HandleFunc("GET /api/v1/call", a.callState)
	a.approvalAPI(mux)
}

// callState tells an agent desktop the state of a call (no personal data
// beyond what the caller already named).
func (a *Appliance) callState(w http.ResponseWriter, r *http.Request) {
	tok, ok := a.authenticate(r)
	if !ok {
		apiError(w, http.StatusUnauthorized, "missing or unknown bearer token")
		return
	}
	if !roleAllows["pause"][tok.Role] {
		apiError(w, http.StatusForbidden, "role "+tok.Role+" may not read call state")
		return
	}
	key := strings.TrimSpace(r.URL.Query().Get("call"))
	if key == "" {
		apiError(w, http.StatusBadRequest, `query parameter "call" is required`)
		return
	}
	a.live.Mu.Lock()
	c := a.live.P.Tracker.Lookup(key)
	var resp apiResponse
	if c != nil {
		resp = apiResponse{OK: true, Recording: c.RecordingID(), State: string(c.State), Paused: c.Paused, Consented: c.Consented}
	}
	a.live.Mu.Unlock()
	if c == nil {
		apiError(w, http.StatusNotFound, "no call in progress matches")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

func (a *Appliance) callAction(w http.ResponseWriter, r *http.Request, action string) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		apiError(w, http.StatusMethodNotAllowed, "use POST")
		return
	}
	tok, ok := a.authenticate(r)
	if !ok {
		a.log.Warn("api: rejected request", "action", action, "reason", "missing or unknown token", "remote", r.RemoteAddr)
		apiError(w, http.StatusUnauthorized, "missing or unknown bearer token")
		return
	}
	if !roleAllows[action][tok.Role] {
		apiError(w, http.StatusForbidden, fmt.Sprintf("role %s may not %s", tok.Role, action))
		return
	}
	var req apiRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 8<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		apiError(w, http.StatusBadRequest, "malformed JSON body: "+err.Error())
		return
	}
	req.Call = strings.TrimSpace(req.Call)
	if req.Call == "" {
		apiError(w, http.StatusBadRequest, `field "call" is required (a Call-ID or an agent extension)`)
		return
	}
	if action == "tag" && (req.Tag == "" || len(req.Tag) > 200) {
		apiError(w, http.StatusBadRequest, `field "tag" is required (at most 200 characters)`)
		return
	}
	now := time.Now()
	a.live.Mu.Lock()
	c := a.live.P.Tracker.Lookup(req.Call)
	var resp apiResponse
	if c != nil {
		switch action {
		case "pause":
			a.live.P.Tracker.SetPaused(c, true, now)
		case "resume":
			a.live.P.Tracker.SetPaused(c, false, now)
		case "consent":
			a.live.P.Tracker.SetConsent(c, now)
		case "tag":
			a.live.P.Tracker.Tag(c, req.Tag, now)
		}
		resp = apiResponse{OK: true, Recording: c.RecordingID(), State: string(c.State), Paused: c.Paused, Consented: c.Consented}
	}
	a.live.Mu.Unlock()
	if c == nil {
		apiError(w, http.StatusNotFound, "no call in progress matches")
		return
	}
	detail := "call in progress"
	if resp.Recording == "" {
		detail += " (no media stored yet)"
	}
	if err := a.v.Audit(action, "api:"+tok.Name, resp.Recording, detail); err != nil {
		a.log.Error("audit", "err", err)
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}
