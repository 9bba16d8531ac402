package index

import (
	"context"
	"sync/atomic"
)

// CountStatements returns a context under which every statement the
// index runs (DB's and Tx's Exec, Query, QueryRow, Prepare and BeginTx)
// adds one to n: how tests show that a page runs a bounded number of
// queries whatever the fleet's size.
func CountStatements(ctx context.Context, n *atomic.Int64) context.Context {
	return context.WithValue(ctx, stmtCounterKey{}, n)
}

type stmtCounterKey struct{}

// counted adds a statement to ctx's counter, if it carries one.
func counted(ctx context.Context) {
	if n, ok := ctx.Value(stmtCounterKey{}).(*atomic.Int64); ok {
		n.Add(1)
	}
}
