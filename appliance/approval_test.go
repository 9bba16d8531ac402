package appliance

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/appliance/config"
	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/audit"
)

func tokenLine(name, role string) string {
	sum := sha256.Sum256([]byte(name + "-secret"))
	return fmt.Sprintf("[[api.token]]\nname = %q\nrole = %q\nsha256 = %q\n", name, role, hex.EncodeToString(sum[:]))
}

// TestFourEyes: erasure through the API needs a request and an approval
// by two different privileged tokens; a hold still wins.
func TestFourEyes(t *testing.T) {
	dir := t.TempDir()
	cfg, err := config.Parse([]byte("[vault]\ndir = \"v\"\nrecipients = \"r\"\n"+tokenLine("dpo1", "dpo")+tokenLine("dpo2", "dpo")+tokenLine("desk", "agent")), dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := age.GenerateX25519Identity()
	a.v, err = vault.Open(vault.Options{Dir: dir, Recipients: []age.Recipient{id.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.v.Close()
	tr := calls.NewTracker(calls.Config{}, a.v, a.v)
	a.live = &capture.Live{P: capture.NewPipeline(decode.New(decode.DefaultOptions), tr)}
	g := synth.New(synth.Config{Calls: 2, Duration: time.Second})
	for f, ok := g.Next(); ok; f, ok = g.Next() {
		a.live.P.Handle(f.Data, decode.LinkEthernet, f.Time)
	}
	a.live.P.Close("end")
	es, _ := a.v.List()
	if len(es) != 2 {
		t.Fatalf("%d recordings", len(es))
	}
	srv := httptest.NewTLSServer(a.APIHandler())
	defer srv.Close()
	post := func(path, who, body string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+who+"-secret")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	erase := func(id string) string { return fmt.Sprintf(`{"recording": %q, "reason": "Art. 17 request 99"}`, id) }

	if code, _ := post("/api/v1/erase", "desk", erase(es[0].ID)); code != http.StatusForbidden {
		t.Fatalf("agent may request erasure: %d", code)
	}
	if code, _ := post("/api/v1/erase", "dpo1", erase("0123456789abcdefghjkmnpqrs")); code != http.StatusNotFound {
		t.Fatalf("unknown recording: %d", code)
	}
	code, req := post("/api/v1/erase", "dpo1", erase(es[0].ID))
	if code != http.StatusAccepted {
		t.Fatalf("request: %d %v", code, req)
	}
	rid := req["request"].(string)
	if _, err := a.v.Get(es[0].ID); err != nil {
		t.Fatal("erased before approval")
	}
	if code, _ := post("/api/v1/approve", "dpo1", fmt.Sprintf(`{"request": %q}`, rid)); code != http.StatusForbidden {
		t.Fatalf("self-approval: %d", code)
	}
	if code, m := post("/api/v1/approve", "dpo2", fmt.Sprintf(`{"request": %q}`, rid)); code != 200 {
		t.Fatalf("approval: %d %v", code, m)
	}
	if _, err := a.v.Get(es[0].ID); err == nil {
		t.Fatal("not erased after approval")
	}
	if code, _ := post("/api/v1/approve", "dpo2", fmt.Sprintf(`{"request": %q}`, rid)); code != http.StatusNotFound {
		t.Fatalf("approved twice: %d", code)
	}
	// A legal hold beats two people.
	a.v.Hold(es[1].ID, "litigation", "dpo1")
	_, req = post("/api/v1/erase", "dpo1", erase(es[1].ID))
	if code, _ := post("/api/v1/approve", "dpo2", fmt.Sprintf(`{"request": %q}`, req["request"])); code != http.StatusConflict {
		t.Fatalf("erasure under hold: %d", code)
	}
	aes, _ := a.v.AuditEntries(1, 1000)
	var requested, erased bool
	for _, e := range aes {
		requested = requested || (e.Action == "erase_requested" && e.Actor == "api:dpo1")
		erased = erased || (e.Action == audit.Erasure && e.Actor == "api:dpo1+dpo2" && e.Recording == es[0].ID)
	}
	if !requested || !erased {
		t.Fatalf("audit: requested %v erased %v", requested, erased)
	}
}
