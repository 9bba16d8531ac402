package client_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/record/ledger"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault"
)

// ledgerDay records calls early on the env's day, syncs them, moves the
// clock past midnight and syncs again: the box seals and sends the
// day's coverage ledger. It returns the day and the recordings' IDs.
func (e *env) ledgerDay(t testing.TB, calls int) (string, []string) {
	t.Helper()
	return e.ledgerDayOf(t, synth.Config{Calls: calls, Concurrent: 4, Duration: time.Second, Rejected: 1, Seed: 25})
}

// ledgerDayOf is ledgerDay for the calls cfg makes (its Start is set).
func (e *env) ledgerDayOf(t testing.TB, cfg synth.Config) (string, []string) {
	t.Helper()
	if e.clock.Now().UTC().Hour() < 2 {
		e.clock.Add(2 * time.Hour) // the calls start today, over an hour ago
	}
	start := e.clock.Now().UTC().Truncate(24 * time.Hour).Add(time.Minute)
	cfg.Start = start
	e.record(cfg)
	c := e.client()
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(day)
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	d := start.Format(time.DateOnly)
	var ids []string
	for _, r := range e.archiveRows() {
		if r.Kind == wire.KindRecording && r.Start.UTC().Format(time.DateOnly) == d {
			ids = append(ids, r.ID)
		}
	}
	if len(ids) == 0 {
		t.Fatal("no recordings archived")
	}
	return d, ids
}

