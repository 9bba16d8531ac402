package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/archive/store/s3test"
)

// sealedFile is an age file of n bytes of plaintext, as a box uploads.
func sealedFile(t *testing.T, id *age.X25519Identity, plain []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := age.Encrypt(&b, id.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	w.Close()
	return b.Bytes()
}

func openS3(t *testing.T) (*store.S3, store.S3Config, *minio.Client) {
	t.Helper()
	cfg := s3test.Start(t)
	st, err := store.OpenS3(context.Background(), cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	archiveHooks(st)
	// A second client with the archive's own credentials: what an
	// insider with the archive's S3 keys could do.
	raw, err := cfg.Client()
	if err != nil {
		t.Fatal(err)
	}
	return st, cfg, raw
}

func upload(t *testing.T, st store.Store, data []byte) string {
	t.Helper()
	ctx := context.Background()
	s := sum(data)
	half := int64(len(data) / 2)
	if in, _, err := st.Append(ctx, s, 0, int64(len(data)), bytes.NewReader(data[:half])); err != nil || in.Complete || in.Offset != half {
		t.Fatalf("first half: %+v %v", in, err)
	}
	in, _, err := st.Append(ctx, s, half, int64(len(data)), bytes.NewReader(data[half:]))
	if err != nil || !in.Complete {
		t.Fatalf("second half: %+v %v", in, err)
	}
	return s
}

// versions lists the versions of key in the bucket.
func versions(t *testing.T, raw *minio.Client, bucket, key string) []minio.ObjectInfo {
	t.Helper()
	var out []minio.ObjectInfo
	for oi := range raw.ListObjects(context.Background(), bucket, minio.ListObjectsOptions{Prefix: key, WithVersions: true}) {
		if oi.Err != nil {
			t.Fatal(oi.Err)
		}
		if oi.Key == key && !oi.IsDeleteMarker {
			out = append(out, oi)
		}
	}
	return out
}

// TestS3UploadResumeOpen: a resumable upload lands as two objects (age
// header and payload), reads back byte for byte, is idempotent, refuses
// bytes that do not hash to the address, and gets a provisional lock at
// once.
func TestS3UploadResumeOpen(t *testing.T) {
	t.Parallel()
	st, cfg, raw := openS3(t)
	ctx := context.Background()
	id, _ := age.GenerateX25519Identity()
	data := sealedFile(t, id, bytes.Repeat([]byte("call audio "), 30000))
	s := upload(t, st, data)
	in, err := st.Stat(ctx, s)
	if err != nil || !in.Complete || in.Size != int64(len(data)) || in.LockMode != store.Governance || in.RetainUntil.IsZero() {
		t.Fatalf("stat: %+v %v", in, err)
	}
	if n := len(versions(t, raw, cfg.Bucket, "header/"+s)) + len(versions(t, raw, cfg.Bucket, "payload/"+s)); n != 2 {
		t.Fatalf("%d object versions, want header and payload", n)
	}
	if in, n, err := st.Append(ctx, s, 0, int64(len(data)), bytes.NewReader(data)); err != nil || !in.Complete || n != 0 {
		t.Fatalf("repeat: %+v %d %v", in, n, err)
	}
	rc, size, err := st.Open(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if size != int64(len(data)) || !bytes.Equal(got, data) {
		t.Fatal("object read back differs")
	}
	if _, _, err := st.Append(ctx, sum([]byte("y")), 0, 5, strings.NewReader("xxxxx")); !errors.Is(err, store.ErrMismatch) {
		t.Fatalf("mismatch: %v", err)
	}
	// The checksum the archive sends is checked by the server, not taken
	// on trust: a PUT whose bytes differ from its x-amz-checksum-sha256
	// is refused (the same kind of request the archive makes).
	right := sha256.Sum256([]byte("payload"))
	if _, err := raw.PutObject(ctx, cfg.Bucket, "probe-ok", strings.NewReader("payload"), 7, minio.PutObjectOptions{
		DisableMultipart: true, DisableContentSha256: true, UserMetadata: map[string]string{"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(right[:])}}); err != nil {
		t.Fatalf("a PUT with the right checksum: %v", err)
	}
	wrong := base64.StdEncoding.EncodeToString(make([]byte, 32))
	_, err = raw.PutObject(ctx, cfg.Bucket, "probe", strings.NewReader("payload"), 7, minio.PutObjectOptions{
		DisableMultipart: true, DisableContentSha256: true, UserMetadata: map[string]string{"x-amz-checksum-sha256": wrong}})
	if err == nil {
		t.Fatal("the server stored an object whose SHA-256 checksum does not match")
	}
}

// TestS3LockEnforced (acceptance 2): a locked recording cannot be deleted
// or overwritten before its retain-until, by the archive or by an S3
// client with the archive's credentials; a held one not even after; after
// release and expiry it can. Enforcement is checked against the server,
// not taken from the API's word.
func TestS3LockEnforced(t *testing.T) {
	t.Parallel()
	st, cfg, raw := openS3(t)
	ctx := context.Background()
	id, _ := age.GenerateX25519Identity()
	data := sealedFile(t, id, []byte("a recording under a legal retention duty"))
	s := upload(t, st, data)
	// Dates a few seconds ahead, so that the test sees them pass; every
	// check that must happen before a date has several seconds of margin
	// even on a loaded machine.
	until := time.Now().Add(8 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	if err := st.SetRetention(ctx, s, store.Retention{Until: until, Mode: store.Compliance}); err != nil {
		t.Fatal(err)
	}
	if in, _ := st.Stat(ctx, s); in.LockMode != store.Compliance || !in.RetainUntil.Equal(until) {
		t.Fatalf("the store reports %s until %v, want COMPLIANCE until %v", in.LockMode, in.RetainUntil, until)
	}
	if err := st.Delete(ctx, s, time.Now()); !errors.Is(err, store.ErrRetained) {
		t.Fatalf("archive delete before the date: %v", err)
	}
	if err := st.Erase(ctx, s, time.Now()); !errors.Is(err, store.ErrLegal) {
		t.Fatalf("archive erase under COMPLIANCE: %v", err)
	}
	payload := versions(t, raw, cfg.Bucket, "payload/"+s)
	if len(payload) != 1 {
		t.Fatalf("%d payload versions", len(payload))
	}
	// The insider: remove the version outright, with and without the
	// governance bypass; overwrite it.
	for _, bypass := range []bool{false, true} {
		err := raw.RemoveObject(ctx, cfg.Bucket, "payload/"+s, minio.RemoveObjectOptions{VersionID: payload[0].VersionID, GovernanceBypass: bypass})
		if err == nil {
			t.Fatalf("an S3 client with the archive's keys deleted a COMPLIANCE-locked version (bypass %v)", bypass)
		}
	}
	raw.PutObject(ctx, cfg.Bucket, "payload/"+s, strings.NewReader("forged"), 6, minio.PutObjectOptions{})
	readBack := func() []byte {
		rc, _, err := st.Open(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		b, _ := io.ReadAll(rc)
		return b
	}
	obj, err := raw.GetObject(ctx, cfg.Bucket, "payload/"+s, minio.GetObjectOptions{VersionID: payload[0].VersionID})
	if err != nil {
		t.Fatal(err)
	}
	orig, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || !bytes.HasSuffix(data, orig) || len(orig) == 0 {
		t.Fatalf("the locked version did not survive an overwrite: %d bytes, %v", len(orig), err)
	}
	// The archive reads the version it wrote, never a later one, and
	// removes the foreign version.
	if got := readBack(); !bytes.Equal(got, data) {
		t.Fatalf("after an insider's overwrite the archive reads %d bytes that are not the recording", len(got))
	}
	if v := versions(t, raw, cfg.Bucket, "payload/"+s); len(v) != 1 || v[0].VersionID != payload[0].VersionID {
		t.Fatalf("after the overwrite: %d payload versions", len(v))
	}

	// After its date (and never held) it goes, every version.
	for time.Now().Before(until.Add(time.Second)) {
		time.Sleep(200 * time.Millisecond)
	}
	if err := st.Delete(ctx, s, time.Now()); err != nil {
		t.Fatalf("delete after expiry: %v", err)
	}
	if v := versions(t, raw, cfg.Bucket, "payload/"+s); len(v) != 0 {
		t.Fatalf("%d payload versions left after delete", len(v))
	}
	if in, _ := st.Stat(ctx, s); in.Complete {
		t.Fatal("deleted object still reported")
	}

	// Legal hold: not even after the class's date. The store keeps a held
	// object's lock date ahead (HoldAhead), because the server here lets
	// an expired date override a legal hold.
	held := upload(t, st, sealedFile(t, id, []byte("a recording in litigation")))
	hUntil := time.Now().Add(3 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	st.HoldAhead = time.Hour
	if err := st.SetRetention(ctx, held, store.Retention{Until: hUntil, Mode: store.Compliance, Hold: true}); err != nil {
		t.Fatal(err)
	}
	for time.Now().Before(hUntil.Add(time.Second)) {
		time.Sleep(200 * time.Millisecond)
	}
	if err := st.Delete(ctx, held, time.Now()); !errors.Is(err, store.ErrHeld) {
		t.Fatalf("archive delete of a held recording: %v", err)
	}
	hv := versions(t, raw, cfg.Bucket, "payload/"+held)
	for _, bypass := range []bool{false, true} {
		if err := raw.RemoveObject(ctx, cfg.Bucket, "payload/"+held, minio.RemoveObjectOptions{VersionID: hv[0].VersionID, GovernanceBypass: bypass}); err == nil {
			t.Fatalf("an S3 client deleted a held version after the class's date (bypass %v)", bypass)
		}
	}
	// Released: the lock date it got while held still binds (COMPLIANCE
	// cannot be shortened), and then it goes.
	if err := st.SetRetention(ctx, held, store.Retention{Until: hUntil, Mode: store.Compliance}); err != nil {
		t.Fatal(err)
	}
	in, _ := st.Stat(ctx, held)
	if in.Hold || !in.RetainUntil.After(time.Now()) {
		t.Fatalf("after release: %+v", in)
	}
	if err := st.Delete(ctx, held, time.Now()); !errors.Is(err, store.ErrRetained) {
		t.Fatalf("delete before the date the hold set: %v", err)
	}
	if err := st.Delete(ctx, held, in.RetainUntil.Add(time.Second)); err == nil {
		// Our clock says it may go; the server's lock still says no.
		t.Fatal("the server let the archive delete before the lock's date")
	}
}

// TestS3CryptoShred (acceptance 3): erasing a recording whose payload is
// locked removes its age header; the payload object still exists but
// neither the archive nor the standard age tool with the identity can
// open it; a recording that was not erased opens with the age tool; a
// COMPLIANCE one refuses erasure and still opens.
func TestS3CryptoShred(t *testing.T) {
	t.Parallel()
	tool, err := exec.LookPath("age")
	if err != nil {
		if os.Getenv("SPANVAULT_REQUIRE_TOOLS") != "" {
			t.Fatal("the age tool is not installed")
		}
		t.Skip("the age tool is not installed")
	}
	st, cfg, raw := openS3(t)
	ctx := context.Background()
	id, _ := age.GenerateX25519Identity()
	dir := t.TempDir()
	idFile := filepath.Join(dir, "identity.txt")
	os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600)
	until := time.Now().Add(time.Hour)
	ageDecrypt := func(file []byte) ([]byte, error) {
		in := filepath.Join(dir, "in.age")
		os.WriteFile(in, file, 0o600)
		return exec.Command(tool, "-d", "-i", idFile, in).Output()
	}

	erased := sealedFile(t, id, []byte("customer asks to be forgotten"))
	kept := sealedFile(t, id, []byte("another customer"))
	legal := sealedFile(t, id, []byte("a trade under MiFID II"))
	se, sk, sl := upload(t, st, erased), upload(t, st, kept), upload(t, st, legal)
	for s, mode := range map[string]string{se: store.Governance, sk: store.Governance, sl: store.Compliance} {
		if err := st.SetRetention(ctx, s, store.Retention{Until: until, Mode: mode}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Erase(ctx, se, time.Now()); err != nil {
		t.Fatalf("erase: %v", err)
	}
	if err := st.Erase(ctx, sl, time.Now()); !errors.Is(err, store.ErrLegal) {
		t.Fatalf("erase under a legal duty: %v", err)
	}
	in, err := st.Stat(ctx, se)
	if err != nil || !in.Erased {
		t.Fatalf("stat after erasure: %+v %v", in, err)
	}
	if _, _, err := st.Open(ctx, se); !errors.Is(err, store.ErrErased) && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("open after erasure: %v", err)
	}
	if v := versions(t, raw, cfg.Bucket, "header/"+se); len(v) != 0 {
		t.Fatalf("%d header versions survive erasure", len(v))
	}
	// Whatever of the payload survives (locked, or every byte an insider
	// kept): the age tool with the identity cannot open it.
	for _, v := range versions(t, raw, cfg.Bucket, "payload/"+se) {
		obj, err := raw.GetObject(ctx, cfg.Bucket, "payload/"+se, minio.GetObjectOptions{VersionID: v.VersionID})
		if err != nil {
			t.Fatal(err)
		}
		p, _ := io.ReadAll(obj)
		obj.Close()
		if out, err := ageDecrypt(p); err == nil || len(out) > 0 {
			t.Fatal("the age tool opened an erased recording's payload")
		}
	}
	if out, err := ageDecrypt(erased[:0]); err == nil || len(out) > 0 {
		t.Fatal("nothing decrypted from nothing")
	}
	for s, want := range map[string]string{sk: "another customer", sl: "a trade under MiFID II"} {
		file := readAll(t, st, s)
		if sum(file) != s {
			t.Fatal("a kept recording does not hash to its address")
		}
		out, err := ageDecrypt(file)
		if err != nil || string(out) != want {
			t.Fatalf("the age tool on a kept recording: %q %v", out, err)
		}
	}
}

// TestS3PartialsPerBox: uploads are staged per box; a second box's whole
// upload of an object the bucket holds adds no version and leaves its
// lock and hold as they are.
func TestS3PartialsPerBox(t *testing.T) {
	t.Parallel()
	st, cfg, raw := openS3(t)
	ctx := context.Background()
	id, _ := age.GenerateX25519Identity()
	data := sealedFile(t, id, bytes.Repeat([]byte("call audio "), 3000))
	s, n := sum(data), int64(len(data))
	if _, _, err := st.AppendFor(ctx, "branch-1", s, 0, n, bytes.NewReader(data[:100])); err != nil {
		t.Fatal(err)
	}
	if in, _ := st.Partial(ctx, "branch-2", s); in.Offset != 0 {
		t.Fatalf("branch-2 sees branch-1's partial: %+v", in)
	}
	if in, _, err := st.AppendFor(ctx, "branch-1", s, 100, n, bytes.NewReader(data[100:])); err != nil || !in.Complete {
		t.Fatalf("branch-1: %+v %v", in, err)
	}
	until := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	if err := st.SetRetention(ctx, s, store.Retention{Until: until, Mode: store.Governance, Hold: true}); err != nil {
		t.Fatal(err)
	}
	before, _ := st.Stat(ctx, s)
	if in, _, err := st.AppendFor(ctx, "branch-2", s, 0, n, bytes.NewReader(data)); err != nil || !in.Complete {
		t.Fatalf("branch-2's copy: %+v %v", in, err)
	}
	after, _ := st.Stat(ctx, s)
	if !after.Hold || !after.RetainUntil.Equal(before.RetainUntil) || after.LockMode != before.LockMode {
		t.Fatalf("a second upload changed the lock: %+v, was %+v", after, before)
	}
	if v := len(versions(t, raw, cfg.Bucket, "header/"+s)) + len(versions(t, raw, cfg.Bucket, "payload/"+s)); v != 2 {
		t.Fatalf("%d object versions after a second upload", v)
	}
	if ps, _ := st.Partials(ctx, "branch-2"); len(ps) != 0 {
		t.Fatalf("branch-2's finished partial kept: %v", ps)
	}
}
