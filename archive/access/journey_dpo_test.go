package access_test

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestJourneyDPO (issue 23): the data-protection officer's day in a real
// browser. The inbox shows the alert and the suspension with its reason;
// the DPO lifts it. An Art. 15 report from the web shows the subject's
// numbers, name, durations and who accessed the recording, and downloads
// as a PDF holding them. Art. 17 by subject is filed from the report, a
// second DPO approves it from the inbox seeing what it erases, and the
// recording is erased on the box and at the archive.
func TestJourneyDPO(t *testing.T) {
	e := newEnv(t, func(c *archive.Config) { c.Access.InsiderMaxPlays = 1 })
	e.addBox("branch-1", synth.Config{Calls: 14, Concurrent: 4, Duration: 7 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	x := number(12)
	rs, err := e.svc.SubjectRecords(t.Context(), []string{x})
	if err != nil {
		t.Fatal(err)
	}
	rec := ""
	for _, r := range rs {
		if r.Kind == wire.KindRecording {
			rec = r.ID
		}
	}
	// Carla (limit: one recording) hears x's call, then another: suspended.
	carla := e.signIn(e.addUser("carla", access.Compliance, "branch-1"))
	if resp, _ := carla.get("/api/v1/recordings/branch-1/" + rec + "/audio"); resp.StatusCode != 200 {
		t.Fatalf("carla's play: %d", resp.StatusCode)
	}
	for _, id := range e.recordings("branch-1") {
		if id != rec {
			carla.get("/api/v1/recordings/branch-1/" + id + "/audio")
			break
		}
	}
	ctx := browser(t)
	dora, dieter := e.addUser("dora", access.DPO), e.addUser("dieter", access.DPO)
	signInBrowser(t, ctx, e, dora)

	// The inbox: the alert, the suspension and its reason; lift it.
	do(t, ctx, "inbox", chromedp.Navigate(e.web+"/inbox"), chromedp.WaitVisible(chromedp.ID("inbox-alerts")))
	shot(t, ctx, "dpo-inbox")
	if a := js[string](t, ctx, `document.getElementById("inbox-alerts").innerText`); !strings.Contains(a, "insider_suspended") || !strings.Contains(a, "carla") {
		t.Fatalf("the inbox shows no alert of carla's suspension: %s", a)
	}
	if why := js[string](t, ctx, `document.querySelector("#susp-carla .reason").innerText`); !strings.Contains(why, "limit 1") {
		t.Fatalf("the suspension's reason: %q", why)
	}
	do(t, ctx, "lift", chromedp.Click(chromedp.CSS("#susp-carla button.lift")), chromedp.WaitVisible(chromedp.ID("inbox-suspensions")))
	waitJS(t, ctx, `document.readyState == "complete" && !document.getElementById("susp-carla")`, "the suspension to be lifted")
	shot(t, ctx, "dpo-inbox-lifted")
	if e.events("insider_cleared", "dora", "carla") != 1 {
		t.Fatal("lifting from the inbox is not audited")
	}

	// Art. 15 from the web.
	do(t, ctx, "subject form", chromedp.Navigate(e.web+"/subject"), chromedp.WaitVisible(chromedp.CSS(`form[action="/subject"] textarea`)))
	shot(t, ctx, "dpo-subject")
	do(t, ctx, "subject report",
		chromedp.SendKeys(chromedp.CSS(`form[action="/subject"] textarea`), x),
		chromedp.Click(chromedp.CSS(`form[action="/subject"] button`)),
		chromedp.WaitVisible(chromedp.ID("art15")))
	shot(t, ctx, "dpo-art15")
	doc := js[string](t, ctx, `document.getElementById("art15").innerText`)
	for _, want := range []string{x, "Caller 12", "20012", "7s", "carla"} {
		if !strings.Contains(doc, want) {
			t.Fatalf("the Art. 15 report lacks %q: %s", want, doc)
		}
	}
	b64 := js[string](t, ctx, `(async () => {
		const f = document.getElementById("pdf").form;
		const r = await fetch(f.action, {method: "POST", body: new URLSearchParams(new FormData(f))});
		const b = new Uint8Array(await r.arrayBuffer());
		let s = ""; for (const c of b) s += String.fromCharCode(c);
		return r.headers.get("content-type") + " " + btoa(s);
	})()`, chromedp.EvalAwaitPromise)
	ct, data, _ := strings.Cut(b64, " ")
	pdf, err := base64.StdEncoding.DecodeString(data)
	if err != nil || ct != "application/pdf" || !strings.HasPrefix(string(pdf), "%PDF-") {
		t.Fatalf("the PDF download: %s, %.20q, %v", ct, pdf, err)
	}
	if dir := os.Getenv("SPANVAULT_SCREENS"); dir != "" {
		os.WriteFile(filepath.Join(dir, "dpo-art15-"+screenLang()+".pdf"), pdf, 0o644)
	}
	txt := access.PDFText(pdf)
	for _, want := range []string{x, "Caller 12", "20012", "7s", "carla"} {
		if !strings.Contains(txt, want) {
			t.Fatalf("the PDF lacks %q", want)
		}
	}

	// Art. 17 by subject: filed from the report, approved by a second DPO.
	do(t, ctx, "file the erasure",
		chromedp.SendKeys(chromedp.ID("bulkreason"), "Art. 17 request of the customer"),
		chromedp.Click(chromedp.ID("bulkerase")),
		chromedp.WaitVisible(chromedp.ID("requests")))
	shot(t, ctx, "dpo-erasure-filed")
	signOutBrowser(t, ctx)
	signInBrowser(t, ctx, e, dieter)
	do(t, ctx, "inbox to decide", chromedp.Navigate(e.web+"/inbox"), chromedp.WaitVisible(chromedp.CSS("#inbox-decide .decide")))
	shot(t, ctx, "dpo-decide")
	if plan := js[string](t, ctx, `document.querySelector("#inbox-decide .plan").innerText`); !strings.Contains(plan, "erase 1 recordings of 1 numbers on 1 branches (branch-1)") {
		t.Fatalf("the approver is not told what will be erased: %q", plan)
	}
	do(t, ctx, "approve", chromedp.Click(chromedp.CSS("#inbox-decide button.approve")), chromedp.WaitVisible(chromedp.ID("requests")))
	e.sync(e.boxes["branch-1"])
	e.sync(e.boxes["branch-1"])
	if held, _ := e.boxTruth(t, x); len(held) != 0 {
		t.Fatalf("the box still holds %v after the approved erasure", held)
	}
	if slices.Contains(e.recordings("branch-1"), rec) {
		t.Fatal("the archive still holds the erased recording")
	}
	// The report now says what was deleted, when, by whom and why.
	do(t, ctx, "subject report after the erasure",
		chromedp.Navigate(e.web+"/subject"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/subject"] textarea`), x),
		chromedp.Click(chromedp.CSS(`form[action="/subject"] button`)),
		chromedp.WaitVisible(chromedp.ID("art15")))
	shot(t, ctx, "dpo-art15-deleted")
	gone := js[string](t, ctx, `[...document.querySelectorAll("#art15 .why")].map(e => e.closest(".art15-item").innerText).join("\n")`)
	for _, want := range []string{"Art. 17 request of the customer", "dora", "dieter", "carla"} {
		if !strings.Contains(gone, want) {
			t.Fatalf("the report's deletion lacks %q: %q", want, gone)
		}
	}
	do(t, ctx, "progress", chromedp.Navigate(e.web+"/inbox"), chromedp.WaitVisible(chromedp.ID("inbox-subjects")))
	shot(t, ctx, "dpo-inbox-progress")
	if p := js[string](t, ctx, `document.getElementById("inbox-subjects").innerText`); !strings.Contains(p, "branch-1: 1") || !strings.Contains(p, "done") {
		t.Fatalf("the erasure's progress per box: %q", p)
	}
}
