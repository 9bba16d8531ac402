package access_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/wire"
)

// rolledOut is an archive with two boxes running serial 1 and a rollout
// of serial 2 whose canary branch-a confirmed and whose wave 1, branch-b,
// rolled back: the rollout stopped.
func rolledOut(t *testing.T) (*env, *index.Rollout) {
	e := newEnv(t, nil)
	ctx := context.Background()
	a := e.addBox("branch-a", synth.Config{})
	b := e.addBox("branch-b", synth.Config{})
	for _, x := range []*box{a, b} {
		x.health.FirmwareSerial = 1
		e.checkIn(x, false)
	}
	if _, err := e.a.UpdatePublicKey(); err != nil {
		t.Fatal(err)
	}
	key, err := archive.ReadUpdateKey(filepath.Join(e.dir, archive.UpdateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "root"), []byte(strings.Repeat("r", 5000)), 0o600)
	os.WriteFile(filepath.Join(src, "boot"), []byte(strings.Repeat("b", 500)), 0o600)
	ud := filepath.Join(t.TempDir(), "u")
	if _, err := archive.SignUpdateDir(key, wire.UpdateManifest{Serial: 2, Version: "2026.12.06-2", Built: e.clock.Now(), Arch: "arm64"}, filepath.Join(src, "root"), filepath.Join(src, "boot"), ud); err != nil {
		t.Fatal(err)
	}
	if _, err := e.a.Publish(ctx, ud, "ops"); err != nil {
		t.Fatal(err)
	}
	r, err := e.a.Roll(ctx, archive.RollOptions{Serial: 2, Canary: "branch-a", Percent: 100, Threshold: 0.5, ConfirmWithin: 20 * time.Minute, By: "ops"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.a.ApproveRollout(ctx, r.ID, "second-ops"); err != nil { // four eyes: two boxes
		t.Fatal(err)
	}
	e.checkIn(a, false) // offered
	a.health.FirmwareSerial, a.health.UpdateState, a.health.UpdateSerial, a.health.UpdateRollout = 2, wire.UpdateConfirmed, 2, r.ID
	e.checkIn(a, false) // confirmed: wave 1 begins
	b.health.UpdateState, b.health.UpdateSerial, b.health.UpdateRollout = wire.UpdateRolledBack, 2, r.ID
	b.health.UpdateFailure = "2026.12.06-2 did not confirm within 20m"
	e.checkIn(b, false) // offered (its first check-in of the wave)...
	e.checkIn(b, false) // ...and it reports the failure: 1 of 1 in wave 1

	return e, r
}

// TestFleetUpdates: the fleet API and page show each box's firmware (the
// serial it reports, the version published under it) and its state in
// its rollout; the rollout panel shows the waves with their counts and
// the failures, in English and German. Before: neither (no Firmware in
// the fleet rows, no /fleet/updates: did not compile).
func TestFleetUpdates(t *testing.T) {
	e, r := rolledOut(t)
	op := e.signIn(e.addUser("ops", access.Auditor))
	var fl struct {
		Boxes []access.Box `json:"boxes"`
	}
	if st, body := op.do("GET", "/api/v1/fleet", nil, &fl); st != 200 {
		t.Fatal(st, body)
	}
	fw := map[string]*access.BoxFirmware{}
	for _, x := range fl.Boxes {
		fw[x.Name] = x.Firmware
	}
	if f := fw["branch-a"]; f == nil || f.Serial != 2 || f.Version != "2026.12.06-2" || f.UpdateState != wire.UpdateConfirmed || f.Rollout != r.ID || f.RolloutState != archive.BoxConfirmed {
		t.Fatalf("fleet API, branch-a firmware: %+v", f)
	}
	if f := fw["branch-b"]; f == nil || f.Serial != 1 || f.UpdateState != wire.UpdateRolledBack || f.RolloutState != archive.BoxFailed || !strings.Contains(f.Reason, "did not confirm") {
		t.Fatalf("fleet API, branch-b firmware: %+v", f)
	}
	var up access.Updates
	if st, body := op.do("GET", "/api/v1/updates", nil, &up); st != 200 || len(up.Rollouts) != 1 || len(up.Updates) != 1 {
		t.Fatal(st, body)
	}
	if ro := up.Rollouts[0]; ro.State != "stopped" || ro.Waves[0].Confirmed != 1 || ro.Waves[1].Failed != 1 {
		t.Fatalf("rollout in the API: %s %+v", ro.State, ro.Waves)
	}

	c := e.httpClient()
	webSignIn(t, e, c, e.addUser("admin", access.Admin))
	page := func(path, lang string) string {
		req, _ := http.NewRequest("GET", e.web+path, nil)
		if lang != "" {
			req.Header.Set("Accept-Language", lang)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, e.logs.String())
		}
		return readAll(resp)
	}
	fleet := page("/fleet", "")
	for _, want := range []string{`<span class="serial" data-serial="2">2 (2026.12.06-2)</span>`, `data-state="failed" href="/fleet/updates#rollout-1">rollout 1: failed</a> <span class="why">2026.12.06-2 did not confirm within 20m</span>`, `href="/fleet/updates"`} {
		if !strings.Contains(fleet, want) {
			t.Fatalf("fleet page lacks %q", want)
		}
	}
	panel := page("/fleet/updates", "")
	for _, want := range []string{`<section class="rollout" id="rollout-1" data-state="stopped">`, `<span class="state">stopped</span>`, "wave 1: 1 of 1 boxes failed",
		`<tr class="wave" data-wave="0"><td>0</td><td class="n">1</td><td class="confirmed">1</td>`, `<li data-box="branch-b">branch-b: 2026.12.06-2 did not confirm within 20m</li>`, "<td>2026.12.06-2</td><td>arm64</td>"} {
		if !strings.Contains(panel, want) {
			t.Fatalf("rollout panel lacks %q:\n%s", want, panel)
		}
	}
	if de := page("/fleet/updates", "de-DE"); !strings.Contains(de, "Verteilung 1") || !strings.Contains(de, "gestoppt") {
		t.Fatal("German rollout panel lacks its translations")
	}
}
