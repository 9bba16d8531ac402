package main

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/internal/agetool"
)

const ageIntro = "age-encryption.org/v1\n"

// stanzas returns the stanza types of an age file's header.
func stanzas(t *testing.T, file []byte) []string {
	t.Helper()
	hdr, err := age.ExtractHeader(bytes.NewReader(file))
	if err != nil {
		t.Fatalf("age header: %v", err)
	}
	var out []string
	for _, l := range strings.Split(string(hdr), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "->" {
			out = append(out, f[1])
		}
	}
	return out
}

// sealedBlobs returns every age file the vault's index holds (personal
// metadata, call records, sealed reasons), from every bucket.
func sealedBlobs(t *testing.T, db string) [][]byte {
	t.Helper()
	b, err := bolt.Open(db, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var out [][]byte
	var walk func(*bolt.Bucket)
	walk = func(bk *bolt.Bucket) {
		bk.ForEach(func(k, v []byte) error {
			if v == nil {
				walk(bk.Bucket(k))
			} else if bytes.Contains(v, []byte(ageIntro)) {
				// A value may hold an age file inside a larger encoding:
				// take it from its intro on.
				out = append(out, bytes.Clone(v[bytes.Index(v, []byte(ageIntro)):]))
			}
			return nil
		})
	}
	b.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, bk *bolt.Bucket) error { walk(bk); return nil })
	})
	return out
}

// TestNewInstallationSealsHybrid (issue 25, acceptance 1): keygen makes a
// hybrid post-quantum identity; every file the box seals with its
// recipient (recordings, and the personal metadata and call records in
// the index) has only mlkem768x25519 stanzas; the standard age command
// opens a recording with the identity; a box file sealed to X25519 before
// (the frozen vault) still opens, with the tool and with spanvault.
func TestNewInstallationSealsHybrid(t *testing.T) {
	_, v, id, recips := setup(t)
	if b, _ := os.ReadFile(recips); !bytes.HasPrefix(b, []byte("age1pq1")) {
		t.Fatalf("keygen made %.20q, not a hybrid recipient", b)
	}
	var files [][]byte
	filepath.WalkDir(v, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(p); bytes.HasPrefix(b, []byte(ageIntro)) {
				files = append(files, b)
			}
		}
		return nil
	})
	blobs := sealedBlobs(t, filepath.Join(v, "vault.db"))
	if len(files) == 0 || len(blobs) == 0 {
		t.Fatalf("%d sealed files, %d sealed index values", len(files), len(blobs))
	}
	for i, f := range append(files, blobs...) {
		if st := stanzas(t, f); len(st) == 0 || strings.Join(st, ",") != strings.Repeat("mlkem768x25519,", len(st)-1)+"mlkem768x25519" {
			t.Fatalf("sealed file %d (of %d recordings, %d index values) has stanzas %v", i, len(files), len(blobs), st)
		}
	}
	tool := agetool.Path(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "rec.age")
	os.WriteFile(in, files[0], 0o600)
	ids, _ := age.ParseIdentities(strings.NewReader(mustRead(t, id)))
	r, err := age.Decrypt(bytes.NewReader(files[0]), ids...)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := io.ReadAll(r)
	if got, err := exec.Command(tool, "-d", "-i", id, in).Output(); err != nil || !bytes.Equal(got, want) || len(want) == 0 {
		t.Fatalf("%s -d: %v, %d bytes, want %d", tool, err, len(got), len(want))
	}
	// A recording sealed to X25519 by the box of 2026-12-06.
	var frozen string
	filepath.WalkDir(filepath.Join(frozenVault, "vault", "rec"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && frozen == "" {
			frozen = p
		}
		return nil
	})
	fb, _ := os.ReadFile(frozen)
	if st := stanzas(t, fb); len(st) != 1 || st[0] != "X25519" {
		t.Fatalf("frozen file %s: stanzas %v", frozen, st)
	}
	if out, err := exec.Command(tool, "-d", "-i", filepath.Join(frozenVault, "identity.txt"), frozen).Output(); err != nil || len(out) == 0 {
		t.Fatalf("%s -d %s: %v", tool, frozen, err)
	}
}

func mustRead(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
