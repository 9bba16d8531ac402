package access_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
)

// Update waves in the fleet simulation. At a set minute the admin
// publishes a signed update on both front-ends (spanvault-archive update
// publish) and rolls it out to every box (update roll: the canary
// branch-000, then 10 %, then the rest; a wave stops the rollout when
// more than 5 % of it failed). A box offered the update at check-in
// verifies the offer under the update key it pinned at enrollment,
// downloads both files over its mutual TLS and checks their hashes, then
// reports downloading, written, reboots for simReboot (no check-in),
// reports trying with the new serial, and confirmed after that healthy
// check-in. A box whose new firmware never becomes healthy (simUpdateFails)
// stays silent until the new firmware's confirmation time has passed and
// it boots the old again, which reports rolled-back. The boxes have no
// sync window here: they download at once (a box with a nightly window
// would take a night per wave). The first rollout (serial 2) fails on 1 %
// of the boxes, under the threshold, and covers the fleet; the second
// (serial 3, on simulations of 6 hours or more, or as long as
// SPANVAULT_FLEET_STOPTEST says) fails on one box in seven
// and stops itself in wave 1.

const (
	simBaseSerial = 1
	simReboot     = 3 * time.Minute
	simConfirm    = 30 * time.Minute
	// The update's files: small stand-ins (an image's root is 75-90 MB),
	// downloaded and hashed by every box all the same.
	simRootSize = 4 << 20
	simBootSize = 256 << 10
)

// simUpdateFails: box i's new firmware of serial never becomes healthy.
func simUpdateFails(i int, serial uint64) bool {
	switch serial {
	case 2:
		return i%97 == 50
	case 3:
		return i%7 == 3
	}
	return false
}

// simRollout is one rollout as the archive side of the simulation saw it.
type simRollout struct {
	serial    uint64
	atMinute  int
	id        int64
	waveStart [3]int // the minute each wave began (-1: never)
	endMinute int    // the minute it ended (done or stopped); -1: not yet
	state     string
	reason    string
	waves     [3]archive.WaveCount
	confirmed []int // boxes confirmed after each minute since it began
	// The archive's CPU and the check-ins in the minutes it was active.
	fe, pg   time.Duration
	checkins int
}

// planUpdates sets the simulation's rollouts by its length.
func (s *fleetSim) planUpdates(minutes int) {
	s.rollouts = append(s.rollouts, &simRollout{serial: 2, atMinute: max(2, minutes/24)})
	if minutes >= envInt("SPANVAULT_FLEET_STOPTEST", 360) {
		s.rollouts = append(s.rollouts, &simRollout{serial: 3, atMinute: minutes / 6})
	}
	for _, r := range s.rollouts {
		r.waveStart, r.endMinute = [3]int{-1, -1, -1}, -1
	}
}

// startRollouts publishes and rolls the rollouts due at minute m.
func (s *fleetSim) startRollouts(m int) {
	t := s.e.t
	ctx := context.Background()
	for _, r := range s.rollouts {
		if r.atMinute != m {
			continue
		}
		dir := s.buildUpdate(r.serial)
		for _, fe := range s.fes { // each front-end serves the files it holds
			if _, err := fe.Publish(ctx, dir, "fleet-admin"); err != nil {
				t.Fatalf("publish update %d: %v", r.serial, err)
			}
		}
		ro, err := s.fes[0].Roll(ctx, archive.RollOptions{Serial: r.serial, Canary: s.plan.Boxes[0].Name, Percent: 10, Threshold: 0.05,
			ConfirmWithin: simConfirm, By: "fleet-admin"})
		if err != nil {
			t.Fatalf("roll update %d: %v", r.serial, err)
		}
		if ro.State == index.RolloutFiled { // four eyes: a second admin starts it
			if err := s.fes[0].ApproveRollout(ctx, ro.ID, "second-admin"); err != nil {
				t.Fatalf("approve rollout %d: %v", ro.ID, err)
			}
			if ro, err = s.fes[0].Index.Rollout(ctx, ro.ID); err != nil {
				t.Fatal(err)
			}
		}
		r.id, r.state, r.waveStart[0] = ro.ID, ro.State, m
	}
}

