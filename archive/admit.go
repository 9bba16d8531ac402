package archive

import (
	"context"
	"sync"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/sync/wire"
)

// admitParallel is how many recordings of one records batch are admitted
// at once (each asks the index and the store; on S3 a store request is a
// round trip to the gateway, which used to be paid once per recording in
// turn: 58 ms each in make cluster's profile).
const admitParallel = 8

// admission is a recording record of a batch waiting for admitRecording.
type admission struct {
	i   int // its place in the batch
	rec *wire.Record
	row index.Record
	msg string // the ack's error, or ""
}

// admitAll admits a run of recording records of one batch at once: what
// the index says of them in one lookup (index.AdmitFacts), then the
// store's part, records naming the same object in turn (in batch order),
// different objects in parallel, at most admitParallel at a time. Each gets what
// admitRecording alone would have given it; the batch's index rows are
// still committed together after, and acknowledged only then.
func (a *Archive) admitAll(ctx context.Context, name string, run []admission) {
	if len(run) == 0 {
		return
	}
	t0 := time.Now()
	ids, sums := make([]string, len(run)), make([]string, len(run))
	for k, ad := range run {
		ids[k], sums[k] = ad.rec.ID, ad.rec.SHA256
	}
	facts, err := a.Index.AdmitFacts(ctx, name, ids, sums)
	store.StepTimes.Since("index: admission facts (per batch)", t0)
	if err != nil {
		for k := range run {
			run[k].msg = err.Error()
		}
		return
	}
	var order []string
	bySum := map[string][]int{}
	for k, ad := range run {
		if _, ok := bySum[ad.rec.SHA256]; !ok {
			order = append(order, ad.rec.SHA256)
		}
		bySum[ad.rec.SHA256] = append(bySum[ad.rec.SHA256], k)
	}
	sem := make(chan struct{}, admitParallel)
	var wg sync.WaitGroup
	for _, sum := range order {
		sem <- struct{}{}
		wg.Add(1)
		go func(ks []int) {
			defer func() { <-sem; wg.Done() }()
			for _, k := range ks {
				t0 := time.Now()
				run[k].msg = a.admitRecording(ctx, name, run[k].rec, &run[k].row, facts[k])
				store.StepTimes.Since("admit recording (owner, stat, retention, hold)", t0)
			}
		}(bySum[sum])
	}
	wg.Wait()
}
