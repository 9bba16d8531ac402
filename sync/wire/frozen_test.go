package wire_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spanvault/spanvault/sync/wire"
)

// TestFrozenMessages: the messages of protocol version 1 as boxes of
// 2026-12-06 sent them and the archive of that day answered
// (testdata/v1, written once, never regenerated) still decode strictly
// (unknown fields are refused, so a renamed or removed field fails
// here) and their records still validate. A box in the field is not
// upgraded the day the archive is.
func TestFrozenMessages(t *testing.T) {
	for _, tc := range []struct {
		file string
		into any
	}{
		{"checkin.json", &wire.CheckIn{}},
		{"checkin_reply.json", &wire.CheckInReply{}},
		{"audit_upload.json", &wire.AuditUpload{}},
		{"records.json", &wire.Records{}},
		{"records_reply.json", &wire.RecordsReply{}},
		{"renew.json", &wire.RenewRequest{}},
	} {
		t.Run(strings.TrimSuffix(tc.file, ".json"), func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata/v1", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := wire.Decode(f, tc.into); err != nil {
				t.Fatalf("a message of 2026-12-06 no longer decodes: %v", err)
			}
			if rs, ok := tc.into.(*wire.Records); ok {
				if len(rs.Records) != 3 {
					t.Fatalf("%d records", len(rs.Records))
				}
				for _, r := range rs.Records {
					if err := r.Validate(); err != nil {
						t.Errorf("record %s (%s): %v", r.ID, r.Kind, err)
					}
				}
			}
		})
	}
}
