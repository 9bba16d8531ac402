package vault_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/vault"
)

// TestLostIndexAlerted: an index that disappears or is emptied while
// recordings exist is index damage: the daemon's open alerts it and
// audits it, keeps an emptied file aside, and fsck -repair re-indexes
// every recording.
func TestLostIndexAlerted(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	for _, kind := range []string{"emptied", "deleted"} {
		t.Run(kind, func(t *testing.T) {
			dir := t.TempDir()
			v, err := vault.Open(vault.Options{Dir: dir, Recipients: []age.Recipient{id.Recipient()}})
			if err != nil {
				t.Fatal(err)
			}
			recordSynth(t, v, synth.Config{Calls: 3, Duration: time.Second})
			want := map[string]bool{}
			for _, e := range mustList(v) {
				if e.Recorded {
					want[e.ID] = true
				}
			}
			v.Close()
			db := filepath.Join(dir, "vault.db")
			if kind == "emptied" {
				os.Truncate(db, 0)
			} else {
				os.Remove(db)
			}
			var alerts []vault.Alert
			v, err = vault.OpenOrReplace(vault.Options{Dir: dir, Recipients: []age.Recipient{id.Recipient()},
				Alert: func(a vault.Alert) { alerts = append(alerts, a) }})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			if len(alerts) != 1 || alerts[0].Kind != vault.AlertIndexDamaged || !strings.Contains(alerts[0].Detail, "while 3 recordings exist") {
				t.Fatalf("alerts %+v", alerts)
			}
			es, err := v.AuditEntries(0, 100)
			if err != nil {
				t.Fatal(err)
			}
			audited := false
			for _, e := range es {
				audited = audited || e.Action == "index_replaced"
			}
			if !audited {
				t.Fatalf("no index_replaced audit entry: %+v", es)
			}
			if m, _ := filepath.Glob(db + ".damaged-*"); (kind == "emptied") != (len(m) == 1) {
				t.Fatalf("damaged files kept: %v", m)
			}
			if _, err := v.Fsck(true); err != nil {
				t.Fatal(err)
			}
			for _, e := range mustList(v) {
				delete(want, e.ID)
			}
			if len(want) != 0 {
				t.Fatalf("not re-indexed: %v", want)
			}
		})
	}
	// A new vault (no recordings yet) is no damage.
	var alerts []vault.Alert
	v, err := vault.OpenOrReplace(vault.Options{Dir: t.TempDir(), Alert: func(a vault.Alert) { alerts = append(alerts, a) }})
	if err != nil {
		t.Fatal(err)
	}
	v.Close()
	if len(alerts) != 0 {
		t.Fatalf("a new vault alerted: %+v", alerts)
	}
}

// TestSalvageKeepsErasures: a recording erased before the damage or
// after its index was set aside is not brought back by fsck -repair,
// whatever page is damaged (older copies of its pages may remain in the
// file), and a set-aside index is salvaged once.
func TestSalvageKeepsErasures(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	src := t.TempDir()
	v, err := vault.Open(vault.Options{Dir: src, Recipients: []age.Recipient{id.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	recordSynth(t, v, synth.Config{Calls: 4, Duration: time.Second})
	gone := mustList(v)[3].ID
	if err := v.Erase(gone, "asked", "dpo"); err != nil {
		t.Fatal(err)
	}
	v.Close()
	fi, _ := os.Stat(filepath.Join(src, "vault.db"))
	cases := map[string]func(*os.File){"meta bytes flipped": func(f *os.File) {
		f.WriteAt([]byte{0xff, 0xee, 0xdd, 0xcc}, 16)
		f.WriteAt([]byte{0xff, 0xee, 0xdd, 0xcc}, 4096+16)
	}}
	for n := int64(2); n < fi.Size()/4096; n++ {
		cases[fmt.Sprintf("page %d zeroed", n)] = func(f *os.File) { f.WriteAt(make([]byte, 4096), n*4096) }
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if out, err := runCmd("cp", "-a", src+"/.", dir); err != nil {
				t.Fatalf("copy: %v %s", err, out)
			}
			f, _ := os.OpenFile(filepath.Join(dir, "vault.db"), os.O_WRONLY, 0)
			damage(f)
			f.Close()
			v, err := vault.OpenOrReplace(vault.Options{Dir: dir, Recipients: []age.Recipient{id.Recipient()}})
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close()
			rep, err := v.Fsck(true)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := v.Personal(gone, []age.Identity{id}); err == nil {
				t.Fatal("the personal data of a recording erased before the damage came back")
			}
			if _, err := v.Get(gone); err == nil {
				t.Fatal("a recording erased before the damage came back")
			}
			es := mustList(v)
			if len(es) != 3 {
				t.Fatalf("%d entries after repair: %v", len(es), rep.Repaired)
			}
			for _, e := range es {
				if name == "meta bytes flipped" && (e.Duration == 0 || len(e.Streams) == 0) {
					t.Fatalf("salvaged entry without its call details: %+v", e)
				}
				if _, err := v.Personal(e.ID, []age.Identity{id}); err != nil {
					t.Fatalf("personal metadata not recovered: %v", err)
				}
			}
			if err := v.Erase(es[0].ID, "asked", "dpo"); err != nil {
				t.Fatal(err)
			}
			rep, err = v.Fsck(true)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Repaired) != 0 {
				t.Fatalf("second repair did something: %v", rep.Repaired)
			}
			if _, err := v.Get(es[0].ID); err == nil {
				t.Fatal("the erased recording came back")
			}
			if !rep.Clean() {
				t.Fatalf("not clean: %v", rep.Problems)
			}
		})
	}
}

// TestIndexDeletedWhileRunning: an index deleted under the daemon's
// running vault is alerted and restored from the open index; nothing
// recorded before or after is lost at the next start.
func TestIndexDeletedWhileRunning(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	dir := t.TempDir()
	var alerts []vault.Alert
	v, err := vault.OpenOrReplace(vault.Options{Dir: dir, Recipients: []age.Recipient{id.Recipient()},
		Alert: func(a vault.Alert) { alerts = append(alerts, a) }})
	if err != nil {
		t.Fatal(err)
	}
	recordSynth(t, v, synth.Config{Calls: 2, Duration: time.Second})
	if err := os.Remove(filepath.Join(dir, "vault.db")); err != nil {
		t.Fatal(err)
	}
	vault.WatchIndex(v)
	if len(alerts) != 1 || alerts[0].Kind != vault.AlertIndexDamaged || !strings.Contains(alerts[0].Detail, "restored") {
		t.Fatalf("alerts %+v", alerts)
	}
	recordSynth(t, v, synth.Config{Calls: 1, Duration: time.Second, Seed: 5})
	v.Close()
	v, err = vault.Open(vault.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if n := len(mustList(v)); n != 3 {
		t.Fatalf("%d recordings after the restart, want 3", n)
	}
	if _, err := v.VerifyAudit(); err != nil {
		t.Fatal(err)
	}
	es, _ := v.AuditEntries(0, 100)
	found := false
	for _, e := range es {
		found = found || e.Action == "index_restored"
	}
	if !found {
		t.Fatal("no index_restored audit entry")
	}
}
