package vault

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/record"
	"github.com/spanvault/spanvault/vault/audit"
	"github.com/spanvault/spanvault/vault/retention"
)

// Async is the vault as the capture path sees it: a record.Recorder whose
// Start, Detail and Finish hand the call to a writer goroutine and return
// at once, so that the goroutine reading packets never waits for the
// disk. The writer opens new recordings in batches (one bbolt transaction,
// one directory fsync per directory), commits call detail records in
// batches (one transaction, one fsync, for up to 512 records) and seals
// finished recordings one by one.
//
// Guarantees: a finished recording is never dropped (its queue is not
// bounded: its size is bounded by the calls in progress, which the tracker
// bounds). A recording whose opening fails, or whose held output would
// pass Options.MaxUnopened while it waits for the writer, is counted
// (Failed, NotOpened) and alerted, and its call kept as a call detail
// record. Call detail records queue up to a bound; beyond it they are
// shed, counted (Shed) and alerted once a minute, so that an INVITE flood
// costs memory and disk only up to the bound. Close drains everything.
type Async struct {
	v     *Vault
	limit int

	mu      sync.Mutex
	cond    *sync.Cond
	starts  []*recording
	details []*record.Draft
	fins    []finishJob
	closed  bool
	done    chan struct{}

	Shed    atomic.Uint64 // call detail records dropped at the bound
	Written atomic.Uint64 // call detail records committed
	Sealed  atomic.Uint64 // recordings finished
	Failed  atomic.Uint64 // commits, openings or seals that failed
	// NotOpened counts recordings Start accepted that the writer could
	// not open (counted in Failed too): their calls are call detail
	// records, not recordings.
	NotOpened atomic.Uint64
	lastShed  time.Time
	hold      chan struct{} // tests: the writer waits for it before starting
	yield     atomic.Pointer[func() bool]
}

// YieldTo makes the writer wait while busy reports true (the capture
// rings filling up), up to maxYield per unit of work: sealing call
// records can wait, packets cannot. Call records meanwhile queue up to
// the bound and are shed beyond it, counted; finished recordings are
// sealed at least one per maxYield.
func (a *Async) YieldTo(busy func() bool) { a.yield.Store(&busy) }

const maxYield = 200 * time.Millisecond

// wait yields to capture; it reports whether capture was behind.
func (a *Async) wait() bool {
	f := a.yield.Load()
	if f == nil || !(*f)() {
		return false
	}
	for end := time.Now().Add(maxYield); time.Now().Before(end) && (*f)(); {
		time.Sleep(5 * time.Millisecond)
	}
	return true
}

type finishJob struct {
	r *recording
	d *record.Draft
}

// NewAsync starts the writer; limit bounds the call detail records waiting
// (0: 65,536).
func NewAsync(v *Vault, limit int) *Async {
	if limit <= 0 {
		limit = 1 << 16
	}
	return newAsync(v, limit, nil)
}

func newAsync(v *Vault, limit int, hold chan struct{}) *Async {
	a := &Async{v: v, limit: limit, done: make(chan struct{}), hold: hold}
	a.cond = sync.NewCond(&a.mu)
	go a.run()
	return a
}

// ErrShed is returned by Detail when the queue is full.
var ErrShed = fmt.Errorf("vault: writer queue full: %w", record.ErrDetailShed)

// Start prepares a recording and queues its opening (index entry, file,
// directory fsync) for the writer, which opens every recording queued
// since its last round in one transaction and one fsync per directory.
// Frames written meanwhile are held in memory (the age header and
// whole sealed chunks; a call fills a chunk in seconds, the writer opens
// in milliseconds) and go out when the file exists. A recording that
// cannot be opened is counted in Failed and alerted; its call is kept as
// a call detail record when it ends.
func (a *Async) Start(d *record.Draft) (record.Recording, error) {
	r, err := a.v.prepare(d)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		a.v.openBatch([]*recording{r})
		a.opened([]*recording{r})
	} else {
		a.starts = append(a.starts, r)
		a.cond.Signal()
		a.mu.Unlock()
	}
	return &asyncRecording{recording: r, a: a}, nil
}

