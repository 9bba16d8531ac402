package access

import (
	"context"
	"net/http"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

// Firmware updates on the fleet page and API (archive/update_rollout.go):
// each box's firmware and update state, and the rollouts with their
// waves (GET /fleet/updates, GET /api/v1/updates). No personal data.

// BoxFirmware is a fleet row's firmware: the serial the box runs (and the
// version the archive published under it), its own update state as it
// reported it, and its state in the newest rollout that includes it.
type BoxFirmware struct {
	Serial       uint64 `json:"serial"`
	Version      string `json:"version,omitempty"`
	UpdateState  string `json:"update_state,omitempty"`
	UpdateSerial uint64 `json:"update_serial,omitempty"`
	Rollout      int64  `json:"rollout,omitempty"`
	RolloutState string `json:"rollout_state,omitempty"`
	Reason       string `json:"reason,omitempty"`
}

// fleetFirmware reads what every box's firmware row needs in two queries.
type fleetFirmware struct {
	versions map[uint64]string
	rows     map[string]index.RolloutBox
}

func (s *Service) fleetFirmware(ctx context.Context) (fleetFirmware, error) {
	f := fleetFirmware{versions: map[uint64]string{}}
	us, err := s.A.Index.Updates(ctx)
	if err != nil {
		return f, err
	}
	for _, u := range us {
		f.versions[u.Serial] = u.Version
	}
	f.rows, err = s.A.Index.LatestRolloutBoxes(ctx)
	return f, err
}

// of is a box's firmware (nil: it reported none and is in no rollout).
func (f fleetFirmware) of(name string, h wire.Health) *BoxFirmware {
	rb, in := f.rows[name]
	if h.FirmwareSerial == 0 && h.UpdateState == "" && !in {
		return nil
	}
	fw := &BoxFirmware{Serial: h.FirmwareSerial, Version: f.versions[h.FirmwareSerial], UpdateState: h.UpdateState, UpdateSerial: h.UpdateSerial}
	if in {
		fw.Rollout, fw.RolloutState, fw.Reason = rb.Rollout, rb.State, rb.Reason
	}
	return fw
}

// Updates is the rollout panel's data: the published updates and every
// rollout with its waves and boxes.
type Updates struct {
	Updates  []*index.Update          `json:"updates"`
	Rollouts []*archive.RolloutStatus `json:"rollouts"`
}

func (s *Service) updates(ctx context.Context) (Updates, error) {
	out := Updates{Updates: []*index.Update{}, Rollouts: []*archive.RolloutStatus{}}
	us, err := s.A.Index.Updates(ctx)
	if err != nil {
		return out, err
	}
	if us != nil {
		out.Updates = us
	}
	rs, err := s.A.Index.Rollouts(ctx, "")
	if err != nil {
		return out, err
	}
	for _, r := range rs {
		st, err := s.A.Rollout(ctx, r.ID)
		if err != nil {
			return out, err
		}
		out.Rollouts = append(out.Rollouts, st)
	}
	return out, nil
}

type updatesPage struct {
	pageHead
	Rollouts  []*archive.RolloutStatus
	Published []*index.Update
}

func (s *Service) updateRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /api/v1/updates", s.need(ActFleet, s.apiUpdates))
	m.HandleFunc("GET /fleet/updates", s.web(ActFleet, s.webUpdates))
}

func (s *Service) apiUpdates(w http.ResponseWriter, r *http.Request, ss *session) {
	u, err := s.updates(r.Context())
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	writeJSON(w, http.StatusOK, updatesFor(ss.user, u))
}

func (s *Service) webUpdates(w http.ResponseWriter, r *http.Request, ss *session) {
	u, err := s.updates(r.Context())
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	u = updatesFor(ss.user, u)
	s.page(w, r, ss, "updates", updatesPage{pageHead: pageHead{Title: "Firmware updates"}, Rollouts: u.Rollouts, Published: u.Updates})
}
