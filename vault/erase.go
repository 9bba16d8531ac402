package vault

// Erasure of a recording or of every recording of a data subject.

import (
	"bytes"

	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	"filippo.io/age"
	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/vault/audit"
)

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
