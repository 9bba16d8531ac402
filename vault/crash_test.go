package vault_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/export"
)

func TestMain(m *testing.M) {
	if os.Getenv("SPANVAULT_CRASH_CHILD") != "" {
		crashChild()
		return
	}
	os.Exit(m.Run())
}

// crashChild records many concurrent calls into the vault named by the
// environment until it is killed.
func crashChild() {
	dir := os.Getenv("SPANVAULT_CRASH_DIR")
	rec, err := age.ParseX25519Recipient(os.Getenv("SPANVAULT_CRASH_RECIPIENT"))
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	seed, _ := strconv.ParseUint(os.Getenv("SPANVAULT_CRASH_SEED"), 10, 64)
	v, err := vault.Open(vault.Options{Dir: dir, Recipients: []age.Recipient{rec}, SyncEvery: 200 * time.Millisecond})
	if err != nil {
		fmt.Println("ERR", err)
		os.Exit(2)
	}
	fmt.Println("READY")
	g := synth.New(synth.Config{Calls: 30, Concurrent: 12, Duration: 4 * time.Second, Seed: seed,
		Start: time.Date(2026, 2, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(seed) * time.Hour)})
	tr := calls.NewTracker(calls.Config{}, v, v)
	p := capture.NewPipeline(decode.New(decode.DefaultOptions), tr)
	n := 0
	for {
		f, ok := g.Next()
		if !ok {
			break
		}
		p.Handle(f.Data, decode.LinkEthernet, f.Time)
		// Pace the feed a little so that kills land mid-call.
		if n++; n%200 == 0 {
			time.Sleep(2 * time.Millisecond)
		}
	}
	p.Close("capture ended")
	v.Close()
	fmt.Println("DONE")
}

// TestCrashSIGKILL kills the recording process at random points and
// checks, after every kill, that the vault opens, fsck is clean, every
// finished recording is intact, and interrupted ones are recovered as
// truncated and readable up to their break.
func TestCrashSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test skipped in -short mode")
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	ids := []age.Identity{id}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(42, 7))
	const kills = 24
	truncatedSeen, completeSeen := 0, 0
	for i := 0; i < kills; i++ {
		cmd := exec.Command(os.Args[0], "-test.run", "^$")
		cmd.Env = append(os.Environ(), "SPANVAULT_CRASH_CHILD=1", "SPANVAULT_CRASH_DIR="+dir,
			"SPANVAULT_CRASH_RECIPIENT="+id.Recipient().String(), "SPANVAULT_CRASH_SEED="+strconv.Itoa(i+1))
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		if !sc.Scan() || sc.Text() != "READY" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("kill %d: child did not start: %q", i, sc.Text())
		}
		time.Sleep(time.Duration(50+rng.IntN(1200)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()

		v, err := vault.Open(vault.Options{Dir: dir})
		if err != nil {
			t.Fatalf("kill %d: vault does not open: %v", i, err)
		}
		rep, err := v.Fsck(false)
		if err != nil {
			t.Fatalf("kill %d: fsck: %v", i, err)
		}
		if !rep.Clean() {
			t.Fatalf("kill %d: fsck not clean: %v %s", i, rep.Problems, rep.AuditError)
		}
		es, err := v.List()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			switch e.State {
			case vault.StateRecording:
				t.Fatalf("kill %d: %s still marked recording after recovery", i, e.ID)
			case vault.StateComplete:
				frames, trunc, err := export.Frames(v, e.ID, ids)
				if err != nil || trunc || uint64(len(frames)) != e.Frames {
					t.Fatalf("kill %d: finished %s: %d frames of %d, truncated=%v, %v", i, e.ID, len(frames), e.Frames, trunc, err)
				}
				completeSeen++
			case vault.StateTruncated:
				if _, _, err := export.Frames(v, e.ID, ids); err != nil {
					t.Fatalf("kill %d: truncated %s unreadable: %v", i, e.ID, err)
				}
				if !strings.Contains(e.Note, "interrupted") {
					t.Fatalf("kill %d: truncated %s without note", i, e.ID)
				}
				truncatedSeen++
			}
		}
		v.Close()
	}
	t.Logf("%d kills: %d finished recordings checked, %d truncated recordings recovered (counted over all rounds)", kills, completeSeen, truncatedSeen)
	if truncatedSeen == 0 || completeSeen == 0 {
		t.Fatalf("kills never landed both mid-call and after finished calls (complete %d, truncated %d)", completeSeen, truncatedSeen)
	}
}
