package units

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	const day = 24 * time.Hour
	for _, tc := range []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "90d", want: 90 * day},
		{in: "7y", want: 7 * 365 * day},
		{in: "2w", want: 14 * day},
		{in: "1.5d", want: 36 * time.Hour},
		{in: " 48h ", want: 48 * time.Hour},
		{in: "30m", want: 30 * time.Minute},
		{in: "0s", want: 0},
		{in: "", bad: true},
		{in: "-1d", bad: true},
		{in: "-5m", bad: true},
		{in: "d", bad: true},
		{in: "ten days", bad: true},
	} {
		got, err := ParseDuration(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseDuration(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestDurationText(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("7d")); err != nil || time.Duration(d) != 7*24*time.Hour {
		t.Fatalf("UnmarshalText(7d) = %v, %v", time.Duration(d), err)
	}
	b, err := d.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	var back Duration
	if err := back.UnmarshalText(b); err != nil || back != d {
		t.Fatalf("%q reads back as %v, %v; want %v", b, time.Duration(back), err, time.Duration(d))
	}
	if err := d.UnmarshalText([]byte("soon")); err == nil || err.Error() != `bad duration "soon"` {
		t.Fatalf("UnmarshalText(soon) = %v, want bad duration", err)
	}
}
