package access_test

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/keyring"
	"github.com/spanvault/spanvault/capture/synth"
)

// identityFile writes id as age-keygen does (comment lines, then the key
// line), mode 0600.
func identityFile(t *testing.T, id *age.X25519Identity) string {
	p := filepath.Join(t.TempDir(), "identity.txt")
	text := fmt.Sprintf("# created: 2026-01-02T03:04:05Z\n# public key: %s\n%s\n", id.Recipient(), id)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// serveAnother starts a second access service on e's archive with keys
// (a restart of the service with another identity source) and returns an
// env whose web address is the new service's, and Serve's result.
func (e *env) serveAnother(t *testing.T, keys *keyring.Keyring) (*env, chan error) {
	svc := access.New(e.a, keys)
	wl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- svc.Serve(ctx, wl) }()
	t.Cleanup(func() { cancel(); <-done; wl.Close() })
	e2 := *e
	e2.svc, e2.web, e2.keys = svc, "https://"+wl.Addr().String(), keys
	errs := make(chan error, 1)
	go func() {
		// Serve returns at once when it refuses to start.
		select {
		case err := <-done:
			errs <- err
			done <- err
		case <-ctx.Done():
		}
	}()
	return &e2, errs
}

// Issue 19 finding 7: the archive served with the identity file (comment
// lines included) and with $SPANVAULT_ARCHIVE_IDENTITY (the key line only)
// has the same blind index: number search, the subject report and
// streaming links work across the switch.
func TestKeysFromKeyMaterial(t *testing.T) {
	e := newEnv(t, nil) // keys from the key line, as the variable gives them
	start := e.clock.Now().Add(-3 * time.Hour)
	e.addBox("branch-1", synth.Config{Calls: 14, Concurrent: 4, Duration: 2 * time.Second, Start: start})
	comp := e.addUser("comp", access.Compliance, "branch-1")
	dpo := e.addUser("dpo", access.DPO)
	crm := e.addUser("crm", access.CRM, "branch-1")
	search := func(e *env, u *user, n string) []string { return searchNumber(t, e, u, n) }
	subject := func(e *env, n string) []string {
		t.Helper()
		var rep access.SubjectReport
		if st, body := e.signIn(dpo).do("POST", "/api/v1/subject", access.SubjectQuery{Numbers: []string{n}}, &rep); st != 200 {
			t.Fatalf("subject report: %d %s", st, body)
		}
		return keys(rep.Items)
	}
	hits, report := search(e, comp, number(12)), subject(e, number(12))
	if len(hits) == 0 || len(report) == 0 {
		t.Fatalf("nothing found for %s with the key line: %v %v", number(12), hits, report)
	}
	var l access.Link
	if st, body := e.signIn(crm).do("POST", "/api/v1/links", access.MintLink{Recording: hits[0], TTL: "10m"}, &l); st != 200 {
		t.Fatal(st, body)
	}

	// The same identity from its file, comments and all.
	k2, err := keyring.Load(identityFile(t, e.identity))
	if err != nil {
		t.Fatal(err)
	}
	if k2.Term("number", number(12)) != e.keys.Term("number", number(12)) {
		t.Error("the identity file and its key line give different blind-index terms")
	}
	e2, _ := e.serveAnother(t, k2)
	if got := search(e2, comp, number(12)); !slices.Equal(got, hits) {
		t.Errorf("number search serving the identity file: %v, with the key line %v", got, hits)
	}
	if got := subject(e2, number(12)); !slices.Equal(got, report) {
		t.Errorf("subject report serving the identity file: %v, with the key line %v", got, report)
	}
	anon := &api{e: e2, http: e2.httpClient()}
	if resp, _ := anon.get(e2.web + l.URL[strings.Index(l.URL, "/l/"):]); resp.StatusCode != 200 {
		t.Errorf("a link minted with the key line, served with the identity file: %d", resp.StatusCode)
	}
}

// A different identity on an index with a key check: the service refuses
// to start and says which identity it was given and which it expects.
func TestKeyCheckRefusesAnotherIdentity(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 2, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	e.signIn(e.addUser("comp", access.Compliance, "branch-1")) // the first service is up: its key check is stored
	other, _ := age.GenerateX25519Identity()
	k, err := keyring.Load(identityFile(t, other))
	if err != nil {
		t.Fatal(err)
	}
	_, errs := e.serveAnother(t, k)
	select {
	case err := <-errs:
		msg := fmt.Sprint(err)
		t.Log(msg)
		for _, want := range []string{other.Recipient().String(), e.identity.Recipient().String(), "not this archive's identity"} {
			if !strings.Contains(msg, want) {
				t.Errorf("refusal %q does not say %q", msg, want)
			}
		}
	case <-time.After(time.Minute):
		t.Fatal("the access service started with another identity")
	}
}

// searchNumber searches by number and returns the IDs found, sorted.
func searchNumber(t *testing.T, e *env, u *user, n string) []string {
	t.Helper()
	var out struct {
		Recordings []access.Hit `json:"recordings"`
	}
	if st, body := e.signIn(u).do("GET", "/api/v1/recordings?number="+url.QueryEscape(n), nil, &out); st != 200 {
		t.Fatalf("search: %d %s", st, body)
	}
	var ids []string
	for _, h := range out.Recordings {
		ids = append(ids, h.ID)
	}
	slices.Sort(ids)
	return ids
}

// An archive from before key checks whose blind index was written with
// keys derived from the identity file's text: the first start with the
// identity stores the check and rebuilds the blind index, and search
// finds what it found before.
func TestKeyCheckUpgradeRebuilds(t *testing.T) {
	e := newEnv(t, nil)
	e.addBox("branch-1", synth.Config{Calls: 14, Concurrent: 4, Duration: 2 * time.Second, Start: e.clock.Now().Add(-3 * time.Hour)})
	comp := e.addUser("comp", access.Compliance, "branch-1")
	want := searchNumber(t, e, comp, number(12))
	if len(want) == 0 {
		t.Fatal("nothing found")
	}
	// The old state: no key check, terms under the old derivation (the
	// whole file's text as the secret).
	file := identityFile(t, e.identity)
	text, _ := os.ReadFile(file)
	legacy, err := keyring.New([]age.Identity{e.identity}, []byte(strings.TrimSpace(string(text))))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, q := range []string{`DELETE FROM key_checks`, `DELETE FROM search_terms`, `DELETE FROM search_facts`} {
		if _, err := e.a.Index.DB().ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := access.New(e.a, legacy).IndexPending(ctx); err != nil || n == 0 {
		t.Fatalf("legacy indexing: %d %v", n, err)
	}
	k, err := keyring.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	e2, errs := e.serveAnother(t, k)
	go func() {
		if err := <-errs; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	if got := searchNumber(t, e2, comp, number(12)); !slices.Equal(got, want) {
		t.Fatalf("after the upgrade: %v, before %v", got, want)
	}
	if e.events("blind_index_rebuild", "access", "") != 1 {
		t.Fatal("the rebuild is not in the archive's trail")
	}
}
