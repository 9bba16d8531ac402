package appliance

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/spanvault/spanvault/appliance/firmware"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
)

// Firmware updates on the running box (sync/client/update.go verifies
// the offer; appliance/firmware holds the state the init shares).
//
//  1. A verified offer is kept (onOffer; only once the daemon read the
//     last update's state at capture start, atStart); its files are
//     downloaded inside the sync window, after the pass's uploads, under
//     the sync rate cap, into update.dir (root.part, boot.part; resumed
//     with Range after a cut, a closed window or a restart). The free
//     space is checked first: a download never fills the disk to where
//     the vault evicts recordings.
//  2. Each file's size and SHA-256 must be the manifest's; otherwise the
//     files are removed, the update is refused and nothing is installed.
//  3. The installer writes the inactive root (its hash compared), then
//     the boot partition (keeping the active root), pending.json is
//     written, and the next boot is made a test boot of the new root. The
//     box audits "firmware update N written, rebooting", stops capture
//     the way SIGTERM does (calls in progress are sealed), notes when
//     capture stopped in pending.json and reboots.
//  4. The new firmware finds pending.json naming its serial: it is on
//     trial ("trying"); the init's watchdog reboots it into the old root
//     unless it confirms within the offer's time. It confirms after its
//     first sync pass that succeeds while recording works: it switches
//     to its root for good, writes confirmed.json, audits the capture gap
//     of the reboot and reports "confirmed". Then it reboots once more,
//     out of the test boot (update_testboot.go): gokrazy aims its update
//     API at the root the test boot's command line calls inactive, which
//     is the one running.
//  5. The old firmware that finds pending.json naming a newer serial was
//     rolled back: it reports "rolled-back" with the reason, audits it,
//     and clears pending.json.

// Files of the download in update.dir.
const (
	updateDownload = "download.json" // the manifest the .part files belong to
	rootPart       = "root.part"
	bootPart       = "boot.part"
)

// updateSync is what the updater needs of the sync client.
type updateSync interface {
	FetchUpdate(ctx context.Context, serial uint64, part string, offset int64) (io.ReadCloser, error)
	UpdateReport() client.UpdateReport
	SetUpdateReport(client.UpdateReport) error
}

// updater carries out firmware updates.
type updater struct {
	dir  string
	fw   firmware.Info
	inst firmware.Installer
	log  *slog.Logger
	// audit writes an entry in the box's audit chain.
	audit func(action, detail string) error
	// space says whether need more bytes fit in update.dir without the
	// vault evicting recordings.
	space func(need int64) error
	now   func() time.Time

	mu             sync.Mutex
	offer          *client.Update
	trying         *firmware.Pending // this firmware is on trial
	captureStarted time.Time         // this boot's capture start (the end of a reboot's gap)
	rebootPending  *firmware.Pending // written, the reboot next
	// testBoot: this boot is gokrazy's test boot (update_testboot.go);
	// leaving says why the box reboots out of it, "" if it does not.
	testBoot bool
	leaving  string
	bootedAt time.Time
	started  bool // atStart ran
	// ready: atStart read the last update's state. Offers before it are
	// ignored: a check-in may bring the offer of the very update this
	// boot rolled back before pending.json says so (the archive offers it
	// again).
	ready  bool
	failed map[uint64]time.Time // serials whose download or install failed, and when (failedFile; nil: not read yet)
}

// retryFailedAfter is how long an update that failed after its download
// (a hash that differs, an installer error) is not downloaded again.
const retryFailedAfter = 24 * time.Hour

// startOnce reports whether atStart is still to run (once per daemon).
func (u *updater) startOnce() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.started {
		return false
	}
	u.started = true
	return true
}

func (u *updater) logger() *slog.Logger {
	if u.log == nil {
		return slog.Default()
	}
	return u.log
}

// onOffer takes a verified offer (client.Config.OnUpdate). An error
// refuses it (the client reports and audits the refusal).
func (u *updater) onOffer(o client.Update) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if o.Manifest == nil {
		if u.offer != nil {
			u.logger().Info("firmware update no longer offered: download stopped", "serial", u.offer.Manifest.Serial)
		}
		u.offer = nil // withdrawn: a download in progress stops (its files stay for a new offer)
		return nil
	}
	if !u.ready {
		// The state of the last update (pending.json: on trial, rolled
		// back) is read once capture runs (atStart); an offer before
		// that may be of the update this boot rolled back. The archive
		// offers it again at the next check-in.
		return nil
	}
	if u.rebootPending != nil || u.trying != nil {
		return nil // one update at a time: this one waits for the reboot or the confirmation
	}
	m := o.Manifest
	if at, ok := u.failedAt(m.Serial); ok && u.now().Sub(at) < retryFailedAfter {
		return nil // failed here lately (reported): not downloaded again at every pass
	}
	if err := u.space(m.Root.Size + m.Boot.Size - u.downloaded(m)); err != nil {
		return err
	}
	if u.offer == nil || u.offer.Manifest.Serial != m.Serial {
		u.logger().Info("firmware update offered", "serial", m.Serial, "version", m.Version, "rollout", o.Rollout)
	}
	u.offer = &o
	return nil
}

