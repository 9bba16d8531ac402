package vault

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"filippo.io/age"
	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/spanvault/spanvault/internal/atomicfile"
	"github.com/spanvault/spanvault/vault/agefile"
	"github.com/spanvault/spanvault/vault/audit"
	"github.com/spanvault/spanvault/vault/retention"
)

// Errors callers can test for.
var (
	ErrLocked   = errors.New("vault: locked by another process")
	ErrNotFound = errors.New("vault: no such recording")
	ErrNoVault  = errors.New("vault: no vault in this directory")
	ErrRefused  = errors.New("vault: disk full and nothing may lawfully be deleted; recording refused")
	ErrOnHold   = errors.New("vault: recording is on legal hold")
	ErrNoKey    = errors.New("vault: no identity given, or the identity does not decrypt this vault")
	// ErrDiskFull stops a recording in progress when the file system is
	// about to fill: the rest of the space is kept for the index, so that
	// what was recorded stays consistent.
	ErrDiskFull = errors.New("vault: disk full: recording stopped to keep room for the index")
)

// Bucket names.
var (
	bEntries    = []byte("entries")
	bSealed     = []byte("sealed")
	bExpiry     = []byte("expiry")
	bTombstones = []byte("tombstones")
	bHolds      = []byte("subject_holds")
	bMeta       = []byte("meta")
	bSync       = []byte("sync")
	bSubjects   = []byte("subjects")
)

// Options configure a Vault. Dir is required; everything else has a
// default.
type Options struct {
	Dir string
	// Recipients seal recordings. Required for recording; reading,
	// retention and audit work without.
	Recipients []age.Recipient
	Policy     *retention.Policy
	// Now is the clock (tests pass a fake one).
	Now func() time.Time
	// ClockSynced reports whether the system clock is trustworthy; while
	// it is not, recordings are flagged and retention deletes nothing.
	ClockSynced func() bool
	// PhoneRegion ("DE") reads national numbers for their canonical form
	// in the sealed metadata (phone.go); empty: only international ones.
	PhoneRegion string
	// QuotaBytes caps the space recordings may use; 0 means only the file
	// system's free space counts.
	QuotaBytes int64
	// HighWater and LowWater are fractions of the quota (or of the file
	// system) at which eviction starts and stops. Defaults 0.90 and 0.80.
	HighWater, LowWater float64
	// MinFreeBytes keeps this much of the file system free (default 64 MiB).
	MinFreeBytes int64
	// SyncEvery is the longest a written chunk waits for fsync (default 1s).
	SyncEvery time.Duration
	// MaxUnopened bounds the sealed output held in memory for recordings
	// Async has accepted and its writer has not opened yet (a stalled
	// card); beyond it such recordings are given up, counted and alerted,
	// rather than the box running out of memory. Default 64 MiB.
	MaxUnopened int64
	// Alert receives alerts (failed verification, erasure bursts, quota
	// refusals). It must not block.
	Alert func(Alert)
	// ErasureBurst raises an alert when more than this many erasures happen
	// within ErasureWindow (defaults 20 per hour).
	ErasureBurst  int
	ErasureWindow time.Duration
	// ReadOnly opens the index without taking the write lock's exclusivity
	// for commands that only read.
	ReadOnly bool
	// AggregateFloods counts unanswered dialogs without a local party per
	// hour instead of storing a call record each. Set it only when the
	// box knows its local numbers or networks (capture.extensions or
	// capture.local_nets): otherwise every call looks external.
	AggregateFloods bool
	// Floods are the rates of unanswered dialogs, whatever their
	// parties, beyond which they are counted per hour instead of
	// recorded one by one (floodrate.go); zero fields take the defaults.
	Floods FloodLimits
}

