package led

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"
)

// Pattern is one LED state.
type Pattern int

// Patterns, in increasing urgency.
const (
	Off Pattern = iota
	Recording
	SyncFailing
	Attack
	NoSIP
	DiskFull
	AuditFailed
	// Enrolling: not enrolled yet; the pattern spells the start of the
	// enrollment code (EnrollSteps). Chosen above Recording and
	// SyncFailing, below every failure.
	Enrolling
)

func (p Pattern) String() string {
	return [...]string{"off", "recording", "sync-failing", "attack", "no-sip", "disk-full", "audit-failed", "enrolling"}[p]
}

// Step is one phase of a pattern.
type Step struct {
	On  bool
	For time.Duration
}

// Steps returns one period of a pattern.
func (p Pattern) Steps() []Step {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	switch p {
	case Recording:
		return []Step{{true, ms(100)}, {false, ms(100)}, {true, ms(100)}, {false, ms(700)}}
	case SyncFailing:
		return []Step{{true, ms(150)}, {false, ms(150)}, {true, ms(150)}, {false, ms(150)}, {true, ms(150)}, {false, ms(1500)}}
	case Attack:
		// Four short flashes: recording goes on, the network needs a look.
		return []Step{{true, ms(80)}, {false, ms(120)}, {true, ms(80)}, {false, ms(120)}, {true, ms(80)}, {false, ms(120)}, {true, ms(80)}, {false, ms(1320)}}
	case NoSIP:
		return []Step{{true, ms(1000)}, {false, ms(1000)}}
	case DiskFull:
		return []Step{{true, ms(100)}, {false, ms(100)}}
	case AuditFailed:
		return []Step{{true, ms(1000)}}
	}
	return []Step{{false, ms(1000)}}
}

// Conditions are what the appliance knows; Choose maps them to a pattern.
type Conditions struct {
	AuditFailed bool
	DiskFull    bool // refusing recordings or above the high watermark
	NoSIP       bool
	SyncFailing bool
	// Attack: attack traffic within the last ten minutes (shed state,
	// refused claims, spoofed media); the box still records.
	Attack  bool
	Running bool
	// Enrolling: waiting for the archive to approve the enrollment code.
	Enrolling bool
}

// Choose returns the most urgent pattern for the conditions.
func Choose(c Conditions) Pattern {
	switch {
	case c.AuditFailed:
		return AuditFailed
	case c.DiskFull:
		return DiskFull
	case c.NoSIP:
		return NoSIP
	case c.Attack:
		return Attack
	case c.Enrolling:
		return Enrolling
	case c.SyncFailing:
		return SyncFailing
	case c.Running:
		return Recording
	}
	return Off
}

// Driver blinks one LED.
type Driver struct {
	dir  string
	mu   sync.Mutex
	p    Pattern
	wake chan struct{}
	// Sleep waits for d or until ctx ends; tests replace it to run the
	// pattern on a virtual clock.
	Sleep func(ctx context.Context, d time.Duration) error
	on    bool
	init  bool
	code  string // the enrollment code Enrolling spells (SetCode)
}

// Find returns the directory of the named LED under root, or of the first
// LED found when name is empty (Raspberry Pi boards call it ACT or led0).
func Find(root, name string) (string, error) {
	if name != "" {
		d := filepath.Join(root, name)
		if _, err := os.Stat(filepath.Join(d, "brightness")); err != nil {
			return "", fmt.Errorf("led: %s: %w", d, err)
		}
		return d, nil
	}
	for _, n := range []string{"ACT", "led0"} {
		if _, err := os.Stat(filepath.Join(root, n, "brightness")); err == nil {
			return filepath.Join(root, n), nil
		}
	}
	ents, err := os.ReadDir(root)
	if err != nil {
		return "", fmt.Errorf("led: %w", err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, n := range names {
		if _, err := os.Stat(filepath.Join(root, n, "brightness")); err == nil {
			return filepath.Join(root, n), nil
		}
	}
	return "", fmt.Errorf("led: no LED under %s", root)
}

// New returns a driver for the LED directory dir.
func New(dir string) *Driver {
	return &Driver{dir: dir, wake: make(chan struct{}, 1), Sleep: sleepCtx}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Set changes the pattern; the new one starts at the next step boundary.
func (d *Driver) Set(p Pattern) {
	d.mu.Lock()
	changed := d.p != p
	d.p = p
	d.mu.Unlock()
	if changed {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
}

// Pattern returns the current pattern.
func (d *Driver) Pattern() Pattern {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.p
}

func (d *Driver) write(file, v string) error {
	return os.WriteFile(filepath.Join(d.dir, file), []byte(v), 0)
}

func (d *Driver) set(on bool) error {
	if !d.init {
		// The kernel's own trigger (mmc activity, heartbeat) would fight
		// ours: take the LED over.
		if err := d.write("trigger", "none"); err != nil {
			return fmt.Errorf("led: %w", err)
		}
		d.init = true
	} else if on == d.on {
		return nil
	}
	d.on = on
	v := "0"
	if on {
		v = "1"
		if b, err := os.ReadFile(filepath.Join(d.dir, "max_brightness")); err == nil && len(b) > 0 {
			v = string(bytesTrim(b))
		}
	}
	if err := d.write("brightness", v); err != nil {
		return fmt.Errorf("led: %w", err)
	}
	return nil
}

func bytesTrim(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

// Run blinks until ctx ends, then turns the LED off.
func (d *Driver) Run(ctx context.Context) (err error) {
	defer func() { err = errors.Join(err, d.set(false)) }()
pattern:
	for {
		select {
		case <-d.wake: // the change is being applied now
		default:
		}
		p := d.Pattern()
		for _, s := range d.steps(p) {
			if err := d.set(s.On); err != nil {
				return err
			}
			if err := d.Sleep(ctx, s.For); err != nil {
				return nil
			}
			select {
			case <-d.wake:
				continue pattern // a new pattern starts now
			default:
			}
		}
	}
}
