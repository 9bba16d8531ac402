package access

import (
	"regexp"
	"testing"
)

// TestUpdatesTextHasGerman: every text of the updates template, and every
// state it shows, has a German translation.
func TestUpdatesTextHasGerman(t *testing.T) {
	b, err := webFiles.ReadFile("web/updates.html")
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"Firmware", "Firmware updates", "offered", "downloading", "written", "trying", "confirmed", "rolled-back", "refused", "failed", "skipped", "waiting",
		"filed", "active", "done", "stopped"}
	for _, m := range regexp.MustCompile(`\{\{T "((?:[^"\\]|\\.)*)"`).FindAllStringSubmatch(string(b), -1) {
		keys = append(keys, m[1])
	}
	for _, k := range keys {
		if _, ok := germanText[k]; !ok {
			t.Errorf("%q has no German", k)
		}
	}
}