// Alert is raised for conditions the data-protection officer or the branch
// IT must see.
type Alert struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`
	Detail string    `json:"detail"`
}

// Alert kinds.
const (
	AlertAuditBroken  = "audit_verification_failed"
	AlertErasureBurst = "erasure_burst"
	AlertQuotaRefusal = "quota_refusal"
	AlertDiskError    = "disk_error"
	AlertRecordsShed  = "call_records_shed"
)

// Vault is an open vault.
type Vault struct {
	opt  Options
	db   *bolt.DB
	dbmu sync.RWMutex // shared by every transaction; Compact holds it alone to swap db
	// replaceOnDamage: a bad page met while running moves the index aside
	// and starts a fresh one (the daemon's vault, from OpenOrReplace).
	replaceOnDamage bool
	watching        atomic.Bool // the daemon's vault: watchIndex looks for its index file
	key             ed25519.PrivateKey
	dir             string
	mu              sync.Mutex // guards open, used, refusing, erasures
	open            map[string]*recording
	buffers         agefile.Buffers // one age chunk buffer per open recording
	freeEst         atomic.Int64    // free bytes on the vault's filesystem, estimated (lowSpace)
	unopened        atomic.Int64    // bytes held for recordings not yet opened (MaxUnopened)
	freeAt          atomic.Int64    // when the kernel last said (unix ns)
	used            int64
	refusing        bool
	// gen counts changes to what eviction may delete; futile* remember
	// the last scan that found nothing, so calls arriving on a full disk
	// are refused without a scan each.
	gen        uint64
	futileGen  uint64
	futileUsed int64
	futileAt   time.Time
	erasures   []time.Time
	lastAlert  map[string]time.Time
	floods     atomic.Uint64 // dialogs aggregated since Open (FloodDialogs)
	meter      *floodMeter   // unanswered dialogs per minute (floodrate.go)
	// unansEvicted counts call records of unanswered dialogs quota
	// eviction removed since Open (UnansweredEvicted).
	unansEvicted atomic.Uint64
	stop         chan struct{}
	done         chan struct{}
	closeOnce    sync.Once

	// livePolicy is set by SetPolicy (policy.go).
	livePolicy atomic.Pointer[retention.Policy]
}

// Open opens or creates the vault in opt.Dir.
func Open(opt Options) (*Vault, error) {
	if opt.Dir == "" {
		return nil, errors.New("vault: no directory given")
	}
	if opt.Policy == nil {
		opt.Policy = retention.DefaultPolicy()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.ClockSynced == nil {
		opt.ClockSynced = func() bool { return true }
	}
	// The same recipients, sealing with less CPU (agefile.Fast).
	opt.Recipients = agefile.Fast(opt.Recipients)
	if len(opt.Recipients) > 0 {
		if err := agefile.Check(opt.Recipients); err != nil {
			return nil, fmt.Errorf("vault: the recipients cannot seal together (hybrid age1pq1 and X25519 age1 keys are never mixed): %w", err)
		}
	}
	if opt.HighWater <= 0 {
		opt.HighWater = 0.90
	}
	if opt.LowWater <= 0 || opt.LowWater >= opt.HighWater {
		opt.LowWater = opt.HighWater - 0.10
	}
	if opt.MinFreeBytes <= 0 {
		opt.MinFreeBytes = 64 << 20
	}
	if opt.SyncEvery <= 0 {
		opt.SyncEvery = time.Second
	}
	if opt.MaxUnopened <= 0 {
		opt.MaxUnopened = 64 << 20
	}
	if opt.ErasureBurst <= 0 {
		opt.ErasureBurst = 20
	}
	if opt.ErasureWindow <= 0 {
		opt.ErasureWindow = time.Hour
	}
	dbPath := filepath.Join(opt.Dir, "vault.db")
	if opt.ReadOnly {
		if _, err := os.Stat(dbPath); err != nil {
			return nil, fmt.Errorf("%w: %s", ErrNoVault, opt.Dir)
		}
	} else if err := os.MkdirAll(filepath.Join(opt.Dir, "rec"), 0o700); err != nil {
		return nil, fmt.Errorf("vault: create %s: %w", opt.Dir, err)
	}
	db, err := openDB(dbPath, opt.ReadOnly)
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("%w (%s)", ErrLocked, dbPath)
		}
		if errors.Is(err, ErrDamaged) {
			return nil, err
		}
		return nil, fmt.Errorf("vault: open index %s: %w", dbPath, err)
	}
	v := &Vault{opt: opt, meter: newFloodMeter(opt.Floods), db: db, dir: opt.Dir, open: map[string]*recording{}, lastAlert: map[string]time.Time{},
		stop: make(chan struct{}), done: make(chan struct{})}
	key, err := loadKey(filepath.Join(opt.Dir, "appliance.key"), !opt.ReadOnly)
	if err != nil {
		db.Close()
		return nil, err
	}
	v.key = key
	if !opt.ReadOnly {
		if err := v.init(); err != nil {
			db.Close()
			return nil, err
		}
		if err := v.recover(); err != nil {
			db.Close()
			return nil, err
		}
		if err := v.noteKey(); err != nil {
			db.Close()
			return nil, err
		}
	}
	if err := v.computeUsed(); err != nil {
		db.Close()
		return nil, err
	}
	go v.syncLoop()
	return v, nil
}

func (v *Vault) init() error {
	return v.update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bEntries, bSealed, bSubjects, bExpiry, bTombstones, bHolds, bMeta, bSync, audit.BucketEntries, audit.BucketHead} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return fmt.Errorf("vault: init: %w", err)
			}
		}
		return nil
	})
}

// loadKey reads the appliance's audit signing key, creating it (mode 0600)
// on first use.
func loadKey(path string, create bool) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if len(b) != ed25519.SeedSize {
			return nil, fmt.Errorf("vault: appliance key %s: wrong size %d", path, len(b))
		}
		return ed25519.NewKeyFromSeed(b), nil
	}
	if !os.IsNotExist(err) || !create {
		if os.IsNotExist(err) {
			return nil, nil // read-only open of a vault whose key is elsewhere
		}
		return nil, fmt.Errorf("vault: appliance key: %w", err)
	}
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteFile(path, seed, 0o600); err != nil {
		return nil, fmt.Errorf("vault: write appliance key: %w", err)
	}
	k := ed25519.NewKeyFromSeed(seed)
	clear(seed)
	return k, nil
}

// PublicKey returns the key that verifies the audit chain head.
func (v *Vault) PublicKey() ed25519.PublicKey {
	if v.key == nil {
		return nil
	}
	return v.key.Public().(ed25519.PublicKey)
}

// Close stops the background syncer, seals nothing further and closes the
// index. Recordings still open stay .part files, recovered at next Open;
// callers shut down cleanly by finishing calls first (the tracker's Close).
func (v *Vault) Close() error {
	var err error
	v.closeOnce.Do(func() {
		close(v.stop)
		<-v.done
		v.mu.Lock()
		for _, r := range v.open {
			err = errors.Join(err, r.f.Sync())
			r.f.Close()
		}
		v.open = map[string]*recording{}
		v.mu.Unlock()
		v.dbmu.Lock()
		err = errors.Join(err, v.db.Close())
		v.dbmu.Unlock()
		if v.key != nil {
			clear(v.key)
		}
	})
	return err
}

// syncLoop fsyncs recordings that got new chunks, at most once per
// SyncEvery each: bounded loss on power cut, bounded flash wear.
func (v *Vault) syncLoop() {
	defer close(v.done)
	t := time.NewTicker(v.opt.SyncEvery)
	defer t.Stop()
	var watched time.Time
	for {
		select {
		case <-v.stop:
			return
		case now := <-t.C:
			if now.Sub(watched) >= watchEvery {
				watched = now
				v.watchIndex()
			}
			v.mu.Lock()
			var todo []*recording
			for _, r := range v.open {
				if r.cw.dirty.Swap(false) {
					todo = append(todo, r)
				}
			}
			v.mu.Unlock()
			for _, r := range todo {
				// A recording sealed since it was listed is closed: its
				// Finish fsynced it.
				if err := r.f.Sync(); err != nil && !errors.Is(err, os.ErrClosed) {
					v.alert(AlertDiskError, "fsync: "+err.Error())
				}
				r.cw.syncs.Add(1)
			}
		}
	}
}

func (v *Vault) alert(kind, detail string) {
	now := v.opt.Now()
	v.mu.Lock()
	last := v.lastAlert[kind]
	v.lastAlert[kind] = now
	v.mu.Unlock()
	if now.Sub(last) < time.Minute && kind != AlertAuditBroken {
		return // one alert a minute per kind is enough to wake someone
	}
	if v.opt.Alert != nil {
		v.opt.Alert(Alert{Time: now, Kind: kind, Detail: detail})
	}
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// newID returns an opaque, time-sortable recording ID: 48 bits of
// milliseconds and 80 random bits.
func newID(t time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(t.UnixMilli())<<16)
	rand.Read(b[6:])
	return idEncoding.EncodeToString(b[:])
}

func (v *Vault) path(id string, part bool) string {
	p := filepath.Join(v.dir, "rec", id[:2], id+".age")
	if part {
		p += ".part"
	}
	return p
}

// validID rejects anything that is not an ID this vault makes, before it
// is used in a path.
func validID(id string) bool {
	if len(id) != 26 {
		return false
	}
	for _, c := range id {
		if !strings.ContainsRune("0123456789abcdefghjkmnpqrstvwxyz", c) {
			return false
		}
	}
	return true
}

func (v *Vault) audit(tx *bolt.Tx, e audit.Entry) error {
	if v.key == nil {
		return errors.New("vault: no appliance key: cannot audit (read-only open)")
	}
	if e.Time.IsZero() {
		e.Time = v.opt.Now()
	}
	_, err := audit.Append(tx, v.key, e)
	return err
}

// Audit records an action taken outside the vault (API calls, logins,
// configuration changes) in the audit trail. A write that fails raises
// AlertDiskError as well as returning the error.
func (v *Vault) Audit(action, actor, recording, detail string) error {
	err := v.update(func(tx *bolt.Tx) error {
		return v.audit(tx, audit.Entry{Action: action, Actor: actor, Recording: recording, Detail: detail})
	})
	if err != nil {
		v.alert(AlertDiskError, fmt.Sprintf("audit trail: %s not written: %v", action, err))
	}
	return err
}

// VerifyAudit checks the audit chain; a failure raises an alert.
func (v *Vault) VerifyAudit() (uint64, error) {
	var n uint64
	err := v.view(func(tx *bolt.Tx) error {
		pub := v.PublicKey()
		if pub == nil {
			return errors.New("vault: no appliance key to verify the chain head with")
		}
		var err error
		n, err = audit.Verify(tx, pub)
		return err
	})
	if err != nil && !errors.Is(err, audit.ErrNoChain) {
		v.alert(AlertAuditBroken, err.Error())
	}
	return n, err
}

// AuditEntries returns audit entries from seq from on, at most n.
func (v *Vault) AuditEntries(from uint64, n int) ([]audit.Entry, error) {
	var out []audit.Entry
	err := v.view(func(tx *bolt.Tx) error {
		var err error
		out, err = audit.List(tx, from, n)
		return err
	})
	return out, err
}

func getEntry(tx *bolt.Tx, id string) (*Entry, error) {
	b := tx.Bucket(bEntries).Get([]byte(id))
	if b == nil {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	var e Entry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, &DamagedError{Path: "vault.db", Detail: fmt.Sprintf("index entry %s does not decode: %v", id, err)}
	}
	return &e, nil
}

func expiryKey(t time.Time, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(t.Unix()))
	return append(k, id...)
}

// putEntry writes an entry and keeps the expiry index in step.
func putEntry(tx *bolt.Tx, e *Entry, old *Entry) error {
	if old != nil && !old.Expiry.IsZero() {
		if err := tx.Bucket(bExpiry).Delete(expiryKey(old.Expiry, old.ID)); err != nil {
			return err
		}
	}
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	// IDs and expiry keys grow with time, so inserts are nearly appends:
	// fuller pages halve the index size against bbolt's default of 50%.
	eb, xb := tx.Bucket(bEntries), tx.Bucket(bExpiry)
	eb.FillPercent, xb.FillPercent = 0.9, 0.9
	if err := eb.Put([]byte(e.ID), b); err != nil {
		return err
	}
	if !e.Expiry.IsZero() && e.State != StateErased {
		return xb.Put(expiryKey(e.Expiry, e.ID), nil)
	}
	return nil
}

// Get returns one index entry.
func (v *Vault) Get(id string) (*Entry, error) {
	var e *Entry
	err := v.view(func(tx *bolt.Tx) error {
		var err error
		e, err = getEntry(tx, id)
		return err
	})
	return e, err
}

// List returns every index entry (CDRs and recordings), oldest first.
func (v *Vault) List() ([]*Entry, error) {
	out, bad, err := v.listAll()
	if err == nil && len(bad) > 0 {
		// The readable entries still come back: one bad value (bbolt keeps
		// no checksums of values) must not hide the rest.
		err = &DamagedError{Path: filepath.Join(v.dir, "vault.db"),
			Detail: fmt.Sprintf("%d index entries cannot be read (%s): spanvault fsck -repair re-indexes their recordings", len(bad), strings.Join(bad[:min(len(bad), 5)], ", "))}
	}
	return out, err
}

// listAll returns the readable entries and the IDs of those that are not.
func (v *Vault) listAll() (out []*Entry, bad []string, err error) {
	err = v.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bEntries).ForEach(func(k, val []byte) error {
			var e Entry
			if err := json.Unmarshal(val, &e); err != nil || e.ID != string(k) {
				bad = append(bad, string(k))
				return nil
			}
			out = append(out, &e)
			return nil
		})
	})
	return out, bad, err
}

// Personal decrypts an entry's sealed metadata with the given identities;
// when the index lost it (a damaged index), the copy sealed inside the
// recording's own file.
func (v *Vault) Personal(id string, ids []age.Identity) (*Personal, error) {
	var sealedMeta []byte
	err := v.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bSealed).Get([]byte(id)); b != nil {
			sealedMeta = bytes.Clone(b)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if sealedMeta == nil {
		// Lost with a damaged index: the recording's file keeps a copy.
		if p, err := v.personalFromFile(id, ids); err == nil {
			return p, nil
		}
		return nil, fmt.Errorf("%w: no sealed metadata for %s", ErrNotFound, id)
	}
	p, err := openPersonal(sealedMeta, ids)
	if err != nil && len(ids) > 0 {
		// A damaged page may have garbled the index's copy (bbolt keeps
		// no checksums of values): the recording's file keeps its own.
		if fp, ferr := v.personalFromFile(id, ids); ferr == nil {
			return fp, nil
		}
	}
	return p, err
}

func openPersonal(b []byte, ids []age.Identity) (*Personal, error) {
	if len(ids) == 0 {
		return nil, ErrNoKey
	}
	r, err := age.Decrypt(bytes.NewReader(b), ids...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoKey, err)
	}
	var p Personal
	if err := json.NewDecoder(r).Decode(&p); err != nil {
		return nil, fmt.Errorf("vault: sealed metadata: %w", err)
	}
	return &p, nil
}

// sealPersonal seals the metadata and, apart, the subject minimum (numbers
// only) that outlives the recording in its tombstone.
func (v *Vault) sealPersonal(p *Personal) (meta, subject []byte, err error) {
	if meta, err = v.seal(p); err != nil {
		return nil, nil, err
	}
	if subject, err = v.seal(map[string]any{"numbers": p.Numbers}); err != nil {
		return nil, nil, err
	}
	return meta, subject, nil
}

func putSealed(tx *bolt.Tx, id string, meta, subject []byte) error {
	if meta == nil {
		return nil
	}
	sb, jb := tx.Bucket(bSealed), tx.Bucket(bSubjects)
	sb.FillPercent, jb.FillPercent = 0.9, 0.9 // keys grow with time, as in putEntry
	if err := sb.Put([]byte(id), meta); err != nil {
		return err
	}
	return jb.Put([]byte(id), subject)
}

func (v *Vault) seal(p any) ([]byte, error) {
	if len(v.opt.Recipients) == 0 {
		return nil, errors.New("vault: no recipients configured: cannot seal")
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, v.opt.Recipients...)
	if err != nil {
		return nil, err
	}
	if err := json.NewEncoder(w).Encode(p); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func syncDir(dir string) error { return atomicfile.SyncDir(dir) }

// Dir returns the vault's directory.
func (v *Vault) Dir() string { return v.dir }

var _ io.Closer = (*Vault)(nil)