// buildUpdate signs an update of serial with the archive's update key
// (what make image does).
func (s *fleetSim) buildUpdate(serial uint64) string {
	t := s.e.t
	key, err := archive.ReadUpdateKey(filepath.Join(s.e.dir, archive.UpdateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	src := t.TempDir()
	for name, size := range map[string]int{"root": simRootSize, "boot": simBootSize} {
		b := make([]byte, size)
		rand.Read(b)
		if err := os.WriteFile(filepath.Join(src, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(t.TempDir(), "update")
	m := wire.UpdateManifest{Serial: serial, Version: fmt.Sprintf("2026.12.%d", serial), Built: s.e.clock.Now(), Arch: "arm64"}
	if _, err := archive.SignUpdateDir(key, m, filepath.Join(src, "root"), filepath.Join(src, "boot"), out); err != nil {
		t.Fatal(err)
	}
	return out
}

// rolloutsActive reports whether a rollout is in progress.
func (s *fleetSim) rolloutsActive() bool {
	for _, r := range s.rollouts {
		if r.id != 0 && r.endMinute < 0 {
			return true
		}
	}
	return false
}

// advanceRollouts is what each front-end's serve does every minute
// (deadlines; check-ins move the waves themselves).
func (s *fleetSim) advanceRollouts() {
	for _, fe := range s.fes {
		if err := fe.AdvanceRollouts(context.Background()); err != nil {
			s.e.t.Fatalf("advance rollouts: %v", err)
		}
	}
}

// watchRollouts reads the rollouts' state after minute m (outside the
// measured time) and charges the minute's CPU and check-ins to those
// active in it.
func (s *fleetSim) watchRollouts(m int, fe, pg time.Duration, checkins int) {
	for _, r := range s.rollouts {
		if r.id == 0 || r.endMinute >= 0 {
			continue
		}
		r.fe += fe
		r.pg += pg
		r.checkins += checkins
		st, err := s.fes[0].Rollout(context.Background(), r.id)
		if err != nil {
			s.e.t.Fatalf("rollout %d: %v", r.id, err)
		}
		if w := st.Wave; w >= 0 && w < 3 && r.waveStart[w] < 0 {
			r.waveStart[w] = m
		}
		r.state, r.reason, r.waves = st.State, st.EndReason, st.Waves
		n := 0
		for _, w := range st.Waves {
			n += w.Confirmed
		}
		r.confirmed = append(r.confirmed, n)
		if st.State != index.RolloutActive {
			r.endMinute = m
		}
	}
}

// reportRollouts puts the rollouts' figures into the benchmark's result.
func (s *fleetSim) reportRollouts(b *testing.B) {
	for _, r := range s.rollouts {
		if r.id == 0 {
			continue
		}
		var confirmed, failed int
		for _, w := range r.waves {
			confirmed += w.Confirmed
			failed += w.Failed
		}
		end := r.endMinute
		if end < 0 {
			b.Logf("rollout of update %d at minute %d: still %s when the simulation ended (waves began at minutes %v)", r.serial, r.atMinute, r.state, r.waveStart)
			continue
		}
		b.Logf("rollout of update %d at minute %d: %s (%s) after %d minutes; waves began at minutes %v; %d boxes confirmed, %d failed; archive CPU %.0f + %.0f µs per check-in while it ran",
			r.serial, r.atMinute, r.state, r.reason, end-r.atMinute, r.waveStart, confirmed, failed,
			float64(r.fe.Microseconds())/float64(max(r.checkins, 1)), float64(r.pg.Microseconds())/float64(max(r.checkins, 1)))
		p := fmt.Sprintf("upd%d-", r.serial)
		b.ReportMetric(float64(end-r.atMinute), p+"min")
		for w := 0; w < 3; w++ {
			if r.waveStart[w] >= 0 {
				next := end
				if w < 2 && r.waveStart[w+1] >= 0 {
					next = r.waveStart[w+1]
				}
				b.ReportMetric(float64(next-r.waveStart[w]), fmt.Sprintf("%swave%d-min", p, w))
			}
		}
		b.ReportMetric(float64(confirmed), p+"confirmed")
		// The fleet covered: the last box that confirms confirmed (the
		// rollout itself ends only once the failures are known too).
		for i, n := range r.confirmed {
			if n == confirmed {
				b.ReportMetric(float64(i+1), p+"covered-min")
				break
			}
		}
		b.ReportMetric(float64(failed), p+"failed")
		if r.state == index.RolloutStopped {
			b.ReportMetric(1, p+"stopped")
		}
		b.ReportMetric(float64(r.fe.Microseconds())/float64(max(r.checkins, 1)), p+"fe-cpu-µs/checkin")
		b.ReportMetric(float64(r.pg.Microseconds())/float64(max(r.checkins, 1)), p+"pg-cpu-µs/checkin")
	}
}

// The boxes' side.

// simFirmware is a simulated box's firmware and update state.
type simFirmware struct {
	serial      uint64 // running
	state       string // wire.Update*
	upd         uint64 // the serial being installed
	rollout     int64
	failure     string
	bootedAt    time.Time
	rebootUntil time.Time // no check-in before (rebooting, or new firmware that never became healthy)
	confirm     time.Duration
}

// simUpdateCheckIn is one check-in of box bx with its firmware state,
// and what the box does with the reply's offer. It reports whether the
// box was down (rebooting) and the bytes it downloaded.
func simUpdateCheckIn(c *http.Client, bx fleetSimSpec, at time.Time, fw *simFirmware, pub ed25519.PublicKey) (down bool, got int64, err error) {
	if at.Before(fw.rebootUntil) {
		return true, 0, nil
	}
	if !fw.rebootUntil.IsZero() { // up again
		fw.rebootUntil, fw.bootedAt = time.Time{}, at
		if simUpdateFails(bx.Index, fw.upd) {
			fw.state, fw.failure = wire.UpdateRolledBack, fmt.Sprintf("firmware %d did not confirm within %s; %d boots again", fw.upd, fw.confirm, fw.serial)
		} else {
			fw.serial, fw.state = fw.upd, wire.UpdateTrying
		}
	}
	h := simHealth(bx.Index, at)
	h.Version = fmt.Sprintf("2026.12.%d", fw.serial)
	h.FirmwareSerial, h.UpdateState, h.UpdateSerial, h.UpdateRollout, h.UpdateFailure, h.BootedAt = fw.serial, fw.state, fw.upd, fw.rollout, fw.failure, fw.bootedAt
	rep, err := simCheckInWith(c, bx, at, h)
	if err != nil {
		return false, 0, err
	}
	// What the box does after the check-in it reported its state in.
	switch fw.state {
	case wire.UpdateDownloading: // the files are on the inactive partition
		fw.state = wire.UpdateWritten
	case wire.UpdateWritten: // reboot into the new firmware
		fw.rebootUntil = at.Add(simReboot)
		if simUpdateFails(bx.Index, fw.upd) { // it never checks in; the watchdog boots the old one
			fw.rebootUntil = fw.rebootUntil.Add(fw.confirm + simReboot)
		}
	case wire.UpdateTrying: // that was its first healthy check-in
		fw.state = wire.UpdateConfirmed
	}
	o := rep.Update
	if o == nil || fw.state == wire.UpdateWritten || fw.state == wire.UpdateDownloading || !fw.rebootUntil.IsZero() {
		return false, 0, nil
	}
	m, err := wire.VerifyUpdate(pub, o.Update)
	if err != nil {
		return false, 0, fmt.Errorf("%s: offer of rollout %d: %w", bx.Name, o.Rollout, err)
	}
	if m.Serial <= fw.serial || (m.Serial == fw.upd && fw.state == wire.UpdateRolledBack) {
		return false, 0, nil
	}
	for _, f := range []struct {
		part string
		want wire.UpdateFile
	}{{"root", m.Root}, {"boot", m.Boot}} {
		n, err := simDownload(c, bx, m.Serial, f.part, f.want)
		if err != nil {
			return false, got, err
		}
		got += n
	}
	fw.state, fw.upd, fw.rollout, fw.failure, fw.confirm = wire.UpdateDownloading, m.Serial, o.Rollout, "", time.Duration(o.ConfirmWithin)
	return false, got, nil
}

// simDownload fetches one file of an update and checks it against the
// manifest.
func simDownload(c *http.Client, bx fleetSimSpec, serial uint64, part string, want wire.UpdateFile) (int64, error) {
	resp, err := c.Get(fmt.Sprintf("https://%s%s%d/%s", bx.Addr, archive.PathUpdate, serial, part))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return 0, fmt.Errorf("%s: update %d %s: %d %s", bx.Name, serial, part, resp.StatusCode, b)
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(resp.Body, want.Size+1))
	if err != nil {
		return n, err
	}
	if n != want.Size || !bytes.Equal(h.Sum(nil), want.SHA256) {
		return n, fmt.Errorf("%s: update %d %s: %d bytes not as the manifest says", bx.Name, serial, part, n)
	}
	return n, nil
}

// simCheckInWith sends one check-in with health h and returns the reply.
func simCheckInWith(c *http.Client, bx fleetSimSpec, at time.Time, h wire.Health) (wire.CheckInReply, error) {
	var rep wire.CheckInReply
	body, _ := json.Marshal(wire.CheckIn{Appliance: bx.Name, Time: at, Health: h})
	resp, err := c.Post("https://"+bx.Addr+wire.PathCheckIn, "application/json", bytes.NewReader(body))
	if err != nil {
		return rep, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return rep, fmt.Errorf("%s: %d %s", bx.Name, resp.StatusCode, b)
	}
	return rep, wire.Decode(resp.Body, &rep)
}

// simUpdateKey reads the update key a box pinned at its enrollment.
func simUpdateKey(dir string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(filepath.Join(dir, client.UpdateKeyFile))
	if err != nil {
		return nil, err
	}
	return wire.ParseUpdateKey(strings.TrimSpace(string(b)))
}
