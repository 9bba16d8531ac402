package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/index/pgtest"
	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/archive/store/s3test"
)

// TestInitOnS3AndPostgres: init -store s3://... -index postgres://...
// writes both into archive.toml (0600: it holds the S3 secret), and
// recordings -json shows each recording's lock as the store reports it.
func TestInitOnS3AndPostgres(t *testing.T) {
	s3 := s3test.Start(t)
	pg := pgtest.Start(t)
	dir := filepath.Join(t.TempDir(), "archive")
	if _, e, code := run(t, "init", "-dir", dir, "-store", "s3://nokey@127.0.0.1:1/b"); code == 0 || !strings.Contains(e, "store:") {
		t.Fatalf("a bad store URL: %d %s", code, e)
	}
	os.RemoveAll(dir)
	if _, e, code := run(t, "init", "-dir", dir, "-listen", "127.0.0.1:18998", "-store", s3.URL(), "-index", pg); code != 0 {
		t.Fatalf("init: %s", e)
	}
	cfg, _ := os.ReadFile(filepath.Join(dir, "archive.toml"))
	if !bytes.Contains(cfg, []byte("s3://")) || !bytes.Contains(cfg, []byte("postgres://")) {
		t.Fatalf("archive.toml:\n%s", cfg)
	}
	if fi, _ := os.Stat(filepath.Join(dir, "archive.toml")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("archive.toml mode %v", fi.Mode().Perm())
	}
	// A recording as ingest leaves it.
	a, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	id, _ := age.GenerateX25519Identity()
	var file bytes.Buffer
	w, _ := age.Encrypt(&file, id.Recipient())
	w.Write([]byte("a call"))
	w.Close()
	h := sha256.Sum256(file.Bytes())
	sum := hex.EncodeToString(h[:])
	if _, _, err := a.Store.Append(ctx, sum, 0, int64(file.Len()), bytes.NewReader(file.Bytes())); err != nil {
		t.Fatal(err)
	}
	until := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	if err := a.Store.SetRetention(ctx, sum, store.Retention{Until: until, Mode: store.Compliance}); err != nil {
		t.Fatal(err)
	}
	if err := a.Index.Enroll(ctx, "branch-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := a.Index.PutRecords(ctx, []index.Record{{Appliance: "branch-1", ID: "06rec", Kind: "recording", Start: time.Now(), Class: "mifid",
		RetainUntil: until, Recorded: true, Size: int64(file.Len()), SHA256: sum, Entry: "{}", ReceivedAt: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	o, e, code := run(t, "recordings", "-dir", dir, "-json")
	if code != 0 {
		t.Fatalf("recordings: %s", e)
	}
	var l struct {
		RetainUntil string `json:"retain_until"`
		LockMode    string `json:"lock_mode"`
	}
	if err := json.Unmarshal([]byte(o), &l); err != nil || l.LockMode != "COMPLIANCE" || l.RetainUntil != until.Format("2006-01-02T15:04:05Z") {
		t.Fatalf("recordings -json: %q (%v)", o, err)
	}
	if strings.Contains(o+e, s3.SecretKey) {
		t.Fatal("the S3 secret key appears in the output")
	}
}
