package store_test

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/spanvault/spanvault/archive/store"
)

// openS3Alerted is openS3 (a versitygw-backed store with the archive's
// hooks, and an insider's client with the archive's keys) with the
// store's alerts collected.
func openS3Alerted(t *testing.T) (*store.S3, store.S3Config, *minio.Client, *alertLog) {
	t.Helper()
	st, cfg, raw := openS3(t)
	alerts := new(alertLog)
	st.Alert = alerts.add
	return st, cfg, raw, alerts
}

// openS3At opens a store on cfg's bucket with nothing noted (its own
// staging directory, no hooks): a second front-end, or one behind a
// test's proxy.
func openS3At(t *testing.T, cfg store.S3Config) *store.S3 {
	t.Helper()
	st, err := store.OpenS3(context.Background(), cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// putForeign writes body at key as an insider with the bucket's write
// access does (one PUT, no multipart, opts' lock if any).
func putForeign(t *testing.T, raw *minio.Client, bucket, key string, body []byte, opts minio.PutObjectOptions) {
	t.Helper()
	opts.DisableMultipart = true
	if _, err := raw.PutObject(context.Background(), bucket, key, bytes.NewReader(body), int64(len(body)), opts); err != nil {
		t.Fatal(err)
	}
}

// appendGoverned uploads data (address s) in one request as a box that
// sent its class does: a GOVERNANCE lock until the date, on an object
// nobody claimed before.
func appendGoverned(ctx context.Context, st *store.S3, s string, data []byte, until time.Time) (store.Info, int64, error) {
	return st.AppendWith(ctx, "branch-1", s, 0, int64(len(data)), bytes.NewReader(data), store.Upload{Lock: store.Retention{Mode: store.Governance, Until: until}, Unclaimed: true})
}

// readAll is the recording at s as st serves it.
func readAll(t *testing.T, st store.Store, s string) []byte {
	t.Helper()
	rc, _, err := st.Open(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	back, _ := io.ReadAll(rc)
	return back
}
