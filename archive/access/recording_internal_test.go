package access

import "testing"

// TestPictureBands: on the recording's picture a hold runs from hold to
// unhold and a pause from pause to resume; one still open at the end of
// the call runs to the picture's end; the axis has at most eleven labels
// and the first and last stay inside the picture.
func TestPictureBands(t *testing.T) {
	ms := []marker{
		{TimelineEvent: TimelineEvent{Kind: "hold"}, X: 100},
		{TimelineEvent: TimelineEvent{Kind: "dtmf"}, X: 150},
		{TimelineEvent: TimelineEvent{Kind: "unhold"}, X: 300},
		{TimelineEvent: TimelineEvent{Kind: "pause"}, X: 700},
	}
	bs := bands(ms)
	if len(bs) != 2 || bs[0].Class != "band-hold" || bs[0].X != 100 || bs[0].W != 200 || bs[1].Class != "band-pause" || bs[1].X != 700 || bs[1].W != 300 {
		t.Fatalf("bands %+v", bs)
	}
	for _, span := range []float64{1, 40, 600, 3 * 3600} {
		ts := ticks(span)
		if len(ts) == 0 || len(ts) > 11 || ts[0].Anchor != "start" {
			t.Fatalf("span %.0f s: ticks %+v", span, ts)
		}
		if last := ts[len(ts)-1]; last.X > 970 && last.Anchor != "end" {
			t.Fatalf("span %.0f s: the last tick %+v runs outside", span, last)
		}
	}
	if clock(3725) != "1:02:05" || clock(65) != "1:05" {
		t.Fatalf("clock: %s %s", clock(3725), clock(65))
	}
}
