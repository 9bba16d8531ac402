package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
)

// recordings -json says what became of each recording after its box let
// it go: removed from the box (the archive's copy live), erased, or an
// erasure refused, and why.
func TestRecordingsShowFate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "archive")
	if _, e, code := run(t, "init", "-dir", dir, "-listen", "127.0.0.1:18997"); code != 0 {
		t.Fatalf("init: %s", e)
	}
	a, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var rs []index.Record
	for _, id := range []string{"06kept", "06gone", "06held"} {
		rs = append(rs, index.Record{Appliance: "branch-1", ID: id, Kind: "recording", Start: t0, Class: "default", RetainUntil: t0.AddDate(7, 0, 0),
			Recorded: true, Size: 1, SHA256: strings.Repeat("0", 64), Entry: "{}", ReceivedAt: t0})
	}
	for id, kind := range map[string]string{"06kept": index.TombstoneRemoved, "06gone": index.TombstoneErased, "06held": index.TombstoneRefused} {
		rs = append(rs, index.Record{Appliance: "branch-1", ID: id, Kind: "tombstone", Tombstone: kind, Start: t0, DeletedAt: t0.Add(time.Hour), Entry: "{}", ReceivedAt: t0})
	}
	if err := a.Index.PutRecords(ctx, rs); err != nil {
		t.Fatal(err)
	}
	a.Index.SetWhy(ctx, "branch-1", "06gone", "erased by dpo on box branch-1")
	a.Index.SetWhy(ctx, "branch-1", "06held", "erasure by dpo on box branch-1 refused: on legal hold at the archive")
	a.Close()
	o, e, code := run(t, "recordings", "-dir", dir, "-json")
	if code != 0 {
		t.Fatalf("recordings: %s", e)
	}
	got := map[string]map[string]any{}
	for _, line := range strings.Split(strings.TrimSpace(o), "\n") {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		got[l["id"].(string)+"/"+l["kind"].(string)] = l
	}
	removed := "2026-03-01T10:00:00Z"
	for _, c := range []struct {
		key          string
		erased       bool
		removed, why string
	}{
		{"06kept/recording", false, removed, ""},
		{"06gone/recording", true, removed, "erased by dpo"},
		{"06held/recording", false, removed, "refused: on legal hold"},
	} {
		l := got[c.key]
		erased, _ := l["erased"].(bool)
		rm, _ := l["removed_from_box_at"].(string)
		why, _ := l["why"].(string)
		if erased != c.erased || rm != c.removed || (c.why == "") != (why == "") || !strings.Contains(why, c.why) {
			t.Errorf("%s: %v", c.key, l)
		}
	}
	if got["06held/tombstone"]["tombstone"] != index.TombstoneRefused {
		t.Errorf("tombstone: %v", got["06held/tombstone"])
	}
}
