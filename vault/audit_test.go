package vault_test

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/audit"
)

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func seqKey(n uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, n)
	return k
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		in, _ := os.Open(p)
		defer in.Close()
		out, _ := os.OpenFile(filepath.Join(dst, rel), os.O_CREATE|os.O_WRONLY, 0o600)
		defer out.Close()
		_, err = io.Copy(out, in)
		return err
	})
	return dst
}

// TestAuditTamperDetected edits, deletes and reorders entries directly in
// the bbolt file, and cuts the chain short: verification names the entry.
func TestAuditTamperDetected(t *testing.T) {
	_, recips, _ := newKey(t)
	dir := t.TempDir()
	v, err := vault.Open(vault.Options{Dir: dir, Recipients: recips})
	if err != nil {
		t.Fatal(err)
	}
	recordSynth(t, v, synth.Config{Calls: 6, Duration: time.Second, Rejected: 2})
	n, err := v.VerifyAudit()
	if err != nil || n < 12 {
		t.Fatalf("fresh chain: %d entries, %v", n, err)
	}
	v.Close()

	cases := []struct {
		name   string
		tamper func(b *bolt.Bucket) error
		want   uint64
	}{
		{"edit detail", func(b *bolt.Bucket) error {
			var e audit.Entry
			json.Unmarshal(b.Get(seqKey(5)), &e)
			e.Detail = "nothing happened"
			enc, _ := json.Marshal(e)
			return b.Put(seqKey(5), enc)
		}, 5},
		{"edit actor, bytes only", func(b *bolt.Bucket) error {
			val := append([]byte(nil), b.Get(seqKey(3))...)
			for i := range val {
				if val[i] == 'c' { // capture -> dapture
					val[i] = 'd'
					break
				}
			}
			return b.Put(seqKey(3), val)
		}, 3},
		{"edit and rehash", func(b *bolt.Bucket) error {
			// A forger who recomputes the edited entry's own hash is
			// caught at the next link.
			var e audit.Entry
			json.Unmarshal(b.Get(seqKey(6)), &e)
			e.Action = audit.Export
			e.Hash = ""
			raw, _ := json.Marshal(e)
			e.Hash = sha256hex(raw)
			enc, _ := json.Marshal(e)
			return b.Put(seqKey(6), enc)
		}, 7},
		{"delete", func(b *bolt.Bucket) error { return b.Delete(seqKey(7)) }, 7},
		{"reorder", func(b *bolt.Bucket) error {
			a, c := append([]byte(nil), b.Get(seqKey(4))...), append([]byte(nil), b.Get(seqKey(8))...)
			if err := b.Put(seqKey(4), c); err != nil {
				return err
			}
			return b.Put(seqKey(8), a)
		}, 4},
		{"truncate", func(b *bolt.Bucket) error {
			return b.Delete(seqKey(uint64(b.Stats().KeyN)))
		}, n},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := copyDir(t, dir)
			db, err := bolt.Open(filepath.Join(d, "vault.db"), 0o600, nil)
			if err != nil {
				t.Fatal(err)
			}
			err = db.Update(func(tx *bolt.Tx) error { return tc.tamper(tx.Bucket(audit.BucketEntries)) })
			db.Close()
			if err != nil {
				t.Fatal(err)
			}
			var alerts []vault.Alert
			v, err := vault.Open(vault.Options{Dir: d, ReadOnly: true, Alert: func(a vault.Alert) { alerts = append(alerts, a) }})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			_, err = v.VerifyAudit()
			var be *audit.BrokenError
			if !errors.As(err, &be) {
				t.Fatalf("tampering not detected: %v", err)
			}
			if be.Seq != tc.want {
				t.Fatalf("named entry %d (%s), want %d", be.Seq, be.Reason, tc.want)
			}
			if len(alerts) == 0 || alerts[0].Kind != vault.AlertAuditBroken {
				t.Fatalf("no alert raised: %v", alerts)
			}
		})
	}
}
