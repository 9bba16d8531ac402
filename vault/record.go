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
	"sort"
	"strings"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/sip"
	"github.com/spanvault/spanvault/vault/agefile"
	"github.com/spanvault/spanvault/vault/audit"
	"github.com/spanvault/spanvault/vault/retention"
	"github.com/spanvault/spanvault/vault/sealed"
)

// countingWriter sits between the age writer and the file: it counts and
// hashes what reaches the disk and marks the file dirty for the syncer.
type countingWriter struct {
	v       *Vault
	f       *os.File
	pending []byte // the age header, held for the first chunk
	h       hash.Hash
	n       atomic.Int64
	writes  atomic.Int64
	syncs   atomic.Int64
	dirty   atomic.Bool
}

func (c *countingWriter) Write(b []byte) (int, error) {
	// The age writer writes its header first and then whole 64 KiB
	// chunks; the header goes out with the first chunk, in one writev, so
	// every write to the card is one sequential append of at least a
	// chunk (flash wear), and nothing of it is copied or kept.
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

// flush writes what is still held (a recording whose only chunk is its
// last: the header and that chunk arrive as two writes at Close).
func (c *countingWriter) flush() error {
	if len(c.pending) == 0 {
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

// recording is one call being written. Only the capture goroutine calls
// its methods; the syncer touches only cw's atomics and f.Sync.
type recording struct {
	v        *Vault
	id       string
	f        *os.File
	cw       *countingWriter
	enc      *agefile.Writer // holds a chunk buffer from v.buffers until sealed
	w        *sealed.Writer
	frame    sealed.Frame
	err      error
	raw      int64 // bytes of frames captured
	start    time.Time
	class    retention.Class
	holds    []string
	unsynced bool
}

// WriteStats reports what a recording wrote, for the write-amplification
// benchmark.
type WriteStats struct {
	Captured int64 // frame bytes handed in
	Written  int64 // bytes written to the file
	Writes   int64 // write calls reaching the file
	Syncs    int64
}

// Start implements calls.Recorder: it opens the sealed file of a call
// that has media.
func (v *Vault) Start(c *calls.Call) (calls.Recording, error) {
	if len(v.opt.Recipients) == 0 {
		return nil, errors.New("vault: no recipients configured: refusing to record in clear")
	}
	if err := v.ensureRoom(); err != nil {
		return nil, err
	}
	class := v.classOf(c)
	id := newID(c.Start)
	pers := personalOf(c)
	sealedMeta, sealedSubject, err := v.sealPersonal(pers)
	if err != nil {
		return nil, fmt.Errorf("vault: start %s: %w", id, err)
	}
	r := &recording{v: v, id: id, start: c.Start, class: class, unsynced: !v.opt.ClockSynced()}
	// The index entry comes first: a crash after it leaves an entry that
	// recovery resolves; a file written first could be orphaned.
	e := &Entry{ID: id, State: StateRecording, Recorded: true, Sync: SyncPending}
	fillEntry(e, c, class)
	e.ClockUnsynced = r.unsynced
	err = v.update(func(tx *bolt.Tx) error {
		// Legacy tags only: KDF tags are matched when the call is sealed,
		// off the capture path.
		e.Holds = v.matchSubjectHolds(tx, pers, nil)
		r.holds = e.Holds
		if err := putEntry(tx, e, nil); err != nil {
			return err
		}
		if err := putSealed(tx, id, sealedMeta, sealedSubject); err != nil {
			return err
		}
		return v.audit(tx, audit.Entry{Action: audit.RecordingStarted, Actor: "capture", Recording: id, Detail: "class " + class.Name})
	})
	if err != nil {
		return nil, fmt.Errorf("vault: start %s: index: %w", id, err)
	}
	fail := func(err error) (calls.Recording, error) {
		r.release()
		if r.f != nil {
			r.f.Close()
			os.Remove(v.path(id, true))
		}
		v.abort(id, err)
		return nil, fmt.Errorf("vault: start %s: %w (%w)", id, err, calls.ErrDetailKept)
	}
	if err := os.MkdirAll(filepath.Dir(v.path(id, true)), 0o700); err != nil {
		return fail(err)
	}
	r.f, err = os.OpenFile(v.path(id, true), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fail(err)
	}
	r.cw = &countingWriter{v: v, f: r.f, h: sha256.New()}
	if r.enc, err = v.buffers.NewWriter(r.cw, v.opt.Recipients...); err != nil {
		return fail(err)
	}
	if r.w, err = sealed.NewWriter(r.enc); err != nil {
		return fail(err)
	}
	meta, _ := json.Marshal(struct {
		ID       string    `json:"id"`
		Personal *Personal `json:"personal"`
	}{id, pers})
	if err := r.w.Meta(meta); err != nil {
		return fail(err)
	}
	// The directory entry of the .part file must survive a power cut.
	if err := syncDir(filepath.Dir(v.path(id, true))); err != nil {
		return fail(err)
	}
	v.mu.Lock()
	v.open[id] = r
	v.mu.Unlock()
	return r, nil
}

// abort turns the entry of a recording that could not be opened into a
// call detail record (the tracker writes no second one: Start's error
// wraps calls.ErrDetailKept).
func (v *Vault) abort(id string, cause error) {
	v.update(func(tx *bolt.Tx) error {
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
}

// Write implements calls.Recording.
func (r *recording) Write(f *calls.Frame) error {
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

// Finish implements calls.Recording: seal, fsync, rename, index.
func (r *recording) Finish(c *calls.Call) error {
	v := r.v
	v.mu.Lock()
	delete(v.open, r.id)
	v.mu.Unlock()
	state := StateComplete
	note := ""
	pers := personalOf(c)
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
	tags := v.subjectTags(c) // argon2id, outside the transaction
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
		fillEntry(&e, c, r.class)
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

// release gives the chunk buffer back and drops the record stream's
// state: a sealed recording holds nothing but its figures.
func (r *recording) release() {
	if r.enc != nil {
		r.enc.Abandon() // after Close: nothing left to do
	}
	r.w.Release()
}

// ID returns the recording's ID.
func (r *recording) ID() string { return r.id }

// Detail implements calls.Recorder: a call detail record for a dialog
// without stored media.
func (v *Vault) Detail(c *calls.Call) error {
	return v.DetailMany([]*calls.Call{c})
}

func (v *Vault) classOf(c *calls.Call) retention.Class {
	name := c.Policy.Class
	if name == "" {
		name = v.opt.Policy.DefaultClass
	}
	cl, ok := v.opt.Policy.Class(name)
	if !ok {
		cl, _ = v.opt.Policy.Class(v.opt.Policy.DefaultClass)
	}
	return cl
}

// Decide implements calls.Policy from the retention rules.
func (v *Vault) Decide(c *calls.Call) calls.Decision {
	ch := v.opt.Policy.Choose(retention.CallFacts{
		CallID:    c.CallID,
		FromUser:  string(sip.User([]byte(c.From))),
		ToUser:    string(sip.User([]byte(c.To))),
		Direction: string(c.Direction),
	})
	return calls.Decision{Record: ch.Record, Class: ch.Class.Name, AgentOnly: ch.AgentOnly}
}

func fillEntry(e *Entry, c *calls.Call, class retention.Class) {
	e.CallState = string(c.State)
	e.EndReason = c.EndReason
	e.Direction = string(c.Direction)
	e.Start = c.Start.UTC()
	e.Answer = c.Answer.UTC()
	if !c.End.IsZero() && c.State != calls.Answered {
		e.End = c.End.UTC()
	}
	if d := c.Duration(); d > 0 {
		e.Duration = d.Seconds()
	}
	e.Codecs = c.Codecs()
	e.Formats = c.PayloadNames()
	e.Class = class.Name
	e.AgentOnly = c.Policy.AgentOnly && !c.Consented
	if e.Expiry.IsZero() {
		e.Expiry = retention.Expiry(class, c.Start)
	}
	e.Streams = e.Streams[:0]
	for _, s := range c.Streams {
		e.Streams = append(e.Streams, StreamStats{
			SSRC:        fmt.Sprintf("0x%08x", s.Stats.SSRC),
			PayloadType: s.PT,
			Codec:       s.Codec,
			Dir:         s.Dir.String(),
			Packets:     s.Stats.Packets,
			Lost:        s.Stats.Lost(),
			Duplicates:  s.Stats.Duplicates,
			OutOfOrder:  s.Stats.OutOfOrder,
			JitterMS:    float64(s.Stats.Jitter()) / 1e6,
			MaxJitterMS: float64(s.Stats.MaxJitter()) / 1e6,
			MOS:         s.Stats.MOS(),
			First:       s.Stats.First.UTC(),
			Last:        s.Stats.Last.UTC(),
		})
	}
	e.Events = e.Events[:0]
	for _, ev := range c.Events {
		switch ev.Kind {
		case "dtmf", "tag", "pause", "resume", "consent":
			// Sealed only, times included: the times of key presses give
			// away a PIN's length and rhythm, and when a call was paused
			// or tagged is personal too. The box needs none of them.
		case "record_error":
			e.Events = append(e.Events, ClearEvent{Time: ev.Time.UTC(), Kind: ev.Kind, Detail: ev.Detail})
		default:
			e.Events = append(e.Events, ClearEvent{Time: ev.Time.UTC(), Kind: ev.Kind, Detail: ev.Detail})
		}
	}
}

func personalOf(c *calls.Call) *Personal {
	p := &Personal{
		CallID: c.CallID, From: c.From, FromName: c.FromName, To: c.To, PAI: c.PAI,
		Events: append([]calls.Event(nil), c.Events...), Tags: append([]string(nil), c.Tags...),
	}
	if c.Caller.IsValid() {
		p.Caller = c.Caller.String()
	}
	if c.Callee.IsValid() {
		p.Callee = c.Callee.String()
	}
	seen := map[string]bool{}
	for _, uri := range []string{c.From, c.To, c.PAI} {
		n := NormalizeNumber(string(sip.User([]byte(uri))))
		if n != "" && !seen[n] {
			seen[n] = true
			p.Numbers = append(p.Numbers, n)
		}
	}
	sort.Strings(p.Numbers)
	for _, s := range c.Streams {
		p.Streams = append(p.Streams, StreamAddrs{Src: s.Src.String(), Dst: s.Dst.String()})
	}
	return p
}

// NormalizeNumber reduces a phone number or SIP user to the form used for
// subject matching: digits only (a leading '+' and separators dropped);
// a user part that is not a number is kept lower-cased.
func NormalizeNumber(s string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	digits := 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
			digits++
		case r == '+' || r == '-' || r == ' ' || r == '(' || r == ')' || r == '.':
		default:
			return strings.ToLower(s)
		}
	}
	if digits == 0 {
		return strings.ToLower(s)
	}
	return b.String()
}
