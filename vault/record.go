package vault

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/record"
	"github.com/spanvault/spanvault/vault/agefile"
	"github.com/spanvault/spanvault/vault/audit"
	"github.com/spanvault/spanvault/vault/retention"
	"github.com/spanvault/spanvault/vault/sealed"
)

// countingWriter sits between the age writer and the file: it counts and
// hashes what reaches the disk and marks the file dirty for the syncer.
//
// The file arrives after the writer (the vault's writer goroutine opens
// it, off the capture path): until then what is written is held in
// pending. Only Write (capture goroutine) and attach or fail (writer
// goroutine) take mu; the syncer reads the atomics.
type countingWriter struct {
	v       *Vault
	mu      sync.Mutex
	f       *os.File
	failed  error  // the file could not be opened: writes are let go, nothing is held
	pending []byte // the age header (held for the first chunk), or all of it before the file
	h       hash.Hash
	n       atomic.Int64
	writes  atomic.Int64
	syncs   atomic.Int64
	dirty   atomic.Bool
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed != nil {
		// The writer could not open the file: it counted and alerted
		// that once; the capture path goes on and what it writes is let
		// go (the call is kept as a call detail record).
		return len(b), nil
	}
	// The age writer writes its header first and then whole 64 KiB
	// chunks; the header goes out with the first chunk, in one writev, so
	// every write to the card is one sequential append of at least a
	// chunk (flash wear), and nothing of it is copied or kept. Before the
	// file is open, chunks are copied (the age writer reuses its buffer).
	if c.f == nil {
		if c.v != nil && c.v.unopened.Add(int64(len(b))) > c.v.opt.MaxUnopened {
			// The writer is too far behind (a stalled card): this
			// recording is given up rather than memory; the writer
			// counts and alerts it when it comes to open it.
			c.v.unopened.Add(-int64(len(b) + len(c.pending)))
			c.failed, c.pending = ErrUnopenedBudget, nil
			return len(b), nil
		}
		c.pending = append(c.pending, b...)
		return len(b), nil
	}
	if len(b) < 4096 && c.writes.Load() == 0 {
		c.pending = append(c.pending, b...)
		return len(b), nil
	}
	if len(c.pending) > 0 {
		if err := c.write(c.pending, b); err != nil {
			return 0, err
		}
		c.pending = nil
		return len(b), nil
	}
	if err := c.write(b, nil); err != nil {
		return 0, err
	}
	return len(b), nil
}

// attach gives the writer its file; chunks written before it go out now
// (a lone age header waits for the first chunk).
func (c *countingWriter) attach(f *os.File) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed != nil {
		return c.failed
	}
	c.f = f
	c.v.unopened.Add(-int64(len(c.pending)))
	if len(c.pending) < 4096 {
		return nil
	}
	err := c.write(c.pending, nil)
	c.pending = nil
	return err
}

// fail lets what was held go, and every later write.
func (c *countingWriter) fail(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.failed == nil && c.f == nil {
		c.v.unopened.Add(-int64(len(c.pending)))
	}
	c.failed, c.pending = err, nil
}

// givenUp reports why the capture side gave the recording up before its
// file was opened (ErrUnopenedBudget), or nil.
func (c *countingWriter) givenUp() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.failed
}

// ErrUnopenedBudget: a recording's output waited for its file longer than
// Options.MaxUnopened allows for all such recordings together.
var ErrUnopenedBudget = errors.New("vault: the writer is too far behind (stalled storage?): recording given up before its file was opened")

// flush writes what is still held (a recording whose only chunk is its
// last: the header and that chunk arrive as two writes at Close).
func (c *countingWriter) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.pending) == 0 || c.f == nil {
		return nil
	}
	err := c.write(c.pending, nil)
	c.pending = nil
	return err
}

// write appends a, then b, to the file in one system call.
func (c *countingWriter) write(a, b []byte) error {
	if c.v != nil && c.v.lowSpace(len(a)+len(b)) {
		return ErrDiskFull
	}
	n, err := writev(c.f, a, b)
	if n > len(a) {
		c.h.Write(a)
		c.h.Write(b[:n-len(a)])
	} else {
		c.h.Write(a[:n])
	}
	c.n.Add(int64(n))
	c.writes.Add(1)
	c.dirty.Store(true)
	if err == nil && n < len(a)+len(b) {
		err = io.ErrShortWrite
	}
	return err
}

