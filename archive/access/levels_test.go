package access_test

import (
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// TestLevelPictureIsNotAudio: a call's level picture, fetched as a
// supervisor would, is coarse (at most 400 values per channel, each at
// least 250 ms of audio, 16 steps), covers both channels, and is not a
// play: nothing is admitted or counted, no play is audited, and a user
// with a limit of one recording fetches the pictures of two calls and
// then still plays one.
func TestLevelPictureIsNotAudio(t *testing.T) {
	e := newEnv(t, func(c *archive.Config) { c.Access.InsiderMaxPlays = 1 })
	start := e.clock.Now().Add(-time.Hour)
	e.addBox("branch-1", synth.Config{Calls: 2, Concurrent: 1, Duration: 10 * time.Minute, Start: start})
	e.addBox("branch-2", synth.Config{Calls: 1, Duration: 20 * time.Second, Start: start})
	sup := e.signIn(e.addUser("sam", access.Supervisor, "branch-1", "branch-2"))
	bar := regexp.MustCompile(`<rect class="([lr])" x="([0-9.]+)" y="([0-9.]+)" width="([0-9.]+)" height="([0-9.]+)"`)
	for _, c := range []struct {
		box      string
		maxWidth float64 // of a bin, in the picture's 1000 units: 250 ms at least
		bins     int
	}{{"branch-1", 1000.0 / 400, 400}, {"branch-2", 1000.0 / 80, 80}} {
		for _, id := range e.recordings(c.box) {
			resp, body := sup.get("/r/" + c.box + "/" + id + "/levels.svg")
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" {
				t.Fatalf("%s/%s levels: %d %s %.200s", c.box, id, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			}
			per := map[string]int{}
			heights := map[string]bool{}
			for _, m := range bar.FindAllStringSubmatch(string(body), -1) {
				per[m[1]]++
				heights[m[5]] = true
				if w, _ := strconv.ParseFloat(m[4], 64); w > c.maxWidth+0.01 || w < c.maxWidth-0.5 {
					t.Fatalf("%s/%s: a bin %s wide, want %.2f (%d bins)", c.box, id, m[4], c.maxWidth, c.bins)
				}
			}
			if per["l"] == 0 || per["r"] == 0 || per["l"] > c.bins || per["r"] > c.bins {
				t.Fatalf("%s/%s: %d caller and %d callee bins, want both, at most %d", c.box, id, per["l"], per["r"], c.bins)
			}
			if len(heights) > 16 {
				t.Fatalf("%s/%s: %d distinct levels, want at most 16", c.box, id, len(heights))
			}
		}
	}
	if n := e.events("play", "sam", ""); n != 0 {
		t.Fatalf("fetching level pictures audited %d plays", n)
	}
	var counted int
	if err := e.a.Index.DB().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM accesses WHERE name = 'sam' AND action IN ('play', 'stream', 'export')`).Scan(&counted); err != nil {
		t.Fatal(err)
	}
	if counted != 0 {
		t.Fatalf("fetching level pictures counted %d audio accesses", counted)
	}
	resp, _ := sup.get("/api/v1/recordings/branch-2/" + e.recordings("branch-2")[0] + "/audio")
	if resp.StatusCode != 200 {
		t.Fatalf("after three pictures, the first play (limit 1): %d", resp.StatusCode)
	}
	if n := e.events("insider_suspended", "sam", ""); n != 0 {
		t.Fatal("suspended after pictures and one play")
	}
}
