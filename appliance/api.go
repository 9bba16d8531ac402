package appliance

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spanvault/spanvault/appliance/config"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/sip"
	"github.com/spanvault/spanvault/internal/httperr"
)

// The local API lets agent desktops and the CRM act on calls in progress:
//
//	POST /api/v1/pause    {"call": "<Call-ID or agent extension>"}
//	POST /api/v1/resume   {"call": ...}
//	POST /api/v1/consent  {"call": ...}      one-sided -> both sides
//	POST /api/v1/tag      {"call": ..., "tag": "..."}
//	GET  /api/v1/call?call=...   the call's state (answered, paused, ...)
//
// The API is served over HTTPS only (api.listen). Every request carries
// "Authorization: Bearer <token>"; the configuration holds only the
// token's SHA-256, its role and, for agents and supervisors, the
// extensions it is bound to: such a token names a call by one of its own
// extensions or by Call-ID, never by a customer's number, and acts only
// on calls one of whose parties is its extension (consent: the agent's
// side; only an agent token gives consent). By extension, the agent's own
// answered call with media both ways is preferred over any other dialog
// naming the extension; an extension that still names more than one call
// is refused (409) and the answer carries the Call-ID acted on. Every
// accepted call and every denial is audited (with the recording ID when
// the call is being recorded, never the Call-ID or a number). Errors are
// JSON {"error": "..."} with 400 (malformed), 401 (no or bad token), 403
// (role, or a call that is not the token's: the same answer for another
// agent's call and for no call), 404 (no call on the token's own
// extension, or none at all for an unbound token), 409 (ambiguous).

type apiRequest struct {
	Call string `json:"call"`
	Tag  string `json:"tag,omitempty"`
}

type apiResponse struct {
	OK        bool   `json:"ok"`
	CallID    string `json:"call_id,omitempty"` // the call acted on
	Recording string `json:"recording,omitempty"`
	State     string `json:"state,omitempty"`
	Paused    bool   `json:"paused"`
	Consented bool   `json:"consented"`
}

func apiError(w http.ResponseWriter, code int, msg string) {
	apiErrors.Write(w, nil, httperr.New(code, msg))
}