// downloaded is how much of m's files update.dir holds already.
func (u *updater) downloaded(m *wire.UpdateManifest) int64 {
	b, err := os.ReadFile(filepath.Join(u.dir, updateDownload))
	if err != nil {
		return 0
	}
	var have wire.UpdateManifest
	if json.Unmarshal(b, &have) != nil || !sameFiles(&have, m) {
		return 0
	}
	var n int64
	for _, p := range []string{rootPart, bootPart} {
		if st, err := os.Stat(filepath.Join(u.dir, p)); err == nil {
			n += st.Size()
		}
	}
	return n
}

func sameFiles(a, b *wire.UpdateManifest) bool {
	return a.Serial == b.Serial && a.Root.Size == b.Root.Size && a.Boot.Size == b.Boot.Size &&
		bytes.Equal(a.Root.SHA256, b.Root.SHA256) && bytes.Equal(a.Boot.SHA256, b.Boot.SHA256)
}

// errWindowClosed: the download stopped at the window's end (resumed in
// the next one).
var errWindowClosed = errors.New("update: the sync window closed; the download resumes in the next one")

// step downloads, verifies and installs the update offered, inside the
// window (open is asked between chunks). It reports whether the box
// should now reboot into it.
func (u *updater) step(ctx context.Context, c updateSync, open func() bool) (bool, error) {
	u.mu.Lock()
	o := u.offer
	u.mu.Unlock()
	if o == nil || !open() {
		return false, nil
	}
	m := o.Manifest
	rep := client.UpdateReport{State: wire.UpdateDownloading, Serial: m.Serial, Rollout: o.Rollout}
	if cur := c.UpdateReport(); cur != rep {
		if err := c.SetUpdateReport(rep); err != nil {
			return false, err
		}
	}
	if err := u.prepareDir(m); err != nil {
		return false, err
	}
	for _, f := range []struct {
		part, file string
		want       wire.UpdateFile
	}{{"boot", bootPart, m.Boot}, {"root", rootPart, m.Root}} {
		if err := u.download(ctx, c, m.Serial, f.part, filepath.Join(u.dir, f.file), f.want.Size, open); err != nil {
			if errors.Is(err, errWindowClosed) || ctx.Err() != nil {
				u.logger().Info("firmware download paused", "serial", m.Serial, "reason", err)
				return false, nil
			}
			return false, err // a connection failure: resumed at the next pass
		}
	}
	// Verify both files before anything is written.
	for _, f := range []struct {
		part, file string
		want       wire.UpdateFile
	}{{"root", rootPart, m.Root}, {"boot", bootPart, m.Boot}} {
		if err := verifyFile(filepath.Join(u.dir, f.file), f.want); err != nil {
			u.removeDownload()
			return false, u.fail(c, o, fmt.Errorf("update %d: %s: %w; nothing installed", m.Serial, f.part, err))
		}
	}
	if u.leaveTestBoot(fmt.Sprintf("update %d is written from a boot whose command line names the root it runs", m.Serial)) {
		return true, nil // written after the reboot: the download is kept
	}
	if err := u.install(ctx, c, o); err != nil {
		return false, err
	}
	return true, nil
}

// prepareDir makes update.dir and removes the files of another download.
func (u *updater) prepareDir(m *wire.UpdateManifest) error {
	if err := os.MkdirAll(u.dir, 0o700); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	b, err := os.ReadFile(filepath.Join(u.dir, updateDownload))
	var have wire.UpdateManifest
	if err == nil && json.Unmarshal(b, &have) == nil && sameFiles(&have, m) {
		return nil
	}
	u.removeDownload()
	b, err = json.Marshal(m)
	if err != nil {
		return err
	}
	return firmware.WriteFileSync(filepath.Join(u.dir, updateDownload), b)
}

func (u *updater) removeDownload() {
	for _, f := range []string{rootPart, bootPart, updateDownload} {
		os.Remove(filepath.Join(u.dir, f))
	}
}

