package archive

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Default working hours of the access service: an archive whose
// configuration leaves them empty gets these (any hour is "00:00-24:00"
// on "Mon-Sun").
const (
	DefaultWorkingHours = "07:00-20:00"
	DefaultWorkingDays  = "Mon-Sat"
)

// Hours are working hours: a daily range of minutes after midnight on the
// days a shift starts, read in one time zone. A range whose end is before
// its start runs over midnight (22:00-06:00): the hours after midnight
// belong to the shift of the day before.
type Hours struct {
	From, To int // minutes after midnight; To may be 1440 (24:00)
	Days     [7]bool
	Loc      *time.Location
	spec     string
}

var dayNames = []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// ParseWorkingHours reads "HH:MM-HH:MM", days ("Mon-Sat", "Mon-Fri,Sun",
// "Sat-Mon") and an IANA time zone (empty: the machine's local time);
// empty hours or days are the defaults.
func ParseWorkingHours(hours, days, zone string) (*Hours, error) {
	if hours == "" {
		hours = DefaultWorkingHours
	}
	if days == "" {
		days = DefaultWorkingDays
	}
	h := &Hours{Loc: time.Local, spec: hours + " " + days}
	if zone != "" {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			return nil, fmt.Errorf("time zone %q: %w", zone, err)
		}
		h.Loc, h.spec = loc, h.spec+" "+zone
	}
	var h1, m1, h2, m2 int
	var rest string
	n, _ := fmt.Sscanf(hours+"|", "%2d:%2d-%2d:%2d%s", &h1, &m1, &h2, &m2, &rest)
	if n != 5 || rest != "|" || h1 < 0 || h1 > 23 || m1 < 0 || m1 > 59 || h2 < 0 || m2 < 0 || m2 > 59 || h2 > 24 || (h2 == 24 && m2 != 0) {
		return nil, fmt.Errorf("%q is not HH:MM-HH:MM (07:00-20:00; 22:00-06:00 runs over midnight)", hours)
	}
	h.From, h.To = h1*60+m1, h2*60+m2
	if h.From == h.To {
		return nil, fmt.Errorf("%q is an empty range (any hour: 00:00-24:00)", hours)
	}
	for _, part := range strings.Split(days, ",") {
		a, b, isRange := strings.Cut(strings.TrimSpace(part), "-")
		da, db := dayOf(a), dayOf(b)
		if da < 0 || (isRange && db < 0) {
			return nil, fmt.Errorf("days %q: not Mon-Sat or Mon,Wed,Fri", days)
		}
		if !isRange {
			db = da
		}
		for d := da; ; d = (d + 1) % 7 {
			h.Days[d] = true
			if d == db {
				break
			}
		}
	}
	return h, nil
}

func dayOf(s string) int {
	s = strings.ToLower(strings.TrimSpace(s))
	for i, d := range dayNames {
		if s == d || (len(s) == 3 && strings.HasPrefix(d, s)) {
			return i
		}
	}
	return -1
}

// Contains reports whether t is within the working hours.
func (h *Hours) Contains(t time.Time) bool {
	lt := t.In(h.Loc)
	m := lt.Hour()*60 + lt.Minute()
	wd := int(lt.Weekday())
	if h.From < h.To {
		return h.Days[wd] && m >= h.From && m < h.To
	}
	// Over midnight: the evening belongs to today's shift, the early
	// hours to yesterday's.
	if m >= h.From {
		return h.Days[wd]
	}
	return m < h.To && h.Days[(wd+6)%7]
}

// String is the hours as configured ("07:00-20:00 Mon-Sat Europe/Berlin").
func (h *Hours) String() string { return h.spec }

// Hours are the access service's working hours (the defaults where the
// configuration leaves them empty).
func (c AccessConfig) Hours() (*Hours, error) {
	return ParseWorkingHours(c.WorkingHours, c.WorkingDays, c.TimeZone)
}

// checkPublicURL: https://HOST[:PORT][/PATH], nothing else.
func checkPublicURL(s string) error {
	u, err := url.Parse(s)
	switch {
	case err != nil:
		return fmt.Errorf("%q: %w", s, err)
	case u.Scheme != "https" || u.Host == "" || u.Opaque != "":
		return fmt.Errorf("%q is not https://HOST[:PORT]", s)
	case u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return fmt.Errorf("%q: no user, query or fragment", s)
	}
	return nil
}
