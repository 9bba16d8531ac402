package index

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"
)

// Migration 18: firmware updates and their rollouts (archive/update.go).
//
//   - updates: every published update, by serial (unique, growing), with
//     its signed manifest (JSON of wire.SignedUpdate) as the publisher
//     verified it; the files live in the archive's directory.
//   - rollouts: an update offered to a set of boxes in waves (0: the
//     canary, 1: a percentage, 2: the rest), with the wave in progress,
//     its start, and the rollout's state (filed: waiting for a second
//     admin; active; done; stopped, with why).
//   - rollout_boxes: each box of a rollout, its wave and its state
//     (waiting, offered, downloading, written, trying, confirmed, failed,
//     skipped) with the time of the first offer and the failure's reason.
func init() {
	register(18, "firmware updates and rollouts", `
CREATE TABLE IF NOT EXISTS updates (
	firmware_serial INTEGER PRIMARY KEY,
	version TEXT NOT NULL,
	arch TEXT NOT NULL,
	signed TEXT NOT NULL,
	root_size INTEGER NOT NULL,
	boot_size INTEGER NOT NULL,
	published_at TEXT NOT NULL,
	published_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rollouts (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	firmware_serial INTEGER NOT NULL,
	target TEXT NOT NULL,
	canary TEXT NOT NULL,
	percent INTEGER NOT NULL,
	threshold DOUBLE PRECISION NOT NULL,
	confirm_within INTEGER NOT NULL,
	deadline INTEGER NOT NULL,
	state TEXT NOT NULL,
	wave INTEGER NOT NULL DEFAULT 0,
	wave_started_at TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL,
	created_by TEXT NOT NULL,
	approved_by TEXT NOT NULL DEFAULT '',
	ended_at TEXT NOT NULL DEFAULT '',
	end_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS rollouts_state ON rollouts (state);
CREATE TABLE IF NOT EXISTS rollout_boxes (
	rollout INTEGER NOT NULL,
	appliance TEXT NOT NULL,
	wave INTEGER NOT NULL,
	state TEXT NOT NULL DEFAULT 'waiting',
	offered_at TEXT NOT NULL DEFAULT '',
	updated_at TEXT NOT NULL DEFAULT '',
	reason TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (rollout, appliance)
);
CREATE INDEX IF NOT EXISTS rollout_boxes_appliance ON rollout_boxes (appliance)`)
}

// Update is a published firmware update.
type Update struct {
	Serial      uint64    `json:"serial"`
	Version     string    `json:"version"`
	Arch        string    `json:"arch"`
	Signed      string    `json:"-"` // JSON of wire.SignedUpdate
	RootSize    int64     `json:"root_size"`
	BootSize    int64     `json:"boot_size"`
	PublishedAt time.Time `json:"published_at"`
	PublishedBy string    `json:"published_by"`
}

// ErrNoUpdate: no update with that serial; ErrNoRollout: no such rollout.
var (
	ErrNoUpdate  = errors.New("index: no update with that serial")
	ErrNoRollout = errors.New("index: no such rollout")
)

