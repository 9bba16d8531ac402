package client_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/ca"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault"
)

// rawDo sends one request over mutual TLS with a chosen certificate and
// returns the status and the refusal text (from the header, which a HEAD
// answer carries too).
func (e *env) rawDo(t *testing.T, cert tls.Certificate, method, path string, hdr http.Header, body []byte) (int, string, []byte) {
	t.Helper()
	caPEM, _ := os.ReadFile(filepath.Join(e.enroll, "ca.crt"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}}, Timeout: 30 * time.Second}
	defer hc.CloseIdleConnections()
	req, err := http.NewRequest(method, "https://"+e.addr+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, resp.Header.Get(wire.HeaderError), b
}

// csr is a certificate request for a new key, as the box sends at renewal.
func csr(t *testing.T, name string) ([]byte, *tls.Certificate) {
	key, err := ca.NewKey()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der, &tls.Certificate{PrivateKey: key}
}

// renewRaw renews with cert and returns the new pair (nil and the
// refusal when refused).
func (e *env) renewRaw(t *testing.T, cert tls.Certificate) (*tls.Certificate, int, string) {
	t.Helper()
	req, pair := csr(t, e.box)
	b, _ := json.Marshal(wire.RenewRequest{CSR: req})
	st, msg, body := e.rawDo(t, cert, http.MethodPost, wire.PathRenew, http.Header{"Content-Type": {"application/json"}}, b)
	if st != http.StatusOK {
		return nil, st, msg
	}
	var rep wire.RenewReply
	if err := json.Unmarshal(body, &rep); err != nil {
		t.Fatal(err)
	}
	pair.Certificate = [][]byte{rep.Cert}
	return pair, st, ""
}

// refusedEverywhere asserts that cert is refused with want on every
// endpoint of the ingest API, renewal included.
func (e *env) refusedEverywhere(t *testing.T, cert tls.Certificate, want string) {
	t.Helper()
	js := http.Header{"Content-Type": {"application/json"}}
	jb := func(v any) []byte { b, _ := json.Marshal(v); return b }
	sum := strings.Repeat("ab", 32)
	req, _ := csr(t, e.box)
	for _, c := range []struct {
		method, path string
		hdr          http.Header
		body         []byte
	}{
		{http.MethodPost, wire.PathCheckIn, js, jb(wire.CheckIn{Appliance: e.box, Time: e.clock.Now()})},
		{http.MethodPost, wire.PathAudit, js, jb(wire.AuditUpload{})},
		{http.MethodHead, wire.PathObjects + sum, nil, nil},
		{http.MethodPatch, wire.PathObjects + sum, http.Header{wire.HeaderOffset: {"0"}, wire.HeaderLength: {"4"}}, []byte("data")},
		{http.MethodPost, wire.PathRecords, js, jb(wire.Records{})},
		{http.MethodPost, wire.PathRenew, js, jb(wire.RenewRequest{CSR: req})},
	} {
		st, msg, _ := e.rawDo(t, cert, c.method, c.path, c.hdr, c.body)
		if st != http.StatusForbidden || !strings.Contains(msg, want) {
			t.Errorf("%s %s with a certificate that must be refused: %d %q, want 403 %q", c.method, c.path, st, msg, want)
		}
	}
	if !e.hasAlert("refused", want) {
		t.Errorf("refusal %q not alerted in the archive's trail", want)
	}
}

func (e *env) hasAlert(kind, text string) bool {
	es, err := e.arch.Index.Events(context.Background(), kind, true)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, ev := range es {
		if strings.Contains(ev.Detail, text) {
			return true
		}
	}
	return false
}

