package auditchain

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"testing"
)

type vector struct {
	PublicKey ed25519.PublicKey `json:"public_key"`
	Entries   []Entry           `json:"entries"`
	Head      Head              `json:"head"`
}

// testdata/chain-v1.json was written once (2026-12-06) by the code of
// that day and is never regenerated: a chain from the first release must
// verify with today's code, byte for byte.
func readVector(t *testing.T) vector {
	t.Helper()
	b, err := os.ReadFile("testdata/chain-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vector
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestFrozenChainVerifies(t *testing.T) {
	v := readVector(t)
	if err := CheckLinks("", 1, v.Entries, v.Head, v.PublicKey); err != nil {
		t.Fatalf("the frozen chain no longer verifies: %v", err)
	}
	if got, want := v.Entries[0].SelfHash(), "c93d8890a270eb53d3f7cca7b7025f2d5b4b505962cceed61da76a9e9caae0cc"; got != want {
		t.Fatalf("entry 1 hashes to %s, frozen %s", got, want)
	}
	if got, want := string(HeadMessage(v.Head)), "spanvault audit head 3 "+v.Head.Hash; got != want {
		t.Fatalf("head message %q, want %q", got, want)
	}
}

func TestCheckLinksNamesTheFirstBrokenEntry(t *testing.T) {
	other := ed25519.NewKeyFromSeed(make([]byte, 32))
	other[0] ^= 1 // a different seed byte: a different key
	other = ed25519.NewKeyFromSeed(other.Seed())
	for _, tc := range []struct {
		name    string
		mutate  func(v *vector) (prev string, first uint64)
		wantSeq uint64
	}{
		{"edited detail", func(v *vector) (string, uint64) { v.Entries[1].Detail = "x"; return "", 1 }, 2},
		{"removed entry", func(v *vector) (string, uint64) {
			v.Entries = append(v.Entries[:1], v.Entries[2:]...)
			return "", 1
		}, 2},
		{"rehashed after edit", func(v *vector) (string, uint64) {
			v.Entries[0].Actor = "someone"
			v.Entries[0].Hash = v.Entries[0].SelfHash()
			return "", 1
		}, 2},
		{"truncated", func(v *vector) (string, uint64) { v.Entries = v.Entries[:2]; return "", 1 }, 3},
		{"wrong key", func(v *vector) (string, uint64) {
			v.PublicKey = other.Public().(ed25519.PublicKey)
			return "", 1
		}, 3},
		{"wrong start", func(v *vector) (string, uint64) { return "", 2 }, 2},
		{"wrong predecessor", func(v *vector) (string, uint64) { return "00", 1 }, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := readVector(t)
			prev, first := tc.mutate(&v)
			err := CheckLinks(prev, first, v.Entries, v.Head, v.PublicKey)
			var be *BrokenError
			if !errors.As(err, &be) {
				t.Fatalf("got %v, want a *BrokenError", err)
			}
			if be.Seq != tc.wantSeq {
				t.Fatalf("broken at %d (%v), want %d", be.Seq, err, tc.wantSeq)
			}
		})
	}
}
