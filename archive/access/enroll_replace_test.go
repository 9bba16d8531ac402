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

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
)

// enrollingBox asks the archive for certificates as a new box would
// (from the internet: nobody vouches for it) and returns its state.
func enrollingBox(t *testing.T, e *env) (client.EnrollConfig, client.EnrollState) {
	t.Helper()
	e.a.Config.Advertise = []string{e.addr}
	sum := sha256.Sum256(e.a.CA.Cert.Raw)
	cfg := client.EnrollConfig{Archives: []string{e.addr}, CAFingerprint: "sha256:" + hex.EncodeToString(sum[:]), Dir: filepath.Join(t.TempDir(), "enroll")}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := client.EnrollOnce(ctx, cfg)
	if err != nil || st.State != wire.EnrollPending {
		t.Fatalf("enrollment request: %+v %v", st, err)
	}
	return cfg, st
}

// TestEnrollReplaceNeedsFourEyes: with [enroll] four_eyes off (the
// default), one admin cannot give a box submitted from the internet an
// enrolled branch's identity: a replacement is filed and a second admin
// approves it. The pending list shows only a code's prefix (the admin
// types the full code read off the box).
func TestEnrollReplaceNeedsFourEyes(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{})
	cfg, st := enrollingBox(t, e)
	alice := e.signIn(e.addUser("alice", access.Admin))
	bob := e.signIn(e.addUser("bob", access.Admin))

	if _, body := alice.get("/api/v1/enrollments"); strings.Contains(string(body), st.Code) || !strings.Contains(string(body), st.Code[:4]) {
		t.Errorf("the pending list shows the full code (or not its prefix): %s", body)
	}
	var rep map[string]bool
	in := access.ApproveEnrollment{Code: st.Code, Name: "branch-1", Replace: "branch-1's box was stolen"}
	if code, body := alice.do("POST", "/api/v1/enrollments/approve", in, &rep); code != http.StatusOK || rep["approved"] {
		t.Fatalf("one admin's replacement: %d %s, want it filed (not approved)", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if got, err := client.EnrollOnce(ctx, cfg); err != nil || got.State != wire.EnrollPending {
		t.Fatalf("after one admin's replacement the box got: %+v %v", got, err)
	}
	if code, body := alice.do("POST", "/api/v1/enrollments/approve", in, &rep); code == http.StatusOK && rep["approved"] {
		t.Fatalf("the same admin twice approved the replacement: %s", body)
	}
	if code, body := bob.do("POST", "/api/v1/enrollments/approve", in, &rep); code != http.StatusOK || !rep["approved"] {
		t.Fatalf("second admin: %d %s", code, body)
	}
	if got, err := client.EnrollOnce(ctx, cfg); err != nil || got.State != "approved" || got.Name != "branch-1" {
		t.Fatalf("after two admins: %+v %v", got, err)
	}
}

// TestEnrollScopedAdminLearnsNothing: an admin scoped to a branch
// neither lists pending enrollments (codes, sources) nor learns by
// probing which codes exist: a real code and a made-up one are refused
// alike, before any look-up.
func TestEnrollScopedAdminLearnsNothing(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{})
	_, st := enrollingBox(t, e)
	scoped := e.signIn(e.addUser("sally", access.Admin, "branch-1"))
	if resp, body := scoped.get("/api/v1/enrollments"); resp.StatusCode != http.StatusForbidden || strings.Contains(string(body), "127.0.0.1") {
		t.Errorf("a branch-scoped admin lists the pending enrollments: %d %s", resp.StatusCode, body)
	}
	real, _ := scoped.do("POST", "/api/v1/enrollments/approve", access.ApproveEnrollment{Code: st.Code, Name: "branch-9"}, nil)
	fake, _ := scoped.do("POST", "/api/v1/enrollments/approve", access.ApproveEnrollment{Code: "0000-0000-0000-0000", Name: "branch-9"}, nil)
	if real != http.StatusForbidden || fake != http.StatusForbidden {
		t.Errorf("a branch-scoped admin's approvals: %d for a pending code, %d for a made-up one; want 403 for both", real, fake)
	}
	c := e.httpClient()
	webSignIn(t, e, c, e.addUser("sid", access.Admin, "branch-1"))
	resp, err := c.Get(e.web + "/fleet/enroll")
	if err != nil {
		t.Fatal(err)
	}
	if page := readAll(resp); resp.StatusCode != http.StatusForbidden || strings.Contains(page, st.Code[:4]) {
		t.Errorf("a branch-scoped admin's enrollment page: %d", resp.StatusCode)
	}
	// An admin of every branch sees the page, with code prefixes only.
	c = e.httpClient()
	webSignIn(t, e, c, e.addUser("ada", access.Admin))
	resp, err = c.Get(e.web + "/fleet/enroll")
	if err != nil {
		t.Fatal(err)
	}
	if page := readAll(resp); resp.StatusCode != 200 || strings.Contains(page, st.Code) || !strings.Contains(page, st.Code[:4]+"…") {
		t.Errorf("the enrollment page: %d, want the code's prefix only", resp.StatusCode)
	}
}
