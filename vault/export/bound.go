package export

import (
	"time"

	"github.com/spanvault/spanvault/capture/audio"
	"github.com/spanvault/spanvault/vault"
)

// RenderOptions are the renderer's options for a recording of the call e
// describes: its streams (Explained) and its bound (RenderBound).
func RenderOptions(e *vault.Entry) audio.Options {
	return audio.Options{Keep: Explained(e), MaxDuration: RenderBound(e)}
}

// RenderBound is the longest a recording of the call e describes renders
// to: from the call's start to the latest of its end, its last media
// packet and its answer plus its duration, plus audio.Margin. It is 0
// when the entry gives no start (the renderer then bounds by the
// packets' capture times alone).
func RenderBound(e *vault.Entry) time.Duration {
	if e.Start.IsZero() {
		return 0
	}
	end := e.Start
	if e.End.After(end) {
		end = e.End
	}
	for _, s := range e.Streams {
		if s.Last.After(end) {
			end = s.Last
		}
	}
	from := e.Answer
	if from.IsZero() {
		from = e.Start
	}
	if d := time.Duration(e.Duration * float64(time.Second)); d > 0 && from.Add(d).After(end) {
		end = from.Add(d)
	}
	return end.Sub(e.Start) + audio.Margin
}
