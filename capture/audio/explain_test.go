package audio_test

import (
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/audio"
)

func TestExplained(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	st := func(ssrc uint32, left bool, from, to float64, n uint64) audio.StreamStat {
		return audio.StreamStat{SSRCDir: audio.SSRCDir{SSRC: ssrc, Left: left}, First: at(from), Last: at(to), Packets: n}
	}
	for _, tc := range []struct {
		name  string
		stats []audio.StreamStat
		keep  []uint32
	}{
		{"one stream each way", []audio.StreamStat{st(1, true, 0, 60, 3000), st(2, false, 0, 60, 3000)}, []uint32{1, 2}},
		{"spoofed streams into a live call", []audio.StreamStat{st(1, true, 0, 60, 3000), st(2, false, 0, 60, 3000), st(0xdead, true, 10, 11, 50), st(0xbeef, true, 20, 40, 5000)}, []uint32{1, 2}},
		{"a new SSRC after a re-INVITE", []audio.StreamStat{st(1, true, 0, 30, 1500), st(3, true, 30.02, 60, 1500), st(2, false, 0, 60, 3000)}, []uint32{1, 2, 3}},
		{"early media then the answer", []audio.StreamStat{st(5, false, 0, 8, 400), st(6, false, 8.5, 60, 2600)}, []uint32{5, 6}},
		{"same start: more packets wins", []audio.StreamStat{st(7, true, 0, 60, 10), st(8, true, 0, 60, 3000)}, []uint32{8}},
		{"no packets", []audio.StreamStat{st(9, true, 0, 0, 0)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := audio.Explained(tc.stats)
			if len(got) != len(tc.keep) {
				t.Fatalf("kept %v, want %v", got, tc.keep)
			}
			for _, s := range tc.keep {
				found := false
				for k := range got {
					found = found || k.SSRC == s
				}
				if !found {
					t.Fatalf("kept %v, want %v", got, tc.keep)
				}
			}
		})
	}
}

// Spoofed packets with random SSRCs into a live call leave the rendered
// audio exactly as without them.
func TestRenderOnlyExplained(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)
	var legit, all []audio.Packet
	for i := 0; i < 500; i++ {
		for _, left := range []bool{true, false} {
			pl := make([]byte, 160)
			for j := range pl {
				pl[j] = byte(i + j)
			}
			ssrc := uint32(1)
			if !left {
				ssrc = 2
			}
			p := audio.Packet{Time: t0.Add(time.Duration(i) * 20 * time.Millisecond), Left: left, SSRC: ssrc, PT: 8, TS: uint32(i * 160), Payload: pl, Codec: "PCMA"}
			legit = append(legit, p)
			all = append(all, p)
		}
		if i%5 == 0 && i > 50 { // a spoofer's random SSRCs from second 1 on
			all = append(all, audio.Packet{Time: t0.Add(time.Duration(i) * 20 * time.Millisecond), Left: true, SSRC: uint32(0xdead0000 + i), PT: 8, TS: uint32(i * 977), Payload: make([]byte, 160), Codec: "PCMA"})
		}
	}
	stats := map[audio.SSRCDir]*audio.StreamStat{}
	for _, p := range all {
		k := audio.SSRCDir{SSRC: p.SSRC, Left: p.Left}
		s := stats[k]
		if s == nil {
			s = &audio.StreamStat{SSRCDir: k, First: p.Time}
			stats[k] = s
		}
		s.Last = p.Time
		s.Packets++
	}
	var list []audio.StreamStat
	for _, s := range stats {
		list = append(list, *s)
	}
	want, _ := audio.Render(legit)
	got, err := audio.RenderOnly(all, audio.Explained(list))
	if err != nil {
		t.Fatal(err)
	}
	mixed, _ := audio.Render(all)
	if len(got.Left) != len(want.Left) || got.LeftOut != 89 { // i = 55, 60, ..., 495
		t.Fatalf("rendered %d samples (want %d), left out %d", len(got.Left), len(want.Left), got.LeftOut)
	}
	for i := range want.Left {
		if got.Left[i] != want.Left[i] || got.Right[i] != want.Right[i] {
			t.Fatalf("sample %d differs", i)
		}
	}
	same := len(mixed.Left) == len(want.Left)
	for i := 0; same && i < len(want.Left); i++ {
		same = mixed.Left[i] == want.Left[i]
	}
	if same {
		t.Fatal("self-check: mixing the spoofed streams in changes nothing")
	}
}
