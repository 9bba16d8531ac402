package store_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/spanvault/spanvault/archive/store"
)

// A note someone with write access to the bucket wrote first does not
// stand for the archive's: the archive's note is written as a version
// beside it (once: noting it again adds nothing), and Erasures lists
// both, the one written first first. Before, the create-only PUT's
// PreconditionFailed was taken for "noted already" and only the foreign
// note was listed.
func TestS3NoteBesideForeignNote(t *testing.T) {
	st, cfg, raw := openS3(t)
	ctx := context.Background()
	s := strings.Repeat("ab", 32)
	forged := []byte(`{"sha256":"` + s + `","appliance":"branch-1","id":"x","at":"2026-01-01T00:00:00Z","by":"nobody"}`)
	putForeign(t, raw, cfg.Bucket, "erasures/"+s, forged, minio.PutObjectOptions{})
	ours := store.Erasure{SHA256: s, Appliance: "branch-1", ID: "x", At: time.Now().UTC().Truncate(time.Second), By: "dpo", Sig: []byte("signed")}
	for range 2 {
		if err := st.NoteErasure(ctx, ours); err != nil {
			t.Fatal(err)
		}
	}
	ns, err := st.Erasures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 2 || ns[0].By != "nobody" || ns[1].By != "dpo" || string(ns[1].Sig) != "signed" {
		t.Fatalf("want the foreign note, then the archive's: %+v", ns)
	}
}

// An unreadable note is listed with why (Bad) rather than failing the
// listing: one note written by someone else keeps no archive from
// starting.
func TestDirUnreadableNoteListed(t *testing.T) {
	root := t.TempDir()
	d, err := store.OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	good := store.Erasure{SHA256: strings.Repeat("cd", 32), Appliance: "branch-1", ID: "y", At: time.Now().UTC(), By: "dpo"}
	if err := d.NoteErasure(ctx, good); err != nil {
		t.Fatal(err)
	}
	bad := strings.Repeat("ef", 32)
	if err := os.WriteFile(filepath.Join(root, "erasures", bad+".json"), []byte("not a note"), 0o600); err != nil {
		t.Fatal(err)
	}
	ns, err := d.Erasures(ctx)
	if err != nil {
		t.Fatalf("one unreadable note fails the listing: %v", err)
	}
	if len(ns) != 2 || ns[0].By != "dpo" || ns[1].SHA256 != bad || ns[1].Bad == "" {
		t.Fatalf("want the note, then the unreadable one with why: %+v", ns)
	}
}
