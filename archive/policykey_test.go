package archive_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/spanvault/spanvault/archive"
)

// TestPolicyKeyFirstUse: an archive without a policy or update key yet
// (made before Init made them) makes each at first use, and requests that
// ask for it at once all get that one key. Before, the key file was
// created empty and then written, and a concurrent reader failed with
// "not a base64 Ed25519 seed" (an enrollment reply answered 500; the
// fleet simulation found it).
func TestPolicyKeyFirstUse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "archive")
	if err := archive.Init(dir, archive.InitOptions{Name: "keys", Listen: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	a, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	for round := range 40 {
		file, get := "policy.key", a.PolicyPublicKey
		if round%2 == 1 {
			file, get = archive.UpdateKeyFile, a.UpdatePublicKey
		}
		if err := os.Remove(filepath.Join(dir, file)); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		// Callers asking over and over while the key is being made: one
		// of them reads the file between its creation and its writing.
		var mu sync.Mutex
		seen := map[string]bool{}
		var first error
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 50 {
					k, err := get()
					mu.Lock()
					if err != nil && first == nil {
						first = err
					}
					if err == nil {
						seen[k] = true
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if first != nil || len(seen) != 1 {
			t.Fatalf("round %d (%s): %d keys, error %v", round, file, len(seen), first)
		}
	}
}

// TestPolicyKeySharedByCopies: a second front-end made by copying a new
// archive's directory signs policies and updates with the same keys as
// the first. Before, the keys were made at first use, in each copy its
// own: boxes enrolled through one front-end refused policies signed by
// the other, and an update signed with one front-end's key could not be
// published on the other.
func TestPolicyKeySharedByCopies(t *testing.T) {
	dir1 := filepath.Join(t.TempDir(), "fe1")
	if err := archive.Init(dir1, archive.InitOptions{Name: "keys", Listen: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	dir2 := filepath.Join(t.TempDir(), "fe2")
	if out, err := exec.Command("cp", "-a", dir1, dir2).CombinedOutput(); err != nil {
		t.Fatalf("copy: %v %s", err, out)
	}
	var keys []string
	for _, d := range []string{dir1, dir2} {
		a, err := archive.Open(d)
		if err != nil {
			t.Fatal(err)
		}
		pk, err := a.PolicyPublicKey()
		if err != nil {
			t.Fatal(err)
		}
		uk, err := a.UpdatePublicKey()
		a.Close()
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, pk+" "+uk)
	}
	if keys[0] != keys[1] {
		t.Fatalf("the two front-ends sign policies and updates with different keys: %s and %s", keys[0], keys[1])
	}
}