// opened counts and alerts the recordings of a batch that could not be
// opened.
func (a *Async) opened(rs []*recording) {
	for _, r := range rs {
		if r.openErr != nil {
			a.Failed.Add(1)
			a.NotOpened.Add(1)
			a.v.alert(AlertDiskError, fmt.Sprintf("vault: start %s: %v", r.id, r.openErr))
		}
	}
}

// Detail queues a call detail record.
func (a *Async) Detail(d *record.Draft) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return errors.New("vault: writer closed")
	}
	if len(a.details) >= a.limit {
		a.Shed.Add(1)
		if now := time.Now(); now.Sub(a.lastShed) > time.Minute {
			a.lastShed = now
			a.v.alert(AlertRecordsShed, fmt.Sprintf("%d call detail records shed so far: the writer is behind (INVITE flood?)", a.Shed.Load()))
		}
		return ErrShed
	}
	a.details = append(a.details, d)
	a.cond.Signal()
	return nil
}

// Pending reports the records and recordings waiting for the writer.
func (a *Async) Pending() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.starts) + len(a.details) + len(a.fins)
}

// Close writes everything queued and stops the writer.
func (a *Async) Close() {
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		<-a.done
		return
	}
	a.closed = true
	a.cond.Signal()
	a.mu.Unlock()
	<-a.done
}

type asyncRecording struct {
	*recording
	a *Async
}

// Finish queues the recording for sealing.
func (r *asyncRecording) Finish(d *record.Draft) error {
	a := r.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return r.recording.Finish(d)
	}
	a.fins = append(a.fins, finishJob{r.recording, d})
	a.cond.Signal()
	return nil
}

func (a *Async) run() {
	defer close(a.done)
	if a.hold != nil {
		<-a.hold
	}
	for {
		a.mu.Lock()
		for len(a.starts) == 0 && len(a.details) == 0 && len(a.fins) == 0 && !a.closed {
			a.cond.Wait()
		}
		if len(a.starts) == 0 && len(a.details) == 0 && len(a.fins) == 0 && a.closed {
			a.mu.Unlock()
			return
		}
		// Opening comes before everything, yielding to nobody: until a
		// recording is open its frames are held in memory and not
		// durable. A recording's Finish is queued after its Start, so it
		// is never taken before its opening.
		starts := a.starts
		a.starts = nil
		a.mu.Unlock()
		if len(starts) > 0 {
			a.v.openBatch(starts)
			a.opened(starts)
		}
		// Capture first: while its rings fill, seal in small units.
		behind := a.wait()
		a.mu.Lock()
		starts = a.starts // queued while yielding: before the fins taken with them
		a.starts = nil
		fins := a.fins
		a.fins = nil
		size := 512
		if behind {
			size = 16
			if len(fins) > 1 {
				a.fins = fins[1:]
				fins = fins[:1]
			}
		}
		n := min(len(a.details), size)
		batch := append([]*record.Draft(nil), a.details[:n]...)
		a.details = a.details[n:]
		if len(a.details) == 0 {
			a.details = nil // let the backing array go after a flood
		}
		a.mu.Unlock()
		if len(starts) > 0 {
			a.v.openBatch(starts)
			a.opened(starts)
		}
		for _, f := range fins {
			if err := f.r.Finish(f.d); err != nil {
				a.Failed.Add(1)
				a.v.alert(AlertDiskError, err.Error())
			} else if f.r.openErr == nil {
				a.Sealed.Add(1)
			}
		}
		if len(batch) > 0 {
			if err := a.v.DetailMany(batch); err != nil {
				a.Failed.Add(1)
				a.v.alert(AlertDiskError, "call detail records: "+err.Error())
			} else {
				a.Written.Add(uint64(len(batch)))
			}
		}
	}
}