func verify(t *testing.T, a *archive.Archive) *archive.VerifyReport {
	t.Helper()
	rep, err := a.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestLedgerNamesRecordingRemovedBehindTheArchive (issue 25, acceptance
// 3): the box's signed ledger of the day is anchored at the archive; a
// recording then removed from the archive's store and its index row
// deleted behind the archive's back (nothing else of the archive sees
// it missing: no row is left to re-hash) makes verify fail and name it.
func TestLedgerNamesRecordingRemovedBehindTheArchive(t *testing.T) {
	if os.Getenv("SPANVAULT_TEST_STORE") == "s3" {
		t.Skip("removes an object from the directory store")
	}
	e := newEnv(t)
	d, ids := e.ledgerDay(t, 6)
	rep := verify(t, e.arch)
	if rep.Ledgers != 1 || len(rep.Problems) != 0 {
		t.Fatalf("intact archive: %d ledgers, problems %q", rep.Ledgers, rep.Problems)
	}
	hl, ok, err := e.arch.Index.LedgerOf(context.Background(), e.box, d)
	if err != nil || !ok || hl.AnchorN < 0 {
		t.Fatalf("ledger of %s held: %v %v %+v", d, ok, err, hl)
	}
	if kept, _ := e.v.SyncMeta(vault.LedgerMetaKey(d)); len(kept) != 0 {
		t.Fatalf("the box still keeps the acknowledged ledger (%d bytes)", len(kept))
	}

	gone := ids[0]
	rows := e.archiveRows()
	sum := rows[gone+"/"+wire.KindRecording].SHA256
	if err := os.Remove(filepath.Join(e.dir, "store", "objects", sum[:2], sum)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.arch.Index.DB().ExecContext(context.Background(), `DELETE FROM records WHERE appliance = ? AND id = ?`, e.box, gone); err != nil {
		t.Fatal(err)
	}
	rep = verify(t, e.arch)
	var named []string
	for _, p := range rep.Problems {
		if strings.Contains(p, gone) {
			named = append(named, p)
		}
	}
	if len(named) != 1 || !strings.Contains(named[0], "not in the archive and no tombstone") {
		t.Fatalf("verify after %s was removed behind the archive's back: problems %q", gone, rep.Problems)
	}
	t.Log(named[0])

	// The ledger's row deleted too: the log still holds the ledger.
	if _, err := e.arch.Index.DB().ExecContext(context.Background(), `DELETE FROM ledgers WHERE appliance = ?`, e.box); err != nil {
		t.Fatal(err)
	}
	rep = verify(t, e.arch)
	want := fmt.Sprintf("coverage ledger of %s for %s: in the anchor log (record %d), missing from the index", e.box, d, hl.AnchorN)
	if !slices.Contains(rep.Problems, want) {
		t.Fatalf("verify after the ledger's row was deleted: problems %q", rep.Problems)
	}
}

// TestLedgerRefusals: the archive takes a box's ledger only signed by
// the box's pinned audit key, of its own name, once its day is over, and
// only one per day: a second, different ledger of a day already held
// (a box rewriting its account of a day after removing a recording) is
// refused and alerted, and verify still holds the first.
func TestLedgerRefusals(t *testing.T) {
	e := newEnv(t)
	d, _ := e.ledgerDay(t, 2)
	cert, err := tls.LoadX509KeyPair(filepath.Join(e.enroll, "sync.crt"), filepath.Join(e.enroll, "sync.key"))
	if err != nil {
		t.Fatal(err)
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	// The box's own key, as a box rewriting its account would use it.
	seed, err := os.ReadFile(filepath.Join(e.vdir, "appliance.key"))
	if err != nil {
		t.Fatal(err)
	}
	boxKey := ed25519.NewKeyFromSeed(seed)
	sign := func(l *ledger.Ledger, key ed25519.PrivateKey) *ledger.Signed {
		s, err := ledger.Sign(l, key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	today := e.clock.Now().UTC().Format(time.DateOnly)
	for _, tc := range []struct {
		name string
		msg  *ledger.Signed
		code int
		text string
	}{
		{"another key", sign(&ledger.Ledger{Version: 1, Appliance: e.box, Day: "2026-01-02"}, other), http.StatusConflict, "signed by a key other than the box's"},
		{"another name", sign(&ledger.Ledger{Version: 1, Appliance: "branch-9", Day: "2026-01-02"}, boxKey), http.StatusForbidden, "ledger claims \"branch-9\""},
		{"a day not over", sign(&ledger.Ledger{Version: 1, Appliance: e.box, Day: today}, boxKey), http.StatusBadRequest, "the day is not over"},
		{"a second ledger of a day", sign(&ledger.Ledger{Version: 1, Appliance: e.box, Day: d}, boxKey), http.StatusConflict, "differs from the one held"},
	} {
		code, msg, err := e.rawPost(t, &cert, 0, wire.PathLedger, tc.msg)
		if err != nil || code != tc.code || !strings.Contains(msg, tc.text) {
			t.Errorf("%s: %d %q %v, want %d %q", tc.name, code, msg, err, tc.code, tc.text)
		}
	}
	if !e.hasAlert("ledger_refused", "differs from the one held") {
		t.Error("a second ledger of a day is not alerted")
	}
	if rep := verify(t, e.arch); rep.Ledgers != 1 || len(rep.Problems) != 0 {
		t.Fatalf("after the refusals: %d ledgers, %q", rep.Ledgers, rep.Problems)
	}
}

// TestLedgerOfADayNotOverAtTheArchive: a box whose clock runs ahead of
// the archive's past the tolerated skew, just after its midnight, has its
// ledger refused (the day is not over at the archive); the pass still
// checks in at its end (the archive sees the box's results and anchored
// head) and reports the refusal; once the archive's day is over the
// next pass sends the same ledger.
func TestLedgerOfADayNotOverAtTheArchive(t *testing.T) {
	e := newEnv(t)
	if h := e.clock.Now().UTC().Hour(); h < 2 {
		e.clock.Add(2 * time.Hour) // calls today, an hour before now
	}
	start := e.clock.Now().UTC().Truncate(24 * time.Hour).Add(time.Minute)
	e.record(synth.Config{Calls: 2, Duration: time.Second, Start: start, Seed: 27})
	c := e.client()
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	// The box's next midnight plus one minute; the archive ten minutes
	// behind.
	midnight := start.Truncate(24 * time.Hour).Add(24 * time.Hour)
	e.clock.Add(midnight.Add(time.Minute).Sub(e.clock.Now()))
	e.arch.Now = func() time.Time { return e.clock.Now().Add(-10 * time.Minute) }
	err := e.pass(c)
	if err == nil || !strings.Contains(err.Error(), "the day is not over") {
		t.Fatalf("a ledger of a day not over at the archive: %v", err)
	}
	// The closing check-in verified the log with the head this pass
	// anchored in it.
	if size, _ := e.arch.Log.Size(context.Background()); c.State().TreeSize != size {
		t.Fatalf("the pass did not end with its check-in: the box verified a log of %d records, it holds %d", c.State().TreeSize, size)
	}
	e.arch.Now = e.clock.Now
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := e.arch.Index.LedgerOf(context.Background(), e.box, start.Format(time.DateOnly)); !ok {
		t.Fatal("the ledger was not sent once the archive's day was over")
	}
}
