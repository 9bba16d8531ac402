package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"github.com/spanvault/spanvault/archive/store"
)

// An insider with the bucket's write access who learns a
// recording's address (header/<sum> lands before or without its payload:
// the PUTs run at once, and a publish cut after the header leaves it)
// writes payload/<sum> first. The box's upload is then published
// "create-only": the payload PUT's PreconditionFailed is taken for "the
// same bytes, already there", the upload is reported complete (PATCH
// 201), and the archive holds bytes that do not hash to the address.
func TestS3ForeignPayloadFirst(t *testing.T) {
	st, cfg, raw, alerts := openS3Alerted(t)
	ctx := context.Background()
	id, _ := age.GenerateX25519Identity()
	data := sealedFile(t, id, bytes.Repeat([]byte("a recording "), 5000))
	s := sum(data)
	putForeign(t, raw, cfg.Bucket, "payload/"+s, []byte("forged"), minio.PutObjectOptions{})
	until := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	in, _, err := appendGoverned(ctx, st, s, data, until)
	if err != nil || !in.Complete {
		t.Logf("upload refused (good): %+v %v", in, err)
		return
	}
	st2 := openS3At(t, cfg)
	r, n, err := st2.Open(ctx, s)
	if err != nil {
		t.Fatalf("the upload was acknowledged complete (%+v) but the object does not open: %v", in, err)
	}
	defer r.Close()
	h := sha256.New()
	io.Copy(h, r)
	if got := hex.EncodeToString(h.Sum(nil)); got != s {
		t.Errorf("the upload was acknowledged complete (%+v), but the archive holds %d bytes hashing to %s, not the address %s", in, n, got, s)
	}
	if !alerts.has("payload/" + s) {
		t.Errorf("no alert of the foreign payload version: %q", alerts.all())
	}
}

// alertLog collects what a store hands to its Alert.
type alertLog struct {
	mu sync.Mutex
	l  []string
}

func (a *alertLog) add(d string) { a.mu.Lock(); a.l = append(a.l, d); a.mu.Unlock() }

func (a *alertLog) all() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.l...)
}

func (a *alertLog) has(sub string) bool {
	for _, d := range a.all() {
		if strings.Contains(d, sub) {
			return true
		}
	}
	return false
}

