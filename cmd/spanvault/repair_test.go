package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spanvault/spanvault/vault"
)

// TestFsckRepairDamagedIndex: `spanvault fsck -repair` on an index with
// each kind of damage the vault-integrity tests make, run directly and
// after the daemon set the file aside: it exits 0 without a panic, every
// intact recording is listed afterwards with its call details (from the
// salvaged index or from the recording's own sealed metadata), `calls
// -identity` works for the whole vault, and a second fsck is clean.
func TestFsckRepairDamagedIndex(t *testing.T) {
	dir := t.TempDir()
	idPath, rp := keys(t, dir)
	src := filepath.Join(dir, "vault")
	pcap := filepath.Join(dir, "s.pcap")
	sample(t, pcap, 6)
	recordPcap(t, src, rp, pcap)
	orig := callsByID(t, src, idPath)
	recorded := 0
	for _, c := range orig {
		if c.Recorded {
			recorded++
		}
	}
	if recorded != 6 {
		t.Fatalf("%d recordings, want 6", recorded)
	}
	fi, err := os.Stat(filepath.Join(src, "vault.db"))
	if err != nil {
		t.Fatal(err)
	}
	zero := func(n int64) func(string) {
		return func(p string) {
			f, _ := os.OpenFile(p, os.O_WRONLY, 0)
			f.WriteAt(make([]byte, 4096), n*4096)
			f.Close()
		}
	}
	damages := []struct {
		name string
		do   func(string)
		// all: every call detail of the index is still readable
		// somewhere in the file (only the way to it is broken).
		all bool
	}{
		{"page 2 zeroed", zero(2), false},
		{"page 3 zeroed", zero(3), false},
		{"page 4 zeroed", zero(4), false},
		{"meta bytes flipped", func(p string) {
			f, _ := os.OpenFile(p, os.O_WRONLY, 0)
			f.WriteAt([]byte{0xff, 0xee, 0xdd, 0xcc}, 16)
			f.WriteAt([]byte{0xff, 0xee, 0xdd, 0xcc}, 4096+16)
			f.Close()
		}, true},
		{"truncated to 100 bytes", func(p string) { os.Truncate(p, 100) }, false},
		{"truncated to 3 pages", func(p string) { os.Truncate(p, 3*4096) }, false},
		{"truncated by half", func(p string) { os.Truncate(p, fi.Size()/2) }, false},
		{"emptied", func(p string) { os.Truncate(p, 0) }, false},
	}
	for _, d := range damages {
		for _, mode := range []string{"direct", "after the daemon"} {
			t.Run(d.name+"/"+mode, func(t *testing.T) {
				v := filepath.Join(t.TempDir(), "vault")
				if out, err := exec.Command("cp", "-a", src, v).CombinedOutput(); err != nil {
					t.Fatalf("copy: %v %s", err, out)
				}
				d.do(filepath.Join(v, "vault.db"))
				var alerts []vault.Alert
				if mode != "direct" {
					dv, err := vault.OpenOrReplace(vault.Options{Dir: v, Alert: func(a vault.Alert) { alerts = append(alerts, a) }})
					if err != nil {
						t.Fatalf("the daemon's open: %v", err)
					}
					dv.Close()
					if len(alerts) > 0 && alerts[0].Kind != vault.AlertIndexDamaged {
						t.Fatalf("alert %+v", alerts[0])
					}
					if d.name == "emptied" && (len(alerts) == 0 || !strings.Contains(alerts[0].Detail, "is empty")) {
						t.Fatalf("an emptied index raised no alert: %+v", alerts)
					}
				}
				out, errs, code := runCLI(t, "fsck", "-repair", "-vault", v)
				if code != 0 {
					t.Fatalf("fsck -repair: exit %d\n%s%s", code, out, errs)
				}
				if m, _ := filepath.Glob(filepath.Join(v, "vault.db.damaged-*")); mode == "direct" && len(m) > 0 &&
					(!strings.Contains(out, "moved to "+filepath.Base(m[0])) || !strings.Contains(out, "alert "+vault.AlertIndexDamaged)) {
					t.Errorf("fsck -repair does not say it moved the damaged index aside:\n%s", out)
				}
				if d.name == "emptied" && mode == "direct" && !strings.Contains(out, "is empty") {
					t.Errorf("fsck -repair does not alert the emptied index:\n%s", out)
				}
				got := callsByID(t, v, idPath)
				full := 0
				for id, o := range orig {
					if !o.Recorded {
						continue
					}
					g, ok := got[id]
					if !ok || !g.Recorded {
						t.Errorf("recording %s not listed after fsck -repair\n%s", id, out)
						continue
					}
					if g.CallID != o.CallID || g.From != o.From || g.To != o.To {
						t.Errorf("%s: call details %q %q %q, want %q %q %q", id, g.CallID, g.From, g.To, o.CallID, o.From, o.To)
					}
					if g.Duration == o.Duration && g.State == o.State && len(g.Streams) == len(o.Streams) {
						full++
					}
				}
				if d.all && full != recorded {
					t.Errorf("%d of %d recordings with their clear call details, want all", full, recorded)
				}
				t.Logf("%d of %d recordings with their clear call details salvaged", full, recorded)
				out, errs, code = runCLI(t, "fsck", "-vault", v)
				if code != 0 || !strings.Contains(out, "clean") {
					t.Errorf("second fsck: exit %d\n%s%s", code, out, errs)
				}
			})
		}
	}
}

// callsByID runs `calls -json -identity` and indexes the records by ID.
func callsByID(t *testing.T, v, idPath string) map[string]CallRecord {
	t.Helper()
	out, errs, code := runCLI(t, "calls", "-vault", v, "-json", "-identity", idPath)
	if code != 0 {
		t.Fatalf("calls -identity: exit %d: %s", code, errs)
	}
	var rs []CallRecord
	if err := json.Unmarshal([]byte(out), &rs); err != nil {
		t.Fatal(err)
	}
	m := map[string]CallRecord{}
	for _, r := range rs {
		m[r.ID] = r
	}
	return m
}

// TestFsckRepairClassFromConfig: with the box's configuration, fsck
// -repair gives recordings re-indexed from their files the box's default
// class, and a deleted index is alerted.
func TestFsckRepairClassFromConfig(t *testing.T) {
	dir, v, _, _ := setup(t)
	ids := listIDs(t, v)
	cfg := writeFile(t, dir, "box.toml", "[vault]\ndir = \"vault\"\nrecipients = \"recipients.txt\"\n[retention]\ndefault_class = \"keep\"\n"+
		"[[retention.class]]\nname = \"keep\"\nrecord = true\nmax_age = \"3650d\"\n")
	os.Remove(filepath.Join(v, "vault.db"))
	out, errs, code := runCLI(t, "fsck", "-repair", "-vault", v, "-config", cfg)
	if code != 0 || !strings.Contains(out, "alert index_damaged") || !strings.Contains(out, "is missing while 2 recordings exist") {
		t.Fatalf("fsck -repair: %d\n%s%s", code, out, errs)
	}
	js, _, _ := runCLI(t, "calls", "-vault", v, "-json")
	var rs []CallRecord
	json.Unmarshal([]byte(js), &rs)
	if len(rs) != len(ids) {
		t.Fatalf("%d records, want %d", len(rs), len(ids))
	}
	for _, r := range rs {
		if r.Class != "keep" || r.Sync != vault.SyncPending {
			t.Fatalf("re-indexed %s: class %q sync %q", r.ID, r.Class, r.Sync)
		}
	}
}
