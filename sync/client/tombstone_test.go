package client_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault"
)

// archiveCopy is what `spanvault-archive get` hands out for a recording
// (the index row's object, read from the store), decrypted with the
// archive's identity as the standard age tool would. It returns the
// plaintext, or why get or age failed.
func (e *env) archiveCopy(id string) ([]byte, error) {
	e.t.Helper()
	ctx := context.Background()
	rs, err := e.arch.Index.Records(ctx, index.Query{Appliance: e.box, ID: id, Kind: wire.KindRecording})
	if err != nil {
		e.t.Fatal(err)
	}
	if len(rs) != 1 {
		e.t.Fatalf("archive holds %d recording rows for %s", len(rs), id)
	}
	rc, _, err := e.arch.Store.Open(ctx, rs[0].SHA256)
	if err != nil {
		return nil, err
	}
	sealed, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		return nil, err
	}
	r, err := age.Decrypt(bytes.NewReader(sealed), e.identity)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// Issue 19, acceptance 1: whatever the box's retention removes (the grace
// period after the archive's acknowledgement, the class's maximum age on
// the box, quota eviction), the archive keeps serving its own copy for its
// own class: live in the index (what the access service plays, lists,
// links and exports), readable from the store and decryptable, with the
// box's removal recorded as removed_from_box_at, never as an erasure.
func TestBoxRetentionKeepsArchiveCopy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := e.clock.Now()
	// Calls 0-9 of the generator are class mifid (30 days' grace on the
	// box), later ones class default (7 days' grace, 90 days' max age).
	e.record(synth.Config{Calls: 12, Duration: time.Second, Start: now.Add(-89 * day), Seed: 1})
	e.record(synth.Config{Calls: 12, Duration: time.Second, Start: now.Add(-time.Hour), Seed: 2})
	c := e.client()
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	e.checkAllArrived()
	es, _ := e.v.List()
	why := map[string]string{} // id -> the box's removal
	var ids []string
	for _, en := range es {
		if en.Recorded {
			ids = append(ids, en.ID)
		}
	}
	if len(ids) != 24 {
		t.Fatalf("%d recordings, want 24", len(ids))
	}
	sweep := func(reason string) {
		t.Helper()
		before := map[string]bool{}
		for _, id := range ids {
			before[id] = why[id] == ""
		}
		var err error
		if reason == "quota" {
			_, err = e.v.Evict()
		} else {
			_, err = e.v.Sweep()
		}
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, id := range ids {
			if _, err := e.v.Get(id); errors.Is(err, vault.ErrNotFound) && before[id] {
				why[id] = reason
				n++
			}
		}
		if n == 0 {
			t.Fatalf("the box's %s removed nothing", reason)
		}
	}
	// Two days on, the old default calls pass their 90 days on the box.
	e.clock.Add(2 * day)
	sweep("max age")
	// Eight days after the acknowledgement, the new default calls' grace ends.
	e.clock.Add(6 * day)
	sweep("grace")
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	// The disk fills: the quota evicts every synced recording left.
	e.v.Close()
	var err error
	opt := vault.Options{Dir: e.vdir, Recipients: []age.Recipient{e.identity.Recipient()}, Policy: e.policy,
		Now: e.clock.Now, ClockSynced: func() bool { return true }, QuotaBytes: 1}
	if e.v, err = vault.Open(opt); err != nil {
		t.Fatal(err)
	}
	sweep("quota")
	for _, id := range ids {
		if why[id] == "" {
			t.Fatalf("%s still on the box", id)
		}
	}
	c = e.client()
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	rows := e.archiveRows()
	for _, id := range ids {
		if _, ok := rows[id+"/"+wire.KindTombstone]; !ok {
			t.Fatalf("the tombstone of %s (%s) did not reach the archive", id, why[id])
		}
		r := rows[id+"/"+wire.KindRecording]
		if !r.DeletedAt.IsZero() {
			t.Fatalf("%s (class %s, removed by the box's %s): the archive marks it erased; its class keeps it until %s", id, r.Class, why[id], r.RetainUntil.Format(time.DateOnly))
		}
		if r.RemovedFromBoxAt.IsZero() || r.Why != "" {
			t.Fatalf("%s: removed_from_box_at %v, why %q", id, r.RemovedFromBoxAt, r.Why)
		}
		if ts := rows[id+"/"+wire.KindTombstone]; ts.Tombstone != index.TombstoneRemoved {
			t.Fatalf("%s: the archive keeps the box's tombstone as %q", id, ts.Tombstone)
		}
		if plain, err := e.archiveCopy(id); err != nil || len(plain) == 0 {
			t.Fatalf("%s (removed by the box's %s): the archive's copy does not open: %v", id, why[id], err)
		}
	}
	rep, err := e.arch.Verify(ctx)
	if err != nil || len(rep.Problems) > 0 || rep.Objects != len(ids) {
		t.Fatalf("archive verify: %v %v, %d objects", err, rep.Problems, rep.Objects)
	}
}