// Someone else's version written first, of the very size of the
// archive's: the header, or the payload with a SHA-256 checksum the
// server keeps (the check compares it), or without one (the check reads
// and hashes the bytes). The archive's own version is written on top, the
// upload is complete only then, every front-end reads the archive's bytes
// and locks the archive's version, and an alert is raised. Bytes the
// archive wrote itself (a publish cut between its PUTs) raise none.
func TestS3ForeignVersionFirst(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	for _, c := range []struct {
		name, key string
		checksum  bool
	}{
		{"payload with checksum", "payload/", true},
		{"payload without checksum", "payload/", false},
		{"header", "header/", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, cfg, raw, alerts := openS3Alerted(t)
			ctx := context.Background()
			data := sealedFile(t, id, bytes.Repeat([]byte("a recording "+c.name), 5000))
			s := sum(data)
			end := bytes.Index(data, []byte("\n--- ")) + 1
			end += bytes.IndexByte(data[end:], '\n') + 1
			part := data[end:]
			if c.key == "header/" {
				part = data[:end]
			}
			forged := bytes.Repeat([]byte("x"), len(part))
			opts := minio.PutObjectOptions{DisableMultipart: true}
			if c.checksum {
				cs := sha256.Sum256(forged)
				opts.UserMetadata = map[string]string{"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(cs[:])}
			}
			if _, err := raw.PutObject(ctx, cfg.Bucket, c.key+s, bytes.NewReader(forged), int64(len(forged)), opts); err != nil {
				t.Fatal(err)
			}
			until := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
			in, _, err := appendGoverned(ctx, st, s, data, until)
			if err != nil || !in.Complete {
				t.Fatalf("upload over someone else's %s: %+v %v", c.key, in, err)
			}
			if !alerts.has(c.key + s) {
				t.Errorf("no alert of someone else's %s version: %q", c.key, alerts.all())
			}
			for _, st := range []*store.S3{st, openAgain(t, cfg)} {
				back := readAll(t, st, s)
				if !bytes.Equal(back, data) {
					t.Fatalf("read back %d bytes hashing to %s, want the archive's (%s)", len(back), sum(back), s)
				}
			}
			legal := until.Add(time.Hour)
			if err := st.SetRetention(ctx, s, store.Retention{Mode: store.Compliance, Until: legal}); err != nil {
				t.Fatal(err)
			}
			if err := openAgain(t, cfg).Erase(ctx, s, time.Now()); !errors.Is(err, store.ErrLegal) {
				t.Errorf("erasure of the legal recording: %v, want ErrLegal", err)
			}
		})
	}
	t.Run("own bytes there", func(t *testing.T) {
		st, cfg, raw, alerts := openS3Alerted(t)
		ctx := context.Background()
		data := sealedFile(t, id, bytes.Repeat([]byte("cut "), 5000))
		s := sum(data)
		if _, _, err := st.AppendWith(ctx, "branch-1", s, 0, int64(len(data)), bytes.NewReader(data), store.Upload{Unclaimed: true}); err != nil {
			t.Fatal(err)
		}
		again := openAgain(t, cfg)
		again.Alert = alerts.add
		if in, _, err := again.AppendWith(ctx, "branch-2", s, 0, int64(len(data)), bytes.NewReader(data), store.Upload{Unclaimed: true}); err != nil || !in.Complete {
			t.Fatalf("the same bytes again: %+v %v", in, err)
		}
		if l := alerts.all(); len(l) > 0 {
			t.Errorf("alerts for the archive's own bytes: %q", l)
		}
		for _, k := range []string{"header/", "payload/"} {
			if n := len(versions(t, raw, cfg.Bucket, k+s)); n != 1 {
				t.Errorf("%s: %d versions after the same bytes again, want 1", k, n)
			}
		}
	})
}

// openAgain is another front-end on the same bucket (nothing remembered).
func openAgain(t *testing.T, cfg store.S3Config) *store.S3 {
	t.Helper()
	return archiveHooks(openS3At(t, cfg))
}

// A version someone else put on top of the archive's payload, locked so
// that it cannot be removed, leaves the archive's lock unknown (versitygw
// reports no lock for a version that is not the newest): the deletion
// after the date is refused, alerted, rather than done on a lock nobody
// could read; the index's erasure (Shred) is refused by the header's own
// legal hold; the recording still reads back as the archive's.
func TestS3LockUnknownRefusesErasure(t *testing.T) {
	st, cfg, raw, alerts := openS3Alerted(t)
	ctx := context.Background()
	id, _ := age.GenerateX25519Identity()
	data := sealedFile(t, id, bytes.Repeat([]byte("a held recording "), 5000))
	s := sum(data)
	until := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	if in, _, err := appendGoverned(ctx, st, s, data, until); err != nil || !in.Complete {
		t.Fatalf("upload: %+v %v", in, err)
	}
	if err := st.SetRetention(ctx, s, store.Retention{Mode: store.Governance, Until: until, Hold: true}); err != nil {
		t.Fatal(err)
	}
	putForeign(t, raw, cfg.Bucket, "payload/"+s, []byte("forged"), minio.PutObjectOptions{Mode: minio.Compliance, RetainUntilDate: time.Now().Add(time.Hour).UTC().Truncate(time.Second)})
	if err := st.Shred(ctx, s); !errors.Is(err, store.ErrLockUnknown) {
		t.Errorf("shredding a held recording with someone else's locked version on top: %v; want ErrLockUnknown", err)
	}
	if err := st.Delete(ctx, s, until.Add(time.Hour)); !errors.Is(err, store.ErrLockUnknown) {
		t.Errorf("deleting it: %v; want ErrLockUnknown", err)
	}
	if !alerts.has("payload/" + s) {
		t.Errorf("no alert: %q", alerts.all())
	}
	back := readAll(t, st, s)
	if !bytes.Equal(back, data) {
		t.Errorf("read back %d bytes, not the archive's", len(back))
	}
}

