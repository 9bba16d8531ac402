package vault_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/sealed"
)

// corrupt applies a damage to a copy of a small vault's index.
type damage struct {
	name string
	do   func(t *testing.T, path string)
}

func zeroPage(n int64) damage {
	return damage{fmt.Sprintf("page %d zeroed", n), func(t *testing.T, path string) {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		f.WriteAt(make([]byte, 4096), n*4096)
	}}
}

// Every command path on a damaged index returns an error instead of
// panicking, and OpenOrReplace always gives a vault that records.
func TestDamagedIndex(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	src := t.TempDir()
	v, err := vault.Open(vault.Options{Dir: src, Recipients: []age.Recipient{id.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	recordSynth(t, v, synth.Config{Calls: 8, Duration: time.Second, Rejected: 3})
	var originals []string
	for _, e := range mustList(v) {
		if e.Recorded {
			originals = append(originals, e.ID)
		}
	}
	v.Close()
	fi, _ := os.Stat(filepath.Join(src, "vault.db"))
	pages := fi.Size() / 4096
	var cases []damage
	for n := int64(0); n < pages; n++ {
		cases = append(cases, zeroPage(n))
	}
	cases = append(cases,
		damage{"meta bytes flipped", func(t *testing.T, p string) {
			f, _ := os.OpenFile(p, os.O_WRONLY, 0)
			f.WriteAt([]byte{0xff, 0xee, 0xdd, 0xcc}, 16)
			f.WriteAt([]byte{0xff, 0xee, 0xdd, 0xcc}, 4096+16)
			f.Close()
		}},
		damage{"truncated to 100 bytes", func(t *testing.T, p string) { os.Truncate(p, 100) }},
		damage{"truncated to 3 pages", func(t *testing.T, p string) { os.Truncate(p, 3*4096) }},
		damage{"truncated by half", func(t *testing.T, p string) { os.Truncate(p, fi.Size()/2) }},
		damage{"empty file", func(t *testing.T, p string) { os.Truncate(p, 0) }},
	)
	replaced := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if out, err := runCmd("cp", "-a", src+"/.", dir); err != nil {
				t.Fatalf("copy: %v %s", err, out)
			}
			tc.do(t, filepath.Join(dir, "vault.db"))
			// Read paths: errors, never a panic.
			if v, err := vault.Open(vault.Options{Dir: dir, ReadOnly: true}); err == nil {
				v.List()
				v.Fsck(false)
				v.VerifyAudit()
				v.Tombstones()
				for _, e := range mustList(v) {
					if r, c, err := v.OpenRecording(e.ID, []age.Identity{id}); err == nil {
						var f sealed.Frame
						r.Next(&f)
						c.Close()
					}
				}
				v.Close()
			}
			// The daemon's open: always a vault that records.
			var alerts []vault.Alert
			v, err := vault.OpenOrReplace(vault.Options{Dir: dir, Recipients: []age.Recipient{id.Recipient()},
				Alert: func(a vault.Alert) { alerts = append(alerts, a) }})
			if err != nil {
				t.Fatalf("the daemon could not open the vault: %v", err)
			}
			defer v.Close()
			before := len(mustList(v))
			recordSynth(t, v, synth.Config{Calls: 1, Duration: time.Second, Seed: 77})
			if after := len(mustList(v)); after != before+1 {
				t.Fatalf("recorded %d -> %d", before, after)
			}
			if len(alerts) > 0 {
				replaced++
				if alerts[0].Kind != vault.AlertIndexDamaged || !strings.Contains(alerts[0].Detail, "moved to vault.db.damaged-") {
					t.Fatalf("alert %+v", alerts[0])
				}
				m, _ := filepath.Glob(filepath.Join(dir, "vault.db.damaged-*"))
				if len(m) != 1 {
					t.Fatal("damaged index not kept")
				}
				// fsck -repair salvages what the damaged index still
				// holds and re-indexes every intact recording from its
				// file: none of the 8 is lost.
				rep, err := v.Fsck(true)
				if err != nil {
					t.Fatalf("fsck -repair: %v", err)
				}
				ids := map[string]bool{}
				for _, e := range mustList(v) {
					if e.Recorded && e.State == vault.StateComplete {
						ids[e.ID] = true
					}
				}
				for _, id := range originals {
					if !ids[id] {
						t.Fatalf("recording %s not recovered by fsck -repair: %v", id, rep.Repaired)
					}
				}
			}
		})
	}
	if replaced == 0 {
		t.Fatal("no damage was detected at all")
	}
	t.Logf("%d of %d damages detected and replaced", replaced, len(cases))
}

func mustList(v *vault.Vault) []*vault.Entry {
	es, _ := v.List()
	return es
}

func runCmd(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}
