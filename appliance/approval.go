package appliance

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/spanvault/spanvault/vault"
)

// Critical actions need two people (four-eyes): one token requests, a
// different token approves, and only then does the vault act. Both names
// are in the audit trail.
//
//	POST /api/v1/erase    {"recording": ID, "reason": "..."}   -> 202 {"request": RID}
//	POST /api/v1/release  {"hold": HID, "reason": "..."}       -> 202 {"request": RID}
//	POST /api/v1/approve  {"request": RID}                     -> 200 (done)
//
// Only the dpo and admin roles may request or approve; the requester may
// not approve their own request; requests expire after a day.

const approvalTTL = 24 * time.Hour

type pending struct {
	ID        string    `json:"request"`
	Action    string    `json:"action"`
	Target    string    `json:"target"`
	Reason    string    `json:"reason"`
	By        string    `json:"requested_by"`
	Requested time.Time `json:"requested"`
}

type approvals struct {
	mu   sync.Mutex
	reqs map[string]*pending
}

var criticalRoles = map[string]bool{"dpo": true, "admin": true}

func (a *Appliance) approvalAPI(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v1/erase", func(w http.ResponseWriter, r *http.Request) { a.request(w, r, "erase") })
	mux.HandleFunc("POST /api/v1/release", func(w http.ResponseWriter, r *http.Request) { a.request(w, r, "release") })
	mux.HandleFunc("POST /api/v1/approve", a.approve)
}

func (a *Appliance) request(w http.ResponseWriter, r *http.Request, action string) {
	tok, ok := a.authenticate(r)
	if !ok {
		apiError(w, http.StatusUnauthorized, "missing or unknown bearer token")
		return
	}
	if !criticalRoles[tok.Role] {
		apiError(w, http.StatusForbidden, "role "+tok.Role+" may not request "+action)
		return
	}
	var body struct {
		Recording string `json:"recording"`
		Hold      string `json:"hold"`
		Reason    string `json:"reason"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 8<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		apiError(w, http.StatusBadRequest, "malformed JSON body: "+err.Error())
		return
	}
	target := body.Recording
	if action == "release" {
		target = body.Hold
	}
	if strings.TrimSpace(target) == "" || strings.TrimSpace(body.Reason) == "" {
		apiError(w, http.StatusBadRequest, `fields "`+map[string]string{"erase": "recording", "release": "hold"}[action]+`" and "reason" are required`)
		return
	}
	if action == "erase" {
		if _, err := a.v.Get(target); err != nil {
			apiError(w, http.StatusNotFound, "no such recording")
			return
		}
	}
	var id [8]byte
	rand.Read(id[:])
	p := &pending{ID: hex.EncodeToString(id[:]), Action: action, Target: target, Reason: body.Reason, By: tok.Name, Requested: time.Now()}
	a.appr.mu.Lock()
	if a.appr.reqs == nil {
		a.appr.reqs = map[string]*pending{}
	}
	for k, q := range a.appr.reqs {
		if time.Since(q.Requested) > approvalTTL {
			delete(a.appr.reqs, k)
		}
	}
	a.appr.reqs[p.ID] = p
	a.appr.mu.Unlock()
	rec := "" // a hold ID is not a recording
	if action == "erase" {
		rec = target
	}
	if err := a.v.Audit(action+"_requested", "api:"+tok.Name, rec, "awaiting a second approver; request "+p.ID); err != nil {
		a.log.Error("audit: approval request not written", "action", action, "request", p.ID, "err", err)
		a.appr.mu.Lock()
		delete(a.appr.reqs, p.ID) // an unaudited request cannot be approved
		a.appr.mu.Unlock()
		apiError(w, http.StatusInternalServerError, "the audit trail could not be written")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(p)
}

func (a *Appliance) approve(w http.ResponseWriter, r *http.Request) {
	tok, ok := a.authenticate(r)
	if !ok {
		apiError(w, http.StatusUnauthorized, "missing or unknown bearer token")
		return
	}
	if !criticalRoles[tok.Role] {
		apiError(w, http.StatusForbidden, "role "+tok.Role+" may not approve")
		return
	}
	var body struct {
		Request string `json:"request"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 8<<10)).Decode(&body); err != nil || body.Request == "" {
		apiError(w, http.StatusBadRequest, `field "request" is required`)
		return
	}
	a.appr.mu.Lock()
	p := a.appr.reqs[body.Request]
	if p != nil && time.Since(p.Requested) > approvalTTL {
		delete(a.appr.reqs, body.Request)
		p = nil
	}
	if p != nil && p.By == tok.Name {
		a.appr.mu.Unlock()
		apiError(w, http.StatusForbidden, "four-eyes: the requester may not approve their own request")
		return
	}
	if p != nil {
		delete(a.appr.reqs, body.Request)
	}
	a.appr.mu.Unlock()
	if p == nil {
		apiError(w, http.StatusNotFound, "no such pending request (it may have expired)")
		return
	}
	by := "api:" + p.By + "+" + tok.Name
	var err error
	switch p.Action {
	case "erase":
		err = a.v.Erase(p.Target, p.Reason, by)
	case "release":
		_, err = a.v.Release(p.Target, p.Reason, by)
	}
	switch {
	case errors.Is(err, vault.ErrOnHold):
		apiError(w, http.StatusConflict, "the recording is on legal hold")
		return
	case err != nil:
		apiError(w, http.StatusUnprocessableEntity, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"ok": true, "action": p.Action, "target": p.Target, "by": by})
}
