package wire

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/spanvault/spanvault/record"
)

// Entry is a record's entry: what the box's index holds for it, typed by
// the record's kind (Clear, a record.Entry, for a recording or a call
// detail record; Tombstone, a record.Tombstone, for a tombstone), with the
// bytes the box encoded, which the archive stores as they came (Raw).
//
// The typed half is decoded leniently: a field a newer box adds, or a
// tombstone's fields that no record.Entry has ("reason", "by"), are kept
// in the bytes and refused nowhere, so every message a box has sent still
// decodes (the frozen vectors in testdata/v1). The record's own fields
// stay strict (Record.UnmarshalJSON). An entry whose typed decoding
// fails (a field of the wrong JSON type) fails its record's Validate, not
// the whole batch.
type Entry struct {
	Clear     *record.Entry     // a recording's or call detail record's; nil for a tombstone
	Tombstone *record.Tombstone // a tombstone's; nil otherwise
	raw       json.RawMessage
	err       error
}

// ClearEntry is the entry of a recording or call detail record.
func ClearEntry(e *record.Entry) (Entry, error) {
	raw, err := json.Marshal(e)
	if err != nil {
		return Entry{}, fmt.Errorf("wire: entry %s: %w", e.ID, err)
	}
	return Entry{Clear: e, raw: raw}, nil
}

// TombstoneEntry is the entry of a tombstone.
func TombstoneEntry(t *record.Tombstone) (Entry, error) {
	raw, err := json.Marshal(t)
	if err != nil {
		return Entry{}, fmt.Errorf("wire: tombstone %s: %w", t.ID, err)
	}
	return Entry{Tombstone: t, raw: raw}, nil
}

// RawEntry is the entry of a record of kind as a box encoded it (b),
// typed as Record.UnmarshalJSON types it.
func RawEntry(kind string, b []byte) Entry {
	e := Entry{raw: bytes.Clone(b)}
	e.decode(kind)
	return e
}

// Raw is the entry as the box encoded it.
func (e *Entry) Raw() json.RawMessage { return e.raw }

// MarshalJSON writes the bytes the box encoded, or, for an entry built
// without them, its typed half.
func (e Entry) MarshalJSON() ([]byte, error) {
	switch {
	case e.raw != nil:
		return e.raw, nil
	case e.Clear != nil:
		return json.Marshal(e.Clear)
	case e.Tombstone != nil:
		return json.Marshal(e.Tombstone)
	}
	return []byte("null"), nil
}

// UnmarshalJSON keeps the bytes; Record.UnmarshalJSON, which knows the
// record's kind, types them.
func (e *Entry) UnmarshalJSON(b []byte) error {
	*e = Entry{raw: bytes.Clone(b)}
	return nil
}

// decode types the bytes as the entry of a record of kind.
func (e *Entry) decode(kind string) {
	e.Clear, e.Tombstone, e.err = nil, nil, nil
	if len(e.raw) == 0 || !json.Valid(e.raw) {
		return // Validate says so
	}
	switch kind {
	case KindRecording, KindCDR:
		var c record.Entry
		if e.err = json.Unmarshal(e.raw, &c); e.err == nil {
			e.Clear = &c
		}
	case KindTombstone:
		var t record.Tombstone
		if e.err = json.Unmarshal(e.raw, &t); e.err == nil {
			e.Tombstone = &t
		}
	}
}

// validate reports what is wrong with the entry of a record of kind.
func (e *Entry) validate() error {
	if len(e.raw) == 0 || !json.Valid(e.raw) {
		return fmt.Errorf("entry is not JSON")
	}
	if e.err != nil {
		return fmt.Errorf("entry: %w", e.err)
	}
	return nil
}

// UnmarshalJSON decodes a record strictly (an unknown field of the record
// itself is refused, as Decode refuses it everywhere else) and types its
// entry by its kind (Entry).
func (r *Record) UnmarshalJSON(b []byte) error {
	type fields Record // without this method
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var f fields
	if err := dec.Decode(&f); err != nil {
		return err
	}
	*r = Record(f)
	r.Entry.decode(r.Kind)
	return nil
}