// Issue 19, acceptance 2: a DPO's erasure on the box (GDPR Art. 17)
// reaches the archive with the next sync and is applied there exactly like
// an erasure the archive commanded: the erasure note, the object erased
// (crypto-shredded on S3 with Object Lock), the index marked erased, the
// subject's tombstone kept.
func TestBoxErasureErasesArchiveCopy(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.record(synth.Config{Calls: 3, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour), Seed: 3})
	c := e.client()
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	e.checkAllArrived()
	es, _ := e.v.List()
	victim, other := es[0].ID, es[1].ID
	if _, err := e.archiveCopy(victim); err != nil {
		t.Fatalf("before the erasure: %v", err)
	}
	if err := e.v.Erase(victim, "Art. 17 request 2026-11", "dpo"); err != nil {
		t.Fatal(err)
	}
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	if plain, err := e.archiveCopy(victim); err == nil {
		t.Fatalf("after the box's erasure the archive still hands out %s and age opens it (%d bytes)", victim, len(plain))
	}
	rows := e.archiveRows()
	if r := rows[victim+"/"+wire.KindRecording]; r.DeletedAt.IsZero() || !strings.Contains(r.Why, "erased by dpo on box "+e.box) {
		t.Fatalf("the index does not show the recording erased: deleted %v, why %q", r.DeletedAt, r.Why)
	}
	if ts, ok := rows[victim+"/"+wire.KindTombstone]; !ok || len(ts.Subject) == 0 {
		t.Fatal("the subject's tombstone is not kept for Art. 15")
	}
	notes, err := e.arch.Store.Erasures(ctx)
	if err != nil || len(notes) != 1 || notes[0].ID != victim {
		t.Fatalf("erasure notes %+v %v", notes, err)
	}
	if !e.hasEvent("erased_at_archive", victim) {
		t.Fatal("the erasure is not in the archive's trail")
	}
	if _, err := e.archiveCopy(other); err != nil {
		t.Fatalf("another recording lost: %v", err)
	}
}