// recording is one call being written. The capture goroutine calls Write;
// the vault's writer opens it (openBatch) and seals it (Finish), in that order;
// the syncer touches only cw's atomics and f.Sync, and only once open.
type recording struct {
	v        *Vault
	id       string
	f        *os.File // set by openBatch
	cw       *countingWriter
	enc      *agefile.Writer // holds a chunk buffer from v.buffers until sealed
	w        *sealed.Writer
	frame    sealed.Frame
	err      error
	raw      int64 // bytes of frames captured
	start    time.Time
	class    retention.Class
	unsynced bool

	// Made on the capture goroutine, used by openBatch.
	entry *Entry
	pers  *Personal

	// Set by openBatch before opened is closed.
	opened  chan struct{}
	openErr error
	kept    bool        // openErr came after the entry was committed: it is a call detail record now
	lost    atomic.Bool // openErr is set: for the capture side
}

// WriteStats reports what a recording wrote, for the write-amplification
// benchmark.
type WriteStats struct {
	Captured int64 // frame bytes handed in
	Written  int64 // bytes written to the file
	Writes   int64 // write calls reaching the file
	Syncs    int64
}

// Start implements record.Recorder (capture/calls.Recorder): it opens
// the sealed file of a call that has media and returns once the file and its index entry exist.
// (Async.Start returns at once and leaves the opening to its writer.)
func (v *Vault) Start(d *record.Draft) (record.Recording, error) {
	r, err := v.prepare(d)
	if err != nil {
		return nil, err
	}
	v.openBatch([]*recording{r})
	if r.openErr != nil {
		r.release()
		if r.kept {
			return nil, fmt.Errorf("vault: start %s: %w (%w)", r.id, r.openErr, record.ErrDetailKept)
		}
		return nil, fmt.Errorf("vault: start %s: %w", r.id, r.openErr)
	}
	return r, nil
}

// prepare makes a recording without touching the disk: its ID, its index
// entry and personal record (not yet committed), and the sealing writer,
// whose age header and first record wait in memory for the file.
func (v *Vault) prepare(d *record.Draft) (*recording, error) {
	if len(v.opt.Recipients) == 0 {
		return nil, errors.New("vault: no recipients configured: refusing to record in clear")
	}
	class := v.classOf(d)
	id := newID(d.Start)
	r := &recording{v: v, id: id, start: d.Start, class: class, unsynced: !v.opt.ClockSynced(),
		pers: v.personal(d), opened: make(chan struct{})}
	r.entry = &Entry{ID: id, State: StateRecording, Recorded: true, Sync: SyncPending}
	fillEntry(r.entry, d, class)
	r.entry.ClockUnsynced = r.unsynced
	r.cw = &countingWriter{v: v, h: sha256.New()}
	var err error
	if r.enc, err = v.buffers.NewWriter(r.cw, v.opt.Recipients...); err != nil {
		return nil, fmt.Errorf("vault: start %s: %w", id, err)
	}
	if r.w, err = sealed.NewWriter(r.enc); err != nil {
		r.enc.Abandon()
		return nil, fmt.Errorf("vault: start %s: %w", id, err)
	}
	meta, _ := json.Marshal(struct {
		ID       string    `json:"id"`
		Personal *Personal `json:"personal"`
	}{id, r.pers})
	if err := r.w.Meta(meta); err != nil {
		r.release()
		return nil, fmt.Errorf("vault: start %s: %w", id, err)
	}
	return r, nil
}

