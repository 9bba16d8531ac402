package access

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spanvault/spanvault/sync/wire"
)

// Box is a fleet row: what the box reported at its last check-in (no
// personal data) and what the archive concludes from it.
type Box struct {
	Name        string      `json:"name"`
	EnrolledAt  time.Time   `json:"enrolled_at"`
	Revoked     bool        `json:"revoked"`
	LastCheckIn time.Time   `json:"last_checkin,omitzero"`
	Health      wire.Health `json:"health"`
	Silent      bool        `json:"silent"`
	CertSoon    bool        `json:"cert_expiring"`
	Alerts      []string    `json:"alerts,omitempty"`
	// ClassicalOnly counts the box's recordings held here whose file key
	// is wrapped to classical (X25519) recipients only: what the re-seal
	// job (spanvault-archive reseal) has yet to re-wrap.
	ClassicalOnly int `json:"classical_only"`
	FleetHealth
	// Policy: the central policy in force and applied (fleet_policy.go).
	Policy *BoxPolicy `json:"policy,omitempty"`
	// Firmware: what it runs, its update state (updates.go).
	Firmware *BoxFirmware `json:"firmware,omitempty"`
}

// Fleet lists every box, in a bounded number of index queries whatever
// the fleet's size (the boxes, their policies, their last day).
func (s *Service) Fleet(ctx context.Context) ([]Box, error) {
	return s.fleet(ctx, true)
}