// Issue 19, finding 3: a recording the archive holds (a legal hold set at
// the archive, or a class under a legal retention duty) is not erased by a
// box's erasure: the archive keeps its copy, alerts the DPO and tells the
// box why in its next check-in reply; the tombstone is still acknowledged.
func TestHeldErasureRefusedAtArchive(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.arch.Config.LegalRetention = []string{"mifid"}
	e.record(synth.Config{Calls: 12, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour), Seed: 4})
	c := e.client()
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	e.checkAllArrived()
	es, _ := e.v.List()
	var held, legal, free string
	for _, en := range es {
		switch {
		case en.Class == "mifid" && legal == "":
			legal = en.ID
		case en.Class == "default" && held == "":
			held = en.ID
		case en.Class == "default":
			free = en.ID
		}
	}
	if held == "" || legal == "" || free == "" {
		t.Fatal("need two default and one mifid recording")
	}
	// spanvault-archive hold: held at the archive at once; the box hears
	// of it at its next check-in, after its DPO erased the recording.
	if _, err := e.arch.Command(ctx, e.box, wire.CmdHold, held, false, "case 7", "legal"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{held, legal, free} {
		if err := e.v.Erase(id, "Art. 17", "dpo"); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	if ts, _ := e.v.PendingTombstones(); len(ts) != 0 {
		t.Fatalf("%d tombstones not acknowledged", len(ts))
	}
	for _, id := range []string{held, legal} {
		if _, err := e.archiveCopy(id); err != nil {
			t.Fatalf("%s is held at the archive, yet the box's erasure destroyed its copy: %v", id, err)
		}
		if !e.hasEvent("erasure_refused", id) {
			t.Fatalf("refusing the erasure of %s raised no alert", id)
		}
	}
	alerts, _ := e.arch.Index.Events(ctx, "erasure_refused", true)
	if len(alerts) != 2 {
		t.Fatalf("%d alerts, want 2", len(alerts))
	}
	rows := e.archiveRows()
	for _, id := range []string{held, legal} {
		r := rows[id+"/"+wire.KindRecording]
		if !r.DeletedAt.IsZero() || r.RemovedFromBoxAt.IsZero() || !strings.Contains(r.Why, "refused") || rows[id+"/"+wire.KindTombstone].Tombstone != index.TombstoneRefused {
			t.Fatalf("%s at the archive: deleted %v, removed %v, why %q, tombstone %q", id, r.DeletedAt, r.RemovedFromBoxAt, r.Why, rows[id+"/"+wire.KindTombstone].Tombstone)
		}
	}
	if _, err := e.archiveCopy(free); err == nil {
		t.Fatal("the recording not held was not erased at the archive")
	}
	// The box was told why, and audited it.
	ents, _ := e.v.AuditEntries(1, 10000)
	told := map[string]string{}
	for _, a := range ents {
		if a.Action == client.AuditErasureRefused {
			told[a.Recording] = a.Detail
		}
	}
	if !strings.Contains(told[held], "legal hold") || !strings.Contains(told[legal], "legal retention") || told[free] != "" {
		t.Fatalf("the box was told %q", told)
	}
	if n := c.State().RefusedErasures; n != 2 {
		t.Fatalf("the box's state counts %d refused erasures", n)
	}
	// Told once: the next check-in repeats nothing.
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	if n := c.State().RefusedErasures; n != 2 {
		t.Fatalf("told again: %d", n)
	}
	// A box that sends the same erasure again (its ack was lost) is
	// acknowledged; the archive neither erases nor alerts twice.
	ts, _ := e.v.Tombstones()
	for _, tb := range ts {
		if tb.ID != held {
			continue
		}
		raw, _ := json.Marshal(tb)
		acks := e.postRecords(t, []wire.Record{{ID: tb.ID, Kind: wire.KindTombstone, Tombstone: tb.KindOf(), Start: tb.Start, Class: tb.Class, DeletedAt: tb.DeletedAt, Entry: wire.RawEntry(wire.KindTombstone, raw), Subject: tb.Subject}})
		if !acks[0].OK {
			t.Fatalf("the repeated erasure: %+v", acks[0])
		}
	}
	if alerts, _ := e.arch.Index.Events(ctx, "erasure_refused", true); len(alerts) != 2 {
		t.Fatalf("%d alerts after a repeated tombstone, want 2", len(alerts))
	}
	if _, err := e.archiveCopy(held); err != nil {
		t.Fatalf("a repeated tombstone erased the held recording: %v", err)
	}
}

// postRecords sends a batch of records with the box's own certificate
// over the real ingest protocol and returns the archive's acks.
func (e *env) postRecords(t *testing.T, recs []wire.Record) []wire.Ack {
	t.Helper()
	cert, err := tls.LoadX509KeyPair(filepath.Join(e.enroll, "sync.crt"), filepath.Join(e.enroll, "sync.key"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(filepath.Join(e.enroll, "ca.crt"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}, Timeout: 30 * time.Second}
	b, _ := json.Marshal(wire.Records{Records: recs})
	resp, err := hc.Post("https://"+e.addr+wire.PathRecords, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep wire.RecordsReply
	if err := wire.Decode(resp.Body, &rep); err != nil || resp.StatusCode != 200 || len(rep.Acks) != len(recs) {
		t.Fatalf("records: %d %v %+v", resp.StatusCode, err, rep)
	}
	return rep.Acks
}

// A tombstone of an unknown kind is refused in its ack and changes
// nothing; a tombstone without a kind (a box older than the kinds) is a
// removal, never an erasure, even when its entry says "erasure".
func TestTombstoneKindsAtIngest(t *testing.T) {
	e := newEnv(t)
	e.record(synth.Config{Calls: 2, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour), Seed: 5})
	if err := e.pass(e.client()); err != nil {
		t.Fatal(err)
	}
	es, _ := e.v.List()
	a, b := es[0], es[1]
	tomb := func(en *vault.Entry, kind, reason string) wire.Record {
		raw, _ := json.Marshal(vault.Tombstone{ID: en.ID, Start: en.Start, Class: en.Class, DeletedAt: e.clock.Now(), Reason: reason, By: "dpo"})
		return wire.Record{ID: en.ID, Kind: wire.KindTombstone, Tombstone: kind, Start: en.Start, Class: en.Class, DeletedAt: e.clock.Now(), Entry: wire.RawEntry(wire.KindTombstone, raw)}
	}
	acks := e.postRecords(t, []wire.Record{tomb(a, "shredded", "erasure"), tomb(b, "", "erasure")})
	if acks[0].OK || !strings.Contains(acks[0].Error, "unknown tombstone kind") {
		t.Fatalf("a tombstone of unknown kind: %+v", acks[0])
	}
	if !acks[1].OK {
		t.Fatalf("a kind-less tombstone: %+v", acks[1])
	}
	rows := e.archiveRows()
	if _, ok := rows[a.ID+"/"+wire.KindTombstone]; ok {
		t.Fatal("the refused tombstone was indexed")
	}
	if r := rows[a.ID+"/"+wire.KindRecording]; !r.DeletedAt.IsZero() || !r.RemovedFromBoxAt.IsZero() {
		t.Fatalf("the refused tombstone changed the recording: %+v", r)
	}
	if r := rows[b.ID+"/"+wire.KindRecording]; !r.DeletedAt.IsZero() || r.RemovedFromBoxAt.IsZero() || rows[b.ID+"/"+wire.KindTombstone].Tombstone != index.TombstoneRemoved {
		t.Fatalf("a kind-less tombstone: %+v", r)
	}
	for _, en := range []*vault.Entry{a, b} {
		if _, err := e.archiveCopy(en.ID); err != nil {
			t.Fatalf("%s: %v", en.ID, err)
		}
	}
}
