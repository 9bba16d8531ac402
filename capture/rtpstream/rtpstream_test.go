package rtpstream_test

import (
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture/rtpstream"
)

func TestLossDuplicatesWraparound(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name            string
		seqs            []uint16
		packets         uint64
		lost            int64
		dups, reordered uint64
	}{
		{"in order", []uint16{1, 2, 3, 4}, 4, 0, 0, 0},
		{"one lost", []uint16{1, 2, 4}, 3, 1, 0, 0},
		{"wraparound", []uint16{65534, 65535, 0, 1}, 4, 0, 0, 0},
		{"wraparound with loss", []uint16{65534, 0, 1}, 3, 1, 0, 0},
		{"reordered", []uint16{1, 3, 2, 4}, 4, 0, 0, 1},
		{"duplicates (RFC 4733 end packets)", []uint16{7, 8, 9, 9, 9}, 5, -2, 2, 0},
		{"late duplicate", []uint16{1, 2, 3, 2}, 4, -1, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s rtpstream.Stats
			s.ClockRate = 8000
			for i, q := range tc.seqs {
				s.Add(t0.Add(time.Duration(i)*20*time.Millisecond), q, uint32(i*160), 160, 0)
			}
			if s.Packets != tc.packets || s.Lost() != tc.lost || s.Duplicates != tc.dups || s.OutOfOrder != tc.reordered {
				t.Fatalf("packets %d lost %d dups %d reordered %d", s.Packets, s.Lost(), s.Duplicates, s.OutOfOrder)
			}
		})
	}
}

func TestJitter(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var steady, jittery rtpstream.Stats
	steady.ClockRate, jittery.ClockRate = 8000, 8000
	for i := 0; i < 500; i++ {
		steady.Add(t0.Add(time.Duration(i)*20*time.Millisecond), uint16(i), uint32(i*160), 160, 0)
		off := time.Duration(0)
		if i%2 == 1 {
			off = 10 * time.Millisecond
		}
		jittery.Add(t0.Add(time.Duration(i)*20*time.Millisecond+off), uint16(i), uint32(i*160), 160, 0)
	}
	if steady.Jitter() != 0 {
		t.Fatalf("steady stream jitter %v", steady.Jitter())
	}
	// Alternating 10 ms offsets: |D| = 10 ms every packet, J converges to 10 ms.
	if j := jittery.Jitter(); j < 9*time.Millisecond || j > 11*time.Millisecond {
		t.Fatalf("jitter %v, want about 10ms", j)
	}
	if steady.MOS() < 4.3 || jittery.MOS() >= steady.MOS() {
		t.Fatalf("MOS steady %.2f jittery %.2f", steady.MOS(), jittery.MOS())
	}
}

func TestEModel(t *testing.T) {
	t.Parallel()
	prev := 5.0
	for _, loss := range []float64{0, 0.01, 0.05, 0.2, 0.5} {
		m := rtpstream.EModel(loss, 0, 20*time.Millisecond)
		if m > prev || m < 1 || m > 4.5 {
			t.Fatalf("loss %.2f: MOS %.2f after %.2f", loss, m, prev)
		}
		prev = m
	}
}

func TestAddAllocs(t *testing.T) {
	var s rtpstream.Stats
	s.ClockRate = 8000
	t0 := time.Now()
	i := 0
	if a := testing.AllocsPerRun(1000, func() { i++; s.Add(t0.Add(time.Duration(i)*20*time.Millisecond), uint16(i), uint32(i*160), 160, 0) }); a != 0 {
		t.Fatalf("%v allocations", a)
	}
}
