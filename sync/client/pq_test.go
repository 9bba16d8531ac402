package client_test

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/internal/agetool"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault"
)

// archived returns every live recording the archive holds, as stored.
func (e *env) archived(t *testing.T) map[string][]byte {
	t.Helper()
	ctx := context.Background()
	rs, err := e.arch.Index.Records(ctx, index.Query{Kind: wire.KindRecording})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, r := range rs {
		rc, _, err := e.arch.Store.Open(ctx, r.SHA256)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[r.ID] = b
	}
	if len(out) == 0 {
		t.Fatal("no recording archived")
	}
	return out
}

// stanzaTypes returns the stanza types of an age file's header.
func stanzaTypes(t *testing.T, file []byte) []string {
	t.Helper()
	hdr, err := age.ExtractHeader(bufio.NewReader(bytes.NewReader(file)))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range strings.Split(string(hdr), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "->" {
			out = append(out, f[1])
		}
	}
	return out
}

// openWithTool decrypts file with the standard age command and the
// identities, and checks it gives what filippo.io/age gives.
func openWithTool(t *testing.T, file []byte, ids ...age.Identity) {
	t.Helper()
	tool := agetool.Path(t)
	dir := t.TempDir()
	in, idf := filepath.Join(dir, "f.age"), filepath.Join(dir, "id.txt")
	var lines []string
	for _, id := range ids {
		lines = append(lines, id.(interface{ String() string }).String())
	}
	os.WriteFile(in, file, 0o600)
	os.WriteFile(idf, []byte(strings.Join(lines, "\n")+"\n"), 0o600)
	r, err := age.Decrypt(bytes.NewReader(file), ids...)
	if err != nil {
		t.Fatal(err)
	}
	want, err := io.ReadAll(r)
	if err != nil || len(want) == 0 {
		t.Fatalf("age.Decrypt: %d bytes, %v", len(want), err)
	}
	got, err := exec.Command(tool, "-d", "-i", idf, in).Output()
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("%s -d: %v, %d bytes, want %d", tool, err, len(got), len(want))
	}
}

