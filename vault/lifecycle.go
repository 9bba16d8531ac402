package vault

import (
	"bytes"

	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/spanvault/spanvault/vault/audit"
	"github.com/spanvault/spanvault/vault/retention"
	"github.com/spanvault/spanvault/vault/sealed"
)

// recover marks recordings interrupted by a crash as truncated: their
// .part files are renamed, measured and hashed. Nothing is deleted.
func (v *Vault) recover() error {
	var ids []string
	err := v.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bEntries).ForEach(func(k, val []byte) error {
			var e Entry
			if json.Unmarshal(val, &e) == nil && e.State == StateRecording {
				ids = append(ids, e.ID)
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("vault: recover: %w", err)
	}
	for _, id := range ids {
		part, final := v.path(id, true), v.path(id, false)
		note := "interrupted; recovered at open"
		noFile := false
		if _, err := os.Stat(part); err == nil {
			if err := os.Rename(part, final); err != nil {
				return fmt.Errorf("vault: recover %s: %w", id, err)
			}
			if err := syncDir(filepath.Dir(final)); err != nil {
				return fmt.Errorf("vault: recover %s: %w", id, err)
			}
		} else if _, err := os.Stat(final); err != nil {
			note = "interrupted before any media reached the disk"
			noFile = true
		}
		size, sum, _ := hashFile(final)
		err := v.update(func(tx *bolt.Tx) error {
			old, err := getEntry(tx, id)
			if err != nil {
				return err
			}
			e := *old
			e.State = StateTruncated
			e.Note = note
			e.Size, e.SHA256 = size, sum
			if noFile {
				e.State, e.Recorded, e.Sync = StateCDR, false, SyncNotRequired
			}
			if err := putEntry(tx, &e, old); err != nil {
				return err
			}
			return v.audit(tx, audit.Entry{Action: audit.RecordingRecovered, Actor: "vault", Recording: id, Detail: note})
		})
		if err != nil {
			return fmt.Errorf("vault: recover %s: %w", id, err)
		}
	}
	// .part files without an index entry: the crash came between creating
	// the file and committing the index. Keep them visible to fsck.
	return nil
}

func hashFile(path string) (int64, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, "", err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	return n, hex.EncodeToString(h.Sum(nil)), err
}

func (v *Vault) computeUsed() error {
	var used int64
	err := v.view(func(tx *bolt.Tx) error {
		b := tx.Bucket(bEntries)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, val []byte) error {
			var e Entry
			if json.Unmarshal(val, &e) == nil && e.State != StateErased {
				used += e.Size
			}
			return nil
		})
	})
	v.mu.Lock()
	v.used = used
	v.mu.Unlock()
	return err
}

// Usage is the vault's view of its disk.
type Usage struct {
	Used      int64   `json:"used_bytes"`  // sealed recordings and the index
	Index     int64   `json:"index_bytes"` // of which the index (vault.db's blocks on disk)
	Limit     int64   `json:"limit_bytes"` // quota, or file system size
	FSFree    int64   `json:"fs_free_bytes"`
	FSSize    int64   `json:"fs_size_bytes"`
	Fraction  float64 `json:"fraction"`
	Refusing  bool    `json:"refusing"`
	HighWater float64 `json:"high_water"`
}

// Usage reports disk use against the quota or the file system.
func (v *Vault) Usage() Usage {
	v.mu.Lock()
	used := v.used
	for _, r := range v.open {
		used += r.cw.n.Load()
	}
	u := Usage{Used: used, Refusing: v.refusing, HighWater: v.opt.HighWater}
	v.mu.Unlock()
	// The index counts against the quota: call records take room too.
	var st0 unix.Stat_t
	if unix.Stat(filepath.Join(v.dir, "vault.db"), &st0) == nil {
		u.Index = st0.Blocks * 512
		u.Used += u.Index
	}
	used = u.Used
	var st unix.Statfs_t
	if unix.Statfs(v.dir, &st) == nil {
		u.FSFree = int64(st.Bavail) * int64(st.Bsize)
		u.FSSize = int64(st.Blocks) * int64(st.Bsize)
	}
	if v.opt.QuotaBytes > 0 {
		u.Limit = v.opt.QuotaBytes
		u.Fraction = float64(used) / float64(u.Limit)
	} else if u.FSSize > 0 {
		u.Limit = u.FSSize
		u.Fraction = float64(u.FSSize-u.FSFree) / float64(u.FSSize)
	}
	return u
}

