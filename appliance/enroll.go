package appliance

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spanvault/spanvault/sync/client"
)

// Zero-touch enrollment on the box (config.Enroll): until an admin
// approves its code, the box records as usual, shows the code on its
// status page (enroll) and spells its start on the LED (led.Enrolling);
// once approved it keeps the [sync] section in enroll.dir and starts
// syncing without a restart. The API certificate the approval brings is
// used from the next start (the one in use until then is self-signed).

// prepareEnroll fills the [sync] section from an earlier approval, or
// starts asking for one.
func (a *Appliance) prepareEnroll(ctx context.Context) error {
	ok, err := a.cfg.LoadEnrolled()
	if err != nil {
		return err
	}
	if ok {
		a.log.Info("enrolled", "name", a.cfg.Sync.Name, "dir", a.cfg.Enroll.Dir)
		return nil
	}
	if a.cfg.Sync.Configured() || !a.cfg.Enroll.Configured() {
		return nil
	}
	code, err := client.EnrollCodeOf(a.cfg.Enroll.Dir)
	if err != nil {
		return fmt.Errorf("enroll: %w", err)
	}
	a.setEnroll(client.EnrollState{State: "asking", Code: code}) // pending once an archive holds it
	a.log.Info("not enrolled: asking the archive; approve this code there", "code", code)
	go a.runEnroll(ctx)
	return nil
}

func (a *Appliance) setEnroll(st client.EnrollState) {
	a.mu.Lock()
	a.enroll = &st
	a.mu.Unlock()
}

// runEnroll asks the archive every poll_every until approved, then starts
// the sync.
func (a *Appliance) runEnroll(ctx context.Context) {
	every := time.Duration(a.cfg.Enroll.PollEvery)
	if every <= 0 {
		every = 30 * time.Second
	}
	ec := client.EnrollConfig{Archives: a.cfg.Enroll.Archives, CAFingerprint: a.cfg.Enroll.CAFingerprint, Dir: a.cfg.Enroll.Dir, Hosts: a.cfg.Enroll.Hosts}
	for {
		st, err := client.EnrollOnce(ctx, ec)
		switch {
		case errors.Is(err, client.ErrEnrollExpired):
			a.log.Warn("enrollment request expired: asking again with a new code", "code", st.Code)
			if code, err := client.EnrollCodeOf(ec.Dir); err == nil {
				st = client.EnrollState{State: "asking", Code: code}
			}
		case err != nil && ctx.Err() == nil:
			a.log.Warn("enroll", "err", err)
			st.Error = err.Error()
		}
		a.setEnroll(st)
		if st.State == "approved" {
			a.log.Info("enrollment approved", "name", st.Name)
			if err := a.startEnrolledSync(ctx); err != nil {
				a.log.Error("enrolled, but sync could not start", "err", err)
			}
			a.updateAtStart() // firmware updates (update_run.go)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

// startEnrolledSync runs the sync the approval configured.
func (a *Appliance) startEnrolledSync(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	ok, err := a.cfg.LoadEnrolled()
	if err != nil {
		return err
	}
	if !ok {
		return errors.New("enroll: no enrolled sync section written")
	}
	sc, err := a.newSyncClientLocked()
	if err != nil {
		return fmt.Errorf("sync: %w", err)
	}
	a.sync = &syncer{c: sc, started: time.Now(), window: a.cfg.Sync.Window}
	go a.runSync(ctx, sc)
	return nil
}
