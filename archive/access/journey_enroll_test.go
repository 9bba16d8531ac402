package access_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
)

// TestJourneyEnroll: a new box asks for its certificates; an admin finds
// its code on the fleet's enrollment page, types a wrong code (nothing is
// approved), then the right one with a name, which is filed under four
// eyes; a second admin's approval approves it, and the box receives its
// certificates.
func TestJourneyEnroll(t *testing.T) {
	e := newEnv(t, func(c *archive.Config) { c.Enroll.FourEyes = true })
	e.a.Config.Advertise = []string{e.addr}
	sum := sha256.Sum256(e.a.CA.Cert.Raw)
	cfg := client.EnrollConfig{Archives: []string{e.addr}, CAFingerprint: "sha256:" + hex.EncodeToString(sum[:]), Dir: filepath.Join(t.TempDir(), "enroll")}
	enroll := func() client.EnrollState {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		st, err := client.EnrollOnce(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := enroll()
	if st.State != wire.EnrollPending {
		t.Fatalf("%+v", st)
	}
	alice := e.addUser("alice", access.Admin)
	bob := e.addUser("bob", access.Admin)
	ctx := browser(t)
	signInBrowser(t, ctx, e, alice)
	do(t, ctx, "fleet", chromedp.Navigate(e.web+"/fleet"), chromedp.WaitVisible(chromedp.ID("enroll-link")), chromedp.Click(chromedp.ID("enroll-link")),
		chromedp.WaitVisible(chromedp.ID("enrollments")))
	if got := js[string](t, ctx, `document.querySelector("#enrollments .code").textContent`); got != st.Code[:access.CodeShown]+"…" {
		t.Fatalf("the page lists code %q, the box shows %q: want its first %d characters only", got, st.Code, access.CodeShown)
	}
	shot(t, ctx, "enroll-pending")
	wrong := "0000-0000-0000-0000"
	do(t, ctx, "a wrong code",
		chromedp.SendKeys(`#approve input[name="code"]`, wrong), chromedp.SendKeys(`#approve input[name="name"]`, "branch-7"),
		chromedp.Click(`#approve button`), chromedp.WaitVisible(chromedp.ID("message")))
	if body := js[string](t, ctx, `document.body.innerText`); !strings.Contains(body, "no such pending enrollment request") {
		t.Fatalf("after a wrong code: %s", body)
	}
	shot(t, ctx, "enroll-wrong-code")
	do(t, ctx, "the right code",
		chromedp.Navigate(e.web+"/fleet/enroll"), chromedp.WaitVisible(chromedp.ID("approve")),
		chromedp.SendKeys(`#approve input[name="code"]`, strings.ToLower(st.Code)), chromedp.SendKeys(`#approve input[name="name"]`, "branch-7"),
		chromedp.Click(`#approve button`), chromedp.WaitVisible(chromedp.ID("enroll-done")))
	if got := js[string](t, ctx, `document.querySelector("#enrollments .enrollment").textContent`); !strings.Contains(got, "alice") || !strings.Contains(got, "branch-7") {
		t.Fatalf("the filed approval is not shown: %q", got)
	}
	shot(t, ctx, "enroll-filed")
	if st := enroll(); st.State != wire.EnrollPending {
		t.Fatalf("one admin approved: %+v", st)
	}
	var rep map[string]bool
	if code, body := e.signIn(bob).do("POST", "/api/v1/enrollments/approve", access.ApproveEnrollment{Code: st.Code, Name: "branch-7"}, &rep); code != http.StatusOK || !rep["approved"] {
		t.Fatalf("second admin: %d %s", code, body)
	}
	if got := enroll(); got.State != "approved" || got.Name != "branch-7" {
		t.Fatalf("after two admins: %+v", got)
	}
	do(t, ctx, "reload", chromedp.Navigate(e.web+"/fleet/enroll"), chromedp.WaitVisible(chromedp.ID("enrollments")))
	if body := js[string](t, ctx, `document.querySelector("#enrollments").innerText`); strings.Contains(body, st.Code) {
		t.Fatalf("the approved code is still listed: %s", body)
	}
	shot(t, ctx, "enroll-done")
}
