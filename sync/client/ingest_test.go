package client_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/BurntSushi/toml"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault"
)

// boxConn speaks the ingest protocol with one box's real certificate.
type boxConn struct {
	t    *testing.T
	e    *env
	name string
	hc   *http.Client
}

// connect returns a connection for the env's own box (enrollDir empty) or
// for a second box enrolled now under name.
func (e *env) connect(t *testing.T, name string) *boxConn {
	t.Helper()
	dir := e.enroll
	if name != e.box {
		r, err := e.arch.Enroll(context.Background(), name, filepath.Join(t.TempDir(), "enroll-"+name), nil)
		if err != nil {
			t.Fatal(err)
		}
		dir = r.Dir
	}
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "sync.crt"), filepath.Join(dir, "sync.key"))
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(filepath.Join(dir, "ca.crt"))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}}
	t.Cleanup(tr.CloseIdleConnections)
	return &boxConn{t: t, e: e, name: name, hc: &http.Client{Transport: tr}}
}

func (b *boxConn) url(path string) string { return "https://" + b.e.addr + path }

// head asks what the archive holds of sum for this box.
func (b *boxConn) head(sum string) (int64, bool) {
	b.t.Helper()
	req, _ := http.NewRequest(http.MethodHead, b.url(wire.PathObjects+sum), nil)
	resp, err := b.hc.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.t.Fatalf("HEAD %s as %s: %d", sum, b.name, resp.StatusCode)
	}
	off, _ := strconv.ParseInt(resp.Header.Get(wire.HeaderOffset), 10, 64)
	return off, resp.Header.Get(wire.HeaderComplete) == "1"
}

