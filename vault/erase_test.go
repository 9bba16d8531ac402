package vault_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/internal/testkit"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/audit"
	"github.com/spanvault/spanvault/vault/export"
)

func TestEraseAndSubjectReport(t *testing.T) {
	_, recips, ids := newKey(t)
	_, _, wrong := newKey(t)
	dir := t.TempDir()
	start := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	clk := testkit.NewClock(start)
	v, err := vault.Open(vault.Options{Dir: dir, Recipients: recips, Now: clk.Now, ClockSynced: clk.Synced, ErasureBurst: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	// synth numbers: call i is from +4930555%04d.
	recordSynth(t, v, synth.Config{Calls: 6, Duration: time.Second, DTMF: "5", Start: start})
	subject := "+49 30 555 0002"
	ms, err := v.FindSubject(subject, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) != 1 {
		t.Fatalf("subject has %d recordings, want 1", len(ms))
	}
	target := ms[0].Entry.ID
	if _, err := v.FindSubject(subject, wrong); !errors.Is(err, vault.ErrNoKey) {
		t.Fatalf("subject lookup with a wrong key: %v", err)
	}
	// The DTMF digit is in the sealed metadata, not in the clear index.
	if ev := ms[0].Personal.Events; len(ev) == 0 || !hasDigit(ms[0].Personal, "5") {
		t.Fatalf("sealed events lack the DTMF digit: %+v", ev)
	}
	e, _ := v.Get(target)
	for _, ev := range e.Events {
		if ev.Kind == "dtmf" && strings.Contains(ev.Detail, "5") {
			t.Fatal("DTMF digit in clear")
		}
	}
	path := filepath.Join(dir, "rec", target[:2], target+".age")
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	// A subject-wide hold covers present and future recordings.
	hid, held, err := v.HoldSubject(subject, "court order 7", "dpo", ids)
	if err != nil || len(held) != 1 {
		t.Fatalf("subject hold: %v %v", held, err)
	}
	if _, h, err := v.EraseSubject(subject, "Art. 17 request", "dpo", ids); err != nil || len(h) != 1 {
		t.Fatalf("erasure under hold: held=%v err=%v", h, err)
	}
	if _, err := v.Get(target); err != nil {
		t.Fatal("held recording erased")
	}
	// A later call of the same subject is held from the moment it is recorded.
	recordSynth(t, v, synth.Config{Calls: 3, Duration: time.Second, Start: start.Add(time.Hour)})
	ms, _ = v.FindSubject(subject, ids)
	if len(ms) != 2 {
		t.Fatalf("subject has %d recordings after a second call, want 2", len(ms))
	}
	for _, m := range ms {
		if len(m.Entry.Holds) != 1 || m.Entry.Holds[0] != hid {
			t.Fatalf("%s not under the subject hold: %v", m.Entry.ID, m.Entry.Holds)
		}
	}
	if _, err := v.Release(hid, "order lifted", "dpo"); err != nil {
		t.Fatal(err)
	}
	erased, _, err := v.EraseSubject(subject, "Art. 17 request", "dpo", ids)
	if err != nil || len(erased) != 2 || erased[0] != target {
		t.Fatalf("erase subject: %v %v", erased, err)
	}
	// Nothing of it is left to decrypt: no file, no sealed metadata.
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("recording file still present: %v", err)
	}
	if _, err := v.Personal(target, ids); err == nil {
		t.Fatal("sealed metadata survived erasure")
	}
	if _, _, err := export.Frames(v, target, ids); err == nil {
		t.Fatal("erased recording still exports")
	}
	// Nor does any file in the vault contain its ciphertext.
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, _ := os.ReadFile(p)
		if len(before) > 256 && bytes.Contains(b, before[100:356]) {
			t.Errorf("%s still holds the erased recording's ciphertext", p)
		}
		return nil
	})

	// The subject report lists the tombstone, without the recording.
	rep, err := v.Report(subject, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Recordings) != 0 || len(rep.Deleted) != 2 || rep.Deleted[0].ID != target {
		t.Fatalf("report after erasure: %d recordings, deleted %+v", len(rep.Recordings), rep.Deleted)
	}
	if !strings.Contains(rep.Deleted[0].Reason, "Art. 17") || rep.Deleted[0].By != "dpo" {
		t.Fatalf("tombstone: %+v", rep.Deleted[0])
	}
	// Another subject: present recordings with retention and sync state,
	// as JSON and HTML.
	rep2, err := v.Report("+4930555000 3", ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep2.Recordings) != 1 || rep2.Recordings[0].Entry.Expiry.IsZero() || rep2.Recordings[0].Entry.Sync != vault.SyncPending {
		t.Fatalf("report: %+v", rep2.Recordings)
	}
	var html bytes.Buffer
	if err := rep2.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"4930555000", rep2.Recordings[0].Entry.ID, "Deleted (0)"} {
		if !strings.Contains(html.String(), want) {
			t.Fatalf("HTML report lacks %q", want)
		}
	}
	// Tombstones hold no personal data in clear.
	ts, _ := v.Tombstones()
	for _, tomb := range ts {
		if bytes.Contains(tomb.Subject, []byte("4930555")) {
			t.Fatal("tombstone subject not sealed")
		}
	}
	// Erasures are audited; a burst of them raises an alert.
	var alerts []vault.Alert
	v2dir := t.TempDir()
	v2, err := vault.Open(vault.Options{Dir: v2dir, Recipients: recips, ErasureBurst: 3, Alert: func(a vault.Alert) { alerts = append(alerts, a) }})
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	recordSynth(t, v2, synth.Config{Calls: 5, Duration: time.Second})
	es, _ := v2.List()
	for _, e := range es {
		if err := v2.Erase(e.ID, "test", "dpo"); err != nil {
			t.Fatal(err)
		}
	}
	burst := false
	for _, a := range alerts {
		burst = burst || a.Kind == vault.AlertErasureBurst
	}
	if !burst {
		t.Fatal("no alert for a burst of erasures")
	}
	aes, _ := v2.AuditEntries(1, 1000)
	n := 0
	for _, a := range aes {
		if a.Action == audit.Erasure {
			n++
		}
	}
	if n != len(es) {
		t.Fatalf("%d erasures audited, want %d", n, len(es))
	}
}

