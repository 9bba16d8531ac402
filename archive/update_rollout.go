package archive

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

// Rollouts. A rollout offers one published update to a set of boxes (the
// target, taken when the rollout is made) in three waves:
//
//   - wave 0: the canary box alone;
//   - wave 1, once the canary confirmed: Percent of the target's boxes
//     (rounded up; the canary not counted), chosen by the SHA-256 of
//     serial and name (deterministic, and another serial picks others);
//   - wave 2, once every box of wave 1 confirmed or failed: the rest.
//
// At check-in (updateCheckIn) a box of a wave in progress, running a
// lower serial, is offered the update (wire.UpdateOffer); its health
// reports move its state: downloading, written, trying; confirmed once it
// runs the serial and said so; failed when it reports the update rolled
// back or refused for the serial, or when it did not confirm within
// Deadline of its first offer (or, never having checked in, of its
// wave's start). A box that runs the serial already counts as confirmed,
// one above it is skipped: nothing is ever offered at or below what a box
// runs. The rollout stops by itself, as an alert, when the failed boxes
// of the wave in progress exceed Threshold of it (the canary's failure
// always stops it). With [enroll] four_eyes set, a rollout is filed by
// one admin and started by another's approval.

// Box states in a rollout (index.RolloutBox.State).
const (
	BoxWaiting   = "waiting"
	BoxOffered   = "offered"
	BoxConfirmed = "confirmed"
	BoxFailed    = "failed"
	BoxSkipped   = "skipped"
	// and wire.UpdateDownloading, UpdateWritten, UpdateTrying as the box
	// reports them.
)

// inFlight are the states of a box offered the update and not done.
var inFlight = []string{BoxOffered, wire.UpdateDownloading, wire.UpdateWritten, wire.UpdateTrying}

// openStates are the states not yet done.
var openStates = append([]string{BoxWaiting}, inFlight...)

func boxDone(state string) bool { return !slices.Contains(openStates, state) }

// RollOptions describe a rollout.
type RollOptions struct {
	Serial uint64
	// Target is "" (every enrolled box), "group:NAME" (a policy group) or
	// "box:NAME".
	Target string
	Canary string
	// Percent of the target is wave 1 (0..100).
	Percent int
	// Threshold: the wave in progress stops the rollout when more than
	// this fraction of its boxes failed (0 <= Threshold < 1).
	Threshold float64
	// ConfirmWithin is how long new firmware has to check in healthy
	// before it boots the old again (wire.UpdateOffer.ConfirmWithin).
	ConfirmWithin time.Duration
	// Deadline: a box offered the update and not confirmed this long
	// after its first offer counts as failed (default 48h: boxes download
	// in their nightly window).
	Deadline time.Duration
	By       string
}

// DefaultRolloutDeadline is RollOptions.Deadline's default.
const DefaultRolloutDeadline = 48 * time.Hour

