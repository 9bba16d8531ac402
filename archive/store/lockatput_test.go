package store_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/archive/store/s3test"
)

// TestS3RequestsLockedAtPut (issue 26): with the lock known at upload
// (the box sent its class) and no claim on the object before (a new
// recording), one recording costs the bucket 3 requests from the
// completed upload to its class's lock: the two create-only PUTs, and
// the HEAD of the header's version before admitRecording's Stat answers
// from what was written (no look for a re-sealed or erased header: an
// unclaimed object was never either);
// the header read back for the upload's own bookkeeping comes from
// memory, and SetRetention with the lock already in place asks nothing.
// The lock and the bytes as a second store reads them: the payload
// COMPLIANCE, the header GOVERNANCE (erasure removes it), both to the
// date asked for, rounded up to the second.
func TestS3RequestsLockedAtPut(t *testing.T) {
	cfg, pcfg, log := countedS3(t)
	ctx := context.Background()
	st := openS3At(t, pcfg)
	id, _ := age.GenerateX25519Identity()
	data := sealedFile(t, id, bytes.Repeat([]byte("a locked recording "), 20000))
	s := sum(data)
	asked := time.Now().Add(400 * 24 * time.Hour).UTC()
	until := asked.Truncate(time.Second).Add(time.Second)
	log.reset()

	in, _, err := st.AppendWith(ctx, "branch-1", s, 0, int64(len(data)), bytes.NewReader(data), store.Upload{Lock: store.Retention{Mode: store.Compliance, Until: asked}, Unclaimed: true})
	if err != nil || !in.Complete || in.LockMode != store.Compliance || !in.RetainUntil.Equal(until) {
		t.Fatalf("upload: %+v %v", in, err)
	}
	hdr, ok := st.PublishedHeader(s)
	if !ok || !strings.HasPrefix(string(hdr), "age-encryption.org/v1\n") || !bytes.HasPrefix(data, hdr) {
		t.Fatalf("the published header: %v %q", ok, hdr)
	}
	in, err = st.Stat(ctx, s)
	if err != nil || !in.Complete || in.LockMode != store.Compliance || !in.RetainUntil.Equal(until) {
		t.Fatalf("stat: %+v %v", in, err)
	}
	// What admitRecording asks when the record's class wants this lock:
	// nothing differs, so it makes no call; SetRetention with the same
	// lock would still list the versions (it is not asked).
	got := log.list()
	t.Logf("%d requests: %s", len(got), strings.Join(got, "; "))
	if len(got) > 3 {
		t.Errorf("%d requests to the bucket for one recording locked at upload, want at most 3 (2 PUTs, 1 HEAD):\n%s", len(got), strings.Join(got, "\n"))
	}

	st2 := openS3At(t, cfg)
	in2, err := st2.Stat(ctx, s)
	if err != nil || in2.LockMode != store.Compliance || !in2.RetainUntil.Equal(until) || in2.Size != int64(len(data)) {
		t.Fatalf("lock as read back: %+v %v (want COMPLIANCE until %s)", in2, err, until)
	}
	back := readAll(t, st2, s)
	if !bytes.Equal(back, data) {
		t.Fatal("read back differs")
	}
	// A GOVERNANCE lock at upload: erasure still removes the header.
	data2 := sealedFile(t, id, bytes.Repeat([]byte("another recording "), 20000))
	s2 := sum(data2)
	if _, _, err := appendGoverned(ctx, st, s2, data2, asked); err != nil {
		t.Fatal(err)
	}
	if err := st2.Erase(ctx, s2, time.Now()); err != nil {
		t.Fatalf("erasing a recording locked GOVERNANCE at upload: %v", err)
	}
	if in, err := st2.Stat(ctx, s2); err != nil || !in.Erased || in.LockMode != store.Governance || !in.RetainUntil.Equal(until) {
		t.Fatalf("after the erasure: %+v %v", in, err)
	}
}

// The payload's SHA-256 for the PUT's checksum is taken as the upload
// arrives, in whatever pieces, instead of reading the staged file again
// (make cluster's profile: a second SHA-256 pass over every byte); a
// resumed upload is hashed from the file as before. Both read back whole.
func TestS3PayloadHashedAsReceived(t *testing.T) {
	cfg, pcfg, _ := countedS3(t)
	ctx := context.Background()
	st := openS3At(t, pcfg)
	id, _ := age.GenerateX25519Identity()
	rereads := func() int64 {
		for _, s := range store.StepTimes.Snapshot() {
			if s.Name == "re-read + hash for the PUT checksum" {
				return s.Count
			}
		}
		return 0
	}
	one := sealedFile(t, id, bytes.Repeat([]byte("in one piece "), 30000))
	store.StepTimes.Reset()
	// In pieces of 7 bytes: the header's end falls inside a piece.
	if in, _, err := st.AppendFor(ctx, "branch-1", sum(one), 0, int64(len(one)), iotest7{bytes.NewReader(one)}); err != nil || !in.Complete {
		t.Fatalf("upload in one request: %+v %v", in, err)
	}
	if n := rereads(); n != 0 {
		t.Errorf("an upload received in one request: %d re-reads of the staged file for the checksum, want 0", n)
	}
	two := sealedFile(t, id, bytes.Repeat([]byte("resumed "), 30000))
	half := int64(len(two) / 2)
	if _, _, err := st.AppendFor(ctx, "branch-1", sum(two), 0, int64(len(two)), bytes.NewReader(two[:half])); err != nil {
		t.Fatal(err)
	}
	if in, _, err := st.AppendFor(ctx, "branch-1", sum(two), half, int64(len(two)), bytes.NewReader(two[half:])); err != nil || !in.Complete {
		t.Fatalf("resumed upload: %+v %v", in, err)
	}
	if n := rereads(); n != 1 {
		t.Errorf("a resumed upload: %d re-reads for the payload's checksum, want 1", n)
	}
	st2 := openS3At(t, cfg)
	for _, data := range [][]byte{one, two} {
		back := readAll(t, st2, sum(data))
		if !bytes.Equal(back, data) {
			t.Fatal("read back differs")
		}
	}
}

