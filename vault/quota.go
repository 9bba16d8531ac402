package vault

// Quota: the space used, the watermarks, and refusing new recordings.

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/spanvault/spanvault/vault/audit"
)

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
