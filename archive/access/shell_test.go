package access

import (
	"net/http/httptest"
	"testing"
	"time"
)

// TestDaysInTheReadersZone: "to 2026-12-06" in Berlin runs to midnight
// there (23:00 UTC), the reader's zone comes from the tz cookie when it
// names a zone, else access.time_zone.
func TestDaysInTheReadersZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skip("no zone data:", err)
	}
	q, err := parseSearchIn(map[string][]string{"from": {"2026-12-06"}, "to": {"2026-12-06"}}, berlin)
	if err != nil {
		t.Fatal(err)
	}
	if got := q.From.UTC().Format(time.RFC3339); got != "2026-12-05T23:00:00Z" {
		t.Errorf("from: %s", got)
	}
	if got := q.To.UTC().Format(time.RFC3339); got != "2026-12-06T23:00:00Z" {
		t.Errorf("to (exclusive inside): %s, want the end of the 6th in Berlin", got)
	}
	if _, err := parseSearchIn(map[string][]string{"from": {"2026-12-07"}, "to": {"2026-12-06"}}, berlin); err == nil {
		t.Error("a range ending before it starts is accepted")
	}
	s := &Service{}
	s.cfg.TimeZone = "Europe/Berlin"
	for cookie, want := range map[string]string{"": "Europe/Berlin", "America%2FNew_York": "America/New_York", "Not/AZone": "Europe/Berlin", "..%2F..%2Fetc%2Fpasswd": "Europe/Berlin"} {
		r := httptest.NewRequest("GET", "/search", nil)
		if cookie != "" {
			r.Header.Set("Cookie", "tz="+cookie)
		}
		if got := s.readerZone(r).String(); got != want {
			t.Errorf("tz cookie %q: zone %s, want %s", cookie, got, want)
		}
	}
	if got := formatAt(berlin, time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)); got != "2026-12-06 13:00:00 CET" {
		t.Errorf("formatAt: %s", got)
	}
}

// TestLocalPath: next= only ever names a page of this site.
func TestLocalPath(t *testing.T) {
	for in, want := range map[string]string{
		"/search?number=1": "/search?number=1", "/r/b/1": "/r/b/1", "": "", "//evil.example": "",
		"https://evil.example/": "", "/\\evil.example": "", "javascript:alert(1)": "", "/signout": "", "/lang?to=de": "", "search": "",
		"/%2F%2Fevil.example": "",
	} {
		if got := localPath(in); got != want {
			t.Errorf("localPath(%q) = %q, want %q", in, got, want)
		}
	}
}
