package archive

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

// PathUpdate is where a box downloads an update's files over its mutual
// TLS: PathUpdate + SERIAL + "/root" or "/boot" (GET, Range to resume).
const PathUpdate = "/sync/v1/update/"

// RefuseNoOffer is the refusal of a download without an offer.
const RefuseNoOffer = "no update offer for this box and serial: the archive offers an update at check-in when a rollout's wave includes the box"

// updateDownload serves a file of an update to a box with an offer of it
// in flight (offered, downloading or written), 403 otherwise; with
// http.ServeContent, so that a Range request resumes. The box's identity
// was checked like every /sync/v1 request's (Handler); the serial and
// the part are checked before any lookup, the offer before any file is
// opened.
func (a *Archive) updateDownload(w http.ResponseWriter, r *http.Request) {
	ctx, name := r.Context(), applianceOf(r)
	if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
		// A GET with a body: refused before anything else, and the
		// connection closed rather than the body waited for.
		w.Header().Set("Connection", "close")
		fail(w, http.StatusBadRequest, "update download: a GET has no body")
		return
	}
	serial, err := strconv.ParseUint(r.PathValue("serial"), 10, 63)
	if err != nil || serial == 0 {
		fail(w, http.StatusBadRequest, "update serial: not a positive number")
		return
	}
	var file string
	switch r.PathValue("part") {
	case "root":
		file = UpdateRootFile
	case "boot":
		file = UpdateBootFile
	default:
		fail(w, http.StatusNotFound, "update part: root or boot")
		return
	}
	ok, err := a.offered(r, name, serial)
	if err != nil {
		a.internal(w, r, err)
		return
	}
	if !ok {
		a.Event(ctx, "refused", name, name, fmt.Sprintf("download of update %d: %s", serial, RefuseNoOffer), false)
		fail(w, http.StatusForbidden, RefuseNoOffer)
		return
	}
	if !a.downloads.acquire(name) {
		w.Header().Set("Retry-After", "60")
		fail(w, http.StatusServiceUnavailable, fmt.Sprintf("update download: this box has %d downloads in progress or the archive %d; try again later", maxBoxDownloads, maxDownloads))
		return
	}
	defer a.downloads.release(name)
	f, err := os.Open(filepath.Join(a.updateDir(serial), file))
	if errors.Is(err, os.ErrNotExist) {
		fail(w, http.StatusServiceUnavailable, fmt.Sprintf("this archive front-end lacks update %d's files (publish it here too)", serial))
		return
	}
	if err != nil {
		a.internal(w, r, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		a.internal(w, r, err)
		return
	}
	// A box that stops reading holds the connection no longer than the
	// stall window: the read and write deadlines move on with each write
	// (the request has no body; the read deadline bounds the server's
	// background read while the file is sent).
	rc := http.NewResponseController(w)
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }() // the connection may serve another request
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Cache-Control", "no-store")
	http.ServeContent(stallWriter{w, rc, time.Duration(a.Config.UploadStall)}, r, "", fi.ModTime(), f)
}

// offered reports whether the box has an offer of serial in flight.
func (a *Archive) offered(r *http.Request, name string, serial uint64) (bool, error) {
	rows, err := a.Index.ActiveRolloutBoxes(r.Context(), name)
	if err != nil {
		return false, err
	}
	for _, b := range rows {
		if !slices.Contains([]string{BoxOffered, wire.UpdateDownloading, wire.UpdateWritten}, b.State) {
			continue
		}
		ro, err := a.Index.Rollout(r.Context(), b.Rollout)
		if err != nil {
			return false, err
		}
		if ro.Serial == serial && ro.State == index.RolloutActive && b.Wave <= ro.Wave {
			return true, nil
		}
	}
	return false, nil
}

// stallWriter moves the connection's read and write deadlines on before
// each write.
type stallWriter struct {
	http.ResponseWriter
	rc     *http.ResponseController
	window time.Duration
}

func (s stallWriter) Write(p []byte) (int, error) {
	d := time.Now().Add(s.window)
	if err := s.rc.SetWriteDeadline(d); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	if err := s.rc.SetReadDeadline(d); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return 0, err
	}
	return s.ResponseWriter.Write(p)
}