// lowSpace reports whether the file system's free space fell below half
// of MinFreeBytes: the reserve the index needs to record what happened.
//
// n is the size of the write about to be made. The free space is asked of
// the kernel at most once a second while it is far above the floor (the
// writes since are subtracted from the last answer); near the floor it is
// asked before every write.
func (v *Vault) lowSpace(n int) bool {
	now := time.Now().UnixNano()
	if est := v.freeEst.Add(-int64(n)); est > v.opt.MinFreeBytes && now-v.freeAt.Load() < int64(time.Second) {
		return false
	}
	var st unix.Statfs_t
	if unix.Statfs(v.dir, &st) != nil {
		return false
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	v.freeEst.Store(free - int64(n))
	v.freeAt.Store(now)
	return free < v.opt.MinFreeBytes/2
}

func (v *Vault) overHigh(u Usage) bool {
	return u.Fraction >= v.opt.HighWater || (u.FSSize > 0 && u.FSFree < v.opt.MinFreeBytes)
}

// ensureRoom makes room before a new recording, or refuses it.
func (v *Vault) ensureRoom() error {
	u := v.Usage()
	if !v.overHigh(u) {
		v.setRefusing(false)
		return nil
	}
	if v.evictionFutile(u) {
		// Nothing changed since the last full scan found nothing to
		// delete: do not make every new call wait for another scan.
		v.alert(AlertQuotaRefusal, "recording refused: disk full and nothing may be deleted")
		return ErrRefused
	}
	if _, err := v.Evict(); err != nil {
		return err
	}
	u = v.Usage()
	if !v.overHigh(u) {
		v.setRefusing(false)
		return nil
	}
	v.mu.Lock()
	v.futileGen, v.futileUsed, v.futileAt = v.gen, u.Used, v.opt.Now()
	v.mu.Unlock()
	var aerr error
	if !v.setRefusing(true) {
		// First refusal of this episode: audit it.
		aerr = v.Audit(audit.QuotaRefusal, "vault", "", fmt.Sprintf("disk at %.0f%%, %d bytes free; nothing may lawfully be deleted", u.Fraction*100, u.FSFree))
	}
	v.alert(AlertQuotaRefusal, "recording refused: disk full and nothing may be deleted")
	if aerr != nil {
		return errors.Join(ErrRefused, aerr)
	}
	return ErrRefused
}

// evictionFutile reports whether an eviction scan would find what the last
// one found (nothing): no acknowledgement, release or deletion since, no
// more data, and less than half a minute ago.
func (v *Vault) evictionFutile(u Usage) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return !v.futileAt.IsZero() && v.gen == v.futileGen && u.Used >= v.futileUsed &&
		v.opt.Now().Sub(v.futileAt) < 30*time.Second
}

// changed notes a change in what eviction may delete.
func (v *Vault) changed() {
	v.mu.Lock()
	v.gen++
	v.mu.Unlock()
}

// setRefusing sets the refusal state and returns the previous one.
func (v *Vault) setRefusing(on bool) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	was := v.refusing
	v.refusing = on
	return was
}

// Refusing reports whether new recordings are being refused for lack of
// space.
func (v *Vault) Refusing() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.refusing
}

