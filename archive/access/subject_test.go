package access_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault"
)

// Both boxes run the same generator: call i is from +4930555000i (i < 10:
// the mifid class, a legal retention duty) or +493055500i.
func number(i int) string { return fmt.Sprintf("+4930555%04d", i) }

func keys(items []access.SubjectItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Appliance+"/"+it.ID)
	}
	slices.Sort(out)
	return out
}

// boxTruth is what the boxes themselves say of a number (the box's own
// Art. 15 report from its vault).
func (e *env) boxTruth(t *testing.T, num string) (held, deleted []string) {
	for name, b := range e.boxes {
		rep, err := b.v.Report(num, []age.Identity{e.identity})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rep.Recordings {
			held = append(held, name+"/"+r.Entry.ID)
		}
		for _, d := range rep.Deleted {
			deleted = append(deleted, name+"/"+d.ID)
		}
	}
	slices.Sort(held)
	slices.Sort(deleted)
	return
}

// TestSubjectAccessAcrossBoxes (Art. 15): the archive's report for a
// number equals what the two boxes recorded, an erased recording included
// (as a deletion with its reason), and lists who accessed each recording.
func TestSubjectAccessAcrossBoxes(t *testing.T) {
	e := newEnv(t, nil)
	start := e.clock.Now().Add(-3 * time.Hour)
	b1 := e.addBox("branch-1", synth.Config{Calls: 14, Concurrent: 4, Duration: 2 * time.Second, Start: start})
	e.addBox("branch-2", synth.Config{Calls: 14, Concurrent: 4, Duration: 2 * time.Second, Start: start.Add(time.Minute)})
	x := number(12)
	// Erase branch-1's recording of x on the box; the tombstone syncs.
	held, _ := e.boxTruth(t, x)
	if len(held) != 2 {
		t.Fatalf("boxes hold %v for %s, want one recording on each", held, x)
	}
	var victim string
	for _, h := range held {
		if strings.HasPrefix(h, "branch-1/") {
			victim = strings.TrimPrefix(h, "branch-1/")
		}
	}
	if err := b1.v.Erase(victim, "customer asked", "branch-dpo"); err != nil {
		t.Fatal(err)
	}
	e.sync(b1)
	// Someone hears branch-2's recording first: the report names them.
	sup := e.signIn(e.addUser("sup", access.Supervisor, "branch-2"))
	held, deleted := e.boxTruth(t, x)
	other := strings.TrimPrefix(held[0], "branch-2/")
	if resp, _ := sup.get("/api/v1/recordings/branch-2/" + other + "/audio"); resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}

	dpo := e.signIn(e.addUser("dpo", access.DPO))
	var rep access.SubjectReport
	if st, body := dpo.do("POST", "/api/v1/subject", access.SubjectQuery{Numbers: []string{x}}, &rep); st != 200 {
		t.Fatal(st, body)
	}
	if got := keys(rep.Items); !slices.Equal(got, held) {
		t.Fatalf("archive report holds %v, the boxes %v", got, held)
	}
	if got := keys(rep.Deleted); !slices.Equal(got, deleted) || len(deleted) != 1 {
		t.Fatalf("archive report deleted %v, the boxes %v", got, deleted)
	}
	d := rep.Deleted[0]
	if d.DeletedAt.IsZero() || !strings.Contains(d.Reason+d.DeletedBy, "erasure") && !strings.Contains(d.DeletedBy, "branch-dpo") {
		t.Fatalf("deletion without when, why or by whom: %+v", d)
	}
	it := rep.Items[0]
	if it.Personal == nil || vault.NormalizeNumber(it.Personal.From) == "" || !slices.Contains(it.Personal.Numbers, strings.TrimPrefix(x, "")) && !strings.Contains(it.Personal.From, "49305550012") {
		t.Fatalf("report item without the subject's metadata: %+v", it.Personal)
	}
	if it.Class != "default" || it.RetainUntil.IsZero() || len(it.Accesses) != 1 || it.Accesses[0].Who != "sup" || it.Accesses[0].Action != "play" {
		t.Fatalf("report item: class %s retain %v accesses %+v", it.Class, it.RetainUntil, it.Accesses)
	}
	// Several numbers at once; and the same as a readable page.
	var rep2 access.SubjectReport
	dpo.do("POST", "/api/v1/subject", access.SubjectQuery{Numbers: []string{x, number(13)}}, &rep2)
	if len(rep2.Items) != 3 { // x: branch-2 only (branch-1 erased); 13: both
		t.Fatalf("two numbers: %d items, want 3", len(rep2.Items))
	}
	st, page := dpo.do("POST", "/api/v1/subject", access.SubjectQuery{Numbers: []string{x}, Format: "html"}, nil)
	if st != 200 || !strings.Contains(page, other) || !strings.Contains(page, victim) || !strings.Contains(page, "What was deleted (1)") { // the Art. 15 document (art15.go)
		t.Fatalf("HTML report: %d", st)
	}
	// A DPO scoped to branch-2 sees branch-2 only.
	dpo2 := e.signIn(e.addUser("dpo-b2", access.DPO, "branch-2"))
	var rep3 access.SubjectReport
	dpo2.do("POST", "/api/v1/subject", access.SubjectQuery{Numbers: []string{x}}, &rep3)
	if len(rep3.Items) != 1 || len(rep3.Deleted) != 0 || rep3.Items[0].Appliance != "branch-2" {
		t.Fatalf("scoped DPO: %v %v", keys(rep3.Items), keys(rep3.Deleted))
	}
}