// AddUpdate records a published update; a serial taken already reports
// false.
func (x *Index) AddUpdate(ctx context.Context, u Update) (bool, error) {
	r, err := x.db.ExecContext(ctx, `INSERT INTO updates (firmware_serial, version, arch, signed, root_size, boot_size, published_at, published_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
		int64(u.Serial), u.Version, u.Arch, u.Signed, u.RootSize, u.BootSize, ts(u.PublishedAt), u.PublishedBy)
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

const updateCols = `firmware_serial, version, arch, signed, root_size, boot_size, published_at, published_by`

func scanUpdate(sc interface{ Scan(...any) error }) (*Update, error) {
	var u Update
	var s int64
	var at string
	if err := sc.Scan(&s, &u.Version, &u.Arch, &u.Signed, &u.RootSize, &u.BootSize, &at, &u.PublishedBy); err != nil {
		return nil, err
	}
	u.Serial, u.PublishedAt = uint64(s), parseTS(at)
	return &u, nil
}

// Update returns the update with a serial (ErrNoUpdate).
func (x *Index) Update(ctx context.Context, serial uint64) (*Update, error) {
	u, err := scanUpdate(x.db.QueryRowContext(ctx, `SELECT `+updateCols+` FROM updates WHERE firmware_serial = ?`, int64(serial)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoUpdate
	}
	return u, err
}

// Updates lists every published update, newest first.
func (x *Index) Updates(ctx context.Context) ([]*Update, error) {
	rows, err := x.db.QueryContext(ctx, `SELECT `+updateCols+` FROM updates ORDER BY firmware_serial DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Update
	for rows.Next() {
		u, err := scanUpdate(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// Rollout states.
const (
	RolloutFiled   = "filed"
	RolloutActive  = "active"
	RolloutDone    = "done"
	RolloutStopped = "stopped"
)

// Rollout is an update offered to boxes in waves.
type Rollout struct {
	ID            int64         `json:"id"`
	Serial        uint64        `json:"serial"`
	Target        string        `json:"target"`
	Canary        string        `json:"canary"`
	Percent       int           `json:"percent"`
	Threshold     float64       `json:"threshold"`
	ConfirmWithin time.Duration `json:"confirm_within"`
	Deadline      time.Duration `json:"deadline"`
	State         string        `json:"state"`
	Wave          int           `json:"wave"`
	WaveStartedAt time.Time     `json:"wave_started_at,omitzero"`
	CreatedAt     time.Time     `json:"created_at"`
	CreatedBy     string        `json:"created_by"`
	ApprovedBy    string        `json:"approved_by,omitempty"`
	EndedAt       time.Time     `json:"ended_at,omitzero"`
	EndReason     string        `json:"end_reason,omitempty"`
}

// RolloutBox is one box of a rollout.
type RolloutBox struct {
	Rollout   int64     `json:"rollout"`
	Appliance string    `json:"appliance"`
	Wave      int       `json:"wave"`
	State     string    `json:"state"`
	OfferedAt time.Time `json:"offered_at,omitzero"`
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	Reason    string    `json:"reason,omitempty"`
}

// AddRollout stores a rollout and its boxes in one transaction and
// returns its ID.
func (x *Index) AddRollout(ctx context.Context, r Rollout, boxes []RolloutBox) (int64, error) {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var id int64
	if err := tx.QueryRowContext(ctx, `INSERT INTO rollouts (firmware_serial, target, canary, percent, threshold, confirm_within, deadline, state, wave, wave_started_at, created_at, created_by, approved_by)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		int64(r.Serial), r.Target, r.Canary, r.Percent, r.Threshold, int64(r.ConfirmWithin/time.Second), int64(r.Deadline/time.Second), r.State, r.Wave, ts(r.WaveStartedAt), ts(r.CreatedAt), r.CreatedBy, r.ApprovedBy).Scan(&id); err != nil {
		return 0, err
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO rollout_boxes (rollout, appliance, wave, state) VALUES (?, ?, ?, 'waiting')`)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	for _, b := range boxes {
		if _, err := st.ExecContext(ctx, id, b.Appliance, b.Wave); err != nil {
			return 0, err
		}
	}
	return id, tx.Commit()
}

const rolloutCols = `id, firmware_serial, target, canary, percent, threshold, confirm_within, deadline, state, wave, wave_started_at, created_at, created_by, approved_by, ended_at, end_reason`

func scanRollout(sc interface{ Scan(...any) error }) (*Rollout, error) {
	var r Rollout
	var s, cw, dl int64
	var ws, ca, ea string
	if err := sc.Scan(&r.ID, &s, &r.Target, &r.Canary, &r.Percent, &r.Threshold, &cw, &dl, &r.State, &r.Wave, &ws, &ca, &r.CreatedBy, &r.ApprovedBy, &ea, &r.EndReason); err != nil {
		return nil, err
	}
	r.Serial, r.ConfirmWithin, r.Deadline = uint64(s), time.Duration(cw)*time.Second, time.Duration(dl)*time.Second
	r.WaveStartedAt, r.CreatedAt, r.EndedAt = parseTS(ws), parseTS(ca), parseTS(ea)
	return &r, nil
}

// Rollout returns a rollout (ErrNoRollout).
func (x *Index) Rollout(ctx context.Context, id int64) (*Rollout, error) {
	r, err := scanRollout(x.db.QueryRowContext(ctx, `SELECT `+rolloutCols+` FROM rollouts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNoRollout
	}
	return r, err
}

// Rollouts lists rollouts, newest first: those in a state, or all ("").
func (x *Index) Rollouts(ctx context.Context, state string) ([]*Rollout, error) {
	q, args := `SELECT `+rolloutCols+` FROM rollouts ORDER BY id DESC`, []any{}
	if state != "" {
		q, args = `SELECT `+rolloutCols+` FROM rollouts WHERE state = ? ORDER BY id DESC`, []any{state}
	}
	rows, err := x.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*Rollout
	for rows.Next() {
		r, err := scanRollout(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RolloutBoxes lists a rollout's boxes by wave and name.
func (x *Index) RolloutBoxes(ctx context.Context, id int64) ([]RolloutBox, error) {
	return x.rolloutBoxes(ctx, `WHERE rollout = ? ORDER BY wave, appliance`, id)
}

// ApplianceRollouts lists a box's rows in every rollout, newest first.
func (x *Index) ApplianceRollouts(ctx context.Context, name string) ([]RolloutBox, error) {
	return x.rolloutBoxes(ctx, `WHERE appliance = ? ORDER BY rollout DESC`, name)
}

func (x *Index) rolloutBoxes(ctx context.Context, where string, arg any) ([]RolloutBox, error) {
	return x.queryRolloutBoxes(ctx, `SELECT rollout, appliance, wave, state, offered_at, updated_at, reason FROM rollout_boxes `+where, arg)
}

func (x *Index) queryRolloutBoxes(ctx context.Context, q string, args ...any) ([]RolloutBox, error) {
	rows, err := x.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []RolloutBox
	for rows.Next() {
		var b RolloutBox
		var oa, ua string
		if err := rows.Scan(&b.Rollout, &b.Appliance, &b.Wave, &b.State, &oa, &ua, &b.Reason); err != nil {
			return nil, err
		}
		b.OfferedAt, b.UpdatedAt = parseTS(oa), parseTS(ua)
		out = append(out, b)
	}
	return out, rows.Err()
}

// SetRolloutBox moves a box's state in a rollout, only from one of the
// states in from (none: any); it reports whether it did. An offer keeps
// the time of the first.
func (x *Index) SetRolloutBox(ctx context.Context, id int64, name, state, reason string, at time.Time, from ...string) (bool, error) {
	q := `UPDATE rollout_boxes SET state = ?, reason = ?, updated_at = ? WHERE rollout = ? AND appliance = ?`
	args := []any{state, reason, ts(at), id, name}
	if state == "offered" {
		q = `UPDATE rollout_boxes SET state = ?, reason = ?, updated_at = ?, offered_at = CASE WHEN offered_at = '' THEN ? ELSE offered_at END WHERE rollout = ? AND appliance = ?`
		args = []any{state, reason, ts(at), ts(at), id, name}
	}
	if len(from) > 0 {
		q += ` AND state IN (?` + repeat(", ?", len(from)-1) + `)`
		for _, f := range from {
			args = append(args, f)
		}
	}
	r, err := x.db.ExecContext(ctx, q, args...)
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

func repeat(s string, n int) string { return strings.Repeat(s, n) }

// AdvanceRollout moves a rollout from wave `from` to `to` (at), once
// across front-ends: it reports whether this call did.
func (x *Index) AdvanceRollout(ctx context.Context, id int64, from, to int, at time.Time) (bool, error) {
	r, err := x.db.ExecContext(ctx, `UPDATE rollouts SET wave = ?, wave_started_at = ? WHERE id = ? AND wave = ? AND state = 'active'`, to, ts(at), id, from)
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

// SetRolloutState moves a rollout from state `from` to `to` with a reason
// (done, stopped: the end; active: approved by approvedBy), once across
// front-ends: it reports whether this call did.
func (x *Index) SetRolloutState(ctx context.Context, id int64, from, to, reason, approvedBy string, at time.Time) (bool, error) {
	q := `UPDATE rollouts SET state = ?, ended_at = ?, end_reason = ? WHERE id = ? AND state = ?`
	args := []any{to, ts(at), reason, id, from}
	if to == RolloutActive {
		q = `UPDATE rollouts SET state = ?, approved_by = ?, wave_started_at = ? WHERE id = ? AND state = ?`
		args = []any{to, approvedBy, ts(at), id, from}
	}
	r, err := x.db.ExecContext(ctx, q, args...)
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

// BoxesInGroup lists the enrolled, unrevoked boxes of a policy group
// ("": every one).
func (x *Index) BoxesInGroup(ctx context.Context, group string) ([]string, error) {
	q, args := `SELECT name FROM appliances WHERE revoked_at = '' ORDER BY name`, []any{}
	if group != "" {
		q, args = `SELECT name FROM appliances WHERE revoked_at = '' AND policy_group = ? ORDER BY name`, []any{group}
	}
	rows, err := x.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// LatestRolloutBoxes returns each box's row in the newest rollout that
// includes it.
func (x *Index) LatestRolloutBoxes(ctx context.Context) (map[string]RolloutBox, error) {
	bs, err := x.queryRolloutBoxes(ctx, `SELECT rollout, appliance, wave, state, offered_at, updated_at, reason FROM rollout_boxes rb
WHERE rollout = (SELECT MAX(rollout) FROM rollout_boxes x WHERE x.appliance = rb.appliance)`)
	if err != nil {
		return nil, err
	}
	out := make(map[string]RolloutBox, len(bs))
	for _, b := range bs {
		out[b.Appliance] = b
	}
	return out, nil
}

// ActiveRolloutBoxes lists a box's rows in the active rollouts.
func (x *Index) ActiveRolloutBoxes(ctx context.Context, name string) ([]RolloutBox, error) {
	return x.queryRolloutBoxes(ctx, `SELECT rb.rollout, rb.appliance, rb.wave, rb.state, rb.offered_at, rb.updated_at, rb.reason FROM rollout_boxes rb
JOIN rollouts r ON r.id = rb.rollout WHERE rb.appliance = ? AND r.state = 'active' ORDER BY rb.rollout DESC`, name)
}
