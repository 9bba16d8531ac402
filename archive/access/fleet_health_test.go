package access_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
)

// recordOn records calls into a box's vault (the box's capture path).
func (e *env) recordOn(b *box, cfg synth.Config) {
	e.t.Helper()
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), calls.NewTracker(calls.Config{}, b.v, b.v))
	synth.New(cfg).Each(func(f synth.Frame) { p.Handle(f.Data, decode.LinkEthernet, f.Time) })
	p.Close("capture ended")
}

// checkIn runs a pass of b reporting its vault's disk as it is then.
func (e *env) checkIn(b *box, upload bool) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	health := func() wire.Health {
		h := b.health
		u := b.v.Usage()
		h.DiskUsed, h.DiskTotal = u.Used, u.Limit
		return h
	}
	if err := b.c.Pass(ctx, client.Options{Upload: upload, HealthNow: health}); err != nil {
		e.t.Fatalf("sync %s: %v", b.name, err)
	}
}

// TestFleetPageAgreesWithBox (issue 23 acceptance 3, issue 24 acceptance
// 4): a box with five recordings waiting after a check-in outside its
// window and its clock unsynchronised: the fleet API and page show the
// backlog the box itself has after the pass, its disk and its clock, and
// list it first as needing attention, with why. Before, both showed a
// backlog of 0 (the count from before the pass).
func TestFleetPageAgreesWithBox(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-a", synth.Config{Calls: 1, Duration: time.Second, Start: e.clock.Now().Add(-2 * time.Hour)})
	b := e.addBox("branch-z", synth.Config{})
	e.recordOn(b, synth.Config{Calls: 5, Duration: 3 * time.Second, Start: e.clock.Now().Add(-time.Hour), Seed: 7})
	b.health.ClockSynced = false
	e.checkIn(b, false)
	own, usage := b.c.State(), b.v.Usage()
	if own.Backlog != 5 || own.BacklogBytes == 0 {
		t.Fatalf("the box has %d (%d bytes) waiting, want its five recordings", own.Backlog, own.BacklogBytes)
	}

	op := e.signIn(e.addUser("ops", access.Auditor))
	var fl struct {
		Boxes []access.Box `json:"boxes"`
	}
	if st, body := op.do("GET", "/api/v1/fleet", nil, &fl); st != 200 {
		t.Fatal(st, body)
	}
	var got access.Box
	for _, x := range fl.Boxes {
		if x.Name == "branch-z" {
			got = x
		}
	}
	h := got.Health
	if h.Backlog != own.Backlog || h.BacklogBytes != own.BacklogBytes {
		t.Fatalf("fleet API shows backlog %d (%d bytes), the box has %d (%d bytes) waiting after the pass", h.Backlog, h.BacklogBytes, own.Backlog, own.BacklogBytes)
	}
	if h.DiskTotal != usage.Limit || h.DiskUsed == 0 || h.DiskUsed > usage.Used || h.ClockSynced {
		t.Fatalf("fleet API shows disk %d / %d, clock synced %v; the box has %d / %d, unsynchronised", h.DiskUsed, h.DiskTotal, h.ClockSynced, usage.Used, usage.Limit)
	}
	if !got.Attention || len(got.Reasons) == 0 || got.Reasons[0].Kind != access.ReasonClock {
		t.Fatalf("box with a waiting backlog and an unsynchronised clock: attention %v, reasons %+v", got.Attention, got.Reasons)
	}

	// The page: the same figures, the box first.
	c := e.httpClient()
	webSignIn(t, e, c, e.addUser("admin", access.Admin))
	resp, err := c.Get(e.web + "/fleet")
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(resp)
	rows := regexp.MustCompile(`<tr id="box-([a-z0-9-]+)" class="(\w+)"`).FindAllStringSubmatch(page, -1)
	if len(rows) != 2 || rows[0][1] != "branch-z" || rows[0][2] != "attention" || rows[1][2] != "fine" {
		t.Fatalf("fleet page rows %v: want branch-z first, needing attention", rows)
	}
	for _, want := range []string{
		fmt.Sprintf(`class="backlog" data-n="%d" data-bytes="%d">%d (%s)`, own.Backlog, own.BacklogBytes, own.Backlog, access.Bytes(own.BacklogBytes)),
		fmt.Sprintf(`data-used="%d" data-total="%d"`, h.DiskUsed, h.DiskTotal),
		`data-synced="false">not synchronised`,
		`data-kind="clock_unsynced">clock not synchronised`,
		`<polyline class="line-backlog"`,
	} {
		if !strings.Contains(page, want) {
			t.Fatalf("fleet page lacks %q", want)
		}
	}
	// German readers get the same page in German.
	req, _ := http.NewRequest("GET", e.web+"/fleet", nil)
	req.Header.Set("Accept-Language", "de-DE,de;q=0.9")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if de := readAll(resp); !strings.Contains(de, "Braucht Aufmerksamkeit") || !strings.Contains(de, "Uhr nicht synchronisiert") {
		t.Fatal("German fleet page lacks its translations")
	}
}