// patchReq builds a PATCH of body at off of an object of length bytes
// (body of unknown length: sent chunked, flushed as written).
func (b *boxConn) patchReq(ctx context.Context, sum string, off, length int64, body io.Reader) *http.Request {
	req, err := http.NewRequestWithContext(ctx, http.MethodPatch, b.url(wire.PathObjects+sum), body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set(wire.HeaderOffset, strconv.FormatInt(off, 10))
	req.Header.Set(wire.HeaderLength, strconv.FormatInt(length, 10))
	req.Header.Set("Content-Type", "application/offset+octet-stream")
	return req
}

// patch sends body and returns the status and the error text.
func (b *boxConn) patch(sum string, off, length int64, body []byte) (int, string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	resp, err := b.hc.Do(b.patchReq(ctx, sum, off, length, bytes.NewReader(body)))
	if err != nil {
		b.t.Fatalf("PATCH as %s: %v", b.name, err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, resp.Header.Get(wire.HeaderError)
}

// records posts a batch and returns the acks.
func (b *boxConn) records(recs ...wire.Record) []wire.Ack {
	b.t.Helper()
	body, _ := json.Marshal(wire.Records{Records: recs})
	resp, err := b.hc.Post(b.url(wire.PathRecords), "application/json", bytes.NewReader(body))
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	var rep wire.RecordsReply
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&rep) != nil || len(rep.Acks) != len(recs) {
		b.t.Fatalf("records as %s: %d %s", b.name, resp.StatusCode, resp.Header.Get(wire.HeaderError))
	}
	return rep.Acks
}

// sealed is a small age file (a real sealed recording's form) and its address.
func (e *env) sealed(t *testing.T, n int) ([]byte, string) {
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, e.identity.Recipient())
	if err != nil {
		t.Fatal(err)
	}
	w.Write(bytes.Repeat([]byte{'a'}, n))
	w.Close()
	s := sha256.Sum256(buf.Bytes())
	return buf.Bytes(), hex.EncodeToString(s[:])
}

// syncedRecording records calls on the env's box, syncs them, and returns
// one synced recording's entry and its sealed bytes.
func (e *env) syncedRecording(t *testing.T) (*vault.Entry, []byte) {
	t.Helper()
	e.record(synth.Config{Calls: 2, Duration: 2 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	pend, _ := e.v.PendingSync(0)
	if err := e.pass(e.client()); err != nil {
		t.Fatal(err)
	}
	for _, en := range pend {
		if en.SHA256 == "" {
			continue
		}
		p, err := e.v.RecordingPath(en.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return en, b
	}
	t.Fatal("no recording synced")
	return nil, nil
}

// setConfig restarts the archive with fields of archive.toml changed.
func (e *env) setConfig(t *testing.T, fields map[string]any) {
	t.Helper()
	e.stopArchive()
	path := filepath.Join(e.dir, "archive.toml")
	var m map[string]any
	if _, err := toml.DecodeFile(path, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range fields {
		m[k] = v
	}
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	e.startArchive()
}

func (e *env) alerted(kind, text string) bool {
	es, err := e.arch.Index.Events(context.Background(), kind, false)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, ev := range es {
		if ev.Alert && strings.Contains(ev.Detail, text) {
			return true
		}
	}
	return false
}

func recordOf(en *vault.Entry, id string) wire.Record {
	return wire.Record{ID: id, Kind: wire.KindRecording, Start: en.Start, Class: en.Class, Recorded: true,
		Size: en.Size, SHA256: en.SHA256, Entry: wire.RawEntry(wire.KindRecording, []byte(`{}`))}
}

// Issue 19 finding 4 (a, c): box A cannot make box B's object its own:
// neither by naming it in a record nor by uploading the same bytes; HEAD
// answers A nothing of B's.
func TestIngestOwnershipOtherBoxObject(t *testing.T) {
	e := newEnv(t)
	en, file := e.syncedRecording(t)
	a := e.connect(t, "branch-2")

	// (c) HEAD says nothing is held for A.
	if off, complete := a.head(en.SHA256); complete || off != 0 {
		t.Fatalf("HEAD as branch-2 for branch-1's object: offset %d complete %v", off, complete)
	}
	// (a) A names B's object in its own record.
	acks := a.records(recordOf(en, "stolen1"))
	if acks[0].OK || !strings.Contains(acks[0].Error, "another appliance") {
		t.Fatalf("record naming another box's object: %+v", acks[0])
	}
	if !e.alerted("ownership_conflict", en.SHA256) {
		t.Fatal("conflicting claim not alerted")
	}
	// A uploads B's very bytes (a copy of the sealed file), then names them.
	if code, msg := a.patch(en.SHA256, 0, int64(len(file)), file); code != http.StatusConflict {
		t.Fatalf("upload of another box's object: %d %q", code, msg)
	}
	acks = a.records(recordOf(en, "stolen2"))
	if acks[0].OK {
		t.Fatalf("record after re-uploading another box's bytes: %+v", acks[0])
	}
	rs, err := e.arch.Index.Records(context.Background(), index.Query{Appliance: "branch-2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 0 {
		t.Fatalf("branch-2 holds %d records naming branch-1's object: %+v", len(rs), rs[0])
	}
	// B's own record naming its object again (a repeat) is fine.
	b := e.connect(t, e.box)
	if acks := b.records(recordOf(en, en.ID)); !acks[0].OK {
		t.Fatalf("the owner's repeat: %+v", acks[0])
	}
}

// Issue 19 finding 4 (b): a box's record cannot lower a held object's
// retention or clear its hold, on the directory store and on S3 with
// Object Lock.
func TestIngestRecordCannotLowerRetention(t *testing.T) {
	for _, st := range []string{"dir", "s3"} {
		t.Run(st, func(t *testing.T) {
			if st == "s3" {
				t.Setenv("SPANVAULT_TEST_STORE", "s3")
			} else {
				t.Setenv("SPANVAULT_TEST_STORE", "")
			}
			e := newEnv(t)
			ctx := context.Background()
			en, _ := e.syncedRecording(t)
			if _, err := e.arch.Command(ctx, e.box, wire.CmdHold, en.ID, false, "case 7", "bob"); err != nil {
				t.Fatal(err)
			}
			before, err := e.arch.Store.Stat(ctx, en.SHA256)
			if err != nil || !before.Hold {
				t.Fatalf("hold not in the store: %+v %v", before, err)
			}
			b := e.connect(t, e.box)
			old := recordOf(en, en.ID)
			old.Start = time.Date(1976, 1, 1, 0, 0, 0, 0, time.UTC)
			again := old
			again.ID = en.ID + "x"
			b.records(old, again)
			after, err := e.arch.Store.Stat(ctx, en.SHA256)
			if err != nil {
				t.Fatal(err)
			}
			if !after.Hold || after.RetainUntil.Before(before.RetainUntil) {
				t.Fatalf("the box's record changed the store: hold %v, retain until %s (was %s)", after.Hold, after.RetainUntil, before.RetainUntil)
			}
			rs, _ := e.arch.Index.Records(ctx, index.Query{SHA256: en.SHA256, Kind: wire.KindRecording})
			for _, r := range rs {
				if r.ID == en.ID && !r.Hold {
					t.Fatal("index lost the hold")
				}
			}
			// A hold the archive commands before a recording arrives
			// applies to its object when it does.
			e.record(synth.Config{Calls: 1, Duration: 2 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
			pend, _ := e.v.PendingSync(0)
			var next *vault.Entry
			for _, p := range pend {
				if p.SHA256 != "" {
					next = p
				}
			}
			if _, err := e.arch.Command(ctx, e.box, wire.CmdHold, next.ID, false, "case 8", "bob"); err != nil {
				t.Fatal(err)
			}
			if err := e.pass(e.client()); err != nil {
				t.Fatal(err)
			}
			if in, err := e.arch.Store.Stat(ctx, next.SHA256); err != nil || !in.Complete || !in.Hold {
				t.Fatalf("held before it arrived: %+v %v", in, err)
			}
		})
	}
}

// Issue 19 finding 4 (c, d): partials are per box: HEAD answers nothing of
// another box's partial, and bytes another box sends under the same
// address cannot poison the owner's resume.
func TestIngestPartialsPerBox(t *testing.T) {
	e := newEnv(t)
	e.record(synth.Config{Calls: 1, Duration: 3 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	pend, _ := e.v.PendingSync(0)
	var en *vault.Entry
	for _, p := range pend {
		if p.SHA256 != "" {
			en = p
		}
	}
	if en == nil {
		t.Fatal("nothing recorded")
	}
	a := e.connect(t, "branch-2")
	b := e.connect(t, e.box)
	// B's partial: A sees nothing of it.
	path, _ := e.v.RecordingPath(en.ID)
	file, _ := os.ReadFile(path)
	if code, msg := b.patch(en.SHA256, 0, en.Size, file[:100]); code != http.StatusNoContent {
		t.Fatalf("B's first part: %d %s", code, msg)
	}
	if off, complete := a.head(en.SHA256); off != 0 || complete {
		t.Fatalf("HEAD as branch-2 for branch-1's partial: offset %d complete %v", off, complete)
	}
	// A sends garbage at the address, at its own offset 0 or at B's.
	a.patch(en.SHA256, 0, en.Size, bytes.Repeat([]byte{'x'}, 500))
	a.patch(en.SHA256, 100, en.Size, bytes.Repeat([]byte{'x'}, 500))
	if off, _ := b.head(en.SHA256); off != 100 {
		t.Fatalf("B's partial moved to %d by another box's bytes", off)
	}
	c := e.client()
	if err := e.pass(c); err != nil {
		t.Fatalf("B's resume poisoned: %v", err)
	}
	if c.State().ResumedBytes != 100 {
		t.Fatalf("resumed %d bytes, B held 100", c.State().ResumedBytes)
	}
	e.checkAllArrived()
}

// Issue 19 finding 8 (e): a stalled PATCH from one box does not hold
// another box's small upload.
func TestIngestStalledUploadDoesNotBlockOthers(t *testing.T) {
	e := newEnv(t)
	a := e.connect(t, "branch-2")
	b := e.connect(t, e.box)
	big, bigSum := e.sealed(t, 64<<10)
	small, smallSum := e.sealed(t, 14)
	half := int64(len(big) / 2)

	pr, pw := io.Pipe()
	defer pw.Close()
	done := make(chan int, 1)
	go func() {
		resp, err := a.hc.Do(a.patchReq(context.Background(), bigSum, 0, int64(len(big)), pr))
		if err != nil {
			done <- -1
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	if _, err := pw.Write(big[:half]); err != nil {
		t.Fatal(err)
	}
	// Wait until the archive holds A's first half (A then stalls).
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if off, _ := a.head(bigSum); off == half {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("A's first half never arrived")
		}
	}
	// B's small upload completes while A is still stalled.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := b.hc.Do(b.patchReq(ctx, smallSum, 0, int64(len(small)), bytes.NewReader(small)))
	if err != nil {
		t.Fatalf("branch-1's 14-byte upload held by branch-2's stalled PATCH: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("small upload: %d %s", resp.StatusCode, resp.Header.Get(wire.HeaderError))
	}
	select {
	case code := <-done:
		t.Fatalf("A's request ended (%d) before B's completed: not a stall", code)
	default:
	}
	// A resumes and finishes.
	if _, err := pw.Write(big[half:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if code := <-done; code != http.StatusCreated {
		t.Fatalf("A's upload after the stall: %d", code)
	}
}

// Issue 19 finding 8 (f): a stalled request is cut by the read deadline
// (short here), keeping what arrived.
func TestIngestStalledUploadIsCut(t *testing.T) {
	e := newEnv(t)
	e.setConfig(t, map[string]any{"upload_stall": "1s", "upload_min_rate": "1KiB"})
	a := e.connect(t, "branch-2")
	big, bigSum := e.sealed(t, 64<<10)
	half := int64(len(big) / 2)
	pr, pw := io.Pipe()
	defer pw.Close()
	type result struct {
		code int
		msg  string
	}
	done := make(chan result, 1)
	go func() {
		resp, err := a.hc.Do(a.patchReq(context.Background(), bigSum, 0, int64(len(big)), pr))
		if err != nil {
			done <- result{-1, err.Error()}
			return
		}
		resp.Body.Close()
		done <- result{resp.StatusCode, resp.Header.Get(wire.HeaderError)}
	}()
	if _, err := pw.Write(big[:half]); err != nil {
		t.Fatal(err)
	}
	// Then nothing: the archive must end the request by itself.
	select {
	case r := <-done:
		if r.code != http.StatusRequestTimeout || !strings.Contains(r.msg, "stalled") {
			t.Fatalf("stalled upload ended with %d %q", r.code, r.msg)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a stalled PATCH was still open after 20s with upload_stall = 1s")
	}
	if off, _ := a.head(bigSum); off != half {
		t.Fatalf("after the cut the archive holds %d of the %d bytes that arrived", off, half)
	}
	// A message sent half and stalled is cut the same way.
	body, _ := json.Marshal(wire.Records{Records: []wire.Record{{ID: "x1", Kind: wire.KindCDR, Entry: wire.RawEntry(wire.KindCDR, []byte(`{}`))}}})
	pr2, pw2 := io.Pipe()
	defer pw2.Close()
	go func() {
		req, _ := http.NewRequest(http.MethodPost, a.url(wire.PathRecords), pr2)
		req.ContentLength = int64(len(body))
		resp, err := a.hc.Do(req)
		if err != nil {
			done <- result{-1, err.Error()}
			return
		}
		resp.Body.Close()
		done <- result{resp.StatusCode, resp.Header.Get(wire.HeaderError)}
	}()
	if _, err := pw2.Write(body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if r.code == http.StatusOK {
			t.Fatalf("a stalled message was taken: %d %q", r.code, r.msg)
		}
		t.Logf("stalled message: %d %q", r.code, r.msg)
	case <-time.After(20 * time.Second):
		t.Fatal("a stalled POST was still open after 20s with upload_stall = 1s")
	}
}

// Issue 19 finding 8 (g): an upload over max_recording is refused 413
// before any byte is written; a box's unfinished partials are bounded by
// partial_quota (other boxes unaffected).
func TestIngestUploadLimits(t *testing.T) {
	e := newEnv(t)
	e.setConfig(t, map[string]any{"max_recording": "64KiB", "partial_quota": "80KiB"})
	a := e.connect(t, "branch-2")
	b := e.connect(t, e.box)
	_, s1 := e.sealed(t, 10)
	if code, msg := a.patch(s1, 0, 1<<40, bytes.Repeat([]byte{'x'}, 1000)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("Upload-Length 1 TiB: %d %q", code, msg)
	}
	if code, msg := a.patch(s1, 0, 64<<10+1, bytes.Repeat([]byte{'x'}, 1000)); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("Upload-Length over max_recording: %d %q", code, msg)
	}
	if off, _ := a.head(s1); off != 0 {
		t.Fatalf("a refused upload left %d bytes", off)
	}
	if des, _ := os.ReadDir(filepath.Join(e.partialDir(), "..", "branch-2")); len(des) != 0 {
		t.Fatalf("a refused upload left a partial: %v", des)
	}
	// 40 KiB held of one upload; a second of 50 KiB exceeds 80 KiB.
	f1, sum1 := e.sealed(t, 50<<10)
	f2, sum2 := e.sealed(t, 50<<10)
	if code, msg := a.patch(sum1, 0, int64(len(f1)), f1[:40<<10]); code != http.StatusNoContent {
		t.Fatalf("first partial: %d %q", code, msg)
	}
	if code, msg := a.patch(sum2, 0, int64(len(f2)), f2); code != http.StatusInsufficientStorage || !strings.Contains(msg, "quota") {
		t.Fatalf("over the partial quota: %d %q", code, msg)
	}
	if off, _ := a.head(sum2); off != 0 {
		t.Fatalf("a refused upload left %d bytes", off)
	}
	if code, msg := b.patch(sum2, 0, int64(len(f2)), f2); code != http.StatusCreated {
		t.Fatalf("another box's upload under its own quota: %d %q", code, msg)
	}
	// A finishes its first upload; then the second fits.
	if code, msg := a.patch(sum1, 40<<10, int64(len(f1)), f1[40<<10:]); code != http.StatusCreated {
		t.Fatalf("finishing: %d %q", code, msg)
	}
	f3, sum3 := e.sealed(t, 50<<10)
	if code, msg := a.patch(sum3, 0, int64(len(f3)), f3); code != http.StatusCreated {
		t.Fatalf("after finishing: %d %q", code, msg)
	}
}

// Issue 19 finding 8 (h): partials idle over partial_ttl (a day by
// default) are swept; younger ones stay.
func TestIngestPartialSweep(t *testing.T) {
	e := newEnv(t)
	if got := time.Duration(e.arch.Config.PartialTTL); got != 24*time.Hour {
		t.Fatalf("default partial_ttl %s, want 24h", got)
	}
	a := e.connect(t, "branch-2")
	f, s := e.sealed(t, 10<<10)
	if code, msg := a.patch(s, 0, int64(len(f)), f[:1000]); code != http.StatusNoContent {
		t.Fatalf("partial: %d %q", code, msg)
	}
	ctx := context.Background()
	e.clock.Add(23 * time.Hour)
	if n, err := e.arch.SweepPartials(ctx); err != nil || n != 0 {
		t.Fatalf("after 23h idle: swept %d (%v)", n, err)
	}
	if off, _ := a.head(s); off != 1000 {
		t.Fatalf("partial lost after 23h: %d", off)
	}
	e.clock.Add(2 * time.Hour)
	if n, err := e.arch.SweepPartials(ctx); err != nil || n != 1 {
		t.Fatalf("after 25h idle: swept %d (%v)", n, err)
	}
	if off, _ := a.head(s); off != 0 {
		t.Fatalf("partial kept after 25h idle: %d", off)
	}
}
