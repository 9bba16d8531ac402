// Package index is the archive's index: appliances, the records they sent
// (recordings, call detail records, tombstones), their audit chains, the
// anchor log's hashes, commands and the archive's own audit trail.
//
// It is SQL through database/sql, on one of two engines: SQLite
// (modernc.org/sqlite, pure Go, one file: the embedded default for one
// machine) or PostgreSQL (pgx's database/sql driver: one database that
// several archive front-ends share). The queries the archive needs (by
// time, appliance, class, expiry, hold) are secondary indexes that SQL
// gives for free. One code path: the same statements run on both; what
// differs is isolated in DB (placeholders, and Serialize, which makes
// appends that read the last row first, the audit trail's hash chain and
// the anchor log, run one at a time across front-ends) and in the two
// schemas (types). SQLite runs in WAL mode with synchronous=FULL,
// PostgreSQL with its default synchronous commit: a committed transaction
// survives a power cut, which is what the archive's acknowledgement
// promises.
//
// Invariants: the index holds in clear only what the boxes hold in clear;
// personal metadata is stored as the box sealed it. A record is keyed by
// (appliance, id, kind): inserting it again is a no-op, so every ingest
// step can be repeated.
package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	_ "modernc.org/sqlite"
)

// Index is an open index.
type Index struct {
	db *DB
}

const schema = `
CREATE TABLE IF NOT EXISTS appliances (
	name TEXT PRIMARY KEY,
	enrolled_at TEXT NOT NULL,
	revoked_at TEXT NOT NULL DEFAULT '',
	revoke_reason TEXT NOT NULL DEFAULT '',
	audit_key BLOB,
	last_checkin TEXT NOT NULL DEFAULT '',
	health TEXT NOT NULL DEFAULT '{}',
	anchored_seq INTEGER NOT NULL DEFAULT 0,
	anchored_hash TEXT NOT NULL DEFAULT '',
	bytes_received INTEGER NOT NULL DEFAULT 0,
	tree_size INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS records (
	appliance TEXT NOT NULL,
	id TEXT NOT NULL,
	kind TEXT NOT NULL,
	start TEXT NOT NULL,
	class TEXT NOT NULL,
	retain_until TEXT NOT NULL,
	hold INTEGER NOT NULL,
	recorded INTEGER NOT NULL,
	size INTEGER NOT NULL,
	sha256 TEXT NOT NULL,
	deleted_at TEXT NOT NULL DEFAULT '',
	entry TEXT NOT NULL,
	sealed BLOB,
	subject BLOB,
	received_at TEXT NOT NULL,
	PRIMARY KEY (appliance, id, kind)
);
CREATE INDEX IF NOT EXISTS records_start ON records (start);
CREATE INDEX IF NOT EXISTS records_app_start ON records (appliance, start);
CREATE INDEX IF NOT EXISTS records_expiry ON records (retain_until);
CREATE INDEX IF NOT EXISTS records_hold ON records (hold) WHERE hold;
CREATE INDEX IF NOT EXISTS records_sha ON records (sha256);
CREATE TABLE IF NOT EXISTS audit_entries (
	appliance TEXT NOT NULL,
	seq INTEGER NOT NULL,
	hash TEXT NOT NULL,
	prev TEXT NOT NULL,
	entry TEXT NOT NULL,
	PRIMARY KEY (appliance, seq)
);
CREATE TABLE IF NOT EXISTS anchor_hashes (
	idx INTEGER PRIMARY KEY,
	hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS anchor_records (
	n INTEGER PRIMARY KEY,
	appliance TEXT NOT NULL,
	seq INTEGER NOT NULL,
	text BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	appliance TEXT NOT NULL,
	kind TEXT NOT NULL,
	recording TEXT NOT NULL,
	all_pending INTEGER NOT NULL,
	reason TEXT NOT NULL,
	by TEXT NOT NULL,
	issued_at TEXT NOT NULL,
	delivered_at TEXT NOT NULL DEFAULT '',
	done_at TEXT NOT NULL DEFAULT '',
	result TEXT NOT NULL DEFAULT '',
	result_reason TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS commands_open ON commands (appliance, done_at);
CREATE TABLE IF NOT EXISTS events (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	time TEXT NOT NULL,
	kind TEXT NOT NULL,
	actor TEXT NOT NULL,
	appliance TEXT NOT NULL,
	detail TEXT NOT NULL,
	alert INTEGER NOT NULL,
	prev TEXT NOT NULL,
	hash TEXT NOT NULL
);
`