// fleet is Fleet; the watch leaves out the count of classical-only
// recordings (a scan of the records it does not need).
func (s *Service) fleet(ctx context.Context, withClassical bool) ([]Box, error) {
	as, err := s.A.Index.Appliances(ctx)
	if err != nil {
		return nil, err
	}
	classical := map[string]int{}
	if withClassical {
		if classical, err = s.A.Index.ClassicalOnly(ctx); err != nil {
			return nil, err
		}
	}
	pols, err := s.fleetPolicies(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	day, err := s.fleetDay(ctx, now)
	if err != nil {
		return nil, err
	}
	fw, err := s.fleetFirmware(ctx)
	if err != nil {
		return nil, err
	}
	out := []Box{}
	for _, a := range as {
		b := Box{Name: a.Name, EnrolledAt: a.EnrolledAt, Revoked: !a.RevokedAt.IsZero(), LastCheckIn: a.LastCheckIn, ClassicalOnly: classical[a.Name]}
		b.Policy = pols.of(a.Name)
		if a.Health != "" {
			if err := json.Unmarshal([]byte(a.Health), &b.Health); err != nil {
				s.A.Logger.Error("fleet: stored health unreadable", "appliance", a.Name, "err", err)
			}
		}
		b.Firmware = fw.of(a.Name, b.Health)
		since := a.LastCheckIn
		if since.IsZero() {
			since = a.EnrolledAt
		}
		b.Silent = !b.Revoked && now.Sub(since) > time.Duration(s.cfg.FleetSilentAfter)
		b.CertSoon = !b.Health.CertNotAfter.IsZero() && b.Health.CertNotAfter.Sub(now) < time.Duration(s.cfg.FleetCertWarn)
		if b.Silent {
			b.Alerts = append(b.Alerts, fmt.Sprintf("silent since %s", since.UTC().Format(time.RFC3339)))
		}
		if b.CertSoon {
			b.Alerts = append(b.Alerts, fmt.Sprintf("certificate expires %s", b.Health.CertNotAfter.UTC().Format(time.RFC3339)))
		}
		s.assess(&b, now, day[a.Name])
		out = append(out, b)
	}
	return out, nil
}

// WatchFleet raises an alert once per condition and box (silent, growing
// kernel drops, growing backlog, certificate near expiry), and clears the
// condition when it ends so that a new occurrence alerts again.
// The alerts in force are read once (fleet_watch.go): a box whose
// conditions did not change costs no statement of its own.
func (s *Service) WatchFleet(ctx context.Context) {
	boxes, err := s.fleet(ctx, false)
	if err != nil {
		return
	}
	al, err := s.fleetAlerts(ctx)
	if err != nil {
		s.A.Logger.Error("fleet alerts", "err", err)
		return
	}
	for _, b := range boxes {
		al.condition(ctx, b.Name, "silent", b.Silent, fmt.Sprintf("no check-in since %s (limit %s)", b.LastCheckIn.UTC().Format(time.RFC3339), time.Duration(s.cfg.FleetSilentAfter)))
		al.condition(ctx, b.Name, "cert_expiring", b.CertSoon, fmt.Sprintf("certificate expires %s", b.Health.CertNotAfter.UTC().Format(time.RFC3339)))
		al.condition(ctx, b.Name, "record_errors", b.Health.RecordErrors > 0, fmt.Sprintf("%d record errors reported", b.Health.RecordErrors))
		al.growth(ctx, b, "kernel_drops", int64(b.Health.KernelDrops))
		s.watchHealth(ctx, al, b) // the backlog's growth among them, from the history
	}
	s.pruneHealth(ctx)
}

func (s *Service) fleetCondition(ctx context.Context, box, kind string, on bool, detail string) {
	var raised string
	err := s.db().QueryRowContext(ctx, `SELECT raised_at FROM fleet_alerts WHERE appliance = ? AND kind = ?`, box, kind).Scan(&raised)
	had := err == nil
	switch {
	case on && !had:
		// Several front-ends (or a caller and the background loop) may
		// look at once: only the one whose insert took raises the alert.
		r, err := s.db().ExecContext(ctx, `INSERT INTO fleet_alerts (appliance, kind, raised_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`, box, kind, ts(s.now()))
		if n, _ := rowsAffected(r, err); n == 1 {
			s.audit(ctx, "fleet_"+kind, "archive", box, detail, true)
		}
	case !on && had:
		r, err := s.db().ExecContext(ctx, `DELETE FROM fleet_alerts WHERE appliance = ? AND kind = ?`, box, kind)
		if n, _ := rowsAffected(r, err); n == 1 {
			s.audit(ctx, "fleet_"+kind+"_cleared", "archive", box, "", false)
		}
	}
}

// growth alerts when a counter the box reports grew since the last look
// (the last value is kept in fleet_alerts as kind "last_NAME").
func (s *Service) growth(ctx context.Context, b Box, name string, v int64) {
	key := "last_" + name
	var last string
	err := s.db().QueryRowContext(ctx, `SELECT raised_at FROM fleet_alerts WHERE appliance = ? AND kind = ?`, b.Name, key).Scan(&last)
	if _, err := s.db().ExecContext(ctx, `DELETE FROM fleet_alerts WHERE appliance = ? AND kind = ?`, b.Name, key); err != nil {
		s.A.Logger.Error("fleet alert level", "appliance", b.Name, "kind", key, "err", err)
	}
	if _, err := s.db().ExecContext(ctx, `INSERT INTO fleet_alerts (appliance, kind, raised_at) VALUES (?, ?, ?)`, b.Name, key, fmt.Sprint(v)); err != nil {
		s.A.Logger.Error("fleet alert level", "appliance", b.Name, "kind", key, "err", err)
	}
	if errors.Is(err, sql.ErrNoRows) || err != nil {
		return
	}
	var prev int64
	if _, err := fmt.Sscan(last, &prev); err != nil {
		s.A.Logger.Error("fleet alert level unreadable", "appliance", b.Name, "kind", key, "err", err)
	}
	// Drops alert on any growth; a backlog only when it grows by more
	// than a day's sync would clear (it rises between nightly syncs).
	grew := v > prev
	if name == "backlog" {
		grew = v > prev+1000
	}
	s.fleetCondition(ctx, b.Name, name+"_growing", grew, fmt.Sprintf("%s grew from %d to %d", name, prev, v))
}

// AnchorTrail puts the archive's own audit trail into the anchor log
// (beside the boxes' heads), one record per entry, and signs the log's
// new head, so that rewriting the trail shows (archive.CheckTrail).
// Serve does it every few seconds.
func (s *Service) AnchorTrail(ctx context.Context) {
	s.anchorMu.Lock() // the background loop and a caller: one append per entry
	defer s.anchorMu.Unlock()
	if err := s.A.AnchorTrail(ctx); err != nil && ctx.Err() == nil {
		s.A.Logger.Error("anchoring the archive's trail", "err", err)
	}
}

func rowsAffected(r sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return r.RowsAffected()
}
