package led_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/spanvault/spanvault/appliance/led"
)

// sysfs lays out a directory like /sys/class/leds with one LED.
func sysfs(t *testing.T, name string) string {
	t.Helper()
	root := t.TempDir()
	d := filepath.Join(root, name)
	os.MkdirAll(d, 0o755)
	os.WriteFile(filepath.Join(d, "trigger"), []byte("none [mmc0] heartbeat\n"), 0o644)
	os.WriteFile(filepath.Join(d, "brightness"), []byte("0\n"), 0o644)
	os.WriteFile(filepath.Join(d, "max_brightness"), []byte("255\n"), 0o644)
	return root
}

type sample struct {
	at         time.Duration
	brightness string
}

// record runs the driver on a virtual clock for span and returns the
// brightness file's content at every step.
func record(t *testing.T, d *led.Driver, dir string, span time.Duration, change func(at time.Duration)) []sample {
	t.Helper()
	var vt time.Duration
	var out []sample
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	d.Sleep = func(ctx context.Context, dur time.Duration) error {
		b, err := os.ReadFile(filepath.Join(dir, "brightness"))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sample{vt, string(b)})
		vt += dur
		if change != nil {
			change(vt)
		}
		if vt >= span {
			return context.Canceled
		}
		return nil
	}
	if err := d.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	return out
}

func TestPatterns(t *testing.T) {
	t.Parallel()
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	for _, tc := range []struct {
		p    led.Pattern
		want []sample
	}{
		{led.Recording, []sample{{0, "255"}, {ms(100), "0"}, {ms(200), "255"}, {ms(300), "0"}, {ms(1000), "255"}, {ms(1100), "0"}, {ms(1200), "255"}, {ms(1300), "0"}}},
		{led.NoSIP, []sample{{0, "255"}, {ms(1000), "0"}, {ms(2000), "255"}}},
		{led.DiskFull, []sample{{0, "255"}, {ms(100), "0"}, {ms(200), "255"}, {ms(300), "0"}, {ms(400), "255"}}},
		{led.SyncFailing, []sample{{0, "255"}, {ms(150), "0"}, {ms(300), "255"}, {ms(450), "0"}, {ms(600), "255"}, {ms(750), "0"}, {ms(2250), "255"}}},
		{led.AuditFailed, []sample{{0, "255"}, {ms(1000), "255"}, {ms(2000), "255"}}},
		{led.Attack, []sample{{0, "255"}, {ms(80), "0"}, {ms(200), "255"}, {ms(280), "0"}, {ms(400), "255"}, {ms(480), "0"}, {ms(600), "255"}, {ms(680), "0"}, {ms(2000), "255"}}},
	} {
		t.Run(tc.p.String(), func(t *testing.T) {
			root := sysfs(t, "ACT")
			dir, err := led.Find(root, "")
			if err != nil {
				t.Fatal(err)
			}
			d := led.New(dir)
			d.Set(tc.p)
			span := tc.want[len(tc.want)-1].at + time.Millisecond
			got := record(t, d, dir, span, nil)
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("writes over time:\n got %v\nwant %v", got, tc.want)
			}
			if tr, _ := os.ReadFile(filepath.Join(dir, "trigger")); string(tr) != "none" {
				t.Fatalf("trigger = %q: the kernel trigger was not taken over", tr)
			}
			if b, _ := os.ReadFile(filepath.Join(dir, "brightness")); string(b) != "0" {
				t.Fatalf("LED left %q after stop", b)
			}
		})
	}
}

func TestPatternChange(t *testing.T) {
	t.Parallel()
	root := sysfs(t, "led0")
	dir, _ := led.Find(root, "led0")
	d := led.New(dir)
	d.Set(led.Recording)
	got := record(t, d, dir, 3*time.Second, func(at time.Duration) {
		if at == 1000*time.Millisecond {
			d.Set(led.DiskFull)
		}
	})
	// After the change the LED toggles every 100 ms.
	var after []sample
	for _, s := range got {
		if s.at >= time.Second {
			after = append(after, s)
		}
	}
	if len(after) < 10 {
		t.Fatalf("only %d steps after the change", len(after))
	}
	for i := 1; i < len(after); i++ {
		if after[i].at-after[i-1].at != 100*time.Millisecond || after[i].brightness == after[i-1].brightness {
			t.Fatalf("not the disk-full pattern after the change: %v", after)
		}
	}
}

func TestChoosePriority(t *testing.T) {
	t.Parallel()
	all := led.Conditions{AuditFailed: true, DiskFull: true, NoSIP: true, Attack: true, SyncFailing: true, Running: true}
	for _, tc := range []struct {
		c    led.Conditions
		want led.Pattern
	}{
		{all, led.AuditFailed},
		{led.Conditions{DiskFull: true, NoSIP: true, Running: true}, led.DiskFull},
		{led.Conditions{NoSIP: true, SyncFailing: true, Running: true}, led.NoSIP},
		{led.Conditions{NoSIP: true, Attack: true, Running: true}, led.NoSIP},
		{led.Conditions{DiskFull: true, Attack: true, Running: true}, led.DiskFull},
		{led.Conditions{Attack: true, SyncFailing: true, Running: true}, led.Attack},
		{led.Conditions{SyncFailing: true, Running: true}, led.SyncFailing},
		{led.Conditions{Running: true}, led.Recording},
		{led.Conditions{}, led.Off},
	} {
		if got := led.Choose(tc.c); got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.c, got, tc.want)
		}
	}
}

func TestFindMissing(t *testing.T) {
	t.Parallel()
	if _, err := led.Find(t.TempDir(), ""); err == nil {
		t.Fatal("found an LED in an empty directory")
	}
}

// TestEnrollSteps: a box waiting for approval spells the first two
// characters of its code (ten bits, long for 1, short for 0), above
// recording and below every failure.
func TestEnrollSteps(t *testing.T) {
	steps := led.EnrollSteps("Z1AB-CDEF-GHJK-MNPQ") // Z = 31, 1 = 1: 1111100001
	if len(steps) != 20 {
		t.Fatalf("%d steps", len(steps))
	}
	var bits []byte
	for i := 0; i < 20; i += 2 {
		if !steps[i].On || steps[i+1].On {
			t.Fatalf("step %d", i)
		}
		if steps[i].For > 300*time.Millisecond {
			bits = append(bits, '1')
		} else {
			bits = append(bits, '0')
		}
	}
	if string(bits) != "1111100001" {
		t.Fatalf("spelled %s", bits)
	}
	if led.Choose(led.Conditions{Running: true, Enrolling: true}) != led.Enrolling || led.Choose(led.Conditions{Running: true, Enrolling: true, DiskFull: true}) != led.DiskFull {
		t.Fatal("precedence")
	}
	if led.Enrolling.String() != "enrolling" {
		t.Fatal(led.Enrolling.String())
	}
}
