package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"github.com/spanvault/spanvault/archive/store"
)

// testSig stands for the archive's signature of an erasure note in the
// store's tests: testVerifyNote (the archive's check, archive.Open sets
// it) accepts it alone.
var testSig = []byte("the archive's signature")

func testVerifyNote(n store.Erasure) error {
	if !bytes.Equal(n.Sig, testSig) {
		return errors.New("not signed by the archive")
	}
	return nil
}

// testReseals stands for the archive's index of re-sealed headers in the
// store's tests (index.Resealing): sum -> [header SHA-256, midstate].
var testReseals sync.Map

func testResealing(_ context.Context, sum string) (string, string, bool, error) {
	v, ok := testReseals.Load(sum)
	if !ok {
		return "", "", false, nil
	}
	r := v.([2]string)
	return r[0], r[1], true, nil
}

// archiveHooks gives st what archive.Open gives it: the checks of the
// archive's own erasure notes and re-sealed headers.
func archiveHooks(st *store.S3) *store.S3 {
	st.VerifyNote = testVerifyNote
	st.Resealing = testResealing
	return st
}

// reseal re-seals sum (the age file data) with hdr as the archive does:
// its index learns the new header's hash and the state after the old
// header first.
func reseal(t *testing.T, st *store.S3, data, hdr []byte) error {
	t.Helper()
	end := bytes.Index(data, []byte("\n--- ")) + 1
	end += bytes.IndexByte(data[end:], '\n') + 1
	h := sha256.New()
	h.Write(data[:end])
	mid, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	hs := sha256.Sum256(hdr)
	testReseals.Store(sum(data), [2]string{hex.EncodeToString(hs[:]), hex.EncodeToString(mid)})
	return st.Reseal(context.Background(), sum(data), int64(end), hdr)
}

// An insider who learns a recording's address writes
// payload/<sum> (any bytes) and erasures/<sum> (any bytes, unsigned)
// before the box's upload is published. The archive writes its payload on
// top (settle: replaced), then headerGone sees "an erasure note" and
// removes the header it has just written: the upload is acknowledged
// complete, and the recording can never be decrypted.
func TestS3ForeignNoteDoesNotShredUpload(t *testing.T) {
	st, cfg, raw, alerts := openS3Alerted(t)
	st.VerifyNote = testVerifyNote
	ctx := context.Background()
	id, _ := age.GenerateX25519Identity()
	data := sealedFile(t, id, bytes.Repeat([]byte("a legitimate recording "), 5000))
	s := sum(data)
	for _, k := range []string{"payload/" + s, "erasures/" + s} {
		putForeign(t, raw, cfg.Bucket, k, []byte("forged"), minio.PutObjectOptions{})
	}
	until := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	in, _, err := appendGoverned(ctx, st, s, data, until)
	if err != nil || !in.Complete {
		t.Logf("upload refused: %+v %v", in, err)
		return
	}
	st2 := openS3At(t, cfg)
	r, _, err := st2.Open(ctx, s)
	if err != nil {
		t.Fatalf("the upload was acknowledged complete (%+v), but the recording does not open (erased: %v): %v", in, errors.Is(err, store.ErrErased), err)
	}
	r.Close()
	if !alerts.has("erasures/" + s) {
		t.Errorf("no alert of the foreign erasure note: %q", alerts.all())
	}
}

// "no one note keeps the archive from starting" (replayErasures):
// an insider writes erasures/x/y. Erasures lists erasures/ with a
// delimiter (not recursive), so the common prefix erasures/x/ comes back
// as an entry; its GET fails, and Erasures fails, so archive.Open fails
// (replayErasures' error) at every start.
func TestS3ErasuresForeignPrefix(t *testing.T) {
	st, cfg, raw, alerts := openS3Alerted(t)
	ctx := context.Background()
	putForeign(t, raw, cfg.Bucket, "erasures/x/y", []byte("{}"), minio.PutObjectOptions{})
	if _, err := st.Erasures(ctx); err != nil {
		t.Fatalf("one object under erasures/ someone else wrote: Erasures fails (archive.Open fails with it): %v", err)
	}
	if !alerts.has("erasures/x/y") {
		t.Errorf("no alert of erasures/x/y: %q", alerts.all())
	}
}