// uriPath escapes a file path for an SQLite URI ("file:PATH?QUERY"),
// where '%' escapes, '?' starts the query and '#' a fragment.
func uriPath(path string) string {
	return strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23").Replace(path)
}

// Open opens or creates the index: a SQLite file at path, or, for a
// postgres:// or postgresql:// URL (libpq form; a unix socket directory
// as host= is fine), a PostgreSQL database that several archive
// front-ends share.
func Open(path string) (*Index, error) {
	if strings.HasPrefix(path, "postgres://") || strings.HasPrefix(path, "postgresql://") {
		return openPostgres(path)
	}
	if err := tighten(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "foreign_keys(ON)")
	q.Add("_txlock", "immediate")
	db, err := sql.Open("sqlite", "file:"+uriPath(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("index: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(4)
	if _, err := db.Exec(schema + accessSchema); err != nil {
		db.Close()
		return nil, fmt.Errorf("index: %s: %w", path, err)
	}
	x := &Index{db: &DB{DB: db}}
	if err := x.migrate(context.Background()); err != nil {
		db.Close()
		return nil, fmt.Errorf("index: %s: %w", path, err)
	}
	return x, nil
}

// Close closes the database.
func (x *Index) Close() error { return x.db.Close() }

// DB exposes the database for the anchor log and tests.
func (x *Index) DB() *DB { return x.db }

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func parseTS(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// ErrUnknown: no such appliance.
var ErrUnknown = errors.New("index: unknown appliance")

// Appliance is an enrolled box.
type Appliance struct {
	Name          string
	EnrolledAt    time.Time
	RevokedAt     time.Time
	RevokeReason  string
	AuditKey      []byte
	LastCheckIn   time.Time
	Health        string
	AnchoredSeq   uint64
	AnchoredHash  string
	BytesReceived int64
	TreeSize      int64
}

// Enroll adds an appliance with no certificate pinned yet (the first one
// it presents is pinned: see EnrollPinned). An enrolled name is
// ErrEnrolled: re-enrolling never clears a revocation (Replace does, and
// revokes the old certificates).
func (x *Index) Enroll(ctx context.Context, name string, at time.Time) error {
	r, err := x.db.ExecContext(ctx, `INSERT INTO appliances (name, enrolled_at) VALUES (?, ?) ON CONFLICT(name) DO NOTHING`, name, ts(at))
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s", ErrEnrolled, name)
	}
	return nil
}

// Revoke marks an appliance revoked.
func (x *Index) Revoke(ctx context.Context, name, reason string, at time.Time) error {
	r, err := x.db.ExecContext(ctx, `UPDATE appliances SET revoked_at = ?, revoke_reason = ? WHERE name = ?`, ts(at), reason, name)
	if err != nil {
		return err
	}
	if n, _ := r.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s", ErrUnknown, name)
	}
	return nil
}

// Appliance returns one appliance.
func (x *Index) Appliance(ctx context.Context, name string) (*Appliance, error) {
	a := &Appliance{Name: name}
	var en, rv, lc string
	err := x.db.QueryRowContext(ctx, `SELECT enrolled_at, revoked_at, revoke_reason, audit_key, last_checkin, health, anchored_seq, anchored_hash, bytes_received, tree_size FROM appliances WHERE name = ?`, name).
		Scan(&en, &rv, &a.RevokeReason, &a.AuditKey, &lc, &a.Health, &a.AnchoredSeq, &a.AnchoredHash, &a.BytesReceived, &a.TreeSize)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrUnknown, name)
	}
	if err != nil {
		return nil, err
	}
	a.EnrolledAt, a.RevokedAt, a.LastCheckIn = parseTS(en), parseTS(rv), parseTS(lc)
	return a, nil
}

