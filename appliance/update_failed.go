package appliance

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spanvault/spanvault/appliance/firmware"
)

// failedFile keeps the serials whose download or install failed here,
// and when (update.dir, on /perm): a restart or reboot does not download
// a bad update again before retryFailedAfter.
const failedFile = "failed.json"

// failedAt reports when serial failed here lately. u.mu is held.
func (u *updater) failedAt(serial uint64) (time.Time, bool) {
	if u.failed == nil {
		u.failed = u.readFailed()
	}
	at, ok := u.failed[serial]
	return at, ok
}

// markFailed records that serial failed now, on disk too. u.mu is held.
func (u *updater) markFailed(serial uint64) error {
	if u.failed == nil {
		u.failed = u.readFailed()
	}
	now := u.now()
	for s, at := range u.failed { // the list stays short: only lately
		if now.Sub(at) >= retryFailedAfter {
			delete(u.failed, s)
		}
	}
	u.failed[serial] = now
	b, err := json.Marshal(u.failed)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(u.dir, 0o700); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if err := firmware.WriteFileSync(filepath.Join(u.dir, failedFile), b); err != nil {
		return fmt.Errorf("update: failed list: %w", err)
	}
	return nil
}

// readFailed reads the failed list; one that does not read is empty
// (logged): at worst an update is downloaded once more.
func (u *updater) readFailed() map[uint64]time.Time {
	m := map[uint64]time.Time{}
	b, err := os.ReadFile(filepath.Join(u.dir, failedFile))
	if errors.Is(err, os.ErrNotExist) {
		return m
	}
	if err == nil {
		err = json.Unmarshal(b, &m)
	}
	if err != nil {
		u.logger().Warn("firmware update: failed list unreadable", "err", err)
		return map[uint64]time.Time{}
	}
	return m
}