// download completes path (size bytes) from where it stopped.
func (u *updater) download(ctx context.Context, c updateSync, serial uint64, part, path string, size int64, open func() bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	defer f.Close()
	off, err := f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if off > size { // not this file: start over
		if err := f.Truncate(0); err != nil {
			return fmt.Errorf("update: %w", err)
		}
		off, _ = f.Seek(0, io.SeekStart)
	}
	if off == size {
		return nil
	}
	rc, err := c.FetchUpdate(ctx, serial, part, off)
	if err != nil {
		return err
	}
	defer rc.Close()
	buf := make([]byte, 64<<10)
	for off < size {
		if !open() {
			_ = f.Sync() // what arrived is kept: the next window resumes after it
			return errWindowClosed
		}
		n, rerr := rc.Read(buf[:min(int64(len(buf)), size-off)])
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				return fmt.Errorf("update: %w", err)
			}
			off += int64(n)
		}
		if rerr == io.EOF && off < size {
			_ = f.Sync()
			return fmt.Errorf("update %d %s: the archive's file ended at %d of %d bytes", serial, part, off, size)
		}
		if rerr != nil && rerr != io.EOF {
			_ = f.Sync() // what arrived is kept: the next attempt resumes after it
			return fmt.Errorf("update %d %s: %w", serial, part, rerr)
		}
	}
	return f.Sync()
}

func verifyFile(path string, want wire.UpdateFile) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return err
	}
	if n != want.Size {
		return fmt.Errorf("%d bytes, the manifest says %d", n, want.Size)
	}
	if !bytes.Equal(h.Sum(nil), want.SHA256) {
		return errors.New("SHA-256 differs from the manifest's")
	}
	return nil
}

// fail reports and audits an update that could not be carried out and
// drops the offer (a new offer starts over).
func (u *updater) fail(c updateSync, o *client.Update, err error) error {
	u.mu.Lock()
	u.offer = nil
	if e := u.markFailed(o.Manifest.Serial); e != nil { // update_failed.go
		u.logger().Warn("firmware update: failed list not kept", "err", e)
	}
	u.mu.Unlock()
	u.logger().Warn("firmware update failed", "serial", o.Manifest.Serial, "err", err)
	if e := c.SetUpdateReport(client.UpdateReport{State: wire.UpdateRefused, Serial: o.Manifest.Serial, Rollout: o.Rollout, Failure: err.Error()}); e != nil {
		return errors.Join(err, e)
	}
	if e := u.audit("update_refused", err.Error()); e != nil {
		return errors.Join(err, e)
	}
	return err
}

// install writes the verified files and prepares the test boot.
func (u *updater) install(ctx context.Context, c updateSync, o *client.Update) error {
	m := o.Manifest
	write := func(part, file string, want wire.UpdateFile, w func(context.Context, io.Reader, int64) ([]byte, error)) error {
		f, err := os.Open(filepath.Join(u.dir, file))
		if err != nil {
			return err
		}
		defer f.Close()
		sum, err := w(ctx, f, want.Size)
		if err != nil {
			return fmt.Errorf("writing the %s partition: %w", part, err)
		}
		if !bytes.Equal(sum, want.SHA256) {
			return fmt.Errorf("the %s partition written hashes to %x, not the manifest's %x", part, sum, want.SHA256)
		}
		return nil
	}
	// The root first: should writing it fail, the boot partition the box
	// runs with is untouched.
	if err := write("root", rootPart, m.Root, u.inst.WriteRoot); err != nil {
		return u.fail(c, o, fmt.Errorf("update %d: %w", m.Serial, err))
	}
	if err := write("boot", bootPart, m.Boot, u.inst.WriteBoot); err != nil {
		return u.fail(c, o, fmt.Errorf("update %d: %w", m.Serial, err))
	}
	p := firmware.Pending{Serial: m.Serial, Version: m.Version, Rollout: o.Rollout, ConfirmWithin: wire.Duration(o.ConfirmWithin),
		WrittenAt: u.now().UTC(), FromSerial: u.fw.Serial, FromVersion: u.fw.Version}
	if err := firmware.WritePending(u.dir, p); err != nil {
		return u.fail(c, o, fmt.Errorf("update %d: %w", m.Serial, err))
	}
	if err := u.inst.TestBoot(ctx); err != nil {
		if cerr := firmware.ClearPending(u.dir); cerr != nil {
			err = errors.Join(err, cerr)
		}
		return u.fail(c, o, fmt.Errorf("update %d: test boot: %w", m.Serial, err))
	}
	u.removeDownload() // on the partitions now
	u.mu.Lock()
	u.offer, u.rebootPending = nil, &p
	u.mu.Unlock()
	if err := c.SetUpdateReport(client.UpdateReport{State: wire.UpdateWritten, Serial: m.Serial, Rollout: o.Rollout}); err != nil {
		return err
	}
	u.logger().Info("firmware update written; rebooting into it", "serial", m.Serial, "version", m.Version)
	return u.audit("firmware_update", fmt.Sprintf("firmware update %d (%s, rollout %d) written, rebooting (from %d, %s; confirm within %v)",
		m.Serial, m.Version, o.Rollout, u.fw.Serial, u.fw.Version, p.Within()))
}

