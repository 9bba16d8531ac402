package archive_test

import (
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
)

// TestWorkingHours: day ranges, a shift over midnight (its early hours
// belong to the day it started), the defaults, and what is refused.
func TestWorkingHours(t *testing.T) {
	at := func(day time.Weekday, hh, mm int) time.Time {
		// 2026-01-04 is a Sunday.
		return time.Date(2026, 1, 4+int(day), hh, mm, 0, 0, time.UTC)
	}
	for _, c := range []struct {
		hours, days string
		t           time.Time
		want        bool
	}{
		{"", "", at(time.Wednesday, 12, 0), true},
		{"", "", at(time.Wednesday, 6, 59), false},
		{"", "", at(time.Wednesday, 20, 0), false},
		{"", "", at(time.Saturday, 19, 59), true},
		{"", "", at(time.Sunday, 12, 0), false},
		{"22:00-06:00", "Mon-Sun", at(time.Wednesday, 23, 30), true},
		{"22:00-06:00", "Mon-Sun", at(time.Wednesday, 3, 0), true},
		{"22:00-06:00", "Mon-Sun", at(time.Wednesday, 6, 0), false},
		{"22:00-06:00", "Mon-Sun", at(time.Wednesday, 12, 0), false},
		{"22:00-06:00", "Mon-Fri", at(time.Saturday, 3, 0), true},   // Friday's shift
		{"22:00-06:00", "Mon-Fri", at(time.Saturday, 23, 0), false}, // no Saturday shift
		{"22:00-06:00", "Mon-Fri", at(time.Monday, 3, 0), false},    // Sunday's
		{"00:00-24:00", "Mon-Sun", at(time.Sunday, 23, 59), true},
		{"08:00-17:00", "Sat-Mon", at(time.Sunday, 9, 0), true},
		{"08:00-17:00", "mon,Wednesday", at(time.Tuesday, 9, 0), false},
		{"08:00-17:00", "mon,Wednesday", at(time.Wednesday, 9, 0), true},
	} {
		h, err := archive.ParseWorkingHours(c.hours, c.days, "UTC")
		if err != nil {
			t.Fatal(c.hours, c.days, err)
		}
		if got := h.Contains(c.t); got != c.want {
			t.Errorf("%q %q at %s: %v, want %v", c.hours, c.days, c.t.Format("Mon 15:04"), got, c.want)
		}
	}
	for _, bad := range [][3]string{{"07:00-07:00", "", ""}, {"7-20", "", ""}, {"07:00-24:30", "", ""}, {"07:00-20:00x", "", ""}, {"", "Mo-Fr", ""}, {"", "", "Mars/Olympus"}} {
		if _, err := archive.ParseWorkingHours(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