// TestArchiveHoldsHybridFiles (issue 25, acceptance 1): a box sealing to
// the archive's hybrid recipient; every recording the archive holds has
// only mlkem768x25519 stanzas, the standard age command opens it with
// the hybrid identity, and verify counts no classical-only recording.
func TestArchiveHoldsHybridFiles(t *testing.T) {
	e := newEnv(t)
	id, _ := age.GenerateHybridIdentity()
	e.v.Close()
	var err error
	e.v, err = vault.Open(vault.Options{Dir: e.vdir, Recipients: []age.Recipient{id.Recipient()}, Policy: e.policy, Now: e.clock.Now, ClockSynced: func() bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	e.record(synth.Config{Calls: 3, Concurrent: 3, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour), Seed: 25})
	if err := e.pass(e.client()); err != nil {
		t.Fatal(err)
	}
	files := e.archived(t)
	for rid, f := range files {
		if st := stanzaTypes(t, f); len(st) != 1 || st[0] != "mlkem768x25519" {
			t.Fatalf("%s: stanzas %v", rid, st)
		}
	}
	for _, f := range files {
		openWithTool(t, f, id)
		break
	}
	blobs := e.sealedMetadata(t)
	if len(blobs) == 0 {
		t.Fatal("no sealed metadata in the index")
	}
	for i, b := range blobs {
		if st := stanzaTypes(t, b); len(st) != 1 || st[0] != "mlkem768x25519" {
			t.Fatalf("sealed metadata %d: stanzas %v", i, st)
		}
	}
	// The index learnt each object's stanzas at upload.
	if n, _ := e.arch.Index.ClassicalOnly(context.Background()); n[e.box] != 0 {
		t.Fatalf("index counts %d classical-only after the upload", n[e.box])
	}
	rep, err := e.arch.Verify(context.Background())
	if err != nil || len(rep.Problems) > 0 || rep.Classical != 0 || rep.Objects != len(files) {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

// TestResealClassicalArchive (issue 25, acceptance 1): an archive of
// recordings sealed to X25519 (the box of before) is re-sealed to the
// hybrid recipient: verify counted them classical-only before and counts
// 0 after, still proves every payload is the box's, the trail has one
// "resealed" entry per recording, the standard age command opens the
// re-sealed files with the hybrid identity and the classical identity no
// longer opens them; a second run has nothing to do.
func TestResealClassicalArchive(t *testing.T) {
	e := newEnv(t)
	e.record(synth.Config{Calls: 4, Concurrent: 4, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour), Seed: 26})
	if err := e.pass(e.client()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	before := e.archived(t)
	rep, err := e.arch.Verify(ctx)
	if err != nil || len(rep.Problems) > 0 || rep.Classical != len(before) {
		t.Fatalf("verify before: %+v %v (%d recordings)", rep, err, len(before))
	}
	if n, _ := e.arch.Index.ClassicalOnly(ctx); n[e.box] != len(before) {
		t.Fatalf("index counts %d classical-only, want %d", n[e.box], len(before))
	}
	pq, _ := age.GenerateHybridIdentity()
	ids := []age.Identity{e.identity, pq}
	rs, err := e.arch.Reseal(ctx, ids, pq.Recipient(), "test")
	if err != nil || len(rs.Problems) > 0 || rs.Resealed != len(before) || rs.Remaining != 0 {
		t.Fatalf("reseal: %+v %v", rs, err)
	}
	after := e.archived(t)
	for rid, f := range after {
		if st := stanzaTypes(t, f); len(st) != 1 || st[0] != "mlkem768x25519" {
			t.Fatalf("%s: stanzas %v after re-sealing", rid, st)
		}
		hb, _ := age.ExtractHeader(bytes.NewReader(before[rid]))
		ha, _ := age.ExtractHeader(bytes.NewReader(f))
		if !bytes.Equal(before[rid][len(hb):], f[len(ha):]) {
			t.Fatalf("%s: payload changed", rid)
		}
		if _, err := age.Decrypt(bytes.NewReader(f), e.identity); err == nil {
			t.Fatalf("%s: the classical identity still opens it", rid)
		}
	}
	for _, f := range after {
		openWithTool(t, f, pq)
		break
	}
	rep, err = e.arch.Verify(ctx)
	if err != nil || len(rep.Problems) > 0 || rep.Classical != 0 || rep.Objects != len(before) {
		t.Fatalf("verify after: %+v %v", rep, err)
	}
	if n, _ := e.arch.Index.ClassicalOnly(ctx); n[e.box] != 0 {
		t.Fatalf("index counts %d classical-only after re-sealing", n[e.box])
	}
	evs, err := e.arch.Index.Events(ctx, "resealed", false)
	if err != nil || len(evs) != len(before) {
		t.Fatalf("%d resealed entries in the trail, want %d (%v)", len(evs), len(before), err)
	}
	// The sealed personal metadata and subjects in the index too.
	blobs := e.sealedMetadata(t)
	if len(blobs) == 0 || rs.Metadata != len(blobs) {
		t.Fatalf("%d sealed metadata in the index, %d re-sealed", len(blobs), rs.Metadata)
	}
	for i, b := range blobs {
		if st := stanzaTypes(t, b); len(st) != 1 || st[0] != "mlkem768x25519" {
			t.Fatalf("sealed metadata %d: stanzas %v after re-sealing", i, st)
		}
		if _, err := age.Decrypt(bytes.NewReader(b), pq); err != nil {
			t.Fatalf("sealed metadata %d: %v", i, err)
		}
	}
	if rs, err := e.arch.Reseal(ctx, ids, pq.Recipient(), "test"); err != nil || rs.Resealed != 0 || rs.Metadata != 0 || rs.Hybrid != len(before) {
		t.Fatalf("second run: %+v %v", rs, err)
	}
	// Erasing a re-sealed recording destroys its re-sealed header too.
	recs, _ := e.arch.Index.Records(ctx, index.Query{Kind: wire.KindRecording})
	sum := recs[0].SHA256
	if err := e.arch.Store.Erase(ctx, sum, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if rc, _, err := e.arch.Store.Open(ctx, sum); err == nil {
		rc.Close()
		t.Fatal("an erased re-sealed recording still opens")
	}
}

// sealedMetadata returns every sealed metadata and subject the index holds.
func (e *env) sealedMetadata(t *testing.T) [][]byte {
	t.Helper()
	ms, err := e.arch.Index.SealedMetadataAfter(context.Background(), index.SealedMetadata{}, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, m := range ms {
		for _, b := range [][]byte{m.Sealed, m.Subject} {
			if len(b) > 0 {
				out = append(out, b)
			}
		}
	}
	return out
}
