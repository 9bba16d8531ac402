package appliance

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/appliance/config"
	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/keyring"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/vault/retention"
)

// syncedTo points a's sync at a real archive over TLS, enrolled as
// name; it answers the archive, its access service and a's sync client.
func syncedTo(t *testing.T, a *Appliance, name string) (*archive.Archive, *access.Service, *client.Client) {
	t.Helper()
	adir := filepath.Join(t.TempDir(), "archive")
	if err := archive.Init(adir, archive.InitOptions{Name: "legal-archive", Listen: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	arch, err := archive.Open(adir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := arch.Enroll(context.Background(), name, filepath.Join(t.TempDir(), "enroll"), nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- arch.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done; arch.Close() })
	id, _ := age.GenerateX25519Identity()
	keys, err := keyring.Parse([]byte(id.String()))
	if err != nil {
		t.Fatal(err)
	}
	a.cfg.Sync = config.Sync{Name: name, Archives: []string{ln.Addr().String()},
		Cert: filepath.Join(r.Dir, "sync.crt"), Key: filepath.Join(r.Dir, "sync.key"),
		CA: filepath.Join(r.Dir, "ca.crt"), AnchorKey: filepath.Join(r.Dir, "anchor.vkey")}
	c, err := NewSyncClient(a.cfg, a.v)
	if err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	a.sync = &syncer{c: c, started: time.Now()}
	a.mu.Unlock()
	return arch, access.New(arch, keys), c
}

// TestLegalOverdueReported: recordings of a legally retained class
// (must_sync) past their maximum age that the archive does not hold yet
// are kept on the box, and now reported: the box's check-in carries the
// count, the archive raises one alert naming the box and the count
// (not one per check-in), the fleet shows the box needing attention
// with why, and the condition clears once the recordings reach the
// archive. (Old code: the box only logged a warning; the archive knew
// nothing.)
func TestLegalOverdueReported(t *testing.T) {
	a := testAppliance(t, "")
	if _, err := a.v.SetPolicy(&retention.Policy{DefaultClass: "mifid", Classes: []retention.Class{
		{Name: "mifid", Record: true, MustSync: true, MaxAge: retention.Duration(24 * time.Hour), Grace: retention.Duration(time.Hour)}}}); err != nil {
		t.Fatal(err)
	}
	arch, svc, c := syncedTo(t, a, "branch-legal")
	ctx := context.Background()
	// Three calls two days ago (the maximum age is one day), never synced.
	g := synth.New(synth.Config{Calls: 3, Duration: 2 * time.Second, Start: time.Now().Add(-48 * time.Hour)})
	g.Each(func(f synth.Frame) { a.live.P.Handle(f.Data, decode.LinkEthernet, f.Time) })
	a.live.P.Close("capture ended")
	a.maintain() // the retention sweep: kept, overdue
	alerts := func(kind string) []string {
		t.Helper()
		es, err := arch.Index.Events(ctx, kind, false)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Appliance+": "+e.Detail)
		}
		return out
	}
	a.syncOnce(ctx, c, false) // a check-in outside the window
	a.syncOnce(ctx, c, false)
	if got := alerts("legal_overdue"); len(got) != 1 || !strings.HasPrefix(got[0], "branch-legal: 3 ") {
		t.Fatalf("the archive's alerts of overdue legal recordings after two check-ins: %q, want one naming branch-legal and 3", got)
	}
	boxes, err := svc.Fleet(ctx)
	if err != nil || len(boxes) != 1 {
		t.Fatal(boxes, err)
	}
	found := false
	for _, r := range boxes[0].Reasons {
		found = found || r.Kind == "legal_overdue" && strings.Contains(r.Detail, "3")
	}
	if !boxes[0].Attention || !found {
		t.Fatalf("the fleet does not show the box needing attention for its overdue legal recordings: %+v", boxes[0].FleetHealth)
	}
	// They reach the archive; the next sweep deletes them; it clears.
	a.syncOnce(ctx, c, true)
	a.mu.Lock()
	a.lastSweep = time.Time{}
	a.mu.Unlock()
	a.maintain()
	a.syncOnce(ctx, c, false)
	if got := alerts("legal_overdue_cleared"); len(got) != 1 {
		t.Fatalf("the condition did not clear once the recordings reached the archive: %q", got)
	}
}