// beforeReboot notes when capture stopped (the start of the reboot's
// capture gap) in pending.json.
func (u *updater) beforeReboot(stopped time.Time) error {
	u.mu.Lock()
	p := u.rebootPending
	u.mu.Unlock()
	if p == nil {
		return nil
	}
	p.CaptureStopped = stopped.UTC()
	return firmware.WritePending(u.dir, *p)
}

// atStart looks at pending.json when the daemon starts: a trial of this
// firmware, or the report of one that was rolled back. Offers are taken
// once it succeeded.
func (u *updater) atStart(c updateSync) error {
	err := u.readPending(c)
	if err == nil {
		u.mu.Lock()
		u.ready = true
		u.mu.Unlock()
	}
	return err
}

func (u *updater) readPending(c updateSync) error {
	p, err := firmware.ReadPending(u.dir)
	if err != nil || p == nil {
		return err
	}
	switch {
	case p.Serial == u.fw.Serial:
		if s, ok := firmware.Confirmed(u.dir); ok && s == p.Serial {
			// Confirmed before a crash cleared it.
			return firmware.ClearPending(u.dir)
		}
		u.mu.Lock()
		u.trying = p
		u.mu.Unlock()
		u.logger().Info("firmware on trial: confirmed after the first healthy sync", "serial", p.Serial, "within", p.Within())
		return c.SetUpdateReport(client.UpdateReport{State: wire.UpdateTrying, Serial: p.Serial, Rollout: p.Rollout})
	case p.Serial > u.fw.Serial:
		why := fmt.Sprintf("firmware %d did not confirm within %v; running %d again", p.Serial, p.Within(), u.fw.Serial)
		u.logger().Warn("firmware update rolled back", "serial", p.Serial, "running", u.fw.Serial)
		if err := c.SetUpdateReport(client.UpdateReport{State: wire.UpdateRolledBack, Serial: p.Serial, Rollout: p.Rollout, Failure: why}); err != nil {
			return err
		}
		if err := u.audit("firmware_rolled_back", why+u.gap(p)); err != nil {
			return err
		}
		return firmware.ClearPending(u.dir)
	default: // an older update's state under a newer firmware (flashed by hand)
		return firmware.ClearPending(u.dir)
	}
}

// gap describes the capture gap from p's reboot to this boot's capture.
func (u *updater) gap(p *firmware.Pending) string {
	u.mu.Lock()
	t2 := u.captureStarted
	u.mu.Unlock()
	if p.CaptureStopped.IsZero() || t2.IsZero() {
		return ""
	}
	return fmt.Sprintf("; capture gap from %s (capture stopped before the reboot) to %s (capture started after it): %v",
		p.CaptureStopped.UTC().Format(time.RFC3339Nano), t2.UTC().Format(time.RFC3339Nano), t2.Sub(p.CaptureStopped).Round(time.Millisecond))
}

// afterPass confirms a firmware on trial after a sync pass that
// succeeded while recording works. It reports whether it confirmed.
func (u *updater) afterPass(ctx context.Context, c updateSync, recordingOK bool) (bool, error) {
	u.mu.Lock()
	p := u.trying
	u.mu.Unlock()
	if p == nil || !recordingOK {
		return false, nil
	}
	if err := u.inst.Switch(ctx); err != nil {
		return false, fmt.Errorf("update %d: switching to it for good: %w", p.Serial, err)
	}
	if err := firmware.WriteConfirmed(u.dir, p.Serial, u.now()); err != nil {
		return false, err
	}
	if err := firmware.ClearPending(u.dir); err != nil {
		return false, err
	}
	u.mu.Lock()
	u.trying = nil
	u.mu.Unlock()
	if err := c.SetUpdateReport(client.UpdateReport{State: wire.UpdateConfirmed, Serial: p.Serial, Rollout: p.Rollout}); err != nil {
		return false, err
	}
	u.logger().Info("firmware confirmed", "serial", p.Serial, "version", p.Version)
	return true, u.audit("firmware_confirmed", fmt.Sprintf("firmware %d (%s) confirmed", p.Serial, p.Version)+u.gap(p))
}

// setCaptureStarted records this boot's capture start.
func (u *updater) setCaptureStarted(t time.Time) {
	u.mu.Lock()
	u.captureStarted = t
	u.mu.Unlock()
}

// rebooting returns the update the box is about to reboot into, if any.
func (u *updater) rebooting() *firmware.Pending {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.rebootPending
}