func hasDigit(p *vault.Personal, d string) bool {
	for _, e := range p.Events {
		if e.Kind == "dtmf" && e.Digit == d {
			return true
		}
	}
	return false
}

// After DTMF, pause, tag and an erasure with a free-text reason, the
// vault's files hold no time series of key presses and no reason text in
// clear (a strings-style scan of the whole directory).
func TestNoPersonalTimesOrReasonsInClear(t *testing.T) {
	dir := t.TempDir()
	_, recips, _ := newKey(t)
	v, err := vault.Open(vault.Options{Dir: dir, Recipients: recips})
	if err != nil {
		t.Fatal(err)
	}
	// Two calls with DTMF; the first is paused, resumed and tagged
	// mid-call, as the local API would.
	g := synth.New(synth.Config{Calls: 2, Duration: 4 * time.Second, DTMF: "1234"})
	tr := calls.NewTracker(calls.Config{}, v, v)
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	acted := false
	for {
		f, ok := g.Next()
		if !ok {
			break
		}
		p.Handle(f.Data, decode.LinkEthernet, f.Time)
		if !acted && f.Time.Sub(time.Date(2026, 1, 1, 9, 0, 0, 0, time.UTC)) > 2*time.Second {
			var c *calls.Call
			tr.Calls(func(x *calls.Call) {
				if c == nil && x.State.Answered() {
					c = x
				}
			})
			if c != nil {
				tr.SetPaused(c, true, f.Time)
				tr.SetPaused(c, false, f.Time.Add(500*time.Millisecond))
				tr.Tag(c, "complaint about Jane Roe", f.Time)
				acted = true
			}
		}
	}
	p.Close("capture ended")
	if !acted {
		t.Fatal("no call to pause and tag")
	}
	es, _ := v.List()
	for _, e := range es {
		for _, ev := range e.Events {
			if ev.Kind == "dtmf" || ev.Kind == "pause" || ev.Kind == "tag" {
				t.Fatalf("clear index keeps a %s event at %v", ev.Kind, ev.Time)
			}
		}
	}
	const reason = "customer Jane Roe asked by letter of 3 May"
	if err := v.Erase(es[0].ID, reason, "dpo"); err != nil {
		t.Fatal(err)
	}
	v.Close()
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		if bytes.Contains(b, []byte("Jane Roe")) || bytes.Contains(b, []byte("letter of 3 May")) {
			t.Fatalf("%s holds the erasure reason in clear", p)
		}
		for _, k := range []string{`"kind":"dtmf"`, `"kind":"pause"`, `"kind":"resume"`, `"kind":"tag"`} {
			if bytes.Contains(b, []byte(k)) {
				t.Fatalf("%s holds %s event times in clear", p, k)
			}
		}
		return nil
	})
	v2, _ := vault.Open(vault.Options{Dir: dir, ReadOnly: true})
	defer v2.Close()
	ts, _ := v2.Tombstones()
	if len(ts) != 1 || ts[0].Reason != "erasure" || len(ts[0].SealedReason) == 0 {
		t.Fatalf("tombstone %+v", ts)
	}
}