// Appliances lists every appliance by name (one query: allAppliances).
func (x *Index) Appliances(ctx context.Context) ([]*Appliance, error) {
	return x.allAppliances(ctx)
}

// CheckedIn stores a check-in's time and health.
func (x *Index) CheckedIn(ctx context.Context, name string, at time.Time, health string, treeSize int64) error {
	_, err := x.db.ExecContext(ctx, `UPDATE appliances SET last_checkin = ?, health = ?, tree_size = ? WHERE name = ?`, ts(at), health, treeSize, name)
	return err
}

// AddBytes counts bytes received from an appliance.
func (x *Index) AddBytes(ctx context.Context, name string, n int64) error {
	_, err := x.db.ExecContext(ctx, `UPDATE appliances SET bytes_received = bytes_received + ? WHERE name = ?`, n, name)
	return err
}

// PinKey pins an appliance's audit key if none is pinned yet, and
// reports the pinned key.
func (x *Index) PinKey(ctx context.Context, name string, key []byte) ([]byte, error) {
	if _, err := x.db.ExecContext(ctx, `UPDATE appliances SET audit_key = ? WHERE name = ? AND audit_key IS NULL`, key, name); err != nil {
		return nil, err
	}
	a, err := x.Appliance(ctx, name)
	if err != nil {
		return nil, err
	}
	return a.AuditKey, nil
}

// Record is an index row.
type Record struct {
	Appliance   string    `json:"appliance"`
	ID          string    `json:"id"`
	Kind        string    `json:"kind"`
	Start       time.Time `json:"start"`
	Class       string    `json:"class"`
	RetainUntil time.Time `json:"retain_until,omitzero"`
	Hold        bool      `json:"hold"`
	Recorded    bool      `json:"recorded"`
	Size        int64     `json:"size"`
	SHA256      string    `json:"sha256,omitempty"`
	DeletedAt   time.Time `json:"deleted_at,omitzero"`
	ReceivedAt  time.Time `json:"received_at"`
	Entry       string    `json:"-"`
	Sealed      []byte    `json:"-"`
	Subject     []byte    `json:"-"`
	// Tombstone is a tombstone row's kind (TombstoneRemoved, ...; empty
	// when put: a removal). RemovedFromBoxAt is when the box said it no
	// longer holds its copy; Why says why the recording was erased, or
	// why its erasure was refused (tombstones.go).
	Tombstone        string    `json:"tombstone,omitempty"`
	RemovedFromBoxAt time.Time `json:"removed_from_box_at,omitzero"`
	Why              string    `json:"why,omitempty"`
}