// iotest7 reads at most 7 bytes at a time.
type iotest7 struct{ r io.Reader }

func (r iotest7) Read(p []byte) (int, error) { return r.r.Read(p[:min(len(p), 7)]) }

// An erased or re-sealed recording's header/ object never comes back
// when its bytes are published again (a box's upload the archive did not
// stop, whether it knew the object was claimed or not), and a publish
// cut between its two PUTs (the payload there, no header) is completed
// by the next one.
func TestS3HeaderStaysGone(t *testing.T) {
	cfg := s3test.Start(t)
	ctx := context.Background()
	st := openAgain(t, cfg)
	id, _ := age.GenerateX25519Identity()
	for _, unclaimed := range []bool{false, true} {
		// Erased: the note, then the header removed.
		data := sealedFile(t, id, bytes.Repeat([]byte(fmt.Sprintf("erased %v ", unclaimed)), 5000))
		s := sum(data)
		if _, _, err := st.AppendFor(ctx, "branch-1", s, 0, int64(len(data)), bytes.NewReader(data)); err != nil {
			t.Fatal(err)
		}
		if err := st.NoteErasure(ctx, store.Erasure{SHA256: s, Appliance: "branch-1", ID: "x", At: time.Now(), By: "dpo", Sig: testSig}); err != nil {
			t.Fatal(err)
		}
		if err := st.Erase(ctx, s, time.Now()); err != nil {
			t.Fatal(err)
		}
		fresh, err := store.OpenS3(ctx, cfg, t.TempDir()) // nothing noted
		if err != nil {
			t.Fatal(err)
		}
		archiveHooks(fresh)
		if _, _, err := fresh.AppendWith(ctx, "branch-1", s, 0, int64(len(data)), bytes.NewReader(data), store.Upload{Unclaimed: unclaimed}); err != nil {
			t.Fatalf("publishing an erased recording's bytes again (unclaimed %v): %v", unclaimed, err)
		}
		if _, _, err := fresh.Open(ctx, s); !errors.Is(err, store.ErrErased) {
			t.Fatalf("an erased recording's header came back when its bytes were published again (unclaimed %v): %v", unclaimed, err)
		}
		// Re-sealed: reseal/SUM holds the header; header/SUM stays gone.
		data2 := sealedFile(t, id, bytes.Repeat([]byte(fmt.Sprintf("resealed %v ", unclaimed)), 5000))
		s2 := sum(data2)
		if _, _, err := st.AppendFor(ctx, "branch-1", s2, 0, int64(len(data2)), bytes.NewReader(data2)); err != nil {
			t.Fatal(err)
		}
		rc, _, _ := st.Open(ctx, s2)
		old, _ := io.ReadAll(rc)
		rc.Close()
		hdr := old[:bytes.Index(old, []byte("\n--- "))+1]
		hdr = old[:len(hdr)+bytes.IndexByte(old[len(hdr):], '\n')+1]
		if err := reseal(t, st, old, hdr); err != nil {
			t.Fatal(err)
		}
		if _, _, err := fresh.AppendWith(ctx, "branch-1", s2, 0, int64(len(data2)), bytes.NewReader(data2), store.Upload{Unclaimed: unclaimed}); err != nil {
			t.Fatal(err)
		}
		mc, _ := cfg.Client()
		for ov := range mc.ListObjects(ctx, cfg.Bucket, minio.ListObjectsOptions{Prefix: "header/" + s2, WithVersions: true}) {
			if ov.Err == nil && ov.Key == "header/"+s2 && !ov.IsDeleteMarker {
				t.Fatalf("a re-sealed recording's box header came back (unclaimed %v)", unclaimed)
			}
		}
	}
	// Cut between the PUTs: the payload alone; the next publish writes
	// the header, and the recording reads back whole.
	data := sealedFile(t, id, bytes.Repeat([]byte("cut "), 5000))
	s := sum(data)
	end := bytes.Index(data, []byte("\n--- ")) + 1
	end += bytes.IndexByte(data[end:], '\n') + 1
	mc, _ := cfg.Client()
	if _, err := mc.PutObject(ctx, cfg.Bucket, "payload/"+s, bytes.NewReader(data[end:]), int64(len(data)-end), minio.PutObjectOptions{
		Mode: minio.Governance, RetainUntilDate: time.Now().Add(time.Hour), DisableMultipart: true}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.AppendWith(ctx, "branch-1", s, 0, int64(len(data)), bytes.NewReader(data), store.Upload{Unclaimed: true}); err != nil {
		t.Fatal(err)
	}
	rc, _, err := st.Open(ctx, s)
	if err != nil {
		t.Fatalf("after a cut publish and a second one: %v", err)
	}
	back, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(back, data) {
		t.Fatal("read back differs")
	}
}