// Roll starts (or, under four-eyes, files) a rollout and returns it. A
// rollout to more than one box is always filed (rolloutFourEyes).
func (a *Archive) Roll(ctx context.Context, o RollOptions) (*index.Rollout, error) {
	if o.Deadline == 0 {
		o.Deadline = DefaultRolloutDeadline
	}
	switch {
	case o.Percent < 0 || o.Percent > 100:
		return nil, fmt.Errorf("archive: rollout: percent %d outside 0..100", o.Percent)
	case o.Threshold < 0 || o.Threshold >= 1:
		return nil, fmt.Errorf("archive: rollout: threshold %g outside 0 (no failure tolerated) .. below 1", o.Threshold)
	case o.ConfirmWithin < wire.MinConfirmWithin || o.ConfirmWithin > wire.MaxConfirmWithin:
		return nil, fmt.Errorf("archive: rollout: confirm within %s outside 1m..24h", o.ConfirmWithin)
	case o.Deadline <= o.ConfirmWithin || o.Deadline > 30*24*time.Hour:
		return nil, fmt.Errorf("archive: rollout: deadline %s: above the confirmation time %s and at most 30 days", o.Deadline, o.ConfirmWithin)
	case strings.TrimSpace(o.By) == "":
		return nil, errors.New("archive: rollout: who rolls it (by) is required")
	}
	u, err := a.Index.Update(ctx, o.Serial)
	if errors.Is(err, index.ErrNoUpdate) {
		return nil, fmt.Errorf("archive: rollout: update %d is not published (update publish)", o.Serial)
	}
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(a.updateDir(o.Serial), UpdateRootFile)); err != nil {
		return nil, fmt.Errorf("archive: rollout: this front-end lacks update %d's files (publish it here too): %w", o.Serial, err)
	}
	var boxes []string
	switch {
	case o.Target == "":
		boxes, err = a.Index.BoxesInGroup(ctx, "")
	case strings.HasPrefix(o.Target, "group:"):
		g := strings.TrimPrefix(o.Target, "group:")
		if !wire.ValidPolicyTarget(o.Target) {
			return nil, fmt.Errorf("archive: rollout: target %q", o.Target)
		}
		boxes, err = a.Index.BoxesInGroup(ctx, g)
	case strings.HasPrefix(o.Target, "box:"):
		n := strings.TrimPrefix(o.Target, "box:")
		ap, aerr := a.Index.Appliance(ctx, n)
		if aerr != nil {
			return nil, fmt.Errorf("archive: rollout: %s: %w", n, aerr)
		}
		if !ap.RevokedAt.IsZero() {
			return nil, fmt.Errorf("archive: rollout: %s is revoked", n)
		}
		boxes = []string{n}
	default:
		return nil, fmt.Errorf("archive: rollout: target %q: group:NAME, box:NAME or empty for every box", o.Target)
	}
	if err != nil {
		return nil, err
	}
	if len(boxes) == 0 {
		return nil, fmt.Errorf("archive: rollout: target %q has no enrolled box", o.Target)
	}
	if o.Canary == "" && len(boxes) == 1 {
		o.Canary = boxes[0]
	}
	if o.Canary == "" {
		return nil, errors.New("archive: rollout: name the canary, a box of the target that gets the update first, alone")
	}
	if !slices.Contains(boxes, o.Canary) {
		return nil, fmt.Errorf("archive: rollout: the canary %q is not an enrolled box of the target", o.Canary)
	}
	if fw := a.firmwareOf(ctx, o.Canary); fw >= o.Serial {
		return nil, fmt.Errorf("archive: rollout: the canary %s runs serial %d already: choose one below %d", o.Canary, fw, o.Serial)
	}
	rbs := Waves(o.Serial, boxes, o.Canary, o.Percent)
	now := a.Now()
	r := index.Rollout{Serial: o.Serial, Target: o.Target, Canary: o.Canary, Percent: o.Percent, Threshold: o.Threshold,
		ConfirmWithin: o.ConfirmWithin.Truncate(time.Second), Deadline: o.Deadline.Truncate(time.Second), State: index.RolloutActive,
		WaveStartedAt: now, CreatedAt: now, CreatedBy: o.By}
	if rolloutFourEyes(a.Config.Enroll.FourEyes, boxes) {
		r.State, r.WaveStartedAt = index.RolloutFiled, time.Time{}
	}
	if r.ID, err = a.Index.AddRollout(ctx, r, rbs); err != nil {
		return nil, err
	}
	n1 := 0
	for _, b := range rbs {
		if b.Wave == 1 {
			n1++
		}
	}
	detail := fmt.Sprintf("rollout %d of update %d (version %s) to %s: canary %s, wave 1 %d boxes (%d %%), wave 2 %d; threshold %g, confirm within %s, deadline %s",
		r.ID, u.Serial, u.Version, targetText(o.Target), o.Canary, n1, o.Percent, len(rbs)-1-n1, o.Threshold, r.ConfirmWithin, r.Deadline)
	if r.State == index.RolloutFiled {
		a.Event(ctx, "update_rollout_filed", o.By, "", detail+"; filed: a second admin approves it (four-eyes)", false)
	} else {
		a.Event(ctx, "update_rollout", o.By, "", detail, false)
	}
	return &r, nil
}

func targetText(t string) string {
	if t == "" {
		return "every box"
	}
	return t
}

// Waves assigns boxes to a rollout's waves: the canary 0; Percent of all
// (rounded up) 1, by the SHA-256 of serial and name; the rest 2.
func Waves(serial uint64, boxes []string, canary string, percent int) []index.RolloutBox {
	type ranked struct{ name, key string }
	var rest []ranked
	for _, b := range boxes {
		if b != canary {
			h := sha256.Sum256(fmt.Appendf(nil, "%d\n%s", serial, b))
			rest = append(rest, ranked{b, hex.EncodeToString(h[:])})
		}
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].key < rest[j].key })
	n1 := min((len(boxes)*percent+99)/100, len(rest))
	out := []index.RolloutBox{{Appliance: canary, Wave: 0}}
	for i, r := range rest {
		w := 2
		if i < n1 {
			w = 1
		}
		out = append(out, index.RolloutBox{Appliance: r.name, Wave: w})
	}
	return out
}

