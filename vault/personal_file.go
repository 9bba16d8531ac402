package vault

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"

	"github.com/spanvault/spanvault/vault/sealed"
)

// personalFromFile reads a recording's personal metadata from the
// metadata records sealed inside its own file (written at its start and,
// final, at its end): the copy a recording keeps when its index entry was
// lost and fsck re-indexed it from the file. The last readable record
// wins (the final one of a complete recording).
func (v *Vault) personalFromFile(id string, ids []age.Identity) (*Personal, error) {
	r, c, err := v.OpenRecording(id, ids)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var best *Personal
	var f sealed.Frame
	for {
		kind, meta, err := r.Next(&f)
		if err != nil {
			if best != nil && (errors.Is(err, io.EOF) || errors.Is(err, sealed.ErrTruncated)) {
				return best, nil
			}
			if best != nil {
				return best, nil // readable up to a damaged chunk
			}
			return nil, fmt.Errorf("vault: %s: no readable metadata in its file: %w", id, err)
		}
		if kind != sealed.RecMeta {
			continue
		}
		var m struct {
			ID       string    `json:"id"`
			Personal *Personal `json:"personal"`
		}
		if json.Unmarshal(meta, &m) == nil && m.ID == id && m.Personal != nil {
			best = m.Personal
		}
	}
}