// openBatch commits the index entries of prepared recordings in one
// transaction, then creates their .part files and makes the directory
// entries durable. The entry comes first: a crash after it leaves an
// entry that recovery resolves; a file made first could be orphaned.
// A recording that cannot be opened gets openErr, what it held and what
// is written to it later is let go; if its entry was committed, the
// entry becomes a call detail record (abort).
func (v *Vault) openBatch(all []*recording) {
	defer func() {
		for _, r := range all {
			close(r.opened)
		}
	}()
	// Recordings the capture side gave up while they waited (the writer
	// too far behind) get no entry: their calls become call records.
	rs := make([]*recording, 0, len(all))
	for _, r := range all {
		if err := r.cw.givenUp(); err != nil {
			r.fail(err, false)
			continue
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		return
	}
	failAll := func(err error, kept bool) {
		for _, r := range rs {
			if r.openErr == nil {
				r.fail(err, kept)
			}
		}
	}
	if err := v.ensureRoom(); err != nil {
		failAll(err, false)
		return
	}
	pers := make([]*Personal, len(rs))
	for i, r := range rs {
		pers[i] = r.pers
	}
	sp, err := v.sealPersonals(pers)
	if err != nil {
		failAll(err, false)
		return
	}
	err = v.update(func(tx *bolt.Tx) error {
		b, err := audit.Begin(tx, v.key)
		if err != nil {
			return err
		}
		for i, r := range rs {
			// Legacy tags only: KDF tags are matched when the call is
			// sealed.
			r.entry.Holds = v.matchSubjectHolds(tx, r.pers, nil)
			if err := putEntry(tx, r.entry, nil); err != nil {
				return err
			}
			if err := putSealed(tx, r.id, sp[i].meta, sp[i].subject); err != nil {
				return err
			}
			if _, err := b.Add(audit.Entry{Time: v.opt.Now(), Action: audit.RecordingStarted, Actor: "capture", Recording: r.id, Detail: "class " + r.class.Name}); err != nil {
				return err
			}
		}
		return b.Commit()
	})
	if err != nil {
		failAll(fmt.Errorf("index: %w", err), false)
		return
	}
	dirs := map[string][]*recording{}
	for _, r := range rs {
		dir := filepath.Dir(v.path(r.id, true))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			r.fail(err, true)
			continue
		}
		f, err := os.OpenFile(v.path(r.id, true), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			r.fail(err, true)
			continue
		}
		r.f = f
		dirs[dir] = append(dirs[dir], r)
	}
	// The directory entries of the .part files must survive a power cut:
	// one fsync per directory for the whole batch.
	for dir, in := range dirs {
		dirErr := syncDir(dir)
		for _, r := range in {
			err := dirErr
			if err == nil {
				err = r.cw.attach(r.f)
			}
			if err != nil {
				r.fail(err, true)
				continue
			}
			v.mu.Lock()
			v.open[r.id] = r
			v.mu.Unlock()
		}
	}
}

// fail records why a recording could not be opened (writer goroutine).
func (r *recording) fail(err error, kept bool) {
	r.openErr, r.kept = err, kept
	r.lost.Store(true)
	r.cw.fail(fmt.Errorf("vault: start %s: %w", r.id, err))
	if r.f != nil {
		r.f.Close()
		os.Remove(r.v.path(r.id, true))
		r.f = nil
	}
	if kept {
		r.v.abort(r.id, err)
	}
}

// abort turns the entry of a recording that could not be opened into a
// call detail record (the tracker writes no second one: Start's error
// wraps record.ErrDetailKept).
func (v *Vault) abort(id string, cause error) {
	err := v.update(func(tx *bolt.Tx) error {
		old, err := getEntry(tx, id)
		if err != nil {
			return err
		}
		e := *old
		e.State, e.Recorded, e.Sync = StateCDR, false, SyncNotRequired
		e.Note = "recording could not be opened: " + cause.Error()
		if err := putEntry(tx, &e, old); err != nil {
			return err
		}
		return v.audit(tx, audit.Entry{Action: "recording_aborted", Actor: "vault", Recording: id, Detail: cause.Error()})
	})
	if err != nil {
		v.alert(AlertDiskError, fmt.Sprintf("vault: %s: the aborted recording could not be noted: %v", id, err))
	}
}

// Write implements record.Recording.
func (r *recording) Write(f *record.Frame) error {
	if r.err != nil {
		return r.err
	}
	r.frame = sealed.Frame{Time: f.Time, Data: f.Data, LinkType: uint16(f.LinkType), Kind: uint8(f.Kind), Dir: uint8(f.Dir), Flow: f.Flow}
	r.raw += int64(len(f.Data))
	if err := r.w.Frame(&r.frame, f.HeaderLen); err != nil {
		r.err = fmt.Errorf("vault: write %s: %w", r.id, err)
		r.v.alert(AlertDiskError, r.err.Error())
		return r.err
	}
	return nil
}

