package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spanvault/spanvault/sync/wire"
)

// Firmware updates on the box (wire.UpdateOffer, sync/doc.go). A check-in
// reply may offer an update; the client verifies it before anything is
// downloaded: signed by the pinned update key (Config.UpdateKey), a
// Serial above the firmware running (Config.Firmware: never a downgrade,
// never the same build again) and the box's architecture. A verified
// offer goes to Config.OnUpdate (the daemon downloads it inside its
// window, appliance/update.go); a refused one is audited (update_refused)
// and reported at the next check-in (UpdateState "refused",
// UpdateFailure the reason), once per rollout. The box's update state
// (UpdateReport) is kept in the vault's sync state: it survives restarts
// and reboots, and every check-in reports it. A serial this box rolled
// back is not tried again (a newer one is); a new rollout of it is
// reported the rollback, with its own rollout ID.

// metaUpdateReport is the client's update state in the vault: JSON of an
// UpdateReport.
const metaUpdateReport = "update_report"

// updatePath is where the archive serves an update's files:
// updatePath + serial + "/root" or "/boot", with Range.
const updatePath = "/sync/v1/update/"

// Firmware is the build the box runs.
type Firmware struct {
	Serial uint64 // 0: not an update-built image
	Arch   string // GOARCH of the build
}

// Update is a verified offer, as Config.OnUpdate receives it; one with
// no Manifest says that the archive offers nothing now (a rollout paused
// or stopped), and the daemon stops a download in progress.
type Update struct {
	Manifest      *wire.UpdateManifest
	Rollout       int64
	ConfirmWithin time.Duration
}

// UpdateReport is the box's firmware update state, reported at check-in.
type UpdateReport struct {
	State   string `json:"state"` // wire.Update* states
	Serial  uint64 `json:"serial,omitempty"`
	Rollout int64  `json:"rollout,omitempty"`
	Failure string `json:"failure,omitempty"`
}

func (c *Client) loadUpdateKey() error {
	if c.cfg.Firmware.Arch == "" {
		c.cfg.Firmware.Arch = runtime.GOARCH
	}
	if c.cfg.UpdateKey == "" {
		return nil
	}
	b, err := os.ReadFile(c.cfg.UpdateKey)
	if err != nil {
		return fmt.Errorf("sync: update_key: %w", err)
	}
	k, err := wire.ParseUpdateKey(string(b))
	if err != nil {
		return fmt.Errorf("sync: update_key %s: %w", c.cfg.UpdateKey, err)
	}
	c.updateKey = k
	return nil
}

// UpdateReport returns the update state reported at check-in.
func (c *Client) UpdateReport() UpdateReport {
	var r UpdateReport
	if b, err := c.v.SyncMeta(metaUpdateReport); err == nil && len(b) > 0 {
		_ = json.Unmarshal(b, &r) // a state that does not decode reads as idle
	}
	return r
}

// SetUpdateReport records the update state; the next check-in reports
// it (the pass's closing check-in, when it changes during a pass).
func (c *Client) SetUpdateReport(r UpdateReport) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if err := c.v.SetSyncMeta(metaUpdateReport, b); err != nil {
		return fmt.Errorf("sync: update state: %w", err)
	}
	c.mu.Lock()
	c.updateDirty = true
	c.mu.Unlock()
	return nil
}

// updateHealth fills the check-in's firmware fields.
func (c *Client) updateHealth(h *wire.Health) {
	if h.FirmwareSerial == 0 {
		h.FirmwareSerial = c.cfg.Firmware.Serial
	}
	r := c.UpdateReport()
	if r.State == "" && r.Serial == 0 {
		return // no update state kept: the caller's health stands
	}
	h.UpdateState, h.UpdateSerial, h.UpdateRollout = r.State, r.Serial, r.Rollout
	if h.UpdateFailure == "" {
		h.UpdateFailure = r.Failure
	}
}

