package vault_test

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/vault"
)

// The index the fuzz target damages is a fixed file (testdata), so that an
// input found once fails the same way again: a vault with a few
// recordings, call records and a hold, every bucket holding something.
// SPANVAULT_WRITE_FUZZ_INDEX=1 writes it anew.
const fuzzIndexDir = "testdata/fuzz-index"

func smallIndex(t testing.TB) ([]byte, age.Identity, age.Recipient) {
	if os.Getenv("SPANVAULT_WRITE_FUZZ_INDEX") != "" {
		writeFuzzIndex(t)
	}
	db, err := os.ReadFile(filepath.Join(fuzzIndexDir, "vault.db"))
	if err != nil {
		t.Fatal(err)
	}
	idb, err := os.ReadFile(filepath.Join(fuzzIndexDir, "identity.txt"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := age.ParseX25519Identity(strings.TrimSpace(string(idb)))
	if err != nil {
		t.Fatal(err)
	}
	return db, id, id.Recipient()
}

var writeOnce sync.Once

func writeFuzzIndex(t testing.TB) {
	writeOnce.Do(func() {
		dir := t.TempDir()
		id, _ := age.GenerateX25519Identity()
		v, err := vault.Open(vault.Options{Dir: dir, Recipients: []age.Recipient{id.Recipient()}})
		if err != nil {
			t.Fatal(err)
		}
		recordSynth(t, v, synth.Config{Calls: 3, Duration: time.Second, Rejected: 2})
		es, _ := v.List()
		v.Hold(es[0].ID, "fuzz", "test")
		v.Close()
		os.MkdirAll(fuzzIndexDir, 0o755)
		db, _ := os.ReadFile(filepath.Join(dir, "vault.db"))
		os.WriteFile(filepath.Join(fuzzIndexDir, "vault.db"), db, 0o644)
		os.WriteFile(filepath.Join(fuzzIndexDir, "identity.txt"), []byte(id.String()+"\n"), 0o644)
	})
}

// FuzzIndexFile damages a real index file: the input is a list of
// patches (a 24-bit offset and a byte each) and, if its first byte is
// odd, a truncation. No command may panic on any of it, and the daemon's
// open always yields a vault that records.
func FuzzIndexFile(f *testing.F) {
	f.Add([]byte{0})
	f.Add([]byte{0, 0, 0x10, 0, 0xff})                   // a meta page byte
	f.Add([]byte{0, 0, 0x30, 0, 0x00, 0, 0x30, 1, 0x00}) // a page header
	f.Add([]byte{1, 0, 0x20, 0})                         // truncated to 8 KiB
	f.Fuzz(func(t *testing.T, patch []byte) {
		orig, _, rcpt := smallIndex(t)
		db := append([]byte(nil), orig...)
		if len(patch) == 0 {
			return
		}
		truncate := patch[0]&1 == 1
		p := patch[1:]
		if truncate && len(p) >= 3 {
			n := int(binary.LittleEndian.Uint32(append(p[:3:3], 0))) % (len(db) + 1)
			db, p = db[:n], p[3:]
		}
		for ; len(p) >= 4 && len(db) > 0; p = p[4:] {
			off := int(binary.LittleEndian.Uint32(append(p[:3:3], 0))) % len(db)
			db[off] = p[3]
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "vault.db"), db, 0o600); err != nil {
			t.Fatal(err)
		}
		// Read paths: an error or a result, never a panic.
		if v, err := vault.Open(vault.Options{Dir: dir, ReadOnly: true}); err == nil {
			v.List()
			v.Fsck(false)
			v.VerifyAudit()
			v.Tombstones()
			v.Holds()
			v.Floods()
			v.Close()
		}
		// The daemon's open always records.
		replaced := 0
		v, err := vault.OpenOrReplace(vault.Options{Dir: dir, Recipients: []age.Recipient{rcpt},
			Alert: func(a vault.Alert) {
				if a.Kind == vault.AlertIndexDamaged {
					replaced++
				}
			}})
		if err != nil {
			t.Fatalf("the daemon could not open the vault: %v", err)
		}
		defer v.Close()
		// A damaged value comes back as an error naming it, with every
		// readable entry.
		before, err := v.List()
		if err != nil && !errors.Is(err, vault.ErrDamaged) {
			t.Fatalf("a vault the daemon opened cannot list: %v", err)
		}
		c := &calls.Call{CallID: "fuzz@test", State: calls.Rejected, Start: time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)}
		atOpen := replaced
		if err := v.Detail(c.Draft()); err != nil {
			t.Fatalf("the daemon's vault does not take a call record: %v", err)
		}
		after, _ := v.List()
		switch {
		case replaced > atOpen:
			// A bad page met on the way: the index was moved aside and
			// the record went into a fresh one.
			if len(after) != 1 {
				t.Fatalf("index replaced while running: %d entries, want the new record", len(after))
			}
		case len(after) != len(before)+1:
			t.Fatalf("call record not kept: %d -> %d entries", len(before), len(after))
		}
	})
}
