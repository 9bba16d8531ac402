package vault

// Legal holds.

import (
	"bytes"

	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"filippo.io/age"
	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/vault/audit"
)

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
