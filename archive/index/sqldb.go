package index

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// DB is the index's database handle: database/sql with the one thing the
// two engines write differently, placeholders, rewritten in one place
// (queries are written with '?'; PostgreSQL gets $1, $2, ...), and a
// lock to serialise appends that read the last row first.
type DB struct {
	*sql.DB
	pg bool
}

// Postgres reports whether the index lives in PostgreSQL.
func (d *DB) Postgres() bool { return d.pg }

func (d *DB) rebind(q string) string {
	if !d.pg || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	n := 0
	quoted := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'':
			quoted = !quoted
		case c == '?' && !quoted:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// ExecContext is sql.DB's, with the query rebound.
func (d *DB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	counted(ctx)
	return d.DB.ExecContext(ctx, d.rebind(q), args...)
}

// QueryContext is sql.DB's, with the query rebound.
func (d *DB) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	counted(ctx)
	return d.DB.QueryContext(ctx, d.rebind(q), args...)
}

// QueryRowContext is sql.DB's, with the query rebound.
func (d *DB) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	counted(ctx)
	return d.DB.QueryRowContext(ctx, d.rebind(q), args...)
}

// BeginTx starts a transaction whose statements are rebound too.
func (d *DB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	counted(ctx)
	tx, err := d.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx, d: d}, nil
}

// Tx is a transaction of DB.
type Tx struct {
	*sql.Tx
	d *DB
}

// ExecContext is sql.Tx's, with the query rebound.
func (t *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	counted(ctx)
	return t.Tx.ExecContext(ctx, t.d.rebind(q), args...)
}

// QueryContext is sql.Tx's, with the query rebound.
func (t *Tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	counted(ctx)
	return t.Tx.QueryContext(ctx, t.d.rebind(q), args...)
}

// QueryRowContext is sql.Tx's, with the query rebound.
func (t *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	counted(ctx)
	return t.Tx.QueryRowContext(ctx, t.d.rebind(q), args...)
}

// PrepareContext is sql.Tx's, with the query rebound.
func (t *Tx) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	counted(ctx)
	return t.Tx.PrepareContext(ctx, t.d.rebind(q))
}

// Lock numbers for Serialize.
const (
	LockEvents int64 = 1 // the archive's audit trail (a hash chain)
	LockAnchor int64 = 2 // the anchor log (a Merkle tree)
	LockSchema int64 = 3 // schema migrations
	LockAdmins int64 = 4 // a change that may leave fewer enabled admins
)

// Serialize makes transactions that take the same lock run one after the
// other, across every front-end sharing the index: an append that reads
// the last row first must not race another front-end's. SQLite's
// transactions already take the write lock at BEGIN (_txlock=immediate);
// PostgreSQL takes a transaction-scoped advisory lock.
func (t *Tx) Serialize(ctx context.Context, lock int64) error {
	counted(ctx)
	if !t.d.pg {
		return nil
	}
	_, err := t.Tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, lock)
	return err
}
