package anchor

import (
	"context"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// CheckpointEachTime is Checkpoint as it was before the cache (kept for
// BenchmarkCheckpoint's reference): the size by a COUNT over the records,
// the tree hash read one stored hash per statement, a signature and
// storeCheckpoint's checks at every call.
func (l *Log) CheckpointEachTime(ctx context.Context) (size int64, hash tlog.Hash, signed []byte, err error) {
	err = l.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM anchor_records`).Scan(&size)
	if err != nil {
		return
	}
	if size > 0 {
		hash, err = tlog.TreeHash(size, rowReader{ctx, l.db})
		if err != nil {
			return
		}
	}
	signed, err = note.Sign(&note.Note{Text: string(tlog.FormatTree(tlog.Tree{N: size, Hash: hash}))}, l.signer)
	if err != nil {
		return
	}
	err = l.storeCheckpoint(ctx, size, hash, signed)
	return
}

// rowReader reads one stored hash per statement (the old hashReader).
type rowReader hashReader

func (r rowReader) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, ix := range indexes {
		hs, err := hashReader(r).ReadHashes([]int64{ix})
		if err != nil {
			return nil, err
		}
		out[i] = hs[0]
	}
	return out, nil
}
