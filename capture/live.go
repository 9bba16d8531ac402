//go:build linux

package capture

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/ring"
)

// Live runs a pipeline on live capture rings: one goroutine per ring
// (per fanout socket) decodes its frames, and the pipeline behind them
// runs under Mu, one packet at a time. Holding Mu also lets other
// goroutines (the local API pausing a call) touch the tracker safely.
type Live struct {
	P     *Pipeline
	Mu    sync.Mutex
	Rings []*ring.Ring
	// DecodeOptions configure the per-ring decoders.
	DecodeOptions decode.Options

	decoders []*decode.Decoder
	snaps    []decode.Stats // per ring, copied under Mu
	rstats   []ring.Stats   // per ring, read under Mu
	behind   atomic.Int32   // rings more than an eighth full (see Behind)
}

// Behind reports whether a ring is more than an eighth full: the readers
// are behind the wire, and work that can wait (sealing call records)
// should wait. Any goroutine may call it.
func (l *Live) Behind() bool { return l.behind.Load() > 0 }

// Run captures until ctx ends, then closes the rings. Calls still up are
// left to the caller (Close the pipeline with "ended by shutdown").
func (l *Live) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	errs := make([]error, len(l.Rings))
	l.decoders = make([]*decode.Decoder, len(l.Rings))
	l.Mu.Lock()
	l.snaps = make([]decode.Stats, len(l.Rings))
	l.rstats = make([]ring.Stats, len(l.Rings))
	l.Mu.Unlock()
	for i, r := range l.Rings {
		l.decoders[i] = decode.New(l.DecodeOptions)
		wg.Add(1)
		go func(i int, r *ring.Ring, dec *decode.Decoder) {
			defer wg.Done()
			errs[i] = l.read(ctx, i, r, dec)
			l.Mu.Lock()
			if st, err := r.Stats(); err == nil {
				l.rstats[i] = st
			}
			l.snaps[i] = dec.Stats
			l.Mu.Unlock()
			r.Close()
		}(i, r, l.decoders[i])
	}
	go func() {
		<-ctx.Done()
		for _, r := range l.Rings {
			r.Stop()
		}
	}()
	wg.Wait()
	return errors.Join(errs...)
}

func (l *Live) read(ctx context.Context, i int, r *ring.Ring, dec *decode.Decoder) error {
	var pkt decode.Packet
	n := 0
	behind := false
	defer func() {
		if behind {
			l.behind.Add(-1)
		}
	}()
	for {
		if n%64 == 0 {
			if b := r.Ready() > r.Blocks()/8; b != behind {
				behind = b
				if b {
					l.behind.Add(1)
				} else {
					l.behind.Add(-1)
				}
			}
		}
		data, ts, lt, err := r.Next()
		switch {
		case errors.Is(err, ring.ErrTimeout):
			// Quiet link: expire calls by the wall clock, which is what
			// the kernel stamps packets with. Nothing is waiting.
			if behind {
				behind = false
				l.behind.Add(-1)
			}
			l.Mu.Lock()
			l.snaps[i] = dec.Stats
			if st, err := r.Stats(); err == nil {
				l.rstats[i] = st
			}
			l.P.Tracker.Sweep(time.Now())
			l.Mu.Unlock()
			continue
		case errors.Is(err, ring.ErrClosed):
			return nil
		case err != nil:
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		ok, derr := dec.Decode(data, lt, ts, &pkt)
		if derr != nil || !ok {
			continue
		}
		l.Mu.Lock()
		l.P.HandlePacket(&pkt)
		if n++; n%256 == 0 {
			l.snaps[i] = dec.Stats
		}
		if n%65536 == 0 {
			if st, err := r.Stats(); err == nil {
				l.rstats[i] = st
			}
		}
		l.Mu.Unlock()
	}
}

// RingStats sums the kernel counters of the rings as of their last read
// (whenever the link is quiet, every 65536 packets, and at the end). The
// caller holds Mu.
func (l *Live) RingStats() ring.Stats {
	var s ring.Stats
	for _, r := range l.rstats {
		s.Packets += r.Packets
		s.Drops += r.Drops
		s.Freezes += r.Freezes
		s.VLANRestored += r.VLANRestored
		s.Outgoing += r.Outgoing
	}
	return s
}

// DecoderStats sums the per-ring decoders' counters as of their last
// snapshot (every 256 packets, and whenever the link is quiet). The caller
// holds Mu.
func (l *Live) DecoderStats() decode.Stats {
	var s decode.Stats
	for i := range l.snaps {
		d := &l.snaps[i]
		s.Frames += d.Frames
		s.Bytes += d.Bytes
		s.IP += d.IP
		s.NonIP += d.NonIP
		s.Malformed += d.Malformed
		s.Duplicates += d.Duplicates
		s.Fragments += d.Fragments
		s.Reassembled += d.Reassembled
		s.FragmentsShed += d.FragmentsShed
	}
	return s
}
