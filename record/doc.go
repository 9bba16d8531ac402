// Package record is the contract between the box and the archive: what a
// call leaves behind once it is recorded, in the form both ends read. It
// holds the clear index entry (Entry, with its stream figures and clear
// events), the sealed personal part (Personal, with the call's events),
// the tombstone a deletion leaves, the frame kinds and packet directions a
// sealed recording's frames carry, the normalisation of phone numbers
// that subject lookups and searches match on (NormalizeNumber, and
// NumberForms with github.com/nyaruka/phonenumbers: every form a number
// may be stored under), and the dial-pattern rule that places a call
// (DirectionOf), so that box and archive decide both alike.
//
// It also holds the hand-over from the capture engine to the vault: the
// call tracker gives a Recorder (the vault) a Draft of each call, finished
// on the capture side (numbers normalised, codecs named, streams
// summarised), and the Frames of its recording; the recording policy
// decides on a Setup. So the vault reads calls without linking the
// capture engine, and data flows one way.
//
// The box writes these (vault, from what the call tracker saw) and sends
// them to the archive (sync/wire carries an Entry or Tombstone as JSON);
// the archive reads them back to search, play and report. The package
// imports nothing of either side: linking it pulls in neither bbolt and
// the capture engine nor the archive's databases.
//
// The format is read for seven years. A recording's entry, personal record
// and tombstone are stored as their JSON encoding, on the box and in the
// archive's index, and the frame kind and direction are bytes in every
// sealed frame. So:
//   - a JSON name, a state or kind string, or a constant's value never
//     changes meaning; a field is only ever added, with omitempty or
//     omitzero, and its absence means what it meant before it existed
//     (see Tombstone.KindOf);
//   - readers accept what older writers wrote: nothing here rejects an
//     unknown or missing field;
//   - NormalizeNumber's and CanonicalNumber's outputs are stored (in
//     sealed personal records and the archive's search terms): each must
//     map a given input to the same string forever (NumberForms keeps
//     NormalizeNumber's form among its forms for records stored before).
//
// Two leaf packages beside it carry the evidence of seven years:
// record/ledger, a box's signed coverage ledger of a day, and
// record/evidence, the bundle (format in its doc.go) that proves a
// recording offline and the verifier spanvault verify-evidence runs.
//
// The frozen vectors that prove it live with their readers (the vault's
// index in cmd/spanvault, the archive's index in archive/index, the wire
// messages in sync/wire, the sealed format in vault/sealed).
package record
