package vault

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"slices"

	"github.com/spanvault/spanvault/record"
	bolt "go.etcd.io/bbolt"
	"golang.org/x/crypto/argon2"
)

// Subject holds match later calls without the number in clear: a hold
// keeps argon2id(number, box salt). The salt is one per box, so a call
// costs one evaluation per number checked however many holds exist, and
// only the call's external party is checked (the customer; both parties
// of an internal call). The cost (time 2, 17 MiB) makes a search over
// 10^9 candidate numbers take over a CPU-year on the build machine while
// one evaluation stays under 50 ms (make bench prints both). Matching runs
// off the capture path, when a call is sealed, and only while subject
// holds exist. Holds made before this scheme (HMAC tags, KDF empty) still
// match.

// KDF parameters of subject-hold tags.
const (
	subjectKDF     = "argon2id"
	subjectTime    = 2
	subjectMemory  = 17 << 10 // KiB
	subjectThreads = 1
)

var keySubjectSalt = []byte("subject_salt")

// SubjectTag is the tag of a number under salt (exported for benchmarks).
func SubjectTag(salt []byte, number string) []byte {
	return argon2.IDKey([]byte(NormalizeNumber(number)), salt, subjectTime, subjectMemory, subjectThreads, 32)
}

func legacyTag(salt []byte, number string) []byte {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(NormalizeNumber(number)))
	return m.Sum(nil)
}

// subjectSalt returns the box-wide salt, creating it on first use.
func (v *Vault) subjectSalt() ([]byte, error) {
	var salt []byte
	err := v.view(func(tx *bolt.Tx) error {
		salt = slices.Clone(tx.Bucket(bMeta).Get(keySubjectSalt))
		return nil
	})
	if err != nil || salt != nil {
		return salt, err
	}
	salt = make([]byte, 16)
	rand.Read(salt)
	err = v.update(func(tx *bolt.Tx) error {
		if old := tx.Bucket(bMeta).Get(keySubjectSalt); old != nil {
			salt = slices.Clone(old)
			return nil
		}
		return tx.Bucket(bMeta).Put(keySubjectSalt, salt)
	})
	return salt, err
}

// subjectTags computes, outside any transaction, the tags of a call's
// external numbers, or nothing when no subject hold uses the KDF.
func (v *Vault) subjectTags(c *record.Draft) [][]byte {
	if c == nil || !v.hasKDFHolds() {
		return nil
	}
	salt, err := v.subjectSalt()
	if err != nil {
		return nil
	}
	var tags [][]byte
	for _, n := range c.ExternalNumbers() {
		if n != "" {
			tags = append(tags, SubjectTag(salt, n))
		}
	}
	return tags
}

func (v *Vault) hasKDFHolds() bool {
	found := false
	err := v.view(func(tx *bolt.Tx) error {
		return tx.Bucket(bHolds).ForEach(func(k, val []byte) error {
			var h HoldRecord
			if json.Unmarshal(val, &h) == nil && h.KDF == subjectKDF {
				found = true
			}
			return nil
		})
	})
	return found || err != nil // a hold list that cannot be read is assumed to hold
}

// matchSubjectHolds lists the subject holds a call falls under: KDF holds
// by the precomputed tags, legacy holds by their HMAC.
func (v *Vault) matchSubjectHolds(tx *bolt.Tx, p *Personal, tags [][]byte) []string {
	var out []string
	_ = tx.Bucket(bHolds).ForEach(func(k, val []byte) error { // the function returns no error
		var h HoldRecord
		if json.Unmarshal(val, &h) != nil || h.Tag == nil {
			return nil
		}
		if h.KDF == subjectKDF {
			for _, t := range tags {
				if subtle.ConstantTimeCompare(t, h.Tag) == 1 {
					out = append(out, h.ID)
					break
				}
			}
			return nil
		}
		for _, n := range p.Numbers {
			if hmac.Equal(legacyTag(h.Salt, n), h.Tag) {
				out = append(out, h.ID)
				break
			}
		}
		return nil
	})
	return out
}

// holdMatchesNumber reports whether a hold covers a number (reports).
func (v *Vault) holdMatchesNumber(h HoldRecord, number string) bool {
	if h.KDF == subjectKDF {
		salt, err := v.subjectSalt()
		return err == nil && subtle.ConstantTimeCompare(SubjectTag(salt, number), h.Tag) == 1
	}
	return hmac.Equal(legacyTag(h.Salt, number), h.Tag)
}
