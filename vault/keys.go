package vault

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/vault/audit"
)

// The audit key history: every key that has signed the chain, with the
// entry from which it signed. A key that changes (appliance.key deleted
// or replaced) is recorded, audited and alerted; it is never silent, and
// `audit verify` reports which key signed which span. The archive pins the
// first key it sees and refuses heads signed by another.

var keyHistory = []byte("audit_keys")

// KeySpan is one key's span of the chain.
type KeySpan struct {
	Fingerprint string    `json:"fingerprint"` // hex SHA-256 of the public key, first 16 characters
	PublicKey   []byte    `json:"public_key"`
	FromSeq     uint64    `json:"from_seq"` // first entry appended under this key
	Since       time.Time `json:"since"`
}

// AlertAuditKeyChanged is raised when the signing key differs from the
// last one recorded.
const AlertAuditKeyChanged = "audit_key_changed"

func fingerprint(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:])[:16]
}

// KeySpans returns the key history, oldest first.
func (v *Vault) KeySpans() ([]KeySpan, error) {
	var ks []KeySpan
	err := v.view(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bMeta).Get(keyHistory); b != nil {
			return json.Unmarshal(b, &ks)
		}
		return nil
	})
	return ks, err
}

// noteKey records the current key in the history at open; a different
// key than the last one is audited (under the new key) and alerted.
func (v *Vault) noteKey() error {
	if v.key == nil {
		return nil
	}
	pub := v.key.Public().(ed25519.PublicKey)
	var changed *KeySpan
	err := v.update(func(tx *bolt.Tx) error {
		var ks []KeySpan
		if b := tx.Bucket(bMeta).Get(keyHistory); b != nil {
			if err := json.Unmarshal(b, &ks); err != nil {
				return &DamagedError{Path: "vault.db", Detail: "audit key history does not decode: " + err.Error()}
			}
		}
		if len(ks) > 0 && string(ks[len(ks)-1].PublicKey) == string(pub) {
			return nil
		}
		head, err := audit.ReadHead(tx)
		if err != nil {
			return err
		}
		k := KeySpan{Fingerprint: fingerprint(pub), PublicKey: pub, FromSeq: head.Seq + 1, Since: v.opt.Now().UTC()}
		if len(ks) == 0 && head.Seq > 0 && ed25519.Verify(pub, audit.HeadMessage(head), head.Signature) {
			// A vault from before the history was kept, still signed by
			// this key: it signed from the start.
			k.FromSeq = 1
			b, _ := json.Marshal([]KeySpan{k})
			return tx.Bucket(bMeta).Put(keyHistory, b)
		}
		ks = append(ks, k)
		b, _ := json.Marshal(ks)
		if err := tx.Bucket(bMeta).Put(keyHistory, b); err != nil {
			return err
		}
		if len(ks) > 1 || head.Seq > 0 {
			// A chain exists that another key signed.
			changed = &k
			prev := "none recorded"
			if len(ks) > 1 {
				prev = ks[len(ks)-2].Fingerprint
			}
			return v.audit(tx, audit.Entry{Action: "audit_key_changed", Actor: "vault",
				Detail: fmt.Sprintf("signing key %s replaces %s from entry %d (appliance.key deleted or replaced)", k.Fingerprint, prev, k.FromSeq)})
		}
		return nil
	})
	if err == nil && changed != nil {
		v.alert(AlertAuditKeyChanged, fmt.Sprintf("the audit chain's signing key changed to %s from entry %d: appliance.key was deleted or replaced", changed.Fingerprint, changed.FromSeq))
	}
	return err
}