// An insider puts a COMPLIANCE-locked version of their own on
// top of an ordinary (GOVERNANCE, not held) recording's payload. The
// archive's index decides a Shred (it is called only for objects no
// live record holds), but Shred now refuses with ErrLockUnknown for as
// long as the insider's lock lasts: the header (the file key) stays, the
// erasure is never done.
func TestS3ForeignLockedVersionDoesNotBlockShred(t *testing.T) {
	st, cfg, raw := openS3(t)
	ctx := context.Background()
	id, _ := age.GenerateX25519Identity()
	until := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	data := sealedFile(t, id, bytes.Repeat([]byte("an ordinary recording "), 5000))
	s := sum(data)
	if in, _, err := appendGoverned(ctx, st, s, data, until); err != nil || !in.Complete {
		t.Fatalf("upload: %+v %v", in, err)
	}
	long := time.Now().Add(10 * 365 * 24 * time.Hour).UTC().Truncate(time.Second)
	putForeign(t, raw, cfg.Bucket, "payload/"+s, []byte("forged"), minio.PutObjectOptions{Mode: minio.Compliance, RetainUntilDate: long})
	st2 := openS3At(t, cfg)
	var alerts alertLog
	st2.Alert = alerts.add
	if err := st2.Erase(ctx, s, time.Now()); !errors.Is(err, store.ErrLegal) {
		t.Errorf("Erase (its lock unknown, it may be a legal duty's): %v; want ErrLegal", err)
	}
	if err := st2.Delete(ctx, s, time.Now().Add(20*365*24*time.Hour)); !errors.Is(err, store.ErrLockUnknown) {
		t.Errorf("Delete (its lock unknown): %v; want ErrLockUnknown", err)
	}
	if err := st2.Shred(ctx, s); err != nil {
		t.Fatalf("shred of an unheld GOVERNANCE recording the index decided to erase, with an insider's locked version on top: %v", err)
	}
	if _, _, err := st2.Open(ctx, s); !errors.Is(err, store.ErrErased) {
		t.Errorf("after Shred: %v; want ErrErased", err)
	}
	if !alerts.has("payload/" + s) {
		t.Errorf("no alert of the foreign version: %q", alerts.all())
	}
	// Someone else's locked header version does not stop an erasure
	// either: the archive's own goes, the other is alerted.
	data2 := sealedFile(t, id, bytes.Repeat([]byte("another ordinary recording "), 5000))
	s2 := sum(data2)
	if in, _, err := appendGoverned(ctx, st, s2, data2, until); err != nil || !in.Complete {
		t.Fatalf("upload: %+v %v", in, err)
	}
	putForeign(t, raw, cfg.Bucket, "header/"+s2, []byte("forged"), minio.PutObjectOptions{Mode: minio.Compliance, RetainUntilDate: long})
	if err := st2.Erase(ctx, s2, time.Now()); err != nil {
		t.Fatalf("erasure with someone else's locked header version: %v", err)
	}
	// The archive's header (the file key) is gone; what is left under
	// header/ is the insider's, which opens nothing (the archive's index
	// makes the recording unreachable).
	for v := range raw.ListObjects(ctx, cfg.Bucket, minio.ListObjectsOptions{Prefix: "header/" + s2, WithVersions: true}) {
		if v.Err != nil || v.Size != 6 {
			t.Errorf("after Erase, header/%s still holds version %s of %d bytes (%v); want only the insider's", s2[:8], v.VersionID, v.Size, v.Err)
		}
	}
	if !alerts.has("header/" + s2) {
		t.Errorf("no alert of the foreign header version: %q", alerts.all())
	}
}

// After a recording's erasure (header gone) an insider writes
// reseal/<sum> (COMPLIANCE-locked, so no bypass removes it) naming a
// payload version of their own. Every front-end then takes it for the
// re-sealed header: Stat no longer reports the recording erased, and
// Open serves the insider's bytes under the erased recording's address.
func TestS3ForeignResealAfterErasure(t *testing.T) {
	st, cfg, raw := openS3(t)
	ctx := context.Background()
	id, _ := age.GenerateX25519Identity()
	until := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	data := sealedFile(t, id, bytes.Repeat([]byte("a recording to erase "), 5000))
	s := sum(data)
	if in, _, err := appendGoverned(ctx, st, s, data, until); err != nil || !in.Complete {
		t.Fatalf("upload: %+v %v", in, err)
	}
	if err := st.Shred(ctx, s); err != nil {
		t.Fatal(err)
	}
	long := time.Now().Add(365 * 24 * time.Hour).UTC().Truncate(time.Second)
	fake := sealedFile(t, id, []byte("words nobody said"))
	end := bytes.Index(fake, []byte("\n--- ")) + 1
	end += bytes.IndexByte(fake[end:], '\n') + 1
	pv, err := raw.PutObject(ctx, cfg.Bucket, "payload/"+s, bytes.NewReader(fake[end:]), int64(len(fake)-end), minio.PutObjectOptions{DisableMultipart: true, Mode: minio.Compliance, RetainUntilDate: long})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.PutObject(ctx, cfg.Bucket, "reseal/"+s, bytes.NewReader(fake[:end]), int64(end), minio.PutObjectOptions{DisableMultipart: true, Mode: minio.Compliance, RetainUntilDate: long,
		UserMetadata: map[string]string{"spanvault-payload-version": pv.VersionID}}); err != nil {
		t.Fatal(err)
	}
	st2 := openS3At(t, cfg)
	// Nor does the archive (which knows its re-seals) take it.
	if in, err := openAgain(t, cfg).Stat(ctx, s); err != nil || !in.Erased {
		t.Errorf("Stat (the archive's checks) of an erased recording after an insider's reseal/%s: %+v %v; want Erased", s[:8], in, err)
	}
	in, err := st2.Stat(ctx, s)
	if err != nil || !in.Erased {
		t.Errorf("Stat of an erased recording after an insider's reseal/%s: %+v %v; want Erased", s[:8], in, err)
	}
	if r, _, err := st2.Open(ctx, s); !errors.Is(err, store.ErrErased) {
		var got []byte
		if err == nil {
			got, _ = io.ReadAll(r)
			r.Close()
		}
		t.Errorf("Open of an erased recording: %v; want ErrErased (read %d bytes, the insider's file: %v)", err, len(got), bytes.Equal(got, fake))
	}
}