// handleUpdate verifies an offer from a check-in reply and hands it on,
// or refuses it. It reports whether the update state changed.
func (c *Client) handleUpdate(o *wire.UpdateOffer) (bool, error) {
	if c.cfg.OnUpdate == nil {
		return false, nil // not the daemon (spanvault sync): the daemon installs
	}
	if o == nil {
		// Nothing offered (any more: a rollout paused or stopped): a
		// download in progress stops.
		return false, c.cfg.OnUpdate(Update{})
	}
	prev := c.UpdateReport()
	running := c.cfg.Firmware.Serial
	arch := c.cfg.Firmware.Arch
	m, err := wire.VerifyUpdate(c.updateKey, o.Update)
	var serial uint64
	if m != nil {
		serial = m.Serial
	} else {
		// The serial it claims, to report which offer was refused
		// (nothing else of an unverified manifest is used).
		var claimed struct {
			Serial uint64 `json:"serial"`
		}
		_ = json.Unmarshal(o.Update.Manifest, &claimed) // a manifest that does not decode is reported as serial 0
		serial = claimed.Serial
	}
	switch {
	case err != nil:
	case m.Serial == running && prev.Serial == m.Serial:
		return false, nil // running it already (on trial or confirmed)
	case m.Serial <= running:
		err = fmt.Errorf("update: serial %d is not above serial %d running (never a downgrade, never the same build again)", m.Serial, running)
	case m.Arch != arch:
		err = fmt.Errorf("update: serial %d is built for %s, this box is %s", m.Serial, m.Arch, arch)
	case prev.State == wire.UpdateRolledBack && prev.Serial == m.Serial:
		// It failed here once: not again. A new rollout of it is told so
		// (the archive marks the box failed in it with the reason).
		if prev.Rollout == o.Rollout {
			return false, nil
		}
		prev.Rollout = o.Rollout
		if e := c.SetUpdateReport(prev); e != nil {
			return false, e
		}
		return true, c.v.Audit("update_refused", "archive", "", fmt.Sprintf("firmware update %d (rollout %d) not tried again: rolled back on this box: %s", m.Serial, o.Rollout, prev.Failure))
	}
	if err == nil {
		// ConfirmWithin is not signed: clamped to 1m..24h.
		err = c.cfg.OnUpdate(Update{Manifest: m, Rollout: o.Rollout, ConfirmWithin: wire.ClampConfirmWithin(time.Duration(o.ConfirmWithin))})
		if err == nil {
			return false, nil // the daemon reports its progress
		}
	}
	if prev.State == wire.UpdateRefused && prev.Serial == serial && prev.Rollout == o.Rollout && prev.Failure == err.Error() {
		return false, nil // refused already, and said so (a new rollout of it is told)
	}
	if e := c.SetUpdateReport(UpdateReport{State: wire.UpdateRefused, Serial: serial, Rollout: o.Rollout, Failure: err.Error()}); e != nil {
		return false, e
	}
	return true, c.v.Audit("update_refused", "archive", "", fmt.Sprintf("firmware update %d (rollout %d) refused: %v", serial, o.Rollout, err))
}

// ErrNoRange: the archive answered a resumed download with the whole file.
var ErrNoRange = errors.New("sync: update: the archive ignored the range asked for")

// FetchUpdate opens file part ("root" or "boot") of update serial from
// byte offset on, under the upload rate cap (the box's bandwidth to the
// archive is one budget). The archive answers a Range request with 206;
// from offset 0, 200 is fine too.
func (c *Client) FetchUpdate(ctx context.Context, serial uint64, part string, offset int64) (io.ReadCloser, error) {
	if part != "root" && part != "boot" {
		return nil, fmt.Errorf("sync: update: no part %q", part)
	}
	hdr := http.Header{}
	if offset > 0 {
		hdr.Set("Range", "bytes="+strconv.FormatInt(offset, 10)+"-")
	}
	// Bytes must keep flowing: a read (the response's headers, then each
	// of the body's) that waits longer than the stall window ends the
	// request (update_stall.go).
	ctx, cancel := context.WithCancel(ctx)
	st := c.newStall(cancel)
	st.begin()
	resp, err := c.do(ctx, http.MethodGet, updatePath+strconv.FormatUint(serial, 10)+"/"+part, hdr, nil)
	st.end()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("sync: update %d %s: %w", serial, part, st.wrap(err))
	}
	switch {
	case resp.StatusCode == http.StatusPartialContent:
		// "bytes START-END/SIZE": the range must start where asked.
		cr := strings.TrimPrefix(resp.Header.Get("Content-Range"), "bytes ")
		start, _, _ := strings.Cut(cr, "-")
		if n, err := strconv.ParseInt(start, 10, 64); err != nil || n != offset {
			resp.Body.Close()
			cancel()
			return nil, fmt.Errorf("sync: update %d %s: asked from %d, the archive sent %q", serial, part, offset, resp.Header.Get("Content-Range"))
		}
	case resp.StatusCode == http.StatusOK && offset == 0:
	case resp.StatusCode == http.StatusOK:
		resp.Body.Close()
		cancel()
		return nil, ErrNoRange
	default:
		resp.Body.Close()
		cancel()
		return nil, fmt.Errorf("sync: update %d %s: archive answered %s", serial, part, resp.Status)
	}
	body := &stallBody{r: resp.Body, st: st, cancel: cancel}
	return readCloser{c.limited(ctx, body), body}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}
