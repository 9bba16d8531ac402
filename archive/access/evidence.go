package access

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/internal/httperr"
)

// webEvidence gives an approved export to its requester as an evidence
// bundle (record/evidence) instead of audio: the sealed recording with
// its index record, the box's ledger of the day and their proofs in the
// archive's log, which spanvault verify-evidence checks offline. It is
// the same four-eyes export: filed, approved by a second person,
// downloaded once by the requester within the export's time, under the
// requester's limits, and audited as an export of format evidence. The
// bundle is made before the export is used up, so that a recording that
// cannot be proven yet (its box has not sent the day's ledger) leaves
// the export as it was.
func (s *Service) webEvidence(w http.ResponseWriter, r *http.Request, ss *session) {
	ctx := r.Context()
	id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
	req, err := s.exportable(ctx, ss.user, id)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	rec, err := s.recording(ctx, req.Target.Appliance, req.Target.Recording)
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	var ts archive.Timestamper
	if u := s.A.Config.Access.TimestampURL; u != "" {
		ts = archive.RFC3161(u, nil)
	}
	b, err := s.A.Evidence(ctx, rec.Appliance, rec.ID, ts)
	if errors.Is(err, archive.ErrNoEvidence) {
		s.fail(w, r, ss, httperr.Conflict(err.Error()))
		return
	}
	if err != nil {
		s.fail(w, r, ss, err)
		return
	}
	if err := s.claimExport(ctx, ss.user, req); err != nil {
		s.fail(w, r, ss, err)
		return
	}
	if err := s.admit(ctx, ss.user.Name, accExport, rec.Appliance, rec.ID, "", true); err != nil {
		s.fail(w, r, ss, err)
		return
	}
	s.audit(ctx, "export", ss.user.Name, rec.Appliance, fmt.Sprintf("recording %s request %d approved by %s format evidence", rec.ID, id, req.DecidedBy), false)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", rec.ID+".svev"))
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}
