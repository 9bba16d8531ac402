package client_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/sync/wire"
)

// uploadWith sends a whole object in one PATCH, with the box's
// Upload-Metadata when meta is set (an older box sends none).
func (b *boxConn) uploadWith(data []byte, sum string, meta *wire.UploadMeta) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := b.patchReq(ctx, sum, 0, int64(len(data)), bytes.NewReader(data))
	if meta != nil {
		req.Header.Set(wire.HeaderMetadata, meta.Header())
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b.t.Fatalf("upload: %d %s", resp.StatusCode, resp.Header.Get(wire.HeaderError))
	}
}

// steps counts a step of the S3 backend's tally (store.StepTimes).
func steps(name string) int64 {
	for _, s := range store.StepTimes.Snapshot() {
		if s.Name == name {
			return s.Count
		}
	}
	return 0
}

// TestLockAtPut (issue 26): a box sends its recording's class and start
// with the upload, and the S3 backend (versitygw with Object Lock) writes
// the object with the lock its record will ask for, so that the record
// costs the bucket no version listing and no retention call; the lock as
// a second front-end reads it is what the records handler sets for an
// older box that sends nothing (a legal class's record costs the one
// call that makes the lock COMPLIANCE: an upload's claim never does).
// The record still decides where it asks for more, a hold set before the record arrives still applies, a start
// far ahead is not believed, and a recording so locked is still erased by
// crypto-shredding (the header stays GOVERNANCE).
func TestLockAtPut(t *testing.T) {
	t.Setenv("SPANVAULT_TEST_STORE", "s3")
	e := newEnv(t)
	e.setConfig(t, map[string]any{"legal_retention": []string{"mifid"}})
	ctx := context.Background()
	sc, err := store.ParseS3URL(e.arch.Config.Store)
	if err != nil {
		t.Fatal(err)
	}
	other, err := store.OpenS3(ctx, sc, t.TempDir()) // a second front-end: nothing noted
	if err != nil {
		t.Fatal(err)
	}
	b := e.connect(t, e.box)
	start := e.clock.Now().Add(-time.Hour).Truncate(time.Second) // the bucket keeps whole seconds
	years7 := start.Add(time.Duration(e.arch.Config.DefaultRetention))
	ceil := func(t time.Time) time.Time {
		if r := t.Truncate(time.Second); !r.Equal(t) {
			return r.Add(time.Second)
		}
		return t
	}
	n := 0
	type want struct {
		mode  string
		until time.Time
		hold  bool
	}
	// one uploads an object (with meta, or none), sends its record, and
	// returns its address and the retention calls and version listings
	// the record cost.
	one := func(meta *wire.UploadMeta, class string, before func(id string)) (string, int64, int64) {
		t.Helper()
		n++
		data, sum := e.sealed(t, 4000+n)
		id := "lockatput" + string(rune('a'+n))
		b.uploadWith(data, sum, meta)
		if before != nil {
			before(id)
		}
		store.StepTimes.Reset()
		rec := wire.Record{ID: id, Kind: wire.KindRecording, Start: start, Class: class, Recorded: true, Size: int64(len(data)), SHA256: sum,
			Entry: wire.RawEntry(wire.KindRecording, []byte(`{}`))}
		if acks := b.records(rec); !acks[0].OK {
			t.Fatalf("record %s: %+v", id, acks[0])
		}
		return sum, steps("S3 retention call"), steps("S3 list versions")
	}
	check := func(what, sum string, w want) {
		t.Helper()
		in, err := other.Stat(ctx, sum)
		if err != nil || !in.Complete || in.LockMode != w.mode || !in.RetainUntil.Equal(w.until) || in.Hold != w.hold {
			t.Fatalf("%s: the lock as another front-end reads it: %+v %v; want %s until %s, hold %v", what, in, err, w.mode, w.until, w.hold)
		}
	}

	// An older box: no metadata; the record's call sets the lock.
	old, calls, lists := one(nil, "mifid", nil)
	if calls != 2 || lists != 0 {
		t.Errorf("an older box's record: %d retention calls, %d listings; want 2 and 0 (the calls name the versions just written: store.TestS3LegalLockByVersionID)", calls, lists)
	}
	check("older box", old, want{store.Compliance, ceil(years7), false})

	// A box that sends its class: the date at once, GOVERNANCE (a claim
	// never sets COMPLIANCE); the legal class's record turns the
	// payload's lock to COMPLIANCE in one call (the header needs none).
	// A GOVERNANCE class's record asks the bucket nothing (below).
	mifid := &wire.UploadMeta{Class: "mifid", Start: start}
	sum, calls, lists := one(mifid, "mifid", nil)
	if calls != 1 || lists != 0 {
		t.Errorf("with a legal class sent at upload, the record cost %d retention calls and %d version listings; want 1 and 0", calls, lists)
	}
	check("class at upload", sum, want{store.Compliance, ceil(years7), false})

	// The record asks for more than the upload said: it gets it.
	sum, _, _ = one(&wire.UploadMeta{Class: "default", Start: start.Add(-400 * day)}, "mifid", nil)
	check("record asks for more", sum, want{store.Compliance, ceil(years7), false})

	// The upload said more than the record: the record decides (the
	// claim set only GOVERNANCE; TestUploadClaimCannotBlockErasure).
	sum, _, _ = one(mifid, "default", nil)
	check("upload said more", sum, want{store.Governance, ceil(years7), false})

	// A start far ahead of the archive's clock is not believed: the
	// provisional lock, then the record's.
	sum, calls, _ = one(&wire.UploadMeta{Class: "mifid", Start: start.Add(50 * 365 * day)}, "mifid", nil)
	if calls != 2 {
		t.Errorf("a start 50 years ahead at upload: the record made %d retention calls, want 2 (the upload's claim ignored)", calls)
	}
	check("start far ahead", sum, want{store.Compliance, ceil(years7), false})

	// A hold the archive commanded before the record arrived applies.
	sum, _, _ = one(mifid, "mifid", func(id string) {
		if _, err := e.arch.Command(ctx, e.box, wire.CmdHold, id, false, "case 9", "bob"); err != nil {
			t.Fatal(err)
		}
	})
	if in, err := other.Stat(ctx, sum); err != nil || !in.Hold || in.LockMode != store.Compliance || in.RetainUntil.Before(ceil(years7)) {
		t.Fatalf("held before the record: %+v %v", in, err)
	}

	// A GOVERNANCE class locked at upload is still erased: the header
	// (the wrapped file key) goes, the payload stays locked.
	sum, calls, lists = one(&wire.UploadMeta{Class: "default", Start: start}, "default", nil)
	if calls != 0 || lists != 0 {
		t.Errorf("default class at upload: the record cost %d retention calls and %d version listings; want 0 and 0", calls, lists)
	}
	check("default class at upload", sum, want{store.Governance, ceil(years7), false})
	id := "lockatput" + string(rune('a'+n))
	tomb := wire.Record{ID: id, Kind: wire.KindTombstone, Tombstone: wire.TombstoneErased, Start: start, Class: "default", DeletedAt: e.clock.Now(),
		Entry: wire.RawEntry(wire.KindTombstone, []byte(`{"id":"`+id+`","reason":"Art. 17","by":"dpo"}`))}
	if acks := b.records(tomb); !acks[0].OK {
		t.Fatalf("erasure: %+v", acks[0])
	}
	if _, _, err := e.arch.Store.Open(ctx, sum); !errors.Is(err, store.ErrErased) {
		t.Fatalf("after the erasure the recording opens: %v", err)
	}
	if in, err := other.Stat(ctx, sum); err != nil || !in.Erased || in.LockMode != store.Governance {
		t.Fatalf("after the erasure, another front-end: %+v %v", in, err)
	}
}
