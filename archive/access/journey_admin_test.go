package access_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
)

// TestJourneyAdmin (issue 23): the administrator in a real browser adds
// a user scoped to a branch (a second administrator approves and hands
// over a setup link, never the user's secrets), and the user sets their
// own password and second factor through it and searches; unlocks an
// account locked by failed sign-ins, shown as locked; revokes a
// streaming link, which stops working.
func TestJourneyAdmin(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 2, Duration: 3 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	e.addBox("branch-2", synth.Config{Calls: 1, Duration: 3 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	anna, ben := e.addUser("anna", access.Admin), e.addUser("ben", access.Admin)
	ctx := browser(t)

	// Anna files the new account, scoped to branch-1.
	signInBrowser(t, ctx, e, anna)
	do(t, ctx, "users", chromedp.Navigate(e.web+"/users"), chromedp.WaitVisible(chromedp.ID("users")))
	shot(t, ctx, "admin-users")
	do(t, ctx, "add a user",
		chromedp.Click(chromedp.ID("adduserlink")),
		chromedp.WaitVisible(chromedp.ID("newuser")),
		chromedp.SendKeys(chromedp.ID("newuser"), "nina"),
		chromedp.SetValue(chromedp.ID("newrole"), "supervisor"),
		chromedp.Click(chromedp.ID("branch-branch-1")),
		chromedp.SendKeys(chromedp.ID("newreason"), "new hire in branch 1"))
	shot(t, ctx, "admin-adduser")
	do(t, ctx, "file it", chromedp.Click(chromedp.ID("fileadd")), chromedp.WaitVisible(chromedp.ID("filed")))
	shot(t, ctx, "admin-adduser-filed")
	signOutBrowser(t, ctx)

	// Ben approves and is handed a setup link, not nina's secrets.
	signInBrowser(t, ctx, e, ben)
	do(t, ctx, "requests", chromedp.Navigate(e.web+"/requests"), chromedp.WaitVisible(chromedp.CSS("#requests button.approve")))
	shot(t, ctx, "admin-requests")
	do(t, ctx, "approve", chromedp.Click(chromedp.CSS("#requests button.approve")), chromedp.WaitVisible(chromedp.ID("setuplink")))
	shot(t, ctx, "admin-setuplink")
	if main := js[string](t, ctx, `document.getElementById("main").innerHTML`); strings.Contains(main, "otpauth") || strings.Contains(main, "<img") {
		t.Fatalf("the approver's page carries nina's second factor: %s", main)
	}
	link := js[string](t, ctx, `document.getElementById("setuplink").textContent`)
	signOutBrowser(t, ctx)

	// Nina opens the link, enrols her second factor, sets her password.
	do(t, ctx, "setup", chromedp.Navigate(link), chromedp.WaitVisible(chromedp.ID("setupform")))
	shot(t, ctx, "admin-newuser-setup")
	if !js[bool](t, ctx, `document.getElementById("setupqr").naturalWidth > 0`) {
		t.Fatal("the second factor's QR code does not show")
	}
	nina := &user{name: "nina", role: access.Supervisor, password: "nina's own long password", set: true,
		secret: js[string](t, ctx, `document.getElementById("totpsecret").textContent`)}
	e.clock.Add(31 * time.Second)
	do(t, ctx, "set up",
		chromedp.SendKeys(chromedp.ID("setuppw"), nina.password),
		chromedp.SendKeys(chromedp.ID("setuppw2"), nina.password),
		chromedp.SendKeys(chromedp.ID("setuptotp"), e.code(nina)),
		chromedp.Click(chromedp.ID("setupgo")),
		chromedp.WaitVisible(chromedp.CSS("header span")))
	do(t, ctx, "nina searches", chromedp.Navigate(e.web+"/search"), chromedp.WaitVisible(chromedp.ID("results")))
	shot(t, ctx, "admin-newuser")
	signOutBrowser(t, ctx)
	if e.events("user_added", "ben", "nina") != 1 {
		t.Fatal("the addition is not audited")
	}

	// Carl is locked by five failures from elsewhere; the page says so.
	carl := e.addUser("carl", access.Auditor)
	outsider := e.from("127.0.0.66")
	for range 5 {
		outsider.post("/api/v1/session", access.SignIn{Name: "carl", Password: "guess", TOTP: "000000"})
		e.clock.Add(16 * time.Minute)
	}
	signInBrowser(t, ctx, e, anna)
	do(t, ctx, "users", chromedp.Navigate(e.web+"/users"), chromedp.WaitVisible(chromedp.ID("users")))
	shot(t, ctx, "admin-locked")
	row := `[...document.querySelectorAll("#users tr")].find(r => r.cells[0] && r.cells[0].textContent == "carl")`
	if !js[bool](t, ctx, row+`.querySelector(".locked") != null`) {
		t.Fatalf("carl's locked account is not shown as locked: %s", js[string](t, ctx, row+`.innerText`))
	}
	do(t, ctx, "unlock", chromedp.Click(chromedp.CSS(`form[action="/web/users/carl/unlock"] button`)), chromedp.WaitNotPresent(chromedp.CSS(`form[action="/web/users/carl/unlock"]`)))

	// A CRM link, revoked from the links page, stops working.
	crm := e.signIn(e.addUser("crm-bot", access.CRM, "branch-1"))
	var l access.Link
	if st, body := crm.do("POST", "/api/v1/links", access.MintLink{Recording: e.recordings("branch-1")[0], TTL: "10m"}, &l); st != 200 {
		t.Fatalf("mint: %d %s", st, body)
	}
	if resp, _ := e.httpClientAPI().get(l.URL); resp.StatusCode != 200 {
		t.Fatalf("the link before revocation: %d", resp.StatusCode)
	}
	do(t, ctx, "links", chromedp.Navigate(e.web+"/links/manage"), chromedp.WaitVisible(chromedp.ID("link-"+l.ID)))
	shot(t, ctx, "admin-links")
	do(t, ctx, "revoke", chromedp.Click(chromedp.CSS("#link-"+l.ID+" button.revoke")), chromedp.WaitNotPresent(chromedp.ID("link-"+l.ID)))
	if resp, body := e.httpClientAPI().get(l.URL); resp.StatusCode == 200 {
		t.Fatalf("the revoked link still streams: %d %.100s", resp.StatusCode, body)
	}
	signOutBrowser(t, ctx)

	// Carl, unlocked, signs in from here.
	signInBrowser(t, ctx, e, carl)
	if !strings.HasPrefix(location(t, ctx), "/") {
		t.Fatal("carl is not signed in")
	}
}
