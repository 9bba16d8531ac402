package archive

import "github.com/spanvault/spanvault/archive/index"

// CountWaves counts boxes by wave and outcome (a RolloutStatus's Waves;
// the access service counts a branch reader's boxes only).
func CountWaves(bs []index.RolloutBox) [3]WaveCount {
	var ws [3]WaveCount
	for _, b := range bs {
		if b.Wave < 0 || b.Wave > 2 {
			continue
		}
		w := &ws[b.Wave]
		w.Boxes++
		switch b.State {
		case BoxConfirmed:
			w.Confirmed++
		case BoxFailed:
			w.Failed++
		case BoxSkipped:
			w.Skipped++
		case BoxWaiting:
			w.Waiting++
		default:
			w.InFlight++
		}
	}
	return ws
}
