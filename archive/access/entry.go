package access

import (
	"encoding/json"
	"fmt"

	"github.com/spanvault/spanvault/archive/index"
)

// storedEntry decodes the box's entry stored with a recording (or a
// tombstone) into v. A record without one leaves v as it is; one that
// does not decode is stored data gone bad, and the error says whose.
func storedEntry(rec *index.Record, v any) error {
	if rec.Entry == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(rec.Entry), v); err != nil {
		return fmt.Errorf("access: stored entry of %s/%s: %w", rec.Appliance, rec.ID, err)
	}
	return nil
}
