package index

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Tombstone kinds as the index keeps them (records.tombstone, on
// tombstone rows). A removal says the box let its copy go: the
// recording's row gets removed_from_box_at and stays live. An erasure
// (GDPR Art. 17) marks the recording's row erased (deleted_at): only then
// do the access service's playback, search, links and exports refuse it.
// A refused erasure is a box's erasure the archive did not apply to its
// own copy (a legal hold at the archive, a legal retention duty): the
// recording stays live like after a removal, and records.why says why.
const (
	TombstoneRemoved = "removed"
	TombstoneErased  = "erased"
	TombstoneRefused = "erasure_refused"
)

func init() {
	// Version 2: the two kinds of tombstone. Tombstones of older indexes
	// get their kind from the box's reason (Erase wrote "erasure" or
	// "erasure: ...", the archive's commands "erased by archive
	// command"); a recording that only a removal marked deleted is live
	// again: the archive never erased it, its copy is in the store.
	register(2, "tombstone kinds", `
ALTER TABLE records ADD COLUMN tombstone TEXT NOT NULL DEFAULT '';
ALTER TABLE records ADD COLUMN removed_from_box_at TEXT NOT NULL DEFAULT '';
ALTER TABLE records ADD COLUMN why TEXT NOT NULL DEFAULT '';
CREATE TABLE IF NOT EXISTS erase_refusals (
	appliance TEXT NOT NULL,
	id TEXT NOT NULL,
	reason TEXT NOT NULL,
	refused_at TEXT NOT NULL,
	told_at TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (appliance, id)
);
UPDATE records SET tombstone = 'erased' WHERE kind = 'tombstone'
	AND (entry LIKE '%"reason":"erasure%' OR entry LIKE '%"reason":"erased by archive command%');
UPDATE records SET tombstone = 'removed' WHERE kind = 'tombstone' AND tombstone = '';
UPDATE records SET removed_from_box_at = deleted_at, deleted_at = '', why = 'removed from the box (restored by schema version 2: a removal is not an erasure)'
	WHERE kind <> 'tombstone' AND deleted_at <> '' AND NOT EXISTS (
		SELECT 1 FROM records t WHERE t.appliance = records.appliance AND t.id = records.id AND t.kind = 'tombstone' AND t.tombstone = 'erased');
UPDATE records SET removed_from_box_at = deleted_at WHERE kind <> 'tombstone' AND deleted_at <> '' AND removed_from_box_at = ''
`)
}

// applyTombstone makes a tombstone's kind true of the box's other rows
// for the same ID (PutRecords calls it in its transaction). The first
// kind stored for a tombstone stays: a repeated tombstone changes nothing.
func applyTombstone(ctx context.Context, tx *Tx, r Record) error {
	kind := r.Tombstone
	if kind == "" {
		kind = TombstoneRemoved
	}
	at := r.DeletedAt
	if at.IsZero() {
		at = r.ReceivedAt
	}
	if _, err := tx.ExecContext(ctx, `UPDATE records SET tombstone = ? WHERE appliance = ? AND id = ? AND kind = 'tombstone' AND tombstone = ''`, kind, r.Appliance, r.ID); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE records SET removed_from_box_at = ? WHERE appliance = ? AND id = ? AND kind <> 'tombstone' AND removed_from_box_at = ''`, ts(at), r.Appliance, r.ID); err != nil {
		return err
	}
	if kind != TombstoneErased {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `UPDATE records SET deleted_at = ? WHERE appliance = ? AND id = ? AND kind <> 'tombstone' AND deleted_at = ''`, ts(at), r.Appliance, r.ID); err != nil {
		return err
	}
	return purgeErased(ctx, tx, r.Appliance, r.ID)
}

// purgeErased drops what an erased recording's or call record's rows
// held of the person: their sealed metadata and subject, and their blind
// search terms (queued indexing too, so none come back). The tombstone
// keeps its own sealed subject and terms (the Art. 15 report's deletion);
// the hashes, sizes and times stay for verify and the ledger.
func purgeErased(ctx context.Context, tx *Tx, appliance, id string) error {
	for _, q := range []string{
		`UPDATE records SET sealed = NULL, subject = NULL WHERE appliance = ? AND id = ? AND kind <> 'tombstone' AND deleted_at <> ''`,
		`DELETE FROM search_terms WHERE appliance = ? AND id = ? AND kind <> 'tombstone'`,
		`DELETE FROM search_queue WHERE appliance = ? AND id = ? AND kind <> 'tombstone'`,
	} {
		if _, err := tx.ExecContext(ctx, q, appliance, id); err != nil {
			return fmt.Errorf("purging erased %s/%s: %w", appliance, id, err)
		}
	}
	return nil
}

// SetWhy records why a recording (its rows other than the tombstone) was
// erased, or why its erasure was refused.
func (x *Index) SetWhy(ctx context.Context, appliance, id, why string) error {
	_, err := x.db.ExecContext(ctx, `UPDATE records SET why = ? WHERE appliance = ? AND id = ? AND kind <> 'tombstone'`, why, appliance, id)
	return err
}

// ErasureRefusal is a box's erasure the archive refused to apply to its
// own copy, kept until the box is told (in its next check-in reply).
type ErasureRefusal struct {
	Appliance string    `json:"appliance"`
	ID        string    `json:"id"`
	Reason    string    `json:"reason"`
	RefusedAt time.Time `json:"refused_at"`
	ToldAt    time.Time `json:"told_at,omitzero"`
}

// RefuseErasure records a refused erasure for the box to be told.
func (x *Index) RefuseErasure(ctx context.Context, r ErasureRefusal) error {
	if r.Appliance == "" || r.ID == "" {
		return errors.New("index: erasure refusal without appliance or id")
	}
	_, err := x.db.ExecContext(ctx, `INSERT INTO erase_refusals (appliance, id, reason, refused_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (appliance, id) DO UPDATE SET reason = excluded.reason, refused_at = excluded.refused_at, told_at = ''`, r.Appliance, r.ID, r.Reason, ts(r.RefusedAt))
	return err
}

// ErasureRefusals lists an appliance's refused erasures (every
// appliance's for ""), those not told yet only when untold.
func (x *Index) ErasureRefusals(ctx context.Context, appliance string, untold bool) ([]ErasureRefusal, error) {
	q := `SELECT appliance, id, reason, refused_at, told_at FROM erase_refusals WHERE (appliance = ? OR ? = '')`
	if untold {
		q += ` AND told_at = ''`
	}
	rows, err := x.db.QueryContext(ctx, q+` ORDER BY refused_at, appliance, id`, appliance, appliance)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []ErasureRefusal
	for rows.Next() {
		var r ErasureRefusal
		var at, told string
		if err := rows.Scan(&r.Appliance, &r.ID, &r.Reason, &at, &told); err != nil {
			return nil, err
		}
		r.RefusedAt, r.ToldAt = parseTS(at), parseTS(told)
		out = append(out, r)
	}
	return out, rows.Err()
}

// ToldRefusals marks refused erasures as told to their box.
func (x *Index) ToldRefusals(ctx context.Context, appliance string, ids []string, at time.Time) error {
	for _, id := range ids {
		if _, err := x.db.ExecContext(ctx, `UPDATE erase_refusals SET told_at = ? WHERE appliance = ? AND id = ? AND told_at = ''`, ts(at), appliance, id); err != nil {
			return err
		}
	}
	return nil
}
