package appliance

import (
	"context"
	"time"
)

// installed starts firmware 7, offers it update 8 and lets it install
// it in one sync pass and reboot, as Run's end does with capture stopped
// at the returned time; it returns the daemon that rebooted.
func (e *updEnv) installed() (*Appliance, time.Time) {
	e.t.Helper()
	a := e.start(7, "")
	e.offer()
	e.pass(a, true)
	if !e.rebootRequested(a) {
		e.t.Fatal("not installed")
	}
	stopped := time.Now()
	e.reboot(a, stopped)
	return a, stopped
}

// reboot is Run's end once capture stopped at stopped: the reboot the
// updater asked for (with a context already done: the test does not
// wait for Run's other goroutines).
func (e *updEnv) reboot(a *Appliance, stopped time.Time) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := a.rebootIntoUpdate(ctx, stopped); err != nil {
		e.t.Fatal(err)
	}
}