// Evict deletes, until usage is below the low watermark: call records of
// unanswered dialogs (oldest first, evictunans.go), then what the policy
// allows (synced first, oldest first), then other call records. It returns
// how many it deleted.
func (v *Vault) Evict() (int, error) {
	type cand struct {
		e      Entry
		tier   int
		reason retention.Reason
	}
	var cands []cand
	var records []cand // call records without media
	var unans []Entry  // call records of unanswered dialogs: the first to go
	err := v.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bEntries).ForEach(func(k, val []byte) error {
			var e Entry
			if json.Unmarshal(val, &e) != nil {
				return nil
			}
			if unansweredRecord(&e) {
				unans = append(unans, e)
				return nil
			}
			if !e.Recorded && e.State == StateCDR && len(e.Holds) == 0 {
				// Recording beats call-record keeping: when space runs
				// short, call records go (the archived ones first) before
				// a call is refused.
				tier := 2
				if !e.AckedAt.IsZero() {
					tier = 1
				}
				records = append(records, cand{e, tier, "call records give way to recordings"})
				return nil
			}
			if !e.Recorded || e.Size == 0 || (e.State != StateComplete && e.State != StateTruncated) {
				return nil
			}
			cl, _ := v.policy().Class(e.Class)
			tier, reason := retention.Evictable(cl, retention.Facts{Start: e.Start, AckedAt: e.AckedAt, OnHold: len(e.Holds) > 0})
			if tier > 0 {
				cands = append(cands, cand{e, tier, reason})
			}
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].tier != cands[j].tier {
			return cands[i].tier < cands[j].tier
		}
		return cands[i].e.Start.Before(cands[j].e.Start)
	})
	below := func() bool {
		u := v.Usage()
		return u.Fraction < v.opt.LowWater && (u.FSSize == 0 || u.FSFree >= v.opt.MinFreeBytes)
	}
	n, err := v.evictUnanswered(unans, below)
	if err != nil {
		return n, err
	}
	for _, c := range cands {
		if below() {
			return n, nil
		}
		if err := v.remove(c.e.ID, string(c.reason), "quota", audit.QuotaDelete); err != nil {
			return n, err
		}
		n++
	}
	// Then call records, archived ones first, oldest first, in batches;
	// the index gives their pages back only when compacted.
	sort.Slice(records, func(i, j int) bool {
		if records[i].tier != records[j].tier {
			return records[i].tier < records[j].tier
		}
		return records[i].e.Start.Before(records[j].e.Start)
	})
	for lo := 0; lo < len(records) && !below(); lo += 500 {
		batch := records[lo:min(lo+500, len(records))]
		rs := make([]removal, len(batch))
		for i, c := range batch {
			rs[i] = removal{id: c.e.ID, reason: string(c.reason), by: "quota", action: audit.QuotaDelete}
		}
		errs, err := v.removeMany(rs)
		if err != nil {
			return n, err
		}
		for _, e := range errs {
			if e == nil {
				n++
			}
		}
		if _, err := v.Compact(); err != nil {
			return n, err
		}
	}
	if n > 0 {
		if _, err := v.CompactIfWorth(); err != nil {
			return n, err
		}
	}
	return n, nil
}

// SweepResult says what a retention sweep did.
type SweepResult struct {
	Deleted  int    `json:"deleted"`
	Examined int    `json:"examined"`
	Skipped  string `json:"skipped,omitempty"` // why nothing was done
}