func loadPair(t *testing.T, dir string) tls.Certificate {
	t.Helper()
	c, err := tls.LoadX509KeyPair(filepath.Join(dir, "sync.crt"), filepath.Join(dir, "sync.key"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// Issue 19 finding 5: a stolen box's certificate stays refused after the
// name is re-enrolled for its replacement; re-enrolment is an explicit
// replacement that resets the pinned audit key; a certificate of the
// archive's CA for the right name that is not the pinned one is refused;
// renewal moves the pin.
func TestRevocationSticks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	e.record(synth.Config{Calls: 2, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	if err := e.pass(e.client()); err != nil {
		t.Fatal(err)
	}
	stolen := loadPair(t, e.enroll)

	// The box is stolen: revoked, then re-enrolled for the replacement.
	if err := e.arch.Revoke(ctx, e.box, "stolen"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.arch.Enroll(ctx, e.box, filepath.Join(t.TempDir(), "plain"), nil); err == nil || !strings.Contains(err.Error(), "-replace") {
		t.Fatalf("plain re-enrolment of an enrolled name: %v, want a refusal naming -replace", err)
	}
	newDir := filepath.Join(t.TempDir(), "replacement")
	if _, err := e.arch.Replace(ctx, e.box, newDir, nil, "box stolen from the branch"); err != nil {
		t.Fatal(err)
	}
	e.refusedEverywhere(t, stolen, archive.RefuseCertRevoked)
	// The real client with the stolen box's files.
	err := e.pass(e.client())
	var re *client.RemoteError
	if !errors.As(err, &re) || re.Status != http.StatusForbidden || !strings.Contains(re.Msg, archive.RefuseCertRevoked) {
		t.Fatalf("the stolen box's client: %v", err)
	}

	// The replacement: its own vault, hence its own audit key.
	id, _ := age.GenerateX25519Identity()
	v, err := vault.Open(vault.Options{Dir: filepath.Join(t.TempDir(), "vault2"), Recipients: []age.Recipient{id.Recipient()}, Policy: e.policy,
		Now: e.clock.Now, ClockSynced: func() bool { return true }})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	stolenVault := e.v
	e.v = v
	e.record(synth.Config{Calls: 2, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour), Seed: 7})
	e.v = stolenVault
	cfg := e.config()
	cfg.Cert, cfg.Key = filepath.Join(newDir, "sync.crt"), filepath.Join(newDir, "sync.key")
	c, err := client.New(cfg, v)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.pass(c); err != nil {
		t.Fatalf("the replacement box: %v", err)
	}
	if c.State().AnchoredSeq == 0 {
		t.Fatal("the replacement's audit chain was not anchored")
	}
	if !e.hasAlert("audit_key_reset", e.box) {
		t.Fatal("no DPO alert for the audit key reset in the archive's trail")
	}

	// A certificate of the archive's own CA for the right name, but not
	// the pinned one (a copy of the CA's output, a leaked issuance).
	key, _ := ca.NewKey()
	der, err := e.arch.CA.Issue(ca.Client, e.box, nil, key.Public(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	e.refusedEverywhere(t, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, archive.RefuseNotPinned)

	// Renewal pins the new certificate; once it is used, the old one is
	// refused for good.
	before := loadPair(t, newDir)
	e.clock.Add(21 * day)
	if err := e.pass(c); err != nil {
		t.Fatalf("renewing pass: %v", err)
	}
	if after := loadPair(t, newDir); bytes.Equal(after.Certificate[0], before.Certificate[0]) {
		t.Fatal("not renewed")
	}
	e.refusedEverywhere(t, before, archive.RefuseCertRevoked)
	if err := e.pass(c); err != nil {
		t.Fatalf("after renewal: %v", err)
	}
}

// A renewal whose reply was lost: the certificate it renewed may renew
// again (only renew) until its successor is first used; the successor
// that never arrived is then refused.
func TestRenewalReplyLost(t *testing.T) {
	e := newEnv(t)
	p0 := loadPair(t, e.enroll)
	n1, st, msg := e.renewRaw(t, p0)
	if n1 == nil {
		t.Fatalf("renewal: %d %s", st, msg)
	}
	// The box never got n1: it still has p0, which may only renew.
	js := http.Header{"Content-Type": {"application/json"}}
	ci, _ := json.Marshal(wire.CheckIn{Appliance: e.box, Time: e.clock.Now()})
	if st, msg, _ := e.rawDo(t, p0, http.MethodPost, wire.PathCheckIn, js, ci); st != http.StatusForbidden || !strings.Contains(msg, archive.RefuseSuperseded) {
		t.Fatalf("check-in with the renewed certificate: %d %q", st, msg)
	}
	n2, st, msg := e.renewRaw(t, p0)
	if n2 == nil {
		t.Fatalf("renewal retried: %d %s", st, msg)
	}
	if st, msg, _ := e.rawDo(t, *n1, http.MethodPost, wire.PathCheckIn, js, ci); st != http.StatusForbidden || !strings.Contains(msg, archive.RefuseCertRevoked) {
		t.Fatalf("the lost successor: %d %q", st, msg)
	}
	if st, msg, _ := e.rawDo(t, *n2, http.MethodPost, wire.PathCheckIn, js, ci); st != http.StatusOK {
		t.Fatalf("the successor: %d %q", st, msg)
	}
	// n2 was used: p0 is retired for good, renewal included.
	e.refusedEverywhere(t, p0, archive.RefuseCertRevoked)
}

// An archive from before certificates were pinned: the first certificate
// of the archive's CA a box presents is pinned (logged); a name that was
// revoked before then is not pinned on first use but must be replaced.
func TestPinOnFirstUse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	db := e.arch.Index.DB()
	if _, err := db.ExecContext(ctx, `UPDATE appliances SET cert_serial = '', cert_key = '', cert_prev = ''`); err != nil {
		t.Fatal(err)
	}
	p := loadPair(t, e.enroll)
	js := http.Header{"Content-Type": {"application/json"}}
	ci, _ := json.Marshal(wire.CheckIn{Appliance: e.box, Time: e.clock.Now()})
	if st, msg, _ := e.rawDo(t, p, http.MethodPost, wire.PathCheckIn, js, ci); st != http.StatusOK {
		t.Fatalf("first use after the upgrade: %d %q", st, msg)
	}
	if !e.hasEvent("cert_pinned", "first certificate") {
		t.Fatal("pinning on first use not logged")
	}
	key, _ := ca.NewKey()
	der, _ := e.arch.CA.Issue(ca.Client, e.box, nil, key.Public(), time.Hour)
	other := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
	if st, msg, _ := e.rawDo(t, other, http.MethodPost, wire.PathCheckIn, js, ci); st != http.StatusForbidden || !strings.Contains(msg, archive.RefuseNotPinned) {
		t.Fatalf("a second certificate after pinning: %d %q", st, msg)
	}
	// A name revoked (and re-enrolled by the old code) before pinning.
	if _, err := db.ExecContext(ctx, `UPDATE appliances SET cert_serial = '', cert_key = '', cert_prev = ''`); err != nil {
		t.Fatal(err)
	}
	e.arch.Event(ctx, "revoke", "admin", e.box, "stolen", false)
	if st, msg, _ := e.rawDo(t, p, http.MethodPost, wire.PathCheckIn, js, ci); st != http.StatusForbidden || !strings.Contains(msg, "approve -replace") {
		t.Fatalf("first use of a name revoked before pinning: %d %q", st, msg)
	}
}
