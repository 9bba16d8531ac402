package wire

import (
	"strings"
	"testing"
	"time"
)

// Upload-Metadata round-trips; what is not a class and start is refused
// or ignored, never half-read.
func TestUploadMeta(t *testing.T) {
	start := time.Date(2026, 12, 6, 7, 0, 0, 123456789, time.UTC)
	m := UploadMeta{Class: "mifid", Start: start}
	got, ok, err := ParseUploadMeta(m.Header())
	if err != nil || !ok || got.Class != "mifid" || !got.Start.Equal(start) {
		t.Fatalf("round trip: %+v %v %v", got, ok, err)
	}
	// Other tus keys are skipped.
	if got, ok, err := ParseUploadMeta("filename dGVzdA==," + m.Header() + ",is_confidential"); err != nil || !ok || got.Class != "mifid" {
		t.Fatalf("with other keys: %+v %v %v", got, ok, err)
	}
	for name, h := range map[string]string{
		"none":     "",
		"other":    "filename dGVzdA==",
		"too long": "class " + strings.Repeat("A", MaxUploadMeta),
		"bad b64":  "class !!!,start MjAyNg==",
		"no start": "class bWlmaWQ=",
		"bad time": "class bWlmaWQ=,start eWVzdGVyZGF5",
		"empty":    "class ,start " + strings.Split(m.Header(), "start ")[1],
	} {
		if _, ok, _ := ParseUploadMeta(h); ok {
			t.Errorf("%s: %q taken", name, h)
		}
	}
}