// Sweep deletes what retention says must go by now. It does nothing while
// the clock is not synchronised: a box that boots without NTP may think it
// is 1970 or 2038, and deleting on a wrong clock cannot be undone.
func (v *Vault) Sweep() (SweepResult, error) {
	var res SweepResult
	if !v.opt.ClockSynced() {
		res.Skipped = "clock not synchronised"
		return res, nil
	}
	now := v.opt.Now()
	type due struct {
		id     string
		reason retention.Reason
	}
	var todo []due
	err := v.view(func(tx *bolt.Tx) error {
		c := tx.Bucket(bExpiry).Cursor()
		limit := make([]byte, 8)
		binary.BigEndian.PutUint64(limit, uint64(now.Unix())+1)
		for k, _ := c.First(); k != nil && bytes.Compare(k, limit) < 0; k, _ = c.Next() {
			res.Examined++
			id := string(k[8:])
			e, err := getEntry(tx, id)
			if err != nil {
				continue
			}
			cl, _ := v.policy().Class(e.Class)
			r := retention.Due(cl, retention.Facts{Start: e.Start, AckedAt: e.AckedAt, OnHold: len(e.Holds) > 0}, now)
			if r == retention.Keep && e.State == StateCDR && !e.Expiry.After(now) && len(e.Holds) == 0 {
				r = retention.MaxAge
			}
			if r != retention.Keep {
				todo = append(todo, due{id, r})
			}
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	rs := make([]removal, len(todo))
	for i, d := range todo {
		rs[i] = removal{id: d.id, reason: string(d.reason), by: "retention", action: audit.RetentionDelete}
	}
	errs, err := v.removeMany(rs)
	if err != nil {
		return res, err
	}
	for _, e := range errs {
		if e == nil {
			res.Deleted++
		}
	}
	if res.Deleted > 0 {
		if _, err := v.CompactIfWorth(); err != nil {
			return res, err
		}
	}
	return res, nil
}

// Acknowledge records that the archive holds a recording (the sync
// client calls it after the archive confirms). Retention then counts the
// class's grace period from at.
func (v *Vault) Acknowledge(id string, at time.Time) error {
	err := v.update(func(tx *bolt.Tx) error {
		old, err := getEntry(tx, id)
		if err != nil {
			return err
		}
		e := *old
		e.Sync = SyncAcked
		e.AckedAt = at.UTC()
		cl, _ := v.policy().Class(e.Class)
		if g := at.Add(time.Duration(cl.Grace)); e.Expiry.IsZero() || g.Before(e.Expiry) {
			e.Expiry = g
		}
		if err := putEntry(tx, &e, old); err != nil {
			return err
		}
		return v.audit(tx, audit.Entry{Action: audit.SyncAck, Actor: "sync", Recording: id})
	})
	v.changed()
	return err
}

// remove deletes one recording: overwrite, fsync and unlink the file,
// drop the sealed metadata, leave a tombstone and an audit entry. It
// refuses recordings on hold.
func (v *Vault) remove(id, reason, by, action string) error {
	if !validID(id) {
		return fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	rm := removal{id: id, reason: reason, by: by, action: action}
	if strings.HasPrefix(reason, "erasure: ") && len(v.opt.Recipients) > 0 {
		// The free text of an erasure is personal: sealed for the
		// archive; the clear index keeps "erasure".
		sealed, err := v.seal(map[string]string{"reason": strings.TrimPrefix(reason, "erasure: ")})
		if err == nil {
			rm.sealedReason = sealed
		}
	}
	errs, err := v.removeMany([]removal{rm})
	if err != nil {
		return err
	}
	return errs[0]
}

// removal is one deletion for removeMany.
type removal struct {
	id, reason, by, action string
	sealedReason           []byte // the free text of an erasure, sealed
}

// removeBatch is how many deletions share one index transaction: a sweep
// over a large vault must not pay one fsync per recording.
const removeBatch = 2000

// removeMany deletes recordings in batches: shred the files, then in one
// transaction per batch write the tombstones and audit entries and drop
// the index records. It returns one error per removal (nil: deleted).
func (v *Vault) removeMany(rs []removal) ([]error, error) {
	errs := make([]error, len(rs))
	for lo := 0; lo < len(rs); lo += removeBatch {
		batch := rs[lo:min(lo+removeBatch, len(rs))]
		berrs := errs[lo : lo+len(batch)]
		// Files first: a crash after shredding leaves an entry whose file
		// is gone, which fsck -repair turns into a tombstone; the other
		// order could leave a file nobody knows about.
		sizes := make([]int64, len(batch))
		err := v.view(func(tx *bolt.Tx) error {
			for i, r := range batch {
				e, err := getEntry(tx, r.id)
				switch {
				case err != nil:
					berrs[i] = err
				case len(e.Holds) > 0:
					berrs[i] = fmt.Errorf("%w: %s", ErrOnHold, r.id)
				case e.State == StateRecording:
					berrs[i] = fmt.Errorf("vault: %s is still being recorded", r.id)
				default:
					sizes[i] = e.Size
					if e.Recorded {
						if err := shred(v.path(r.id, false)); err != nil && !os.IsNotExist(err) {
							berrs[i] = fmt.Errorf("vault: erase %s: %w", r.id, err)
						}
					}
				}
			}
			return nil
		})
		if err != nil {
			return errs, err
		}
		var freed int64
		err = v.update(func(tx *bolt.Tx) error {
			now := v.opt.Now().UTC()
			if v.key == nil {
				return errors.New("vault: no appliance key: cannot audit (read-only open)")
			}
			trail, err := audit.Begin(tx, v.key)
			if err != nil {
				return err
			}
			for i, r := range batch {
				if berrs[i] != nil {
					continue
				}
				old, err := getEntry(tx, r.id)
				if err != nil {
					berrs[i] = err
					continue
				}
				// Keep only the sealed minimum (the numbers, sealed at
				// recording time) so that a subject report can list the
				// deletion; the box cannot read it.
				sealedSubject := bytes.Clone(tx.Bucket(bSubjects).Get([]byte(r.id)))
				ts := Tombstone{ID: r.id, Start: old.Start, Class: old.Class, DeletedAt: now, Kind: r.tombstoneKind(), Reason: r.clearReason(), By: r.by,
					SHA256: old.SHA256, Synced: !old.AckedAt.IsZero(), Subject: sealedSubject, SealedReason: r.sealedReason}
				tb, _ := json.Marshal(ts)
				if err := tx.Bucket(bTombstones).Put([]byte(r.id), tb); err != nil {
					return err
				}
				for _, b := range [][]byte{bSubjects, bSealed, bEntries} {
					if err := tx.Bucket(b).Delete([]byte(r.id)); err != nil {
						return err
					}
				}
				if !old.Expiry.IsZero() {
					if err := tx.Bucket(bExpiry).Delete(expiryKey(old.Expiry, r.id)); err != nil {
						return err
					}
				}
				detail := r.clearReason()
				if r.sealedReason != nil {
					detail += " (reason sealed in the tombstone)"
				}
				if _, err := trail.Add(audit.Entry{Time: now, Action: r.action, Actor: r.by, Recording: r.id, Detail: detail}); err != nil {
					return err
				}
				freed += sizes[i]
			}
			return trail.Commit()
		})
		if err != nil {
			return errs, err
		}
		v.mu.Lock()
		v.used -= freed
		v.gen++
		v.mu.Unlock()
	}
	return errs, nil
}

// shred overwrites a file with zeros, fsyncs it and unlinks it.
func shred(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err == nil {
		zero := make([]byte, 64<<10)
		for left := st.Size(); left > 0 && err == nil; {
			n := min(left, int64(len(zero)))
			_, err = f.Write(zero[:n])
			left -= n
		}
	}
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if err != nil {
		return err
	}
	if err := os.Remove(path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// Erase deletes one recording or call detail record on request (GDPR Art.
// 17). It refuses what is on hold.
func (v *Vault) Erase(id, reason, by string) error {
	if err := v.remove(id, "erasure: "+reason, by, audit.Erasure); err != nil {
		return err
	}
	v.noteErasure()
	return nil
}

func (v *Vault) noteErasure() {
	now := v.opt.Now()
	v.mu.Lock()
	v.erasures = append(v.erasures, now)
	cut := 0
	for cut < len(v.erasures) && now.Sub(v.erasures[cut]) > v.opt.ErasureWindow {
		cut++
	}
	v.erasures = v.erasures[cut:]
	n := len(v.erasures)
	v.mu.Unlock()
	if n > v.opt.ErasureBurst {
		v.alert(AlertErasureBurst, fmt.Sprintf("%d erasures within %s", n, v.opt.ErasureWindow))
	}
}

// SubjectMatch is a recording that belongs to a subject.
type SubjectMatch struct {
	Entry    *Entry
	Personal *Personal
}

// FindSubject decrypts every sealed metadata record with the identities
// and returns those naming number.
func (v *Vault) FindSubject(number string, ids []age.Identity) ([]SubjectMatch, error) {
	want := NormalizeNumber(number)
	if want == "" {
		return nil, errors.New("vault: empty subject number")
	}
	if len(ids) == 0 {
		return nil, ErrNoKey
	}
	type raw struct{ id, entry, sealed []byte }
	var rows []raw
	err := v.view(func(tx *bolt.Tx) error {
		s := tx.Bucket(bSealed)
		return s.ForEach(func(k, val []byte) error {
			rows = append(rows, raw{bytes.Clone(k), bytes.Clone(tx.Bucket(bEntries).Get(k)), bytes.Clone(val)})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	var out []SubjectMatch
	decrypted := 0
	for _, r := range rows {
		p, err := openPersonal(r.sealed, ids)
		if err != nil {
			continue
		}
		decrypted++
		if !slices.Contains(p.Numbers, want) {
			continue
		}
		var e Entry
		if r.entry == nil || json.Unmarshal(r.entry, &e) != nil {
			continue
		}
		out = append(out, SubjectMatch{Entry: &e, Personal: p})
	}
	if decrypted == 0 && len(rows) > 0 {
		return nil, fmt.Errorf("%w: none of %d sealed records opened", ErrNoKey, len(rows))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Entry.Start.Before(out[j].Entry.Start) })
	return out, nil
}

// EraseSubject erases every recording of a subject. Recordings on hold
// are skipped and returned in held.
func (v *Vault) EraseSubject(number, reason, by string, ids []age.Identity) (erased, held []string, err error) {
	ms, err := v.FindSubject(number, ids)
	if err != nil {
		return nil, nil, err
	}
	for _, m := range ms {
		err := v.Erase(m.Entry.ID, reason, by)
		switch {
		case errors.Is(err, ErrOnHold):
			held = append(held, m.Entry.ID)
		case err != nil:
			return erased, held, err
		default:
			erased = append(erased, m.Entry.ID)
		}
	}
	return erased, held, nil
}

// HoldRecord is a legal hold.
type HoldRecord struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	By        string    `json:"by"`
	Reason    string    `json:"reason"`
	Recording string    `json:"recording,omitempty"` // for a hold on one recording
	// For a hold on a subject: a salted HMAC of the normalised number,
	// so that recordings made later are held too without the number being
	// stored in clear, and the number sealed for the archive.
	Salt    []byte `json:"salt,omitempty"`
	Tag     []byte `json:"tag,omitempty"`
	Subject []byte `json:"subject,omitempty"`
	// KDF is "argon2id" for tags under the box-wide salt (see subject.go);
	// empty for holds made before (HMAC under Salt).
	KDF string `json:"kdf,omitempty"`
}

func newHoldID() string {
	var b [8]byte
	rand.Read(b[:])
	return "hold-" + hex.EncodeToString(b[:])
}

// Hold puts one recording on legal hold.
func (v *Vault) Hold(id, reason, by string) (string, error) {
	hid := newHoldID()
	err := v.update(func(tx *bolt.Tx) error {
		old, err := getEntry(tx, id)
		if err != nil {
			return err
		}
		e := *old
		e.Holds = append(slices.Clone(e.Holds), hid)
		h := HoldRecord{ID: hid, Created: v.opt.Now().UTC(), By: by, Reason: reason, Recording: id}
		hb, _ := json.Marshal(h)
		if err := tx.Bucket(bHolds).Put([]byte(hid), hb); err != nil {
			return err
		}
		if err := putEntry(tx, &e, old); err != nil {
			return err
		}
		return v.audit(tx, audit.Entry{Action: audit.Hold, Actor: by, Recording: id, Detail: hid + ": " + reason})
	})
	return hid, err
}

// HoldSubject puts every recording of a subject, present and future, on
// legal hold. Matching present recordings needs the identity.
func (v *Vault) HoldSubject(number, reason, by string, ids []age.Identity) (string, []string, error) {
	ms, err := v.FindSubject(number, ids)
	if err != nil {
		return "", nil, err
	}
	hid := newHoldID()
	salt, err := v.subjectSalt()
	if err != nil {
		return "", nil, err
	}
	tag := SubjectTag(salt, number)
	sealedSubject, err := v.seal(map[string]string{"number": NormalizeNumber(number)})
	if err != nil {
		return "", nil, err
	}
	var held []string
	err = v.update(func(tx *bolt.Tx) error {
		h := HoldRecord{ID: hid, Created: v.opt.Now().UTC(), By: by, Reason: reason, Tag: tag, KDF: subjectKDF, Subject: sealedSubject}
		hb, _ := json.Marshal(h)
		if err := tx.Bucket(bHolds).Put([]byte(hid), hb); err != nil {
			return err
		}
		for _, m := range ms {
			old, err := getEntry(tx, m.Entry.ID)
			if err != nil {
				continue
			}
			e := *old
			e.Holds = append(slices.Clone(e.Holds), hid)
			if err := putEntry(tx, &e, old); err != nil {
				return err
			}
			held = append(held, e.ID)
		}
		return v.audit(tx, audit.Entry{Action: audit.Hold, Actor: by, Detail: fmt.Sprintf("%s: subject hold on %d recordings: %s", hid, len(held), reason)})
	})
	return hid, held, err
}

// Release lifts a hold (by hold ID) from everything it covers.
func (v *Vault) Release(hid, reason, by string) (int, error) {
	n := 0
	err := v.update(func(tx *bolt.Tx) error {
		if tx.Bucket(bHolds).Get([]byte(hid)) == nil {
			return fmt.Errorf("vault: no hold %q", hid)
		}
		if err := tx.Bucket(bHolds).Delete([]byte(hid)); err != nil {
			return err
		}
		var touched []*Entry
		if err := tx.Bucket(bEntries).ForEach(func(k, val []byte) error {
			if !bytes.Contains(val, []byte(hid)) {
				return nil
			}
			var e Entry
			if json.Unmarshal(val, &e) == nil && slices.Contains(e.Holds, hid) {
				touched = append(touched, &e)
			}
			return nil
		}); err != nil {
			return err
		}
		for _, old := range touched {
			e := *old
			e.Holds = slices.DeleteFunc(slices.Clone(e.Holds), func(s string) bool { return s == hid })
			if err := putEntry(tx, &e, old); err != nil {
				return err
			}
			n++
		}
		return v.audit(tx, audit.Entry{Action: audit.Release, Actor: by, Detail: fmt.Sprintf("%s released from %d records: %s", hid, n, reason)})
	})
	v.changed()
	return n, err
}

// Holds lists the holds in force.
func (v *Vault) Holds() ([]HoldRecord, error) {
	var out []HoldRecord
	err := v.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bHolds).ForEach(func(k, val []byte) error {
			var h HoldRecord
			if err := json.Unmarshal(val, &h); err != nil {
				return err
			}
			out = append(out, h)
			return nil
		})
	})
	return out, err
}

// Tombstones lists what was deleted.
func (v *Vault) Tombstones() ([]Tombstone, error) {
	var out []Tombstone
	err := v.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bTombstones).ForEach(func(k, val []byte) error {
			var t Tombstone
			if err := json.Unmarshal(val, &t); err != nil {
				return err
			}
			out = append(out, t)
			return nil
		})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].DeletedAt.Before(out[j].DeletedAt) })
	return out, err
}

// OpenRecording decrypts a recording with the identities and returns a
// reader of its records. The caller closes the returned closer.
func (v *Vault) OpenRecording(id string, ids []age.Identity) (*sealed.Reader, io.Closer, error) {
	r, c, _, err := v.OpenRecordingCounted(id, ids)
	return r, c, err
}

// OpenRecordingCounted is OpenRecording that also reports, through
// plaintext, how many decrypted bytes the reader has pulled: a chunk that
// fails to authenticate is chunk plaintext()/64KiB (age's STREAM chunks
// are 64 KiB of plaintext).
func (v *Vault) OpenRecordingCounted(id string, ids []age.Identity) (*sealed.Reader, io.Closer, func() int64, error) {
	r, c, cr, err := v.openRecording(id, ids)
	if err != nil {
		return nil, nil, nil, err
	}
	return r, c, func() int64 { return cr.n }, nil
}

func (v *Vault) openRecording(id string, ids []age.Identity) (*sealed.Reader, io.Closer, *countingReader, error) {
	if !validID(id) {
		return nil, nil, nil, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	e, err := v.Get(id)
	if err != nil {
		return nil, nil, nil, err
	}
	if !e.Recorded {
		return nil, nil, nil, fmt.Errorf("vault: %s has no media stored (%s)", id, e.CallState)
	}
	f, err := os.Open(v.path(id, false))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("vault: open %s: %w", id, err)
	}
	if len(ids) == 0 {
		f.Close()
		return nil, nil, nil, ErrNoKey
	}
	pr, err := age.Decrypt(f, ids...)
	if err != nil {
		f.Close()
		if _, ok := err.(*age.NoIdentityMatchError); ok {
			return nil, nil, nil, fmt.Errorf("%w: %v", ErrNoKey, err)
		}
		if e.State == StateTruncated {
			// Interrupted before its age header reached the disk.
			return nil, nil, nil, fmt.Errorf("vault: %s: %w (%v)", id, sealed.ErrTruncated, err)
		}
		return nil, nil, nil, fmt.Errorf("vault: decrypt %s: %w", id, err)
	}
	cr := &countingReader{r: pr}
	r, err := sealed.NewReader(cr)
	if err != nil {
		f.Close()
		return nil, nil, nil, fmt.Errorf("vault: read %s: %w", id, err)
	}
	return r, f, cr, nil
}

// Resolve finds a recording by its ID or, with the identities, by SIP
// Call-ID.
func (v *Vault) Resolve(key string, ids []age.Identity) (string, error) {
	if validID(key) {
		if _, err := v.Get(key); err == nil {
			return key, nil
		}
	}
	es, err := v.List()
	if err != nil {
		return "", err
	}
	for _, e := range es {
		p, err := v.Personal(e.ID, ids)
		if err != nil {
			continue
		}
		if p.CallID == key && e.Recorded {
			return e.ID, nil
		}
	}
	if strings.TrimSpace(key) == "" {
		return "", fmt.Errorf("%w: empty ID", ErrNotFound)
	}
	return "", fmt.Errorf("%w: %s", ErrNotFound, key)
}

// clearReason is what the clear index and the audit trail keep of a
// removal's reason: "erasure" when its free text is sealed.
func (r removal) clearReason() string {
	if r.sealedReason != nil {
		return "erasure"
	}
	return r.reason
}
