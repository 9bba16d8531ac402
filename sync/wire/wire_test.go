package wire_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/sync/wire"
)

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, want string
	}{
		{"unknown field", `{"appliance":"a","bogus":1}`, "unknown field"},
		{"trailing data", `{"appliance":"a"} {}`, "trailing data"},
		{"not JSON", `<xml/>`, "malformed"},
		{"too large", `{"appliance":"` + strings.Repeat("a", wire.MaxMessage) + `"}`, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m wire.CheckIn
			err := wire.Decode(strings.NewReader(tc.in), &m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%v, want %q", err, tc.want)
			}
		})
	}
}

func TestRecordValidate(t *testing.T) {
	t.Parallel()
	sum := strings.Repeat("ab", 32)
	ok := wire.Record{ID: "06abc", Kind: wire.KindRecording, SHA256: sum, Size: 10, Entry: wire.RawEntry(wire.KindRecording, []byte(`{}`))}
	for _, tc := range []struct {
		name string
		mut  func(r *wire.Record)
		want string
	}{
		{"valid", func(r *wire.Record) {}, ""},
		{"path in id", func(r *wire.Record) { r.ID = "../../etc" }, "not a recording ID"},
		{"upper-case hash", func(r *wire.Record) { r.SHA256 = strings.ToUpper(sum) }, "not a hex SHA-256"},
		{"no size", func(r *wire.Record) { r.Size = 0 }, "size"},
		{"unknown kind", func(r *wire.Record) { r.Kind = "x" }, "unknown kind"},
		{"entry not JSON", func(r *wire.Record) { r.Entry = wire.RawEntry(r.Kind, []byte(`{`)) }, "not JSON"},
		{"cdr needs no hash", func(r *wire.Record) { r.Kind, r.SHA256, r.Size = wire.KindCDR, "", 0 }, ""},
		{"removal", func(r *wire.Record) { r.Kind, r.Tombstone = wire.KindTombstone, wire.TombstoneRemoved }, ""},
		{"erasure", func(r *wire.Record) { r.Kind, r.Tombstone = wire.KindTombstone, wire.TombstoneErased }, ""},
		{"tombstone of an old box", func(r *wire.Record) { r.Kind = wire.KindTombstone }, ""},
		{"unknown tombstone kind", func(r *wire.Record) { r.Kind, r.Tombstone = wire.KindTombstone, "shredded" }, "unknown tombstone kind"},
		{"upper-case tombstone kind", func(r *wire.Record) { r.Kind, r.Tombstone = wire.KindTombstone, "ERASED" }, "unknown tombstone kind"},
		{"tombstone kind on a recording", func(r *wire.Record) { r.Tombstone = wire.TombstoneErased }, "no tombstone kind"},
	} {
		r := ok
		tc.mut(&r)
		err := r.Validate()
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// A tombstone without a kind (a box older than the kinds) stands for a
// local removal, never an erasure.
func TestTombstoneKind(t *testing.T) {
	t.Parallel()
	var r wire.Record
	if err := wire.Decode(strings.NewReader(`{"id":"06abc","kind":"tombstone","entry":{}}`), &r); err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err != nil || r.TombstoneKind() != wire.TombstoneRemoved {
		t.Fatalf("kind-less tombstone: %v, kind %q", err, r.TombstoneKind())
	}
	if err := wire.Decode(strings.NewReader(`{"id":"06abc","kind":"tombstone","tombstone":"erased","entry":{}}`), &r); err != nil {
		t.Fatal(err)
	}
	if err := r.Validate(); err != nil || r.TombstoneKind() != wire.TombstoneErased {
		t.Fatalf("erasure: %v, kind %q", err, r.TombstoneKind())
	}
}

func TestCommandValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		c  wire.Command
		ok bool
	}{
		{wire.Command{Kind: wire.CmdErase, Recording: "06abc"}, true},
		{wire.Command{Kind: wire.CmdErase}, false},
		{wire.Command{Kind: wire.CmdPull, All: true}, true},
		{wire.Command{Kind: wire.CmdPull}, false},
		{wire.Command{Kind: "rm -rf", Recording: "06abc"}, false},
		{wire.Command{Kind: wire.CmdHold, Recording: "x/../y"}, false},
	} {
		if err := tc.c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.c, err)
		}
	}
}

// Every message a peer can send decodes through Decode and validates
// without panicking, whatever the bytes.
func FuzzMessages(f *testing.F) {
	seeds := []any{
		wire.CheckIn{Appliance: "b", Time: time.Unix(1, 0), Results: []wire.CommandResult{{ID: 1, Result: "applied"}}},
		wire.CheckInReply{Commands: []wire.Command{{ID: 1, Kind: wire.CmdErase, Recording: "06a"}}, RefusedErasures: []wire.RefusedErasure{{ID: "06a", Reason: "on legal hold at the archive"}}},
		wire.AuditUpload{Entries: []wire.AuditEntry{{Seq: 1, Action: "x"}}},
		wire.AuditReply{Index: 1, Inclusion: [][]byte{{1}}},
		wire.Records{Records: []wire.Record{{ID: "06a", Kind: "cdr", Entry: wire.RawEntry("cdr", []byte(`{}`))}, {ID: "06b", Kind: "tombstone", Tombstone: "erased", Entry: wire.RawEntry("tombstone", []byte(`{}`))}}},
		wire.RecordsReply{Acks: []wire.Ack{{ID: "06a", OK: true}}},
		wire.RenewRequest{CSR: []byte{1, 2}},
		wire.RenewReply{Cert: []byte{1}},
		// Kind 8 % 8: a check-in with the health fields added later.
		wire.CheckIn{Appliance: "b", Health: wire.Health{Backlog: 5, AfterPass: true, ClockOffset: -412.5, PolicyFailure: "refused"}},
	}
	for i, s := range seeds {
		b, _ := json.Marshal(s)
		f.Add(uint8(i), b)
	}
	f.Fuzz(func(t *testing.T, kind uint8, b []byte) {
		switch kind % 8 {
		case 0:
			var m wire.CheckIn
			wire.Decode(bytes.NewReader(b), &m)
		case 1:
			var m wire.CheckInReply
			if wire.Decode(bytes.NewReader(b), &m) == nil {
				for i := range m.Commands {
					m.Commands[i].Validate()
				}
			}
		case 2:
			var m wire.AuditUpload
			wire.Decode(bytes.NewReader(b), &m)
		case 3:
			var m wire.AuditReply
			wire.Decode(bytes.NewReader(b), &m)
		case 4:
			var m wire.Records
			if wire.Decode(bytes.NewReader(b), &m) == nil {
				for i := range m.Records {
					m.Records[i].Validate()
				}
			}
		case 5:
			var m wire.RecordsReply
			wire.Decode(bytes.NewReader(b), &m)
		case 6:
			var m wire.RenewRequest
			wire.Decode(bytes.NewReader(b), &m)
		case 7:
			var m wire.RenewReply
			wire.Decode(bytes.NewReader(b), &m)
		}
		wire.ParseOffset(string(b))
	})
}