// DetailMany stores several call detail records in one transaction.
// Unanswered dialogs at a flood's rate (floodrate.go), and with
// AggregateFloods set those without a local party, are counted per hour
// instead (see flood.go).
func (v *Vault) DetailMany(cs []*record.Draft) error {
	var flood []*record.Draft
	kept := cs[:0:0]
	for _, c := range cs {
		if v.aggregatable(c) {
			flood = append(flood, c)
		} else {
			kept = append(kept, c)
		}
	}
	cs = kept
	var salt []byte
	if len(flood) > 0 {
		var err error
		if salt, err = v.subjectSalt(); err != nil {
			return err
		}
	}
	var newHours []time.Time
	defer func() {
		for _, h := range newHours {
			v.alert(AlertFlood, "unanswered dialogs from "+h.Format("2006-01-02 15:00")+" are counted per hour, not recorded one by one (INVITE flood or scanner)")
		}
	}()
	type prepared struct {
		e             *Entry
		pers          *Personal
		meta, subject []byte
		tags          [][]byte
	}
	ps := make([]prepared, len(cs))
	for i, c := range cs {
		class := v.classOf(c)
		p := prepared{e: &Entry{ID: newID(c.Start), State: StateCDR, Sync: SyncNotRequired}, pers: v.personal(c), tags: v.subjectTags(c)}
		fillEntry(p.e, c, class)
		p.e.Expiry = retention.Expiry(class, c.Start)
		if p.e.Expiry.IsZero() {
			p.e.Expiry = c.Start.Add(90 * 24 * time.Hour)
		}
		p.e.ClockUnsynced = !v.opt.ClockSynced()
		ps[i] = p
	}
	if len(v.opt.Recipients) > 0 {
		pers := make([]*Personal, len(ps))
		for i := range ps {
			pers[i] = ps[i].pers
		}
		sealed, err := v.sealPersonals(pers)
		if err != nil {
			return fmt.Errorf("vault: detail: %w", err)
		}
		for i := range ps {
			ps[i].meta, ps[i].subject = sealed[i].meta, sealed[i].subject
		}
	}
	err := v.update(func(tx *bolt.Tx) error {
		b, err := audit.Begin(tx, v.key)
		if err != nil {
			return err
		}
		if len(flood) > 0 {
			if newHours, err = v.addFloods(tx, flood, salt, b); err != nil {
				return err
			}
		}
		for _, p := range ps {
			p.e.Holds = v.matchSubjectHolds(tx, p.pers, p.tags)
			if err := putEntry(tx, p.e, nil); err != nil {
				return err
			}
			if err := putSealed(tx, p.e.ID, p.meta, p.subject); err != nil {
				return err
			}
			if _, err := b.Add(audit.Entry{Time: v.opt.Now(), Action: audit.CallDetail, Actor: "capture", Recording: p.e.ID, Detail: p.e.CallState}); err != nil {
				return err
			}
		}
		return b.Commit()
	})
	if err == nil {
		v.floods.Add(uint64(len(flood)))
		for _, c := range cs {
			if unanswered(c) {
				v.changed() // something eviction may remove first (evictunans.go)
				break
			}
		}
	}
	return err
}

// FloodDialogs counts the unanswered dialogs (without a local party, or at
// a flood's rate) this vault has counted per hour instead of keeping a record each, since it
// was opened.
func (v *Vault) FloodDialogs() uint64 { return v.floods.Load() }

// sealedPersonal is a personal record sealed for the index: the metadata
// and the subject minimum, each an age file.
type sealedPersonal struct{ meta, subject []byte }

// sealPersonals seals a batch of personal records. Sealing is two X25519
// agreements per record: a batch is sealed on every core (a flood's
// records, or 20,000 dialogs ended by a shutdown, were one core's work
// for 20 s).
func (v *Vault) sealPersonals(pers []*Personal) ([]sealedPersonal, error) {
	out := make([]sealedPersonal, len(pers))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(pers)/8))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(pers); i += workers {
				var err error
				if out[i].meta, out[i].subject, err = v.sealPersonal(pers[i]); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return out, errors.Join(errs...)
}
