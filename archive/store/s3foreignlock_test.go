package store_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"github.com/spanvault/spanvault/archive/store"
)

// A legal record (COMPLIANCE and a legal hold) locked by version
// ID on versitygw while an insider's plain PUT sits on top of the archive's
// just-published payload. The archive's own version must end up
// COMPLIANCE, held; the insider's must not get the lock or the hold; an
// erasure must be refused.
func TestS3LegalHoldByVersionID(t *testing.T) {
	st, cfg, raw := openS3(t)
	ctx := context.Background()
	id, _ := age.GenerateX25519Identity()
	until := time.Now().Add(400 * 24 * time.Hour).UTC().Truncate(time.Second)
	// The store's first lock call probes the server.
	warm := sealedFile(t, id, bytes.Repeat([]byte("warm-up "), 3000))
	if _, _, err := appendGoverned(ctx, st, sum(warm), warm, until); err != nil {
		t.Fatal(err)
	}
	if err := st.SetRetention(ctx, sum(warm), store.Retention{Mode: store.Governance, Until: until.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for oi := range raw.ListObjects(ctx, cfg.Bucket, minio.ListObjectsOptions{Prefix: "probe/", WithVersions: true}) {
		t.Errorf("a lock probe's version left in the bucket: %s %s (%v)", oi.Key, oi.VersionID, oi.Err)
	}
	data := sealedFile(t, id, bytes.Repeat([]byte("a held legal recording "), 5000))
	s := sum(data)
	if in, _, err := appendGoverned(ctx, st, s, data, until); err != nil || !in.Complete {
		t.Fatalf("upload: %+v %v", in, err)
	}
	ours := versions(t, raw, cfg.Bucket, "payload/"+s)
	forged, err := raw.PutObject(ctx, cfg.Bucket, "payload/"+s, strings.NewReader("forged"), 6, minio.PutObjectOptions{DisableMultipart: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetRetention(ctx, s, store.Retention{Mode: store.Compliance, Until: until, Hold: true}); err != nil {
		t.Fatal(err)
	}
	fo, err := raw.StatObject(ctx, cfg.Bucket, "payload/"+s, minio.StatObjectOptions{VersionID: forged.VersionID})
	if err == nil {
		t.Logf("insider's version: mode %q hold %q", fo.Metadata.Get("X-Amz-Object-Lock-Mode"), fo.Metadata.Get("X-Amz-Object-Lock-Legal-Hold"))
	}
	if err := raw.RemoveObject(ctx, cfg.Bucket, "payload/"+s, minio.RemoveObjectOptions{VersionID: forged.VersionID, GovernanceBypass: true}); err != nil {
		t.Errorf("the insider's version on top could not be removed after the legal lock (it got the archive's lock or hold?): %v", err)
	}
	oi, err := raw.StatObject(ctx, cfg.Bucket, "payload/"+s, minio.StatObjectOptions{VersionID: ours[0].VersionID})
	if err != nil {
		t.Fatal(err)
	}
	if m, h := oi.Metadata.Get("X-Amz-Object-Lock-Mode"), oi.Metadata.Get("X-Amz-Object-Lock-Legal-Hold"); m != store.Compliance || !strings.EqualFold(h, "ON") {
		t.Errorf("the archive's own payload version after a legal record's lock and hold by version ID: mode %q, legal hold %q; want COMPLIANCE, ON", m, h)
	}
	if err := st.Erase(ctx, s, time.Now()); err == nil || !(errors.Is(err, store.ErrLegal) || errors.Is(err, store.ErrHeld)) {
		t.Errorf("erasure of a held legal recording: %v", err)
	}
}

// A legal record locked COMPLIANCE; an insider then PUTs a
// version of their own on top, itself COMPLIANCE-locked (no bypass needed,
// and it can never be removed). An erasure asked for afterwards must still
// be refused (the archive's version is COMPLIANCE until its date).
func TestS3EraseLegalUnderForeignLockedVersion(t *testing.T) {
	st, cfg, raw := openS3(t)
	ctx := context.Background()
	id, _ := age.GenerateX25519Identity()
	until := time.Now().Add(400 * 24 * time.Hour).UTC().Truncate(time.Second)
	data := sealedFile(t, id, bytes.Repeat([]byte("a legal recording "), 5000))
	s := sum(data)
	if in, _, err := appendGoverned(ctx, st, s, data, until); err != nil || !in.Complete {
		t.Fatalf("upload: %+v %v", in, err)
	}
	if err := st.SetRetention(ctx, s, store.Retention{Mode: store.Compliance, Until: until}); err != nil {
		t.Fatal(err)
	}
	short := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	putForeign(t, raw, cfg.Bucket, "payload/"+s, []byte("forged"), minio.PutObjectOptions{Mode: minio.Compliance, RetainUntilDate: short})
	st2 := openS3At(t, cfg)
	if in, err := st2.Stat(ctx, s); err == nil {
		t.Logf("stat through another front-end: %+v", in)
	}
	if err := st2.Erase(ctx, s, time.Now()); !errors.Is(err, store.ErrLegal) {
		t.Errorf("erasure of a legal recording (COMPLIANCE until %s) with an insider's locked version on top: %v; want ErrLegal", until, err)
	}
}