// TestSubjectErasure (Art. 17): a subject's recordings are erased on both
// boxes at their next check-in and at the archive, after a second DPO
// approves; one under hold and those under a legal retention duty are
// refused with the reason; the report shows the progress per branch.
func TestSubjectErasure(t *testing.T) {
	e := newEnv(t, nil)
	start := e.clock.Now().Add(-3 * time.Hour)
	b1 := e.addBox("branch-1", synth.Config{Calls: 14, Concurrent: 4, Duration: 2 * time.Second, Start: start})
	b2 := e.addBox("branch-2", synth.Config{Calls: 14, Concurrent: 4, Duration: 2 * time.Second, Start: start.Add(time.Minute)})
	x, y, m := number(12), number(13), number(3) // m: mifid
	dpo := e.signIn(e.addUser("dpo", access.DPO))
	dpo2 := e.signIn(e.addUser("dpo2", access.DPO))
	heldX, _ := e.boxTruth(t, x)
	heldY, _ := e.boxTruth(t, y)
	heldM, _ := e.boxTruth(t, m)
	// y's recording on branch-2 is put on hold first.
	var yb2 string
	for _, h := range heldY {
		if strings.HasPrefix(h, "branch-2/") {
			yb2 = strings.TrimPrefix(h, "branch-2/")
		}
	}
	if st, body := dpo.do("POST", "/api/v1/recordings/branch-2/"+yb2+"/hold", map[string]string{"reason": "litigation 4711"}, nil); st != 200 {
		t.Fatal(st, body)
	}
	e.sync(b2)

	var req access.Request
	if st, body := dpo.do("POST", "/api/v1/requests", access.RequestInput{Kind: access.ReqBulk, Numbers: []string{x, y, m}, Reason: "Art. 17 request 2026-118"}, &req); st != 202 {
		t.Fatal(st, body)
	}
	if strings.Contains(fmt.Sprint(req), "4930555") {
		t.Fatal("the request stores the numbers")
	}
	var done access.Request
	if st, body := dpo2.do("POST", fmt.Sprintf("/api/v1/requests/%d/approve", req.ID), nil, &done); st != 200 {
		t.Fatal(st, body)
	}
	// x on both boxes and y on branch-1: queued; y on branch-2: hold; m: legal retention.
	for _, want := range []string{"branch-1: 2 erasures queued, 1 refused", "branch-2: 1 erasures queued, 2 refused", "on legal hold", "legal retention duty until", "Art. 17(3)(b)"} {
		if !strings.Contains(done.Result, want) {
			t.Fatalf("result %q lacks %q", done.Result, want)
		}
	}
	for i := 0; i < 2; i++ {
		e.sync(b1)
		e.sync(b2)
	}
	erased := append(append([]string{}, heldX...), heldY...)
	for _, k := range erased {
		box, id, _ := strings.Cut(k, "/")
		en, err := e.boxes[box].v.Get(id)
		shouldStay := k == "branch-2/"+yb2
		gone := err != nil || en.State == vault.StateErased
		if gone == shouldStay {
			t.Fatalf("%s on the box: erased=%v, want %v", k, gone, !shouldStay)
		}
		rs, _ := e.a.Index.Records(t.Context(), indexOne(box, id))
		if len(rs) != 1 || rs[0].DeletedAt.IsZero() == !shouldStay {
			t.Fatalf("%s at the archive: %+v", k, rs)
		}
		_, _, oerr := e.a.Store.Open(t.Context(), rs[0].SHA256)
		if (oerr == nil) == !shouldStay {
			t.Fatalf("%s in the archive's store: open error %v", k, oerr)
		}
	}
	for _, k := range heldM {
		box, id, _ := strings.Cut(k, "/")
		if en, err := e.boxes[box].v.Get(id); err != nil || en.State == vault.StateErased {
			t.Fatalf("mifid recording %s erased", k)
		}
	}
	// The report shows the progress per branch: every erasure applied.
	var rep access.SubjectReport
	dpo.do("POST", "/api/v1/subject", access.SubjectQuery{Numbers: []string{x, y}}, &rep)
	if len(rep.Erasures) != 3 {
		t.Fatalf("%d erasures in the report, want 3", len(rep.Erasures))
	}
	for _, c := range rep.Erasures {
		if c.DoneAt.IsZero() || c.Result != "applied" {
			t.Fatalf("erasure %+v not applied", c)
		}
	}
	if len(rep.Items) != 1 || len(rep.Deleted) != 3 {
		t.Fatalf("after erasure: %v held, %v deleted", keys(rep.Items), keys(rep.Deleted))
	}
	_ = wire.CmdErase
}