// firmwareOf is the serial a box reported running at its last check-in.
func (a *Archive) firmwareOf(ctx context.Context, name string) uint64 {
	ap, err := a.Index.Appliance(ctx, name)
	if err != nil || ap.Health == "" {
		return 0
	}
	var h struct {
		FirmwareSerial uint64 `json:"firmware_serial"`
	}
	_ = json.Unmarshal([]byte(ap.Health), &h)
	return h.FirmwareSerial
}

// ApproveRollout starts a rollout filed under four-eyes; its filer
// cannot.
func (a *Archive) ApproveRollout(ctx context.Context, id int64, by string) error {
	r, err := a.Index.Rollout(ctx, id)
	if err != nil {
		return err
	}
	if r.State != index.RolloutFiled {
		return fmt.Errorf("archive: rollout %d is %s, not filed", id, r.State)
	}
	if r.CreatedBy == by {
		return fmt.Errorf("archive: %s filed rollout %d: a second admin approves it (four-eyes)", by, id)
	}
	ok, err := a.Index.SetRolloutState(ctx, id, index.RolloutFiled, index.RolloutActive, "", by, a.Now())
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("archive: rollout %d was approved or stopped meanwhile", id)
	}
	a.Event(ctx, "update_rollout", by, "", fmt.Sprintf("rollout %d of update %d approved (filed by %s)", id, r.Serial, r.CreatedBy), false)
	return nil
}

// StopRollout stops an active or filed rollout: nothing more is offered
// (a box installing already finishes or rolls back by itself).
func (a *Archive) StopRollout(ctx context.Context, id int64, reason, by string) error {
	if strings.TrimSpace(reason) == "" {
		return errors.New("archive: stopping a rollout needs a reason")
	}
	r, err := a.Index.Rollout(ctx, id)
	if err != nil {
		return err
	}
	if r.State != index.RolloutActive && r.State != index.RolloutFiled {
		return fmt.Errorf("archive: rollout %d is %s already", id, r.State)
	}
	ok, err := a.Index.SetRolloutState(ctx, id, r.State, index.RolloutStopped, "stopped by "+by+": "+reason, "", a.Now())
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("archive: rollout %d changed meanwhile", id)
	}
	a.Event(ctx, "update_rollout_stopped", by, "", fmt.Sprintf("rollout %d of update %d stopped in wave %d: %s", id, r.Serial, r.Wave, reason), false)
	return nil
}

// AdvanceRollouts looks at every active rollout: boxes past their
// deadline fail, a wave over its threshold stops the rollout, a wave done
// starts the next. Check-ins do it for their box's rollouts; serve does
// it every minute, and `update status` before it reports.
func (a *Archive) AdvanceRollouts(ctx context.Context) error {
	rs, err := a.Index.Rollouts(ctx, index.RolloutActive)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if err := a.advance(ctx, r); err != nil {
			return err
		}
	}
	return nil
}

// watchRollouts runs AdvanceRollouts every interval until ctx ends.
func (a *Archive) watchRollouts(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := a.AdvanceRollouts(ctx); err != nil && ctx.Err() == nil {
			a.Logger.Warn("update rollouts", "err", err)
		}
	}
}

