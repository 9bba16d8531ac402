package access_test

import (
	"bytes"
	"fmt"
	"math"
	"net/http"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/audio"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/vault/export"
)

// boxWAV is the call as the box itself exports it (the whole call
// decoded): the reference for playback by position.
func boxWAV(t *testing.T, e *env, box, id string) []byte {
	frames, _, err := export.Frames(e.boxes[box].v, id, []age.Identity{e.identity})
	if err != nil {
		t.Fatal(err)
	}
	res, err := audio.Render(export.AudioPackets(frames, nil))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	res.WriteWAV(&b)
	return b.Bytes()
}

// TestPlaybackByPosition: any byte range of a call played from its sync
// points equals the same bytes of the whole call decoded at once (G.711
// sample for sample; G.722 within a hair, its adaptive decoder starting
// mid-stream), whether the call was decoded before or not.
func TestPlaybackByPosition(t *testing.T) {
	e := newEnv(t, nil)
	start := e.clock.Now().Add(-2 * time.Hour)
	e.addBox("branch-1", synth.Config{Calls: 1, Duration: 3 * time.Minute, Start: start, DTMF: "123"})
	e.addBox("branch-2", synth.Config{Calls: 1, Duration: 2 * time.Minute, Start: start, Codec: "G722"})
	c := e.signIn(e.addUser("sup", access.Supervisor, "branch-1", "branch-2"))
	for _, tc := range []struct {
		box   string
		exact bool
	}{{"branch-1", true}, {"branch-2", false}} {
		id := e.recordings(tc.box)[0]
		ref := boxWAV(t, e, tc.box, id)
		url := fmt.Sprintf("/api/v1/recordings/%s/%s/audio", tc.box, id)
		n := int64(len(ref))
		for _, rg := range [][2]int64{{0, n - 1}, {n - 4000, n - 1}, {n / 2, n/2 + 199999}, {1, 45}, {44 + 4*8000*61 + 3, 44 + 4*8000*95}, {n / 3, -1}} {
			e.svc.DropCache()
			hdr := fmt.Sprintf("bytes=%d-", rg[0])
			want := ref[rg[0]:]
			if rg[1] >= 0 {
				hdr += fmt.Sprint(rg[1])
				want = ref[rg[0] : rg[1]+1]
			}
			resp, got := c.get(url, "Range", hdr)
			if resp.StatusCode != http.StatusPartialContent || resp.Header.Get("Content-Range") != fmt.Sprintf("bytes %d-%d/%d", rg[0], rg[0]+int64(len(want))-1, n) {
				t.Fatalf("%s %s: %d %q (want size %d)", tc.box, hdr, resp.StatusCode, resp.Header.Get("Content-Range"), n)
			}
			if len(got) != len(want) {
				t.Fatalf("%s %s: %d bytes, want %d", tc.box, hdr, len(got), len(want))
			}
			if tc.exact {
				if !bytes.Equal(got, want) {
					i := 0
					for i < len(got) && got[i] == want[i] {
						i++
					}
					t.Fatalf("%s %s: differs from the whole call decoded at byte %d", tc.box, hdr, rg[0]+int64(i))
				}
				continue
			}
			// G.722: compare as signal (16-bit samples).
			var diff, sig float64
			for i := (4 - rg[0]%4) % 4; i+1 < int64(len(got)); i += 2 {
				g := float64(int16(uint16(got[i]) | uint16(got[i+1])<<8))
				w := float64(int16(uint16(want[i]) | uint16(want[i+1])<<8))
				diff += (g - w) * (g - w)
				sig += w * w
			}
			if sig > 0 && math.Sqrt(diff/sig) > 0.02 {
				t.Fatalf("%s %s: differs by %.1f %% (RMS) from the whole call decoded", tc.box, hdr, 100*math.Sqrt(diff/sig))
			}
		}
		// A range past the end: 416.
		if resp, _ := c.get(url, "Range", fmt.Sprintf("bytes=%d-", n)); resp.StatusCode != http.StatusRequestedRangeNotSatisfiable {
			t.Fatalf("range past the end: %d", resp.StatusCode)
		}
		// No range: the whole file, 200.
		if resp, got := c.get(url); resp.StatusCode != 200 || (tc.exact && !bytes.Equal(got, ref)) || int64(len(got)) != n {
			t.Fatalf("%s whole: %d, %d bytes", tc.box, resp.StatusCode, len(got))
		}
	}
}
