package client_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/spanvault/spanvault/archive/store"
)

// TestUploadOverForeignPayload: someone with the bucket's write access
// who learns a recording's address writes payload/<sum> before the box's
// upload is published. The box's PATCH is answered complete only once
// the archive holds the box's bytes (its own version written on top of
// the foreign one), every front-end reads those, and the trail has an
// alert. Before, the create-only PUT's PreconditionFailed was taken for
// "the same bytes, already there": the upload was acknowledged and the
// archive served the foreign bytes.
func TestUploadOverForeignPayload(t *testing.T) {
	t.Setenv("SPANVAULT_TEST_STORE", "s3")
	e := newEnv(t)
	ctx := context.Background()
	sc, raw := e.bucket(t)
	b := e.connect(t, e.box)
	data, sum := e.sealed(t, 20000)
	if _, err := raw.PutObject(ctx, sc.Bucket, "payload/"+sum, strings.NewReader("forged"), 6, minio.PutObjectOptions{DisableMultipart: true}); err != nil {
		t.Fatal(err)
	}
	b.uploadWith(data, sum, nil) // 201: acknowledged complete
	other, err := store.OpenS3(ctx, sc, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range []store.Store{e.arch.Store, other} {
		r, _, err := st.Open(ctx, sum)
		if err != nil {
			t.Fatalf("front-end %d: the acknowledged upload does not open: %v", i, err)
		}
		back, _ := io.ReadAll(r)
		r.Close()
		if !bytes.Equal(back, data) {
			t.Errorf("front-end %d: the upload was acknowledged complete, but the archive holds %d bytes, not the box's %d", i, len(back), len(data))
		}
	}
	if a := e.alerts(t, "store_foreign_version"); len(a) == 0 || !strings.Contains(strings.Join(a, "\n"), "payload/"+sum) {
		t.Errorf("no alert of the foreign payload version in the trail: %q", a)
	}
}
