package client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestUploadClaimCannotBlockErasure: a box claims a legal (COMPLIANCE)
// class at upload while its record names the default class. The index
// says "default" (erasable); the archive locks at PUT only GOVERNANCE
// (the claim is not the record), the record's class decides the mode,
// and an Art. 17 erasure shreds the header. Before, the payload was
// written COMPLIANCE from the claim, kept so by the record, and the
// store refused the erasure on it ("erasure refused ... until 2033"),
// leaving the recording decryptable. A payload already COMPLIANCE-locked
// that way (by an older archive) is erased too: the index decides.
func TestUploadClaimCannotBlockErasure(t *testing.T) {
	t.Setenv("SPANVAULT_TEST_STORE", "s3")
	e := newEnv(t)
	e.setConfig(t, map[string]any{"legal_retention": []string{"mifid"}})
	ctx := context.Background()
	b := e.connect(t, e.box)
	start := e.clock.Now().Add(-time.Hour).Truncate(time.Second)
	erase := func(id string) {
		t.Helper()
		tomb := wire.Record{ID: id, Kind: wire.KindTombstone, Tombstone: wire.TombstoneErased, Start: start, Class: "default", DeletedAt: e.clock.Now(),
			Entry: wire.RawEntry(wire.KindTombstone, []byte(`{"id":"`+id+`","reason":"Art. 17","by":"dpo"}`))}
		if acks := b.records(tomb); !acks[0].OK {
			t.Errorf("erasure of a default-class recording %s refused: %+v", id, acks[0])
		}
	}
	for i, legacy := range []bool{false, true} {
		data, sum := e.sealed(t, 4321+i)
		b.uploadWith(data, sum, &wire.UploadMeta{Class: "mifid", Start: start})
		id := "claim" + string(rune('1'+i))
		rec := wire.Record{ID: id, Kind: wire.KindRecording, Start: start, Class: "default", Recorded: true, Size: int64(len(data)), SHA256: sum,
			Entry: wire.RawEntry(wire.KindRecording, []byte(`{}`))}
		if acks := b.records(rec); !acks[0].OK {
			t.Fatalf("record: %+v", acks[0])
		}
		in, err := e.arch.Store.Stat(ctx, sum)
		if err != nil {
			t.Fatal(err)
		}
		if in.LockMode != store.Governance {
			t.Errorf("lock after a record of class default (mifid claimed at upload): %s until %s; want GOVERNANCE", in.LockMode, in.RetainUntil)
		}
		if legacy {
			// What an older archive left: the payload COMPLIANCE from the claim.
			if err := e.arch.Store.SetRetention(ctx, sum, store.Retention{Mode: store.Compliance, Until: in.RetainUntil}); err != nil {
				t.Fatal(err)
			}
		}
		erase(id)
		if _, _, err := e.arch.Store.Open(ctx, sum); !errors.Is(err, store.ErrErased) {
			t.Errorf("legacy %v: after the erasure the recording still opens: %v", legacy, err)
		}
	}
}

// TestUploadClaimCannotLengthenLock: a box claims at upload a class kept
// far longer than its record's: the record's call shortens the
// GOVERNANCE lock so set to what the record requires (the archive's
// governance bypass), and a legal class's record makes it COMPLIANCE
// with the record's own date, not the claim's.
func TestUploadClaimCannotLengthenLock(t *testing.T) {
	t.Setenv("SPANVAULT_TEST_STORE", "s3")
	e := newEnv(t)
	e.setConfig(t, map[string]any{"legal_retention": []string{"mifid"}, "retention": map[string]string{"forever": "30y"}})
	ctx := context.Background()
	b := e.connect(t, e.box)
	start := e.clock.Now().Add(-time.Hour).Truncate(time.Second)
	years7 := start.Add(time.Duration(e.arch.Config.DefaultRetention))
	for i, class := range []string{"default", "mifid"} {
		data, sum := e.sealed(t, 5000+i)
		b.uploadWith(data, sum, &wire.UploadMeta{Class: "forever", Start: start})
		in, err := e.arch.Store.Stat(ctx, sum)
		if err != nil || in.LockMode != store.Governance || in.RetainUntil.Before(start.Add(29*365*day)) {
			t.Fatalf("lock at upload claiming 30 years: %+v %v", in, err)
		}
		rec := wire.Record{ID: "long" + class, Kind: wire.KindRecording, Start: start, Class: class, Recorded: true, Size: int64(len(data)), SHA256: sum,
			Entry: wire.RawEntry(wire.KindRecording, []byte(`{}`))}
		if acks := b.records(rec); !acks[0].OK {
			t.Fatalf("record: %+v", acks[0])
		}
		want := store.Governance
		if class == "mifid" {
			want = store.Compliance
		}
		in, err = e.arch.Store.Stat(ctx, sum)
		if err != nil || in.LockMode != want || !in.RetainUntil.Equal(years7) {
			t.Errorf("class %s recorded after a 30-year claim: %s until %s (%v); want %s until %s", class, in.LockMode, in.RetainUntil, err, want, years7)
		}
	}
}
