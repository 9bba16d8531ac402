package client_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/ca"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
)

// enrollConfig is a new box's zero-touch configuration for e's archive.
func (e *env) enrollConfig(t *testing.T) client.EnrollConfig {
	sum := sha256.Sum256(e.arch.CA.Cert.Raw)
	e.arch.Config.Advertise = []string{e.addr} // it listens on a port of its choosing
	return client.EnrollConfig{Archives: []string{e.addr}, CAFingerprint: "sha256:" + hex.EncodeToString(sum[:]), Dir: filepath.Join(t.TempDir(), "enroll")}
}

func enrollOnce(t *testing.T, cfg client.EnrollConfig) (client.EnrollState, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return client.EnrollOnce(ctx, cfg)
}

// enrolledClient is the sync client an approved box runs with.
func (e *env) enrolledClient(t *testing.T, dir, name string) *client.Client {
	c, err := client.New(client.Config{Name: name, Archives: []string{e.addr},
		Cert: filepath.Join(dir, "sync.crt"), Key: filepath.Join(dir, "sync.key"), CA: filepath.Join(dir, "ca.crt"),
		AnchorKey: filepath.Join(dir, "anchor.vkey"), Now: e.clock.Now}, e.v)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestEnrollApproveSync: a box with no certificate asks (TLS pinned to the
// CA fingerprint), is pending with its code; a code typed wrong approves
// nothing; the right one does, and the box syncs a recorded call with
// what it received.
func TestEnrollApproveSync(t *testing.T) {
	e := newEnv(t)
	cfg := e.enrollConfig(t)
	// The box may not have the archive's own address or a name of its
	// choosing in its API certificate (a server certificate of the CA).
	cfg.Hosts = []string{"127.0.0.1", "10.9.8.7", "archive.example"}
	st, err := enrollOnce(t, cfg)
	if err != nil || st.State != wire.EnrollPending || wire.NormalizeCode(st.Code) != st.Code {
		t.Fatalf("first request: %+v %v", st, err)
	}
	if again, err := enrollOnce(t, cfg); err != nil || again.Code != st.Code || again.State != wire.EnrollPending {
		t.Fatalf("second request: %+v %v", again, err)
	}
	ctx := context.Background()
	// Wrong codes: one character off, a code of another length, garbage.
	wrong := []byte(st.Code)
	wrong[len(wrong)-1] ^= 1
	for _, c := range []string{string(wrong), st.Code[:14], "", "'; DROP TABLE enrollments; --"} {
		if err := e.arch.Approve(ctx, c, "branch-new", "admin", ""); !errors.Is(err, archive.ErrEnrollCode) {
			t.Fatalf("approve %q: %v", c, err)
		}
	}
	if _, err := e.arch.Index.Appliance(ctx, "branch-new"); !errors.Is(err, index.ErrUnknown) {
		t.Fatalf("a wrong code enrolled the name: %v", err)
	}
	if st, err := enrollOnce(t, cfg); err != nil || st.State != wire.EnrollPending {
		t.Fatalf("after wrong codes: %+v %v", st, err)
	}
	// A name enrolled already is refused without -replace.
	if err := e.arch.Approve(ctx, st.Code, e.box, "admin", ""); err == nil || !strings.Contains(err.Error(), "enrolled already") {
		t.Fatalf("approve as an enrolled name: %v", err)
	}
	// As typed by a person: lower case, no dashes, O for 0.
	typed := strings.ToLower(strings.ReplaceAll(st.Code, "-", ""))
	if err := e.arch.Approve(ctx, strings.ReplaceAll(typed, "0", "o"), "branch-new", "admin", ""); err != nil {
		t.Fatal(err)
	}
	if err := e.arch.Approve(ctx, st.Code, "branch-other", "admin", ""); err == nil {
		t.Fatal("a code approved twice")
	}
	got, err := enrollOnce(t, cfg)
	if err != nil || got.State != "approved" || got.Name != "branch-new" {
		t.Fatalf("after approval: %+v %v", got, err)
	}
	api, err := ca.ReadCert(filepath.Join(cfg.Dir, "api.crt"))
	if err != nil || strings.Join(api.DNSNames, ",") != "branch-new" || len(api.IPAddresses) != 1 || api.IPAddresses[0].String() != "10.9.8.7" {
		t.Fatalf("API certificate for %v %v (%v)", api.DNSNames, api.IPAddresses, err)
	}
	b, err := os.ReadFile(filepath.Join(cfg.Dir, client.EnrolledFile))
	if err != nil || !strings.Contains(string(b), `name = "branch-new"`) || !strings.Contains(string(b), e.addr) {
		t.Fatalf("enrolled section: %v\n%s", err, b)
	}
	e.record(synth.Config{Calls: 2, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	c := e.enrolledClient(t, cfg.Dir, "branch-new")
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	rs, err := e.arch.Index.Records(ctx, index.Query{Appliance: "branch-new", Kind: wire.KindRecording})
	if err != nil || len(rs) != 2 {
		t.Fatalf("archive holds %d recordings of the enrolled box: %v", len(rs), err)
	}
	evs, _ := e.arch.Index.Events(ctx, "", false)
	var kinds []string
	for _, ev := range evs {
		if ev.Appliance == "branch-new" {
			kinds = append(kinds, ev.Kind)
		}
	}
	if j := strings.Join(kinds, " "); !strings.Contains(j, "enroll_approved") || !strings.Contains(j, "enroll_delivered") {
		t.Fatalf("trail: %s", j)
	}
}

// TestEnrollPinnedCA: a box built for another archive (another CA
// fingerprint) sends nothing to this one.
func TestEnrollPinnedCA(t *testing.T) {
	e := newEnv(t)
	cfg := e.enrollConfig(t)
	cfg.CAFingerprint = "sha256:" + strings.Repeat("ab", 32)
	if _, err := enrollOnce(t, cfg); err == nil || !strings.Contains(err.Error(), "ca_fingerprint") {
		t.Fatalf("another CA: %v", err)
	}
	if n, _ := e.arch.Index.CountPendingEnrollments(context.Background(), e.clock.Now()); n != 0 {
		t.Fatalf("%d requests recorded", n)
	}
}

// TestEnrollExpires: an unapproved request expires: its code approves
// nothing, and the box starts over with a new key and code.
func TestEnrollExpires(t *testing.T) {
	e := newEnv(t)
	cfg := e.enrollConfig(t)
	st, err := enrollOnce(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(archive.EnrollTTL + time.Minute)
	if err := e.arch.Approve(context.Background(), st.Code, "branch-late", "admin", ""); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("approving an expired request: %v", err)
	}
	if _, err := e.arch.Index.Appliance(context.Background(), "branch-late"); !errors.Is(err, index.ErrUnknown) {
		t.Fatalf("an expired code enrolled the name: %v", err)
	}
	if _, err := enrollOnce(t, cfg); !errors.Is(err, client.ErrEnrollExpired) {
		t.Fatalf("the box is not told: %v", err)
	}
	next, err := enrollOnce(t, cfg)
	if err != nil || next.State != wire.EnrollPending || next.Code == st.Code {
		t.Fatalf("starting over: %+v (old code %s) %v", next, st.Code, err)
	}
	if err := e.arch.Approve(context.Background(), next.Code, "branch-late", "admin", ""); err != nil {
		t.Fatal(err)
	}
}

// TestEnrollReplacement: a new box for an enrolled name goes through the
// explicit replacement: the old box's certificate is refused for good.
func TestEnrollReplacement(t *testing.T) {
	e := newEnv(t)
	old := e.client()
	if err := e.pass(old); err != nil {
		t.Fatal(err)
	}
	cfg := e.enrollConfig(t)
	st, err := enrollOnce(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := e.arch.Approve(ctx, st.Code, e.box, "admin", "branch-1's box was stolen"); err != nil {
		t.Fatal(err)
	}
	if got, err := enrollOnce(t, cfg); err != nil || got.Name != e.box {
		t.Fatalf("%+v %v", got, err)
	}
	err = e.pass(old)
	var re *client.RemoteError
	if !errors.As(err, &re) || re.Status != http.StatusForbidden || !strings.Contains(re.Msg, archive.RefuseCertRevoked) {
		t.Fatalf("the replaced box: %v", err)
	}
	// The new box's own vault (a fresh one) syncs as the name.
	if err := e.pass(e.enrolledClient(t, cfg.Dir, e.box)); err != nil {
		t.Fatal(err)
	}
	evs, _ := e.arch.Index.Events(ctx, "replace", true)
	found := false
	for _, ev := range evs {
		found = found || ev.Appliance == e.box
	}
	if !found {
		t.Fatal("the replacement is not alerted")
	}
}

// TestEnrollRateLimited: requests beyond the endpoint's limit are refused
// before anything is parsed.
func TestEnrollRateLimited(t *testing.T) {
	e := newEnv(t)
	refused := 0
	for i := 0; i < 30; i++ {
		_, err := enrollOnce(t, e.enrollConfig(t))
		var re *client.RemoteError
		if errors.As(err, &re) && re.Status == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused == 0 {
		t.Fatal("30 requests at once from one address were all served")
	}
}

// TestEnrollFourEyes: with [enroll] four_eyes, one admin's approval is
// filed and approves nothing; the same admin again approves nothing; a
// second admin's approval of the same code and name approves.
func TestEnrollFourEyes(t *testing.T) {
	e := newEnv(t)
	e.arch.Config.Enroll.FourEyes = true
	cfg := e.enrollConfig(t)
	st, err := enrollOnce(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if ok, err := e.arch.ApproveFourEyes(ctx, st.Code, "branch-4e", "alice", ""); ok || err != nil {
		t.Fatalf("first admin: %v %v", ok, err)
	}
	if ok, err := e.arch.ApproveFourEyes(ctx, st.Code, "branch-4e", "alice", ""); ok || err == nil {
		t.Fatalf("the same admin twice: %v %v", ok, err)
	}
	if got, err := enrollOnce(t, cfg); err != nil || got.State != wire.EnrollPending {
		t.Fatalf("after one admin: %+v %v", got, err)
	}
	if _, err := e.arch.Index.Appliance(ctx, "branch-4e"); !errors.Is(err, index.ErrUnknown) {
		t.Fatalf("one admin enrolled the name: %v", err)
	}
	if ok, err := e.arch.ApproveFourEyes(ctx, st.Code, "branch-4e", "bob", ""); !ok || err != nil {
		t.Fatalf("second admin: %v %v", ok, err)
	}
	if got, err := enrollOnce(t, cfg); err != nil || got.State != "approved" || got.Name != "branch-4e" {
		t.Fatalf("after two admins: %+v %v", got, err)
	}
}