// apiErrors writes the API's errors ({"error": text}) through the one
// error writer of both products; a 401 carries its Bearer challenge.
var apiErrors = httperr.Writer{JSONOnly: true, Before: func(w http.ResponseWriter, e *httperr.Error) {
	if e.Code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="spanvault"`)
	}
}}

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
	"consent": {"agent": true}, // only the call's agent (README)
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
	c, code, msg, rec := a.callFor(tok, key, "read")
	var resp apiResponse
	if c != nil {
		resp = apiResponse{OK: true, CallID: c.CallID, Recording: c.RecordingID(), State: string(c.State), Paused: c.Paused, Consented: c.Consented}
	}
	a.live.Mu.Unlock()
	if c == nil {
		a.denied(tok, "read", rec, code, msg)
		apiError(w, code, msg)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(resp)
}

// callFor finds the call key names, if tok may act on it. The caller
// holds a.live.Mu. On a refusal, rec names the recording of the call that
// was found (for the audit), if it has one.
//
// A key is a Call-ID or an extension. By extension, the agent's own
// answered call wins over any dialog an outsider can forge with the
// extension in From or To (Tracker.LookupAgent); when the extension still
// names more than one call, or a Call-ID equal to it names another dialog,
// the request is refused with 409 rather than acting on a guess. A token
// bound to extensions gets the same 403 for a Call-ID of another agent's
// call as for a Call-ID of no call, so it cannot test which calls exist.
func (a *Appliance) callFor(tok config.Token, key, action string) (c *calls.Call, code int, msg, rec string) {
	bound := tok.Role == "agent" || tok.Role == "supervisor"
	if bound && len(tok.Extensions) == 0 {
		return nil, http.StatusForbidden, fmt.Sprintf("token %s is bound to no extension: it may act on no call", tok.Name), ""
	}
	tr := a.live.P.Tracker
	notYours := fmt.Sprintf("token %s acts only on calls of its own extensions, named by its extension or their Call-ID", tok.Name)
	byID := tr.ByCallID(key)
	var byExt []*calls.Call
	if !bound || matchesAny(tok.Extensions, key) {
		byExt = tr.LookupAgent(key)
	} else if byID == nil {
		// Neither its own extension nor a Call-ID: refused as a
		// Call-ID of another agent's call is (no enumeration of numbers
		// or calls).
		return nil, http.StatusForbidden, notYours, ""
	}
	switch {
	case byID != nil && len(byExt) > 0 && (len(byExt) > 1 || byExt[0] != byID),
		byID == nil && len(byExt) > 1:
		n := len(byExt)
		if byID != nil && !slices.Contains(byExt, byID) {
			n++
		}
		var recs []string
		for _, o := range append(byExt, byID) {
			if o != nil && o.RecordingID() != "" && !slices.Contains(recs, o.RecordingID()) {
				recs = append(recs, o.RecordingID())
			}
		}
		return nil, http.StatusConflict, fmt.Sprintf("the key names %d calls in progress: name the call by its Call-ID", n), strings.Join(recs, ",")
	case byID != nil:
		c = byID
	case len(byExt) == 1:
		c = byExt[0]
	}
	if c == nil {
		return nil, http.StatusNotFound, "no call in progress matches", ""
	}
	if !bound {
		return c, 0, "", ""
	}
	from, to := string(sip.User([]byte(c.From))), string(sip.User([]byte(c.To)))
	if !matchesAny(tok.Extensions, from) && !matchesAny(tok.Extensions, to) {
		return nil, http.StatusForbidden, notYours, c.RecordingID()
	}
	if action == "consent" {
		// Only the agent on the call may give consent for the other side.
		agent := to
		if c.Policy.AgentSide == calls.AtoB {
			agent = from
		}
		if !matchesAny(tok.Extensions, agent) {
			return nil, http.StatusForbidden, fmt.Sprintf("token %s is not the agent of this call: consent refused", tok.Name), c.RecordingID()
		}
	}
	return c, 0, "", ""
}

func matchesAny(patterns []string, user string) bool {
	for _, p := range patterns {
		if calls.MatchPattern(p, user) {
			return true
		}
	}
	return false
}

// denied audits a refusal that names a token (403, or 409 for an
// extension that names more than one call): an agent trying another
// agent's call, or a dialog forged beside an agent's call, is evidence.
// recording names the call's recording(s) when there is one.
func (a *Appliance) denied(tok config.Token, action, recording string, code int, msg string) {
	if code != http.StatusForbidden && code != http.StatusConflict {
		return
	}
	a.log.Warn("api: denied", "token", tok.Name, "action", action, "reason", msg)
	detail := action + ": " + msg
	if first, more, ok := strings.Cut(recording, ","); ok {
		// An ambiguous key: the entry names the first recording, the
		// detail the others.
		recording, detail = first, detail+" (also recordings "+more+")"
	}
	if err := a.v.Audit("api_denied", "api:"+tok.Name, recording, detail); err != nil {
		a.log.Error("audit", "err", err)
	}
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
	c, code, msg, rec := a.callFor(tok, req.Call, action)
	if !roleAllows[action][tok.Role] {
		// Refused by role; the call it named, if any, is still named in
		// the audit entry.
		if c != nil {
			rec = c.RecordingID()
		}
		c, code, msg = nil, http.StatusForbidden, fmt.Sprintf("role %s may not %s", tok.Role, action)
	}
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
		resp = apiResponse{OK: true, CallID: c.CallID, Recording: c.RecordingID(), State: string(c.State), Paused: c.Paused, Consented: c.Consented}
	}
	a.live.Mu.Unlock()
	if c == nil {
		a.denied(tok, action, rec, code, msg)
		apiError(w, code, msg)
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