// advance brings one rollout up to date (see AdvanceRollouts).
func (a *Archive) advance(ctx context.Context, r *index.Rollout) error {
	for range 4 { // at most one step per wave
		if r.State != index.RolloutActive {
			return nil
		}
		boxes, err := a.Index.RolloutBoxes(ctx, r.ID)
		if err != nil {
			return err
		}
		now := a.Now()
		var n, failed, done int
		canaryOK := false
		var skipped *index.RolloutBox // the canary, when it skipped the update
		for i := range boxes {
			b := &boxes[i]
			if b.Wave > r.Wave {
				continue
			}
			if !boxDone(b.State) {
				since, what := b.OfferedAt, "its first offer"
				if since.IsZero() {
					since, what = r.WaveStartedAt, "its wave's start (no check-in since)"
				}
				if !since.IsZero() && now.Sub(since) > r.Deadline {
					why := fmt.Sprintf("not confirmed within %s of %s", r.Deadline, what)
					ok, err := a.Index.SetRolloutBox(ctx, r.ID, b.Appliance, BoxFailed, why, now, openStates...)
					if err != nil {
						return err
					}
					if ok {
						b.State, b.Reason = BoxFailed, why
						a.Event(ctx, "update_failed", "archive", b.Appliance, fmt.Sprintf("rollout %d, update %d: %s", r.ID, r.Serial, why), true)
					}
				}
			}
			if b.Wave != r.Wave {
				continue
			}
			n++
			if b.State == BoxFailed {
				failed++
			}
			if boxDone(b.State) {
				done++
			}
			if b.Wave == 0 && b.State == BoxSkipped {
				skipped = b
			} else if b.Wave == 0 && b.State != BoxFailed && boxDone(b.State) {
				canaryOK = true
			}
		}
		if failed > 0 && (r.Wave == 0 || float64(failed)/float64(n) > r.Threshold) {
			why := fmt.Sprintf("wave %d: %d of %d boxes failed, over the threshold of %g", r.Wave, failed, n, r.Threshold)
			if r.Wave == 0 {
				why = fmt.Sprintf("wave 0: the canary %s failed", r.Canary)
			}
			return a.stopByItself(ctx, r, why, now)
		}
		if r.Wave == 0 && skipped != nil && !canaryOK {
			return a.stopCanarySkipped(ctx, r, *skipped, now)
		}
		if done < n || (r.Wave == 0 && !canaryOK) {
			return nil
		}
		if r.Wave == 2 {
			ok, err := a.Index.SetRolloutState(ctx, r.ID, index.RolloutActive, index.RolloutDone, "every wave done", "", now)
			if err != nil {
				return err
			}
			if ok {
				a.Event(ctx, "update_rollout_done", "archive", "", fmt.Sprintf("rollout %d of update %d done", r.ID, r.Serial), false)
			}
			r.State = index.RolloutDone
			return nil
		}
		ok, err := a.Index.AdvanceRollout(ctx, r.ID, r.Wave, r.Wave+1, now)
		if err != nil {
			return err
		}
		if ok {
			a.Event(ctx, "update_wave", "archive", "", fmt.Sprintf("rollout %d of update %d: wave %d begins", r.ID, r.Serial, r.Wave+1), false)
		}
		nr, err := a.Index.Rollout(ctx, r.ID)
		if err != nil {
			return err
		}
		*r = *nr
	}
	return nil
}

// updateCheckIn moves the box's state in its active rollouts by what its
// health reports, brings those rollouts up to date, and returns the offer
// for it: the highest serial above the one it runs among the rollouts
// whose wave in progress includes it (nil: none).
func (a *Archive) updateCheckIn(ctx context.Context, name string, h wire.Health) (*wire.UpdateOffer, error) {
	rows, err := a.Index.ActiveRolloutBoxes(ctx, name)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	var best *index.Rollout
	for _, b := range rows {
		if boxDone(b.State) {
			continue
		}
		r, err := a.Index.Rollout(ctx, b.Rollout)
		if err != nil {
			return nil, err
		}
		if b.Wave <= r.Wave {
			done, err := a.boxReport(ctx, r, b, h)
			if err != nil {
				return nil, err
			}
			// The box's outcome may end its wave (deadlines are the
			// minute's watch: watchRollouts).
			if done {
				if err := a.advance(ctx, r); err != nil {
					return nil, err
				}
			}
		}
		if r.State != index.RolloutActive || b.Wave > r.Wave || h.FirmwareSerial >= r.Serial {
			continue
		}
		if best == nil || r.Serial > best.Serial {
			best = r
		}
	}
	if best == nil {
		return nil, nil
	}
	// The box's row may have moved (boxReport, advance): offer only while
	// it is still in flight.
	now := a.Now()
	if _, err := a.Index.SetRolloutBox(ctx, best.ID, name, BoxOffered, "", now, BoxWaiting); err != nil {
		return nil, err
	}
	if cur, err := a.rolloutBox(ctx, best.ID, name); err != nil || cur == nil || boxDone(cur.State) {
		return nil, err
	}
	_, su, err := a.publishedUpdate(ctx, best.Serial)
	if err != nil {
		return nil, err
	}
	return &wire.UpdateOffer{Rollout: best.ID, Update: su, ConfirmWithin: wire.Duration(best.ConfirmWithin)}, nil
}