// Stats returns the recording's write figures so far.
func (r *recording) Stats() WriteStats {
	return WriteStats{Captured: r.raw, Written: r.cw.n.Load(), Writes: r.cw.writes.Load(), Syncs: r.cw.syncs.Load()}
}

// Finish implements record.Recording: seal, fsync, rename, index.
func (r *recording) Finish(d *record.Draft) error {
	v := r.v
	<-r.opened
	if r.openErr != nil {
		return r.finishUnopened(d)
	}
	v.mu.Lock()
	delete(v.open, r.id)
	v.mu.Unlock()
	state := StateComplete
	note := ""
	pers := v.personal(d)
	if r.err == nil {
		meta, _ := json.Marshal(struct {
			ID       string    `json:"id"`
			Personal *Personal `json:"personal"`
			Final    bool      `json:"final"`
		}{r.id, pers, true})
		if err := r.w.Meta(meta); err != nil {
			r.err = err
		} else if err := r.w.End(); err != nil {
			r.err = err
		}
	}
	if r.err == nil {
		r.err = r.enc.Close()
	} else {
		r.enc.Abandon()
	}
	r.release()
	if err := r.cw.flush(); err != nil && r.err == nil {
		r.err = err
	}
	if r.err != nil {
		state = StateTruncated
		note = r.err.Error()
	}
	syncErr := r.f.Sync()
	r.cw.syncs.Add(1)
	closeErr := r.f.Close()
	if syncErr != nil || closeErr != nil {
		state = StateTruncated
		note = fmt.Sprint("fsync/close: ", errors.Join(syncErr, closeErr))
	}
	if err := os.Rename(v.path(r.id, true), v.path(r.id, false)); err != nil {
		return fmt.Errorf("vault: seal %s: %w", r.id, err)
	}
	if err := syncDir(filepath.Dir(v.path(r.id, false))); err != nil {
		return fmt.Errorf("vault: seal %s: %w", r.id, err)
	}
	size := r.cw.n.Load()
	sealedMeta, sealedSubject, err := v.sealPersonal(pers)
	if err != nil {
		return fmt.Errorf("vault: seal %s: %w", r.id, err)
	}
	tags := v.subjectTags(d) // argon2id, outside the transaction
	err = v.update(func(tx *bolt.Tx) error {
		old, err := getEntry(tx, r.id)
		if errors.Is(err, ErrNotFound) {
			// The index was replaced (damaged) while the call ran: the
			// recording is indexed anew.
			old, err = &Entry{ID: r.id, Recorded: true, Sync: SyncPending, Start: r.start.UTC()}, nil
		}
		if err != nil {
			return err
		}
		e := *old
		fillEntry(&e, d, r.class)
		for _, h := range v.matchSubjectHolds(tx, pers, tags) {
			if !slices.Contains(e.Holds, h) {
				e.Holds = append(slices.Clone(e.Holds), h)
			}
		}
		e.State = state
		e.Note = note
		e.Size = size
		e.SHA256 = hex.EncodeToString(r.cw.h.Sum(nil))
		e.Frames = r.w.Frames()
		e.ClockUnsynced = old.ClockUnsynced || !v.opt.ClockSynced()
		if err := putEntry(tx, &e, old); err != nil {
			return err
		}
		if err := putSealed(tx, r.id, sealedMeta, sealedSubject); err != nil {
			return err
		}
		return v.audit(tx, audit.Entry{Action: audit.RecordingFinished, Actor: "capture", Recording: r.id,
			Detail: fmt.Sprintf("%s, %d frames, %d bytes", state, e.Frames, size)})
	})
	if err != nil {
		return fmt.Errorf("vault: seal %s: index: %w", r.id, err)
	}
	v.mu.Lock()
	v.used += size
	v.mu.Unlock()
	// Make room now rather than when the next call arrives.
	if u := v.Usage(); v.overHigh(u) && !v.evictionFutile(u) {
		if _, err := v.Evict(); err != nil {
			v.alert(AlertDiskError, "eviction: "+err.Error())
		}
	}
	return nil
}