// PutRecords inserts records in one transaction; a record already held
// is left as it is (except that a tombstone marks the recording removed
// from the box, and an erasure's marks it erased: applyTombstone).
func (x *Index) PutRecords(ctx context.Context, rs []Record) error {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, `INSERT INTO records (appliance, id, kind, start, class, retain_until, hold, recorded, size, sha256, deleted_at, entry, sealed, subject, received_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return err
	}
	defer ins.Close()
	queue, err := tx.PrepareContext(ctx, `INSERT INTO search_queue (appliance, id, kind) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`)
	if err != nil {
		return err
	}
	defer queue.Close()
	for _, r := range rs {
		res, err := ins.ExecContext(ctx, r.Appliance, r.ID, r.Kind, ts(r.Start), r.Class, ts(r.RetainUntil), r.Hold, r.Recorded, r.Size, r.SHA256, ts(r.DeletedAt), r.Entry, r.Sealed, r.Subject, ts(r.ReceivedAt))
		if err != nil {
			return fmt.Errorf("index: record %s/%s: %w", r.Appliance, r.ID, err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			// New: the access service's blind indexer takes it from here.
			if _, err := queue.ExecContext(ctx, r.Appliance, r.ID, r.Kind); err != nil {
				return err
			}
		}
		if r.Kind == "tombstone" {
			if err := applyTombstone(ctx, tx, r); err != nil {
				return fmt.Errorf("index: tombstone %s/%s: %w", r.Appliance, r.ID, err)
			}
		}
	}
	return tx.Commit()
}

// Query selects records. Zero fields do not filter.
type Query struct {
	Appliance    string
	ID           string
	Kind         string
	From, To     time.Time // start in [From, To)
	Class        string
	ExpiresAfter time.Time
	ExpiresBy    time.Time
	HoldOnly     bool
	SHA256       string
	Limit        int
}

// Records runs a query, ordered by start then appliance and id.
func (x *Index) Records(ctx context.Context, q Query) ([]Record, error) {
	sqlq := `SELECT appliance, id, kind, start, class, retain_until, hold, recorded, size, sha256, deleted_at, entry, sealed, subject, received_at, tombstone, removed_from_box_at, why FROM records WHERE 1=1`
	var args []any
	add := func(cond string, v any) { sqlq += " AND " + cond; args = append(args, v) }
	if q.Appliance != "" {
		add("appliance = ?", q.Appliance)
	}
	if q.ID != "" {
		add("id = ?", q.ID)
	}
	if q.Kind != "" {
		add("kind = ?", q.Kind)
	}
	if !q.From.IsZero() {
		add("start >= ?", ts(q.From))
	}
	if !q.To.IsZero() {
		add("start < ?", ts(q.To))
	}
	if q.Class != "" {
		add("class = ?", q.Class)
	}
	if !q.ExpiresAfter.IsZero() {
		add("retain_until >= ?", ts(q.ExpiresAfter))
	}
	if !q.ExpiresBy.IsZero() {
		add("retain_until < ?", ts(q.ExpiresBy))
	}
	if q.HoldOnly {
		sqlq += " AND hold"
	}
	if q.SHA256 != "" {
		add("sha256 = ?", q.SHA256)
	}
	sqlq += " ORDER BY start, appliance, id, kind"
	if q.Limit > 0 {
		sqlq += fmt.Sprintf(" LIMIT %d", q.Limit)
	}
	rows, err := x.db.QueryContext(ctx, sqlq, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var st, ru, del, rec, rm string
		if err := rows.Scan(&r.Appliance, &r.ID, &r.Kind, &st, &r.Class, &ru, &r.Hold, &r.Recorded, &r.Size, &r.SHA256, &del, &r.Entry, &r.Sealed, &r.Subject, &rec, &r.Tombstone, &rm, &r.Why); err != nil {
			return nil, err
		}
		r.Start, r.RetainUntil, r.DeletedAt, r.ReceivedAt, r.RemovedFromBoxAt = parseTS(st), parseTS(ru), parseTS(del), parseTS(rec), parseTS(rm)
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetHold sets a record's hold flag.
func (x *Index) SetHold(ctx context.Context, appliance, id string, hold bool) error {
	_, err := x.db.ExecContext(ctx, `UPDATE records SET hold = ? WHERE appliance = ? AND id = ? AND kind <> 'tombstone'`, hold, appliance, id)
	return err
}

// AuditEntry is a stored entry of a box's audit chain.
type AuditEntry struct {
	Seq        uint64
	Hash, Prev string
	Entry      string
}

// LastAudit returns the last stored audit entry of an appliance (Seq 0
// when none).
func (x *Index) LastAudit(ctx context.Context, appliance string) (AuditEntry, error) {
	var e AuditEntry
	err := x.db.QueryRowContext(ctx, `SELECT seq, hash, prev, entry FROM audit_entries WHERE appliance = ? ORDER BY seq DESC LIMIT 1`, appliance).Scan(&e.Seq, &e.Hash, &e.Prev, &e.Entry)
	if errors.Is(err, sql.ErrNoRows) {
		return AuditEntry{}, nil
	}
	return e, err
}

// AuditAt returns one stored audit entry.
func (x *Index) AuditAt(ctx context.Context, appliance string, seq uint64) (AuditEntry, bool, error) {
	e := AuditEntry{Seq: seq}
	err := x.db.QueryRowContext(ctx, `SELECT hash, prev, entry FROM audit_entries WHERE appliance = ? AND seq = ?`, appliance, seq).Scan(&e.Hash, &e.Prev, &e.Entry)
	if errors.Is(err, sql.ErrNoRows) {
		return e, false, nil
	}
	return e, err == nil, err
}

// AddAudit appends verified audit entries and the anchored head.
func (x *Index) AddAudit(ctx context.Context, appliance string, es []AuditEntry, headSeq uint64, headHash string) error {
	tx, err := x.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, e := range es {
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_entries (appliance, seq, hash, prev, entry) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`, appliance, e.Seq, e.Hash, e.Prev, e.Entry); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE appliances SET anchored_seq = ?, anchored_hash = ? WHERE name = ?`, headSeq, headHash, appliance); err != nil {
		return err
	}
	return tx.Commit()
}

// Command is a queued order for a box.
type Command struct {
	ID           int64     `json:"id"`
	Appliance    string    `json:"appliance"`
	Kind         string    `json:"kind"`
	Recording    string    `json:"recording,omitempty"`
	All          bool      `json:"all,omitempty"`
	Reason       string    `json:"reason,omitempty"`
	By           string    `json:"by"`
	IssuedAt     time.Time `json:"issued_at"`
	DeliveredAt  time.Time `json:"delivered_at,omitzero"`
	DoneAt       time.Time `json:"done_at,omitzero"`
	Result       string    `json:"result,omitempty"`
	ResultReason string    `json:"result_reason,omitempty"`
}

// AddCommand queues a command.
func (x *Index) AddCommand(ctx context.Context, c Command) (int64, error) {
	var id int64
	err := x.db.QueryRowContext(ctx, `INSERT INTO commands (appliance, kind, recording, all_pending, reason, by, issued_at) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		c.Appliance, c.Kind, c.Recording, c.All, c.Reason, c.By, ts(c.IssuedAt)).Scan(&id)
	return id, err
}