// TestFleetHealthAlerts: the archive keeps each box's health per hour and
// alerts once per condition: an unsynchronised clock, a backlog that
// grows for a day without being cleared, a failed update, a refused
// policy; each clears when it ends; history older than 30 days goes.
func TestFleetHealthAlerts(t *testing.T) {
	e := newEnv(t, nil)
	b := e.addBox("branch-h", synth.Config{})
	watch := func() { e.svc.WatchFleet(t.Context()); e.svc.WatchFleet(t.Context()) }

	b.health.ClockSynced = false
	e.checkIn(b, false)
	watch()
	if n := e.events("fleet_clock_unsynced", "", "clock not synchronised"); n != 1 {
		t.Fatalf("%d clock alerts for a box reporting an unsynchronised clock", n)
	}
	if a := waitAlert(t, e, "fleet_clock_unsynced"); a.Appliance != "branch-h" {
		t.Fatalf("webhook alert for %q", a.Appliance)
	}
	b.health.ClockSynced = true
	e.checkIn(b, false)
	watch()
	if e.events("fleet_clock_unsynced_cleared", "", "") != 1 {
		t.Fatal("clock alert not cleared")
	}

	// A backlog that grows every hour for a day and is never cleared.
	for i := 0; i < 26; i++ {
		e.clock.Add(time.Hour)
		e.recordOn(b, synth.Config{Calls: 1, Duration: time.Second, Start: e.clock.Now().Add(-time.Minute), Seed: uint64(100 + i)})
		e.checkIn(b, false)
		watch()
		if i < 23 && e.events("fleet_backlog_growing", "", "") != 0 {
			t.Fatalf("backlog alert after %d hours of history", i+1)
		}
	}
	if n := e.events("fleet_backlog_growing", "", "in 24 h"); n != 1 {
		t.Fatalf("%d backlog alerts after a day of growth", n)
	}
	// The nightly window clears it.
	e.clock.Add(time.Hour)
	e.checkIn(b, true)
	watch()
	if e.events("fleet_backlog_growing_cleared", "", "") != 1 {
		t.Fatal("backlog alert not cleared by an upload")
	}

	b.health.UpdateFailure = "1.5.0 did not confirm within 10m: booted 1.4.2 again"
	b.health.PolicyFailure = "policy 7: retention class mifid shorter than legal retention"
	e.checkIn(b, false)
	watch()
	if e.events("fleet_update_failed", "", "booted 1.4.2 again") != 1 || e.events("fleet_policy_refused", "", "policy 7") != 1 {
		t.Fatal("failed update or refused policy not alerted")
	}

	// The history: hourly rows, 30 days kept.
	op := e.signIn(e.addUser("ops", access.Auditor))
	var fl struct {
		Boxes []access.Box `json:"boxes"`
	}
	if st, body := op.do("GET", "/api/v1/fleet?history=1", nil, &fl); st != 200 || len(fl.Boxes) != 1 {
		t.Fatal(st, body)
	}
	if n := len(fl.Boxes[0].History); n < 4 || fl.Boxes[0].History[n-1].BacklogMin != 0 || fl.Boxes[0].History[n-1].BacklogMax < 26 {
		t.Fatalf("history %+v", fl.Boxes[0].History)
	}
	e.clock.Add(31 * 24 * time.Hour)
	e.checkIn(b, false)
	watch()
	var old, kept int
	cut := e.clock.Now().Add(-30*24*time.Hour).Unix() / 3600
	e.a.Index.DB().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM fleet_health WHERE hour < ?`, cut).Scan(&old)
	e.a.Index.DB().QueryRowContext(t.Context(), `SELECT COUNT(*) FROM fleet_health`).Scan(&kept)
	if old != 0 || kept != 1 {
		t.Fatalf("after 31 days: %d rows older than 30 days, %d kept", old, kept)
	}
}

// TestFleetClockOffset: a box that believes its clock synchronised but
// runs ten minutes ahead: the archive measures the offset at check-in,
// the fleet shows it with its sign, and it is an alert like a lost time
// source.
func TestFleetClockOffset(t *testing.T) {
	e := newEnv(t, nil)
	b := e.addBox("branch-fast", synth.Config{})
	ahead, err := client.New(client.Config{Name: b.name, Archives: []string{e.addr},
		Cert: filepath.Join(b.enroll, "sync.crt"), Key: filepath.Join(b.enroll, "sync.key"),
		CA: filepath.Join(b.enroll, "ca.crt"), AnchorKey: filepath.Join(b.enroll, "anchor.vkey"),
		Now: func() time.Time { return e.clock.Now().Add(10 * time.Minute) }}, b.v)
	if err != nil {
		t.Fatal(err)
	}
	b.c = ahead
	e.clock.Add(time.Hour)
	e.checkIn(b, false)
	e.svc.WatchFleet(t.Context())
	bs, err := e.svc.Fleet(t.Context())
	if err != nil || len(bs) != 1 {
		t.Fatal(bs, err)
	}
	got := bs[0]
	if got.ClockOffset != 600 || !got.Health.ClockSynced || !got.Attention || got.Reasons[0].Kind != access.ReasonClock || got.Reasons[0].Detail != "+600 s" {
		t.Fatalf("box ten minutes ahead: offset %v, reasons %+v", got.ClockOffset, got.Reasons)
	}
	if e.events("fleet_clock_unsynced", "", "clock off: +600 s") != 1 {
		t.Fatal("clock offset not alerted")
	}
}
