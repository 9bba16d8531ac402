package access_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestErasedCallRecordGone: a call record the box erased is gone from
// its web page (410, no numbers) for a supervisor of its branch, and the
// index no longer holds its sealed metadata or its blind search terms;
// the tombstone keeps its own sealed subject (the Art. 15 report's
// deletion) and the hashes stay.
func TestErasedCallRecordGone(t *testing.T) {
	e := newEnv(t, nil)
	ctx := t.Context()
	b := e.addBox("branch-1", synth.Config{Calls: 10, Concurrent: 4, Rejected: 1, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	rs, err := e.a.Index.Records(ctx, index.Query{Appliance: "branch-1", Kind: wire.KindCDR})
	if err != nil || len(rs) == 0 {
		t.Fatalf("no call record synced: %v", err)
	}
	id := rs[0].ID // +49305550010: class default (mifid, +4930555000*, would be kept under its legal duty)
	if _, err := e.svc.IndexPending(ctx); err != nil {
		t.Fatal(err)
	}
	terms := func(kind string) (n int) {
		t.Helper()
		if err := e.a.Index.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM search_terms WHERE appliance = ? AND id = ? AND kind = ?`, "branch-1", id, kind).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if terms(wire.KindCDR) == 0 {
		t.Fatal("the call record has no search terms before its erasure")
	}
	sup := e.addUser("sam", access.Supervisor, "branch-1")
	c := e.httpClient()
	webSignIn(t, e, c, sup)
	resp, err := c.Get(e.web + "/r/branch-1/" + id)
	if err != nil {
		t.Fatal(err)
	}
	if page := readAll(resp); resp.StatusCode != 200 || !strings.Contains(page, `id="cdr"`) {
		t.Fatalf("live call record's page: %d", resp.StatusCode)
	}

	if err := b.v.Erase(id, "the customer asked", "branch-dpo"); err != nil {
		t.Fatal(err)
	}
	e.sync(b)
	if _, err := e.svc.IndexPending(ctx); err != nil {
		t.Fatal(err)
	}
	resp, err = c.Get(e.web + "/r/branch-1/" + id)
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(resp)
	if resp.StatusCode != http.StatusGone || strings.Contains(page, `id="cdr"`) || strings.Contains(page, "+49") {
		t.Errorf("erased call record's page: %d, want 410 without its numbers:\n%s", resp.StatusCode, between(page, "<main", "</main>"))
	}

	rs, err = e.a.Index.Records(ctx, index.Query{Appliance: "branch-1", ID: id})
	if err != nil {
		t.Fatal(err)
	}
	var tomb bool
	for _, r := range rs {
		switch {
		case r.Kind == wire.KindTombstone:
			tomb = true
			if len(r.Subject) == 0 {
				t.Errorf("the tombstone lost its sealed subject (the Art. 15 report's deletion)")
			}
		case r.DeletedAt.IsZero():
			t.Errorf("%s row not marked erased", r.Kind)
		case len(r.Sealed) > 0 || len(r.Subject) > 0:
			t.Errorf("erased %s row still holds sealed personal data (%d bytes metadata, %d subject)", r.Kind, len(r.Sealed), len(r.Subject))
		}
	}
	if !tomb {
		t.Fatal("no tombstone synced")
	}
	if n := terms(wire.KindCDR); n != 0 {
		t.Errorf("erased call record still has %d blind search terms", n)
	}
	if n := terms(wire.KindTombstone); n == 0 {
		t.Errorf("the tombstone has no search terms: the Art. 15 report cannot find the deletion")
	}
}
