package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/store"
)

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func TestAppendResumeAndSeal(t *testing.T) {
	t.Parallel()
	d, err := store.OpenDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := bytes.Repeat([]byte("sealed"), 50000)
	s := sum(data)
	// First part, then a wrong offset, then the rest.
	in, n, err := d.Append(ctx, s, 0, int64(len(data)), bytes.NewReader(data[:1000]))
	if err != nil || n != 1000 || in.Complete {
		t.Fatalf("%+v %d %v", in, n, err)
	}
	if _, _, err := d.Append(ctx, s, 500, int64(len(data)), bytes.NewReader(data[500:])); !errors.Is(err, store.ErrOffset) {
		t.Fatalf("wrong offset: %v", err)
	}
	in, n, err = d.Append(ctx, s, 1000, int64(len(data)), bytes.NewReader(data[1000:]))
	if err != nil || !in.Complete || n != int64(len(data)-1000) {
		t.Fatalf("%+v %d %v", in, n, err)
	}
	// Idempotent.
	if in, n, err := d.Append(ctx, s, 0, int64(len(data)), bytes.NewReader(data)); err != nil || !in.Complete || n != 0 {
		t.Fatalf("repeat: %+v %d %v", in, n, err)
	}
	rc, size, err := d.Open(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if size != int64(len(data)) || !bytes.Equal(got, data) {
		t.Fatal("object differs")
	}
	// Bytes that do not hash to the address are refused and dropped.
	bad := bytes.Repeat([]byte("x"), 100)
	if _, _, err := d.Append(ctx, sum([]byte("y")), 0, 100, bytes.NewReader(bad)); !errors.Is(err, store.ErrMismatch) {
		t.Fatalf("mismatch: %v", err)
	}
}

func TestRetentionLocksAndErasure(t *testing.T) {
	t.Parallel()
	d, _ := store.OpenDir(t.TempDir())
	ctx := context.Background()
	now := time.Now()
	put := func(b []byte, r store.Retention) string {
		s := sum(b)
		if _, _, err := d.Append(ctx, s, 0, int64(len(b)), bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		if err := d.SetRetention(ctx, s, r); err != nil {
			t.Fatal(err)
		}
		return s
	}
	legal := put([]byte("mifid"), store.Retention{Until: now.Add(time.Hour), Mode: store.Compliance})
	bank := put([]byte("default"), store.Retention{Until: now.Add(time.Hour), Mode: store.Governance})
	held := put([]byte("held"), store.Retention{Until: now.Add(-time.Hour), Mode: store.Governance, Hold: true})
	if err := d.Delete(ctx, bank, now); !errors.Is(err, store.ErrRetained) {
		t.Fatalf("expiry delete before the date: %v", err)
	}
	if err := d.Erase(ctx, legal, now); !errors.Is(err, store.ErrLegal) {
		t.Fatalf("erasure under a legal duty: %v", err)
	}
	if err := d.Erase(ctx, held, now); !errors.Is(err, store.ErrHeld) {
		t.Fatalf("erasure under hold: %v", err)
	}
	if err := d.Delete(ctx, held, now); !errors.Is(err, store.ErrHeld) {
		t.Fatalf("delete under hold: %v", err)
	}
	if err := d.Erase(ctx, bank, now); err != nil {
		t.Fatalf("erasure of the bank's own retention: %v", err)
	}
	if err := d.Delete(ctx, legal, now.Add(2*time.Hour)); err != nil {
		t.Fatalf("delete after the date: %v", err)
	}
}

// A partial that received bytes recently is never swept; an idle one is.
func TestSweepKeepsActivePartials(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	d, _ := store.OpenDir(root)
	ctx := context.Background()
	active, idle := sum([]byte("a")), sum([]byte("b"))
	d.Append(ctx, active, 0, 100, bytes.NewReader([]byte("a")))
	d.Append(ctx, idle, 0, 100, bytes.NewReader([]byte("b")))
	old := time.Now().Add(-8 * 24 * time.Hour)
	os.Chtimes(filepath.Join(root, "partial", "_archive", idle), old, old)
	n, err := d.Sweep(ctx, 7*24*time.Hour, time.Now())
	if err != nil || n != 1 {
		t.Fatalf("swept %d: %v", n, err)
	}
	if in, _ := d.Stat(ctx, active); in.Offset != 1 {
		t.Fatalf("active partial lost: %+v", in)
	}
	if in, _ := d.Stat(ctx, idle); in.Offset != 0 {
		t.Fatalf("idle partial kept: %+v", in)
	}
}

// Partials are per box: one box's bytes under an address neither show in
// nor extend another box's partial; the first to complete publishes the
// object, a second box's complete upload of the same bytes leaves it as
// it is. A stalled append holds its own partial only.
func TestPartialsPerBox(t *testing.T) {
	t.Parallel()
	d, _ := store.OpenDir(t.TempDir())
	ctx := context.Background()
	data := bytes.Repeat([]byte("sealed"), 1000)
	s := sum(data)
	n := int64(len(data))
	if _, _, err := d.AppendFor(ctx, "branch-1", s, 0, n, bytes.NewReader(data[:100])); err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.AppendFor(ctx, "branch-2", s, 0, n, bytes.NewReader(bytes.Repeat([]byte{'x'}, 300))); err != nil {
		t.Fatal(err)
	}
	if in, _ := d.Partial(ctx, "branch-1", s); in.Offset != 100 {
		t.Fatalf("branch-1's partial at %d", in.Offset)
	}
	if ps, _ := d.Partials(ctx, "branch-2"); ps[s] != 300 || len(ps) != 1 {
		t.Fatalf("branch-2's partials %v", ps)
	}
	if _, _, err := d.AppendFor(ctx, "../x", s, 0, n, bytes.NewReader(data)); err == nil {
		t.Fatal("a box name with a path")
	}
	// A stalled append of branch-1 does not hold branch-3's.
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, _, err := d.AppendFor(ctx, "branch-1", s, 100, n, pr)
		done <- err
	}()
	pw.Write(data[100:200])
	if in, _, err := d.AppendFor(ctx, "branch-3", s, 0, n, bytes.NewReader(data)); err != nil || !in.Complete {
		t.Fatalf("branch-3 while branch-1 stalls: %+v %v", in, err)
	}
	pw.Write(data[200:])
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if in, _ := d.Partial(ctx, "branch-1", s); in.Offset != 0 {
		t.Fatalf("branch-1's finished partial kept: %+v", in)
	}
	if in, _ := d.Stat(ctx, s); !in.Complete || in.Size != n {
		t.Fatalf("object %+v", in)
	}
}