func (a *Archive) rolloutBox(ctx context.Context, id int64, name string) (*index.RolloutBox, error) {
	rows, err := a.Index.ApplianceRollouts(ctx, name)
	if err != nil {
		return nil, err
	}
	for _, b := range rows {
		if b.Rollout == id {
			return &b, nil
		}
	}
	return nil, nil
}

// boxReport moves a box's state in a rollout by its health; it reports
// whether the box is done with it now (confirmed, failed, skipped).
func (a *Archive) boxReport(ctx context.Context, r *index.Rollout, b index.RolloutBox, h wire.Health) (bool, error) {
	now := a.Now()
	about := h.UpdateSerial == r.Serial && (h.UpdateRollout == 0 || h.UpdateRollout == r.ID)
	var state, why string
	switch {
	case h.FirmwareSerial == r.Serial && (h.UpdateState == wire.UpdateConfirmed || h.UpdateState == wire.UpdateIdle):
		state = BoxConfirmed
		if b.State == BoxWaiting {
			why = "runs it already"
		}
	case h.FirmwareSerial > r.Serial:
		state, why = BoxSkipped, fmt.Sprintf("runs serial %d, above", h.FirmwareSerial)
	case about && (h.UpdateState == wire.UpdateRolledBack || h.UpdateState == wire.UpdateRefused || h.UpdateFailure != ""):
		if b.State == BoxWaiting {
			return false, nil // not offered by this rollout yet
		}
		state, why = BoxFailed, clip(h.UpdateFailure, 500)
		if why == "" {
			why = h.UpdateState
		}
	case about && slices.Contains([]string{wire.UpdateDownloading, wire.UpdateWritten, wire.UpdateTrying}, h.UpdateState):
		if b.State == BoxWaiting || b.State == h.UpdateState {
			return false, nil
		}
		state = h.UpdateState
	default:
		return false, nil
	}
	ok, err := a.Index.SetRolloutBox(ctx, r.ID, b.Appliance, state, why, now, openStates...)
	if err != nil || !ok {
		return false, err
	}
	switch state {
	case BoxConfirmed:
		detail := fmt.Sprintf("rollout %d: runs update %d", r.ID, r.Serial)
		if !h.BootedAt.IsZero() {
			detail += ", booted " + h.BootedAt.UTC().Format(time.RFC3339)
		}
		if why != "" {
			detail += " (" + why + ")"
		}
		a.Event(ctx, "update_confirmed", b.Appliance, b.Appliance, detail, false)
	case BoxFailed:
		// The box's reported failure alerts as fleet_update_failed (the
		// access service's fleet watch); here the trail records it.
		a.Event(ctx, "update_failed", b.Appliance, b.Appliance, fmt.Sprintf("rollout %d, update %d: %s", r.ID, r.Serial, why), false)
	case BoxSkipped:
		a.Event(ctx, "update_skipped", "archive", b.Appliance, fmt.Sprintf("rollout %d, update %d: %s", r.ID, r.Serial, why), false)
	}
	return boxDone(state), nil
}

// RolloutStatus is a rollout with its boxes and counts per wave.
type RolloutStatus struct {
	index.Rollout
	Version string             `json:"version"`
	Waves   [3]WaveCount       `json:"waves"`
	Boxes   []index.RolloutBox `json:"boxes"`
}

// WaveCount counts a wave's boxes by outcome.
type WaveCount struct {
	Boxes     int `json:"boxes"`
	Confirmed int `json:"confirmed"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"`
	InFlight  int `json:"in_flight"` // offered, downloading, written, trying
	Waiting   int `json:"waiting"`
}

// Rollout returns a rollout's status.
func (a *Archive) Rollout(ctx context.Context, id int64) (*RolloutStatus, error) {
	r, err := a.Index.Rollout(ctx, id)
	if err != nil {
		return nil, err
	}
	bs, err := a.Index.RolloutBoxes(ctx, id)
	if err != nil {
		return nil, err
	}
	st := &RolloutStatus{Rollout: *r, Boxes: bs}
	if u, err := a.Index.Update(ctx, r.Serial); err == nil {
		st.Version = u.Version
	}
	st.Waves = CountWaves(bs)
	return st, nil
}

// clip bounds a text a box reported, cut at a character's start.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