// A re-sealed legal recording (its header under reseal/) with someone
// else's locked version on top of its payload: the erasure is refused
// too (no hash tells the archive's payload version once re-sealed).
func TestS3EraseResealedUnderForeignVersion(t *testing.T) {
	st, cfg, raw := openS3(t)
	ctx := context.Background()
	id, _ := age.GenerateX25519Identity()
	until := time.Now().Add(400 * 24 * time.Hour).UTC().Truncate(time.Second)
	data := sealedFile(t, id, bytes.Repeat([]byte("a re-sealed legal recording "), 5000))
	s := sum(data)
	if in, _, err := st.AppendWith(ctx, "branch-1", s, 0, int64(len(data)), bytes.NewReader(data), store.Upload{Unclaimed: true}); err != nil || !in.Complete {
		t.Fatalf("upload: %+v %v", in, err)
	}
	if err := st.SetRetention(ctx, s, store.Retention{Mode: store.Compliance, Until: until}); err != nil {
		t.Fatal(err)
	}
	end := bytes.Index(data, []byte("\n--- ")) + 1
	end += bytes.IndexByte(data[end:], '\n') + 1
	if err := reseal(t, st, data, data[:end]); err != nil {
		t.Fatal(err)
	}
	putForeign(t, raw, cfg.Bucket, "payload/"+s, []byte("forged"), minio.PutObjectOptions{Mode: minio.Compliance, RetainUntilDate: time.Now().Add(time.Hour).UTC().Truncate(time.Second)})
	if err := openAgain(t, cfg).Erase(ctx, s, time.Now()); !errors.Is(err, store.ErrLegal) {
		t.Errorf("erasure of a re-sealed legal recording (COMPLIANCE until %s) with someone else's locked version on top: %v; want ErrLegal", until, err)
	}
	// The archive's payload version is the one read (the oldest, also
	// when both were written within the same second).
	back := readAll(t, openAgain(t, cfg), s)
	if !bytes.Equal(back, data) { // re-sealed with the same header here
		t.Errorf("a re-sealed recording with someone else's version on top reads back %d bytes, not the archive's %d", len(back), len(data))
	}
}

// Someone else's payload written first, locked so that it stays; the
// archive's own version goes on top; the recording is then re-sealed:
// every front-end still reads the archive's payload (Reseal names its
// version beside the new header), not the oldest version there.
func TestS3ResealedOverForeignPayload(t *testing.T) {
	st, cfg, raw := openS3(t)
	ctx := context.Background()
	id, _ := age.GenerateX25519Identity()
	data := sealedFile(t, id, bytes.Repeat([]byte("re-sealed over a foreign payload "), 5000))
	s := sum(data)
	putForeign(t, raw, cfg.Bucket, "payload/"+s, []byte("forged"), minio.PutObjectOptions{Mode: minio.Compliance, RetainUntilDate: time.Now().Add(time.Hour).UTC().Truncate(time.Second)})
	if in, _, err := st.AppendWith(ctx, "branch-1", s, 0, int64(len(data)), bytes.NewReader(data), store.Upload{Unclaimed: true}); err != nil || !in.Complete {
		t.Fatalf("upload: %+v %v", in, err)
	}
	end := bytes.Index(data, []byte("\n--- ")) + 1
	end += bytes.IndexByte(data[end:], '\n') + 1
	if err := reseal(t, openAgain(t, cfg), data, data[:end]); err != nil {
		t.Fatal(err)
	}
	back := readAll(t, openAgain(t, cfg), s)
	if !bytes.Equal(back, data) { // re-sealed with the same header here
		t.Errorf("a re-sealed recording whose payload someone else wrote first reads back %d bytes, not the archive's %d", len(back), len(data))
	}
}
