package client_test

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/ca"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/audit"
)

// hasEvent reports whether the archive's trail holds an event of kind
// whose detail contains text.
func (e *env) hasEvent(kind, text string) bool {
	es, err := e.arch.Index.Events(context.Background(), kind, false)
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

// rawClient makes TLS requests with a chosen certificate and version.
func (e *env) rawPost(t *testing.T, cert *tls.Certificate, maxVersion uint16, path string, body any) (int, string, error) {
	caPEM, _ := os.ReadFile(filepath.Join(e.enroll, "ca.crt"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tc := &tls.Config{RootCAs: pool, MaxVersion: maxVersion}
	if cert != nil {
		tc.Certificates = []tls.Certificate{*cert}
	}
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 10 * time.Second}
	b, _ := json.Marshal(body)
	resp, err := hc.Post("https://"+e.addr+path, "application/json", strings.NewReader(string(b)))
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var er wire.ErrorReply
	json.NewDecoder(io.LimitReader(resp.Body, 1<<16)).Decode(&er)
	return resp.StatusCode, er.Error, nil
}

// otherCA makes a certificate for the box's name from a CA the archive
// does not know.
func otherCA(t *testing.T, name string) *tls.Certificate {
	dir := t.TempDir()
	c, err := ca.Create(dir, "rogue")
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ca.NewKey()
	der, err := c.Issue(ca.Client, name, nil, key.Public(), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// Acceptance 4: every refusal, with its text on the box's side and an
// audit entry at the archive.
func TestRefusals(t *testing.T) {
	e := newEnv(t)
	good, err := tls.LoadX509KeyPair(filepath.Join(e.enroll, "sync.crt"), filepath.Join(e.enroll, "sync.key"))
	if err != nil {
		t.Fatal(err)
	}
	checkin := wire.CheckIn{Appliance: e.box, Time: time.Now()}

	t.Run("no client certificate", func(t *testing.T) {
		code, msg, err := e.rawPost(t, nil, 0, wire.PathCheckIn, checkin)
		if err != nil || code != 401 || msg != archive.RefuseNoCert {
			t.Fatalf("%d %q %v", code, msg, err)
		}
		if !e.hasEvent("refused", archive.RefuseNoCert) {
			t.Fatal("not audited")
		}
	})
	t.Run("certificate from another CA", func(t *testing.T) {
		code, msg, err := e.rawPost(t, otherCA(t, e.box), 0, wire.PathCheckIn, checkin)
		if err != nil || code != 403 || !strings.Contains(msg, archive.RefuseOtherCA) {
			t.Fatalf("%d %q %v", code, msg, err)
		}
		if !e.hasEvent("refused", archive.RefuseOtherCA) {
			t.Fatal("not audited")
		}
	})
	t.Run("name does not match", func(t *testing.T) {
		code, msg, err := e.rawPost(t, &good, 0, wire.PathCheckIn, wire.CheckIn{Appliance: "branch-2", Time: time.Now()})
		if err != nil || code != 403 || !strings.Contains(msg, archive.RefuseName) {
			t.Fatalf("%d %q %v", code, msg, err)
		}
		if !e.hasEvent("refused", archive.RefuseName) {
			t.Fatal("not audited")
		}
	})
	t.Run("TLS below 1.3", func(t *testing.T) {
		_, _, err := e.rawPost(t, &good, tls.VersionTLS12, wire.PathCheckIn, checkin)
		if err == nil || !strings.Contains(err.Error(), "protocol version") {
			t.Fatalf("TLS 1.2: %v", err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for !e.hasEvent("refused", "TLS handshake error") {
			if time.Now().After(deadline) {
				t.Fatal("handshake refusal not audited")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("clock far off: told, alerted, data still accepted", func(t *testing.T) {
		cfg := e.config()
		cfg.Now = func() time.Time { return e.clock.Now().Add(-3 * time.Hour) }
		c, err := client.New(cfg, e.v)
		if err != nil {
			t.Fatal(err)
		}
		e.record(synth.Config{Calls: 2, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
		if err := e.pass(c); err != nil {
			t.Fatal(err)
		}
		if sk := c.State().ClockSkew; sk > -3*3600+60 || sk < -3*3600-60 {
			t.Fatalf("skew %v", sk)
		}
		if !e.hasEvent("clock_skew", "box clock differs") {
			t.Fatal("skew not alerted")
		}
		if p, _ := e.v.PendingSync(0); len(p) != 0 {
			t.Fatalf("%d not synced", len(p))
		}
	})
	t.Run("expired beyond the renewal bound", func(t *testing.T) {
		e.clock.Add(30*day + 61*day)
		defer e.clock.Add(-(30*day + 61*day))
		err := e.pass(e.client())
		var re *client.RemoteError
		if !errors.As(err, &re) || re.Status != 403 || !strings.Contains(re.Msg, archive.RefuseExpired) {
			t.Fatalf("%v", err)
		}
		if !e.hasEvent("refused", archive.RefuseExpired) {
			t.Fatal("not audited")
		}
	})
	t.Run("revoked", func(t *testing.T) {
		if err := e.arch.Revoke(context.Background(), e.box, "stolen"); err != nil {
			t.Fatal(err)
		}
		err := e.pass(e.client())
		var re *client.RemoteError
		if !errors.As(err, &re) || re.Status != 403 || !strings.Contains(re.Msg, archive.RefuseRevoked) {
			t.Fatalf("%v", err)
		}
		if !strings.Contains(err.Error(), "appliance is revoked: branch-1") {
			t.Fatalf("box-side message %q", err)
		}
		if !e.hasEvent("refused", archive.RefuseRevoked) {
			t.Fatal("not audited")
		}
	})
}

// Acceptance 7: renewal before expiry while running; after expiry within
// the bound; refused beyond it or when revoked.
func TestCertificateRenewal(t *testing.T) {
	e := newEnv(t)
	c := e.client()
	first := c.State().CertNotAfter
	// Before two thirds of the lifetime: no renewal.
	e.clock.Add(15 * day)
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	if c.State().CertNotAfter != first {
		t.Fatal("renewed too early")
	}
	// Past two thirds: renewed while running, new key on disk.
	keyBefore, _ := os.ReadFile(filepath.Join(e.enroll, "sync.key"))
	e.clock.Add(6 * day)
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	second := c.State().CertNotAfter
	keyAfter, _ := os.ReadFile(filepath.Join(e.enroll, "sync.key"))
	if !second.After(first) || string(keyBefore) == string(keyAfter) {
		t.Fatalf("not renewed: %v -> %v", first, second)
	}
	if fi, _ := os.Stat(filepath.Join(e.enroll, "sync.key")); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key mode %v", fi.Mode())
	}
	// Offline past expiry, within the 60-day bound: renews on return.
	e.clock.Add(30*day + 20*day)
	c2 := e.client()
	if err := e.pass(c2); err != nil {
		t.Fatalf("return within the bound: %v", err)
	}
	third := c2.State().CertNotAfter
	if !third.After(e.clock.Now()) {
		t.Fatalf("certificate still expired: %v", third)
	}
	// Beyond the bound: refused.
	e.clock.Add(30*day + 61*day)
	err := e.pass(e.client())
	var re *client.RemoteError
	if !errors.As(err, &re) || !strings.Contains(re.Msg, archive.RefuseExpired) {
		t.Fatalf("beyond the bound: %v", err)
	}
	// Revoked: renewal refused too.
	e.clock.Add(-(30*day + 61*day))
	e.arch.Revoke(context.Background(), e.box, "decommissioned")
	if err := e.client().Renew(context.Background()); err == nil || !strings.Contains(err.Error(), archive.RefuseRevoked) {
		t.Fatalf("revoked renewal: %v", err)
	}
}

// Acceptance 5: erase, hold, release and pull-now issued at the archive
// take effect on the box at the next check-in, audited on both sides; an
// erase the box refuses (legal hold) comes back refused with the reason.
func TestCommands(t *testing.T) {
	e := newEnv(t)
	e.record(synth.Config{Calls: 4, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
	c := e.client()
	// Outside the window: a check-in only.
	ctx := context.Background()
	if err := c.Pass(ctx, client.Options{}); err != nil {
		t.Fatal(err)
	}
	es, _ := e.v.PendingSync(0)
	if len(es) != 4 {
		t.Fatalf("%d pending", len(es))
	}
	// Pull now: everything pending arrives at the next check-in.
	if _, err := e.arch.Command(ctx, e.box, wire.CmdPull, "", true, "auditor asked", "alice"); err != nil {
		t.Fatal(err)
	}
	if err := c.Pass(ctx, client.Options{}); err != nil {
		t.Fatal(err)
	}
	e.checkAllArrived()
	ids := []string{es[0].ID, es[1].ID, es[2].ID}
	// Hold one, erase another, and erase one the box holds locally.
	if _, err := e.v.Hold(ids[2], "local dispute", "dpo"); err != nil {
		t.Fatal(err)
	}
	mustCmd := func(kind, id string) int64 {
		n, err := e.arch.Command(ctx, e.box, kind, id, false, "case 42", "bob")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	hold := mustCmd(wire.CmdHold, ids[0])
	erase := mustCmd(wire.CmdErase, ids[1])
	refused := mustCmd(wire.CmdErase, ids[2])
	if _, err := e.arch.Command(ctx, e.box, wire.CmdErase, ids[0], false, "", "bob"); err == nil {
		t.Fatal("the archive queued an erase of a recording it holds on legal hold")
	}
	if err := c.Pass(ctx, client.Options{}); err != nil {
		t.Fatal(err)
	}
	cmds, _ := e.arch.Index.Commands(ctx, e.box, false)
	byID := map[int64]index.Command{}
	for _, cm := range cmds {
		byID[cm.ID] = cm
	}
	if r := byID[hold]; r.Result != wire.ResultApplied || r.DeliveredAt.IsZero() {
		t.Fatalf("hold: %+v", r)
	}
	if r := byID[erase]; r.Result != wire.ResultApplied {
		t.Fatalf("erase: %+v", r)
	}
	if r := byID[refused]; r.Result != wire.ResultRefused || !strings.Contains(r.ResultReason, "legal hold") {
		t.Fatalf("erase under hold: %+v", r)
	}
	if en, _ := e.v.Get(ids[0]); !en.Held() {
		t.Fatal("hold not applied on the box")
	}
	if _, err := e.v.Get(ids[1]); !errors.Is(err, vault.ErrNotFound) {
		t.Fatalf("erase not applied on the box: %v", err)
	}
	// Audited on the box under the archive's name...
	ents, _ := e.v.AuditEntries(1, 1000)
	var sawHold, sawErase bool
	for _, a := range ents {
		sawHold = sawHold || a.Action == audit.Hold && a.Actor == "archive:bob"
		sawErase = sawErase || a.Action == audit.Erasure && a.Actor == "archive:bob"
	}
	if !sawHold || !sawErase {
		t.Fatal("commands not audited on the box")
	}
	// ... and at the archive, where the erased copy is gone too.
	if !e.hasEvent("command_applied", fmt.Sprint(erase)) || !e.hasEvent("command_refused", "legal hold") || !e.hasEvent("erased_at_archive", ids[1]) {
		t.Fatal("command results not audited at the archive")
	}
	rows := e.archiveRows()
	if !rows[ids[0]+"/recording"].Hold {
		t.Fatal("archive copy not held")
	}
	if _, _, err := e.arch.Store.Open(ctx, rows[ids[1]+"/recording"].SHA256); err == nil {
		t.Fatal("archive still serves the erased recording")
	}
	// Release.
	rel := mustCmd(wire.CmdRelease, ids[0])
	if err := c.Pass(ctx, client.Options{}); err != nil {
		t.Fatal(err)
	}
	cmds, _ = e.arch.Index.Commands(ctx, e.box, false)
	for _, cm := range cmds {
		if cm.ID == rel && cm.Result != wire.ResultApplied {
			t.Fatalf("release: %+v", cm)
		}
	}
	if en, _ := e.v.Get(ids[0]); en.Held() {
		t.Fatal("release not applied on the box")
	}
}

// rewriteChain plays the thief who holds the box's signing key: keep the
// first keep audit entries, append add new ones and sign the new head.
func rewriteChain(t *testing.T, dir string, keep uint64, add int) {
	seed, err := os.ReadFile(filepath.Join(dir, "appliance.key"))
	if err != nil {
		t.Fatal(err)
	}
	key := ed25519.NewKeyFromSeed(seed)
	db, err := bolt.Open(filepath.Join(dir, "vault.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(audit.BucketEntries)
		var dels [][]byte
		c := b.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if seq := uint64(k[0])<<56 | uint64(k[1])<<48 | uint64(k[2])<<40 | uint64(k[3])<<32 | uint64(k[4])<<24 | uint64(k[5])<<16 | uint64(k[6])<<8 | uint64(k[7]); seq > keep {
				dels = append(dels, append([]byte(nil), k...))
			}
		}
		for _, k := range dels {
			b.Delete(k)
		}
		a, err := audit.Begin(tx, key)
		if err != nil {
			return err
		}
		for i := 0; i < add; i++ {
			if _, err := a.Add(audit.Entry{Time: time.Now(), Action: "export", Actor: "nobody", Detail: fmt.Sprint("rewritten ", i)}); err != nil {
				return err
			}
		}
		if add == 0 {
			// Re-sign the shorter chain's head.
			last, _ := audit.List(tx, keep, 1)
			h := audit.Head{Seq: keep, Hash: last[0].Hash}
			h.Signature = ed25519.Sign(key, audit.HeadMessage(h))
			hj, _ := json.Marshal(h)
			return tx.Bucket(audit.BucketHead).Put([]byte("head"), hj)
		}
		return a.Commit()
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Acceptance 6: a chain rewritten, truncated or forked after anchoring is
// detected at the archive and alerted, even though the thief re-signed it.
func TestAnchoringDetectsTampering(t *testing.T) {
	for _, tc := range []struct {
		name      string
		keepBack  uint64 // entries before the anchored head kept
		add       int
		wantInMsg string
	}{
		{"rewritten", 3, 6, "does not extend"},
		{"truncated", 3, 0, "truncated"},
		{"forked", 1, 1, "rewritten"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.record(synth.Config{Calls: 3, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour)})
			c := e.client()
			if err := e.pass(c); err != nil {
				t.Fatal(err)
			}
			anchored := c.State().AnchoredSeq
			if anchored == 0 {
				t.Fatal("nothing anchored")
			}
			e.v.Close()
			rewriteChain(t, e.vdir, anchored-tc.keepBack, tc.add)
			e.openVault()
			if _, err := e.v.VerifyAudit(); err != nil {
				t.Fatalf("the re-signed chain should verify locally: %v", err)
			}
			err := e.pass(e.client())
			var re *client.RemoteError
			if !errors.As(err, &re) || re.Status != 409 || !strings.Contains(re.Msg, tc.wantInMsg) {
				t.Fatalf("archive accepted a tampered chain: %v", err)
			}
			es, _ := e.arch.Index.Events(context.Background(), "audit_tampered", true)
			if len(es) == 0 {
				t.Fatal("no alert at the archive")
			}
		})
	}
}