// Commands lists an appliance's commands (open only: not yet answered).
func (x *Index) Commands(ctx context.Context, appliance string, openOnly bool) ([]Command, error) {
	q := `SELECT id, appliance, kind, recording, all_pending, reason, by, issued_at, delivered_at, done_at, result, result_reason FROM commands WHERE (appliance = ? OR ? = '')`
	if openOnly {
		q += ` AND done_at = ''`
	}
	rows, err := x.db.QueryContext(ctx, q+` ORDER BY id`, appliance, appliance)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Command
	for rows.Next() {
		var c Command
		var is, de, do string
		if err := rows.Scan(&c.ID, &c.Appliance, &c.Kind, &c.Recording, &c.All, &c.Reason, &c.By, &is, &de, &do, &c.Result, &c.ResultReason); err != nil {
			return nil, err
		}
		c.IssuedAt, c.DeliveredAt, c.DoneAt = parseTS(is), parseTS(de), parseTS(do)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Delivered marks commands handed to the box.
func (x *Index) Delivered(ctx context.Context, ids []int64, at time.Time) error {
	for _, id := range ids {
		if _, err := x.db.ExecContext(ctx, `UPDATE commands SET delivered_at = ? WHERE id = ? AND delivered_at = ''`, ts(at), id); err != nil {
			return err
		}
	}
	return nil
}

// Done records a command's result from the box it was sent to.
func (x *Index) Done(ctx context.Context, appliance string, id int64, result, reason string, at time.Time) (bool, error) {
	r, err := x.db.ExecContext(ctx, `UPDATE commands SET done_at = ?, result = ?, result_reason = ? WHERE id = ? AND appliance = ? AND done_at = ''`, ts(at), result, reason, id, appliance)
	if err != nil {
		return false, err
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}