// finishUnopened keeps what is known of a call whose recording could not
// be opened: its entry, already a call detail record, gets the call's
// final state; without an entry, a call detail record is written.
func (r *recording) finishUnopened(d *record.Draft) error {
	r.release()
	v := r.v
	if !r.kept {
		if err := v.DetailMany([]*record.Draft{d}); err != nil {
			return fmt.Errorf("vault: %s: recording not opened (%v), call detail record: %w", r.id, r.openErr, err)
		}
		return nil
	}
	err := v.update(func(tx *bolt.Tx) error {
		old, err := getEntry(tx, r.id)
		if err != nil {
			return err
		}
		e := *old
		fillEntry(&e, d, r.class)
		e.State, e.Recorded, e.Sync = StateCDR, false, SyncNotRequired
		return putEntry(tx, &e, old)
	})
	if err != nil {
		return fmt.Errorf("vault: %s: recording not opened (%v): %w", r.id, r.openErr, err)
	}
	return nil
}

// release gives the chunk buffer back and drops the record stream's
// state: a sealed recording holds nothing but its figures.
func (r *recording) release() {
	if r.enc != nil {
		r.enc.Abandon() // after Close: nothing left to do
	}
	r.w.Release()
}

// Lost reports whether the recording could not be opened (its call is a
// call detail record): Async opens recordings after Start returned.
func (r *recording) Lost() bool { return r.lost.Load() }

// ID returns the recording's ID.
func (r *recording) ID() string { return r.id }

// Detail implements record.Recorder: a call detail record for a dialog
// without stored media.
func (v *Vault) Detail(d *record.Draft) error {
	return v.DetailMany([]*record.Draft{d})
}

func (v *Vault) classOf(d *record.Draft) retention.Class {
	name := d.Class
	if name == "" {
		name = v.policy().DefaultClass
	}
	cl, ok := v.policy().Class(name)
	if !ok {
		cl, _ = v.policy().Class(v.policy().DefaultClass)
	}
	return cl
}

// Decide implements capture/calls.Policy from the retention rules.
func (v *Vault) Decide(s record.Setup) record.Decision {
	ch := v.policy().Choose(retention.CallFacts{
		CallID:    s.CallID,
		FromUser:  s.FromUser,
		ToUser:    s.ToUser,
		Direction: s.Direction,
	})
	return record.Decision{Record: ch.Record, Class: ch.Class.Name, AgentOnly: ch.AgentOnly}
}

// fillEntry sets what a call's draft says in its index entry; the events
// that are personal (digits, tags, pauses, consent) stay sealed only.
func fillEntry(e *Entry, d *record.Draft, class retention.Class) {
	e.CallState = d.CallState
	e.EndReason = d.EndReason
	e.Direction = d.Direction
	e.Line = d.Line
	e.Start = d.Start.UTC()
	e.Answer = d.Answer.UTC()
	if !d.End.IsZero() {
		e.End = d.End.UTC()
	}
	if d.Duration > 0 {
		e.Duration = d.Duration.Seconds()
	}
	e.Codecs = d.Codecs
	e.Formats = d.Formats
	e.Class = class.Name
	e.AgentOnly = d.AgentOnly
	if e.Expiry.IsZero() {
		e.Expiry = retention.Expiry(class, d.Start)
	}
	e.Streams = append(e.Streams[:0], d.Streams...)
	e.Completeness = nil
	for i := range e.Streams {
		if cs := e.Streams[i].Completeness; cs != nil {
			if e.Completeness == nil {
				e.Completeness = &record.Completeness{}
			}
			e.Completeness.Add(cs)
		}
	}
	e.Events = e.Events[:0]
	for _, ev := range d.Personal.Events {
		switch ev.Kind {
		case "dtmf", "tag", "pause", "resume", "consent":
			// Sealed only, times included: the times of key presses give
			// away a PIN's length and rhythm, and when a call was paused
			// or tagged is personal too. The box needs none of them.
		default:
			e.Events = append(e.Events, ClearEvent{Time: ev.Time.UTC(), Kind: ev.Kind, Detail: ev.Detail})
		}
	}
}

// personalOf is the sealed half of a call's record: the draft's, copied
// (the vault keeps it while the call runs).
func personalOf(d *record.Draft) *Personal {
	p := d.Personal
	return &p
}

// NormalizeNumber reduces a phone number or SIP user to the form used for
// subject matching: digits only (a leading '+' and separators dropped);
// a user part that is not a number is kept lower-cased.
func NormalizeNumber(s string) string { return record.NormalizeNumber(s) }