// An insider writes reseal/<sum> COMPLIANCE-locked before the
// archive re-seals the recording: Reseal's removeAll of "a re-seal
// interrupted before" fails, and the re-seal job can never re-wrap it.
func TestS3ForeignResealBeforeReseal(t *testing.T) {
	st, cfg, raw, alerts := openS3Alerted(t)
	ctx := context.Background()
	id, _ := age.GenerateX25519Identity()
	until := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	data := sealedFile(t, id, bytes.Repeat([]byte("a recording to re-seal "), 5000))
	s := sum(data)
	if in, _, err := appendGoverned(ctx, st, s, data, until); err != nil || !in.Complete {
		t.Fatalf("upload: %+v %v", in, err)
	}
	long := time.Now().Add(365 * 24 * time.Hour).UTC().Truncate(time.Second)
	putForeign(t, raw, cfg.Bucket, "reseal/"+s, []byte("x"), minio.PutObjectOptions{Mode: minio.Compliance, RetainUntilDate: long})
	end := bytes.Index(data, []byte("\n--- ")) + 1
	end += bytes.IndexByte(data[end:], '\n') + 1
	if err := reseal(t, st, data, data[:end]); err != nil {
		t.Fatalf("re-seal with an insider's locked reseal/%s there: %v", s[:8], err)
	}
	if !alerts.has("reseal/" + s) {
		t.Errorf("no alert of the foreign reseal/ version: %q", alerts.all())
	}
	r, _, err := openAgain(t, cfg).Open(ctx, s)
	if err != nil {
		t.Fatalf("after the re-seal: %v", err)
	}
	back, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(back, data) { // re-sealed with the same header here
		t.Errorf("after the re-seal, read back %d bytes, not the archive's %d", len(back), len(data))
	}
}

// An insider writes payload/<sum>/x before the box's upload.
// On a server with directory semantics (versitygw's posix backend,
// SeaweedFS's filer) payload/<sum> is then a directory: the archive's
// create-only PUT fails with neither success nor PreconditionFailed, and
// every retry of the box's upload fails the same way.
func TestS3DirectoryKeyBeforeUpload(t *testing.T) {
	st, cfg, raw, alerts := openS3Alerted(t)
	ctx := context.Background()
	id, _ := age.GenerateX25519Identity()
	data := sealedFile(t, id, bytes.Repeat([]byte("a recording blocked "), 5000))
	s := sum(data)
	putForeign(t, raw, cfg.Bucket, "payload/"+s+"/x", []byte("x"), minio.PutObjectOptions{})
	until := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	in, _, err := appendGoverned(ctx, st, s, data, until)
	if err != nil || !in.Complete {
		t.Fatalf("the box's upload after an insider's payload/%s/x: %+v %v", s[:8], in, err)
	}
	if !alerts.has("payload/" + s + "/x") {
		t.Errorf("no alert of payload/%s/x: %q", s[:8], alerts.all())
	}
	// Locked so that it stays: the upload is refused (the box retries),
	// alerted.
	data2 := sealedFile(t, id, bytes.Repeat([]byte("a recording blocked for good "), 5000))
	s2 := sum(data2)
	putForeign(t, raw, cfg.Bucket, "payload/"+s2+"/x", []byte("x"), minio.PutObjectOptions{Mode: minio.Compliance, RetainUntilDate: until})
	if in, _, err := appendGoverned(ctx, st, s2, data2, until); err == nil && in.Complete {
		t.Errorf("published although payload/%s/x is locked there: %+v", s2[:8], in)
	}
	if !alerts.has("payload/" + s2 + "/x") {
		t.Errorf("no alert of the locked payload/%s/x: %q", s2[:8], alerts.all())
	}
}
