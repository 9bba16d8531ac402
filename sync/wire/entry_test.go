package wire_test

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/record"
	"github.com/spanvault/spanvault/sync/wire"
)

// The frozen records of 2026-12-06 decode with their entries typed by
// kind: the recording's and the call detail record's as record.Entry,
// the tombstone's (whose "reason" no record.Entry has) as
// record.Tombstone; and the bytes the box sent are kept as they came.
func TestFrozenRecordsTyped(t *testing.T) {
	b, err := os.ReadFile("testdata/v1/records.json")
	if err != nil {
		t.Fatal(err)
	}
	var m wire.Records
	if err := wire.Decode(bytes.NewReader(b), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Records) != 3 {
		t.Fatalf("%d records", len(m.Records))
	}
	rec, cdr, tomb := m.Records[0].Entry, m.Records[1].Entry, m.Records[2].Entry
	if rec.Clear == nil || rec.Clear.State != "ended" || rec.Clear.Class != "default" ||
		!rec.Clear.Start.Equal(time.Date(2026, 12, 6, 1, 30, 0, 0, time.UTC)) || rec.Tombstone != nil {
		t.Errorf("recording's entry: %+v / %+v", rec.Clear, rec.Tombstone)
	}
	if cdr.Clear == nil || cdr.Clear.State != "rejected" || cdr.Clear.ID != "06dqhj90xr4cwxcg4mpm64psng" {
		t.Errorf("call detail record's entry: %+v", cdr.Clear)
	}
	if tomb.Tombstone == nil || tomb.Tombstone.Reason != "retention" || tomb.Tombstone.KindOf() != record.TombstoneRemoved || tomb.Clear != nil {
		t.Errorf("tombstone's entry: %+v / %+v", tomb.Tombstone, tomb.Clear)
	}
	for _, r := range m.Records {
		if !strings.Contains(string(b), string(r.Entry.Raw())) {
			t.Errorf("%s: the entry's bytes are not those the box sent: %s", r.ID, r.Entry.Raw())
		}
	}
}

// An entry from a newer box (a field this archive does not know) is
// kept whole in the bytes, and its record validates; the record's own
// unknown fields are still refused; an entry of the wrong shape fails its
// record only.
func TestEntryVersions(t *testing.T) {
	newer := `{"records":[{"id":"06a","kind":"cdr","start":"2026-12-06T01:30:00Z","class":"default","hold":false,"recorded":false,"size":0,` +
		`"entry":{"id":"06a","state":"cdr","loudness_lufs":-23}},` +
		`{"id":"06b","kind":"cdr","start":"2026-12-06T01:30:00Z","class":"default","hold":false,"recorded":false,"size":0,"entry":{"start":5}}]}`
	var m wire.Records
	if err := wire.Decode(strings.NewReader(newer), &m); err != nil {
		t.Fatalf("a newer box's entry is refused: %v", err)
	}
	a, b := m.Records[0], m.Records[1]
	if err := a.Validate(); err != nil || a.Entry.Clear == nil || a.Entry.Clear.State != "cdr" || !strings.Contains(string(a.Entry.Raw()), "loudness_lufs") {
		t.Errorf("newer entry: %v, %+v, %s", err, a.Entry.Clear, a.Entry.Raw())
	}
	if err := b.Validate(); err == nil || !strings.Contains(err.Error(), "entry") {
		t.Errorf("an entry whose start is a number validates: %v", err)
	}
	strict := strings.Replace(newer, `"size":0,`, `"size":0,"colour":"red",`, 1)
	if err := wire.Decode(strings.NewReader(strict), &m); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("a record's unknown field: %v", err)
	}
	// What a box sends is what it built: the typed entry and its bytes.
	e := &record.Entry{ID: "06c", State: record.StateCDR}
	ce, err := wire.ClearEntry(e)
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(wire.Record{ID: "06c", Kind: wire.KindCDR, Entry: ce})
	if err != nil {
		t.Fatal(err)
	}
	var back wire.Record
	if err := json.Unmarshal(out, &back); err != nil || back.Entry.Clear == nil || back.Entry.Clear.ID != "06c" || !bytes.Equal(back.Entry.Raw(), ce.Raw()) {
		t.Errorf("round trip: %v, %+v, %s", err, back.Entry.Clear, back.Entry.Raw())
	}
}
