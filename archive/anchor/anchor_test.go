package anchor_test

import (
	"context"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/spanvault/spanvault/archive/anchor"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/sync/wire"
)

// openLog makes a log with a fresh key in a fresh SQLite index.
func openLog(t testing.TB) (*anchor.Log, *index.Index, string) {
	t.Helper()
	return openLogAt(t, "")
}

// openLogAt is openLog on the index at path ("": a fresh SQLite file).
func openLogAt(t testing.TB, path string) (*anchor.Log, *index.Index, string) {
	t.Helper()
	dir := t.TempDir()
	if path == "" {
		path = filepath.Join(dir, "index.db")
	}
	ix, err := index.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	sk, vk, err := anchor.NewKey("test-archive")
	if err != nil {
		t.Fatal(err)
	}
	skf, vkf := filepath.Join(dir, "anchor.skey"), filepath.Join(dir, "anchor.vkey")
	if err := os.WriteFile(skf, []byte(sk+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vkf, []byte(vk+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := anchor.Open(ix.DB(), skf, vkf)
	if err != nil {
		t.Fatal(err)
	}
	keyFiles[l] = [2]string{skf, vkf}
	return l, ix, vk
}

// keyFiles: each test log's key files, for a second front-end (reopen).
var keyFiles = map[*anchor.Log][2]string{}

var heads = [][]byte{
	wire.AnchorText("box-1", 1, strings.Repeat("aa", 32)),
	wire.AnchorText("box-1", 2, strings.Repeat("bb", 32)),
	wire.AnchorText("box-2", 1, strings.Repeat("cc", 32)),
}

// The log is RFC 6962's tree (tlog): the tree heads below were computed
// outside Go (SHA-256 of 0x00||record, of 0x01||left||right), so a change
// of the hashing, of the record text or of the order fails here.
func TestTreeHeads(t *testing.T) {
	if got := string(heads[0]); got != "spanvault audit head\nbox-1\n1\n"+strings.Repeat("aa", 32)+"\n" {
		t.Fatalf("anchor text %q", got)
	}
	l, _, vk := openLog(t)
	ctx := context.Background()
	for i, tc := range []struct {
		size int64
		head string // hex
	}{
		{1, "24b5979ac4000e8977b2d49c1e104f8ce9fe348e9cf7a131d3ae03988fbf96be"},
		{2, "ddd79bcdf5cbd0be6551303fbfe2c9b73aef4fd90f3ca077edd285fee4dc70d8"},
		{3, "e9043712088efe49a61faf05eca9dc83244f36bf5d21cedc7b4c77c6ae81605e"},
	} {
		n, err := l.Append(ctx, "box", uint64(i+1), heads[i])
		if err != nil || n != int64(i) {
			t.Fatalf("append %d: %d, %v", i, n, err)
		}
		size, hash, signed, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if size != tc.size || hex.EncodeToString(hash[:]) != tc.head {
			t.Errorf("size %d: head %x, want %s", size, hash, tc.head)
		}
		tree, err := anchor.VerifyCheckpoint(vk, signed)
		if err != nil || tree.N != size || tree.Hash != hash {
			t.Errorf("size %d: the signed checkpoint says %+v, %v", size, tree, err)
		}
	}
}

// Every record is proved in every tree that holds it, and every tree in
// every larger one.
func TestProofs(t *testing.T) {
	l, _, _ := openLog(t)
	ctx := context.Background()
	var texts [][]byte
	trees := map[int64]tlog.Hash{}
	for i := 0; i < 9; i++ {
		text := wire.AnchorText("box", uint64(i+1), strings.Repeat(hex.EncodeToString([]byte{byte(i)}), 32))
		if _, err := l.Append(ctx, "box", uint64(i+1), text); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, text)
		size, hash, _, err := l.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		trees[size] = hash
	}
	for size := int64(1); size <= 9; size++ {
		for n := int64(0); n < size; n++ {
			p, err := l.ProveRecord(ctx, size, n)
			if err != nil {
				t.Fatal(err)
			}
			if err := tlog.CheckRecord(p, size, trees[size], n, tlog.RecordHash(texts[n])); err != nil {
				t.Errorf("record %d in tree %d: %v", n, size, err)
			}
			if n > 0 {
				tp, err := l.ProveTree(ctx, size, n)
				if err != nil {
					t.Fatal(err)
				}
				if err := tlog.CheckTree(tp, size, trees[size], n, trees[n]); err != nil {
					t.Errorf("tree %d in tree %d: %v", n, size, err)
				}
			}
		}
	}
}

func TestVerifyCheckpoint(t *testing.T) {
	l, _, vk := openLog(t)
	ctx := context.Background()
	if _, err := l.Append(ctx, "box", 1, heads[0]); err != nil {
		t.Fatal(err)
	}
	_, _, signed, err := l.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, otherVK, err := anchor.NewKey("test-archive")
	if err != nil {
		t.Fatal(err)
	}
	otherSK, _, _ := anchor.NewKey("test-archive")
	s, _ := note.NewSigner(otherSK)
	forged, _ := note.Sign(&note.Note{Text: string(tlog.FormatTree(tlog.Tree{N: 5}))}, s)
	for _, tc := range []struct {
		name   string
		vkey   string
		signed []byte
		ok     bool
	}{
		{"signed by the archive", vk, signed, true},
		{"another key", otherVK, signed, false},
		{"text changed", vk, []byte(strings.Replace(string(signed), "\n1\n", "\n2\n", 1)), false},
		{"signed by someone else", vk, forged, false},
		{"not a note", vk, []byte("go.sum database tree\n1\n"), false},
		{"empty", vk, nil, false},
		{"not a key", "spanvault", signed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tree, err := anchor.VerifyCheckpoint(tc.vkey, tc.signed)
			if (err == nil) != tc.ok {
				t.Fatalf("VerifyCheckpoint: %+v, %v; want ok %v", tree, err, tc.ok)
			}
			if tc.ok && tree.N != 1 {
				t.Errorf("tree %+v", tree)
			}
		})
	}
}

// CheckLog names what was done to the log underneath the archive: the
// index writer who deletes, rewrites or truncates it.
func TestCheckLog(t *testing.T) {
	for _, tc := range []struct {
		name       string
		checkpoint bool
		tamper     string // SQL run after the checkpoint
		problem    string // "" none
		signed     int64
	}{
		{"intact", true, "", "", 3},
		{"no checkpoint kept", false, "", "3 records and no signed checkpoint kept", 0},
		{"a stored hash deleted", true, `DELETE FROM anchor_hashes WHERE idx = 1`, "stored hash 1 missing or not the one its records give", 3},
		{"a record rewritten", true, `UPDATE anchor_records SET text = 'spanvault audit head' WHERE n = 1`, "its records do not give the tree head signed at size 3", 0},
		{"the last record deleted", true, `DELETE FROM anchor_records WHERE n = 2`, "a checkpoint is signed at size 3, the log holds 2 records", 0},
		{"a record in the middle deleted", true, `DELETE FROM anchor_records WHERE n = 1`, "anchor log record 1 missing", 0},
		{"a checkpoint forged", true, `UPDATE anchor_checkpoints SET note = 'x'`, "checkpoint kept for size 3", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, ix, _ := openLog(t)
			ctx := context.Background()
			for i, h := range heads {
				if _, err := l.Append(ctx, "box", uint64(i+1), h); err != nil {
					t.Fatal(err)
				}
			}
			if tc.checkpoint {
				if _, _, _, err := l.Checkpoint(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if tc.tamper != "" {
				if _, err := ix.DB().ExecContext(ctx, tc.tamper); err != nil {
					t.Fatal(err)
				}
			}
			c, err := l.CheckLog(ctx)
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(c.Problems, "; ")
			if (tc.problem == "") != (got == "") || !strings.Contains(got, tc.problem) {
				t.Errorf("problems %q, want %q", got, tc.problem)
			}
			if c.Signed != tc.signed {
				t.Errorf("signed size %d, want %d", c.Signed, tc.signed)
			}
		})
	}
}

// The archive's own trail goes into the log once per entry, whoever
// anchors it and however often.
func TestAnchorEvents(t *testing.T) {
	l, ix, _ := openLog(t)
	ctx := context.Background()
	for i := 0; i < 5; i++ {
		if _, err := ix.AddEvent(ctx, index.Event{Kind: "test", Detail: "entry"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		max, want int
		size      int64
	}{
		{2, 2, 2}, {10, 3, 5}, {10, 0, 5},
	} {
		n, err := l.AnchorEvents(ctx, "archive:test", tc.max)
		if err != nil || n != tc.want {
			t.Fatalf("AnchorEvents(%d) = %d, %v; want %d", tc.max, n, err, tc.want)
		}
		if size, _ := l.Size(ctx); size != tc.size {
			t.Fatalf("log size %d, want %d", size, tc.size)
		}
	}
	if _, _, _, err := l.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := l.CheckLog(ctx)
	if err != nil || len(c.Problems) != 0 || len(c.Records) != 5 || c.Records[4].Appliance != "archive:test" || c.Records[4].Seq != 5 {
		t.Fatalf("check: %v, %+v", err, c)
	}
}
