package access

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/spanvault/spanvault/archive/index"
)

// FleetHealth is what the archive concludes about a box from its last
// check-in and its history (index.RecordHealth): whether it needs
// attention and why. The page and the API show the same.
type FleetHealth struct {
	// CheckInAge is the time since the last check-in, in seconds (since
	// enrollment when the box never checked in).
	CheckInAge int64 `json:"checkin_age_s"`
	// ClockOffset is the box's clock minus the archive's at its last
	// check-in, in seconds, as the archive measured it.
	ClockOffset float64 `json:"clock_offset_s"`
	Attention   bool    `json:"attention"`
	// Reasons say why, most urgent first.
	Reasons []Reason `json:"reasons,omitempty"`
	// History is the box's health over the last 30 days (the page, and
	// the API with ?history=1), oldest first.
	History []index.HealthPoint `json:"history,omitempty"`
}

// Reason is one cause for attention: Kind is stable (the alert's kind
// where there is one), Text a plain English label the page translates,
// Detail the figures.
type Reason struct {
	Kind   string `json:"kind"`
	Text   string `json:"text"`
	Detail string `json:"detail,omitempty"`
}

// Reason kinds.
const (
	ReasonSilent        = "silent"
	ReasonClock         = "clock_unsynced"
	ReasonBacklog       = "backlog_stuck"
	ReasonBacklogGrowth = "backlog_growing"
	ReasonDrops         = "kernel_drops"
	ReasonCert          = "cert_expiring"
	ReasonRecordErrors  = "record_errors"
	ReasonUpdate        = "update_failed"
	ReasonPolicy        = "policy_refused"
	ReasonDisk          = "disk_full"
	// ReasonLegalOverdue: recordings of a legally retained class past
	// their maximum age are not at the archive yet (the archive alerts,
	// archive/legal_overdue.go).
	ReasonLegalOverdue = "legal_overdue"
)

// fleetDay is every box's hourly health over the last day: the hour
// now and the 23 before it.
func (s *Service) fleetDay(ctx context.Context, now time.Time) (map[string][]index.HealthPoint, error) {
	return s.A.Index.HealthTrends(ctx, now.Add(-23*time.Hour), 1)
}

// assess fills b's FleetHealth from its check-in and its last day.
func (s *Service) assess(b *Box, now time.Time, day []index.HealthPoint) {
	since := b.LastCheckIn
	if since.IsZero() {
		since = b.EnrolledAt
	}
	b.CheckInAge = int64(now.Sub(since) / time.Second)
	if n := len(day); n > 0 {
		b.ClockOffset = day[n-1].ClockOffset
	}
	if b.Revoked {
		return
	}
	h := b.Health
	add := func(kind, text, detail string) { b.Reasons = append(b.Reasons, Reason{kind, text, detail}) }
	if b.Silent {
		add(ReasonSilent, "no check-in", "since "+since.UTC().Format("2006-01-02 15:04 UTC"))
	}
	if b.LastCheckIn.IsZero() {
		b.Attention = len(b.Reasons) > 0
		return // nothing reported yet
	}
	if n := h.LegalOverdue; n > 0 {
		add(ReasonLegalOverdue, "legal recordings overdue", fmt.Sprintf("%d past their maximum age, not at the archive yet", n))
	}
	if f := h.UpdateFailure; f != "" {
		add(ReasonUpdate, "update failed", f)
	}
	if f := h.PolicyFailure; f != "" {
		add(ReasonPolicy, "policy refused", f)
	}
	if skew := time.Duration(s.A.Config.MaxClockSkew); !h.ClockSynced {
		add(ReasonClock, "clock not synchronised", offsetText(b.ClockOffset))
	} else if math.Abs(b.ClockOffset) > skew.Seconds() {
		add(ReasonClock, "clock off", offsetText(b.ClockOffset))
	}
	if grew, stuck, from := backlogGrowing(day, int64(h.Backlog), index.HourOf(now)); grew {
		add(ReasonBacklogGrowth, "backlog growing", fmt.Sprintf("%d → %d in 24 h", from, h.Backlog))
	} else if stuck && h.Backlog > 0 {
		add(ReasonBacklog, "backlog not cleared in 24 h", fmt.Sprintf("%d (%s)", h.Backlog, Bytes(h.BacklogBytes)))
	}
	if len(day) > 0 && int64(min(h.KernelDrops, 1<<62)) > day[0].KernelDrops {
		add(ReasonDrops, "kernel drops", fmt.Sprintf("+%d in 24 h", int64(h.KernelDrops)-day[0].KernelDrops))
	}
	if h.RecordErrors > 0 {
		add(ReasonRecordErrors, "recording errors", fmt.Sprint(h.RecordErrors))
	}
	if h.DiskTotal > 0 && float64(h.DiskUsed) >= 0.9*float64(h.DiskTotal) {
		add(ReasonDisk, "disk nearly full", fmt.Sprintf("%s / %s", Bytes(h.DiskUsed), Bytes(h.DiskTotal)))
	}
	if b.CertSoon {
		add(ReasonCert, "certificate expires soon", h.CertNotAfter.UTC().Format("2006-01-02"))
	}
	b.Attention = len(b.Reasons) > 0
}

// backlogGrowing: the backlog after the passes was never cleared within
// the last day of history (stuck: the history reaches back the whole
// day, and no hour of it saw an empty backlog), and is now above where it
// was then (grew). A backlog that rises between nightly windows and
// empties in them is neither.
func backlogGrowing(day []index.HealthPoint, now, hour int64) (grew, stuck bool, from int64) {
	if len(day) == 0 || day[0].Hour > hour-23 {
		return false, false, 0
	}
	for _, p := range day {
		if p.BacklogMin == 0 {
			return false, false, 0
		}
	}
	return now > day[0].Backlog, true, day[0].Backlog
}

func offsetText(s float64) string {
	if s == 0 {
		return ""
	}
	return fmt.Sprintf("%+.0f s", s)
}

// Bytes prints a byte count for people (1.7 MB).
func Bytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 4; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTP"[exp])
}

// byAttention orders boxes needing attention first (more reasons first),
// then by name.
func byAttention(bs []Box) {
	sort.SliceStable(bs, func(i, j int) bool {
		if bs[i].Attention != bs[j].Attention {
			return bs[i].Attention
		}
		if len(bs[i].Reasons) != len(bs[j].Reasons) {
			return len(bs[i].Reasons) > len(bs[j].Reasons)
		}
		return bs[i].Name < bs[j].Name
	})
}

// watchHealth raises (once) and clears the alerts that come from the
// box's reported health and history, beside WatchFleet's own.
func (s *Service) watchHealth(ctx context.Context, al *watchAlerts, b Box) {
	has := map[string]Reason{}
	for _, r := range b.Reasons {
		has[r.Kind] = r
	}
	for _, kind := range []string{ReasonClock, ReasonBacklogGrowth, ReasonUpdate, ReasonPolicy} {
		r, on := has[kind]
		if b.Revoked || b.LastCheckIn.IsZero() {
			on = false
		}
		al.condition(ctx, b.Name, kind, on, r.Text+": "+r.Detail)
	}
}

// pruneHealth drops history older than 30 days (index.HealthKeep).
func (s *Service) pruneHealth(ctx context.Context) {
	if _, err := s.A.Index.PruneHealth(ctx, s.now()); err != nil && ctx.Err() == nil {
		s.A.Logger.Error("fleet health history: prune", "err", err)
	}
}
