package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault"
)

// archiveRows maps "id/kind" to the archive's rows for the box.
func (e *env) archiveRows() map[string]index.Record {
	e.t.Helper()
	rs, err := e.arch.Index.Records(context.Background(), index.Query{Appliance: e.box})
	if err != nil {
		e.t.Fatal(err)
	}
	m := map[string]index.Record{}
	for _, r := range rs {
		k := r.ID + "/" + r.Kind
		if _, dup := m[k]; dup {
			e.t.Fatalf("archive holds %s twice", k)
		}
		m[k] = r
	}
	return m
}

// checkAllArrived: every finished vault entry is at the archive exactly
// once, recordings with the same hash and size, and marked synced here.
func (e *env) checkAllArrived() {
	e.t.Helper()
	es, err := e.v.List()
	if err != nil {
		e.t.Fatal(err)
	}
	rows := e.archiveRows()
	n := 0
	for _, en := range es {
		if en.State == vault.StateRecording {
			continue
		}
		kind := wire.KindCDR
		if en.Recorded && en.State != vault.StateCDR {
			kind = wire.KindRecording
		}
		r, ok := rows[en.ID+"/"+kind]
		if !ok {
			e.t.Fatalf("%s (%s) did not reach the archive", en.ID, kind)
		}
		if kind == wire.KindRecording && (r.SHA256 != en.SHA256 || r.Size != en.Size) {
			e.t.Fatalf("%s: archive holds %s/%d, box %s/%d", en.ID, r.SHA256, r.Size, en.SHA256, en.Size)
		}
		if en.Sync != vault.SyncAcked {
			e.t.Fatalf("%s not marked synced on the box (%s)", en.ID, en.Sync)
		}
		n++
	}
	if n == 0 {
		e.t.Fatal("nothing to compare")
	}
	rep, err := e.arch.Verify(context.Background())
	if err != nil || len(rep.Problems) > 0 {
		e.t.Fatalf("archive verify: %v %v", err, rep.Problems)
	}
}

// Acceptance 1: a thousand recordings from a real vault (generated and
// corpus captures) reach the archive, hashes verified, all marked synced;
// retention then deletes the local copies after the grace period and not
// before, and the tombstones reach the archive, which keeps its copies.
func TestThousandRecordingsArriveAndRetentionWaitsForGrace(t *testing.T) {
	e := newEnv(t)
	start := e.clock.Now().Add(-time.Hour)
	e.record(synth.Config{Calls: 1000, Concurrent: 100, Duration: time.Second, Start: start, Rejected: 20, Seed: 1})
	for _, f := range []string{"sipp__g711a.pcap", "rtppcap__sip-rtp-g722.pcap", "rtppcap__SIP_DTMF2.pcap", "heplify__example_pcap_sip_ipv4_tcp.pcap"} {
		if p := corpus(f); p != "" {
			e.recordFile(p)
		}
	}
	pending, _ := e.v.PendingSync(0)
	recorded := 0
	for _, en := range pending {
		if en.Recorded {
			recorded++
		}
	}
	if recorded < 1000 {
		t.Fatalf("only %d recordings to sync", recorded)
	}
	c := e.client()
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	e.checkAllArrived()
	if st := c.State(); st.Backlog != 0 || st.Uploaded != len(pending) || st.AnchoredSeq == 0 || st.TreeSize == 0 {
		t.Fatalf("state %+v, %d pending before", st, len(pending))
	}

	// Grace is 7 days from the acknowledgement for class default, 30
	// for mifid (numbers +4930555000x).
	synthIDs, mifid := map[string]bool{}, map[string]bool{}
	es, _ := e.v.List()
	for _, en := range es {
		if en.Recorded && !en.Start.Before(start) {
			switch en.Class {
			case "default":
				synthIDs[en.ID] = true
			case "mifid":
				mifid[en.ID] = true
			}
		}
	}
	if len(synthIDs) == 0 || len(mifid) == 0 {
		t.Fatalf("%d default and %d mifid recordings", len(synthIDs), len(mifid))
	}
	e.clock.Add(6 * day)
	if _, err := e.v.Sweep(); err != nil {
		t.Fatal(err)
	}
	for id := range synthIDs {
		if en, err := e.v.Get(id); err != nil || en.State == vault.StateErased {
			t.Fatalf("%s deleted before its grace period: %v", id, err)
		}
	}
	e.clock.Add(2 * day)
	if _, err := e.v.Sweep(); err != nil {
		t.Fatal(err)
	}
	for id := range synthIDs {
		if _, err := e.v.Get(id); !errors.Is(err, vault.ErrNotFound) {
			t.Fatalf("%s still held after its grace period: %v", id, err)
		}
	}
	for id := range mifid {
		if _, err := e.v.Get(id); err != nil {
			t.Fatalf("mifid %s deleted inside its 30-day grace: %v", id, err)
		}
	}
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	rows := e.archiveRows()
	for id := range synthIDs {
		if _, ok := rows[id+"/"+wire.KindTombstone]; !ok {
			t.Fatalf("tombstone of %s did not reach the archive", id)
		}
		// The box let its copy go; the archive keeps its own for the
		// archive's class (issue 19): removed from the box, not erased.
		r := rows[id+"/"+wire.KindRecording]
		if !r.DeletedAt.IsZero() || r.RemovedFromBoxAt.IsZero() {
			t.Fatalf("archive shows %s erased (%v) or still on the box (removed %v) after the box's grace period", id, r.DeletedAt, r.RemovedFromBoxAt)
		}
	}
}

// cutProxy forwards TCP to target and cuts the first connections after
// they carried cut bytes from the client.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     gosync.Mutex
	cuts   int // connections still to cut
	cut    int64
}

func newCutProxy(t *testing.T, target string, cuts int, cut int64) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, cuts: cuts, cut: cut}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	return p
}

func (p *cutProxy) serve(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer s.Close()
	go io.Copy(c, s)
	p.mu.Lock()
	cutting := p.cuts > 0
	p.mu.Unlock()
	if !cutting {
		io.Copy(s, c)
		return
	}
	// Connections that carry more than cut bytes are cut there, until
	// cuts of them were.
	if _, err := io.CopyN(s, c, p.cut); err != nil {
		return // the client closed first
	}
	p.mu.Lock()
	if p.cuts <= 0 {
		p.mu.Unlock()
		io.Copy(s, c)
		return
	}
	p.cuts--
	p.mu.Unlock()
	// Return: both ends close mid-transfer, the link is cut.
}

// Acceptance 2 (link cut, archive restarted, box killed after the ack):
// every recording arrives exactly once and transfer resumes from the byte
// it stopped at, as the archive's byte counter shows.
func TestResumeAfterCutsAndRestarts(t *testing.T) {
	for _, cut := range []int64{100 << 10, 400 << 10, 900 << 10} {
		t.Run(fmt.Sprintf("cut at %d KiB", cut>>10), func(t *testing.T) {
			e := newEnv(t)
			e.record(synth.Config{Calls: 3, Duration: 60 * time.Second, Start: e.clock.Now().Add(-time.Hour), Seed: uint64(cut)})
			pending, _ := e.v.PendingSync(0)
			var total int64
			for _, en := range pending {
				total += en.Size
			}
			proxy := newCutProxy(t, e.addr, 2, cut)
			cfg := e.config()
			cfg.Archives = []string{proxy.ln.Addr().String()}
			c, err := client.New(cfg, e.v)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.pass(c); err == nil {
				t.Fatal("pass through a cut link succeeded")
			}
			// The archive restarts between attempts.
			e.stopArchive()
			e.startArchive()
			for i := 0; i < 4; i++ {
				if err := e.pass(c); err == nil {
					break
				} else if i == 3 {
					t.Fatal(err)
				}
			}
			e.checkAllArrived()
			ap, err := e.arch.Index.Appliance(context.Background(), e.box)
			if err != nil {
				t.Fatal(err)
			}
			if ap.BytesReceived != total {
				t.Fatalf("archive received %d bytes for %d bytes of recordings: resumed transfers did not start where they stopped", ap.BytesReceived, total)
			}
			if c.State().ResumedBytes == 0 {
				t.Fatal("no upload resumed")
			}
		})
	}
}

// The box dies after the archive acknowledged but before its own vault
// recorded it: the next pass is acknowledged again, nothing duplicated.
func TestCrashBetweenAckAndAcknowledge(t *testing.T) {
	e := newEnv(t)
	e.record(synth.Config{Calls: 20, Duration: time.Second, Start: e.clock.Now().Add(-time.Hour), Rejected: 3})
	c := e.client()
	crash := errors.New("killed")
	c.SetFailpoint(func() error { return crash })
	if err := e.pass(c); !errors.Is(err, crash) {
		t.Fatalf("pass: %v", err)
	}
	if p, _ := e.v.PendingSync(0); len(p) != 23 {
		t.Fatalf("%d pending after the crash, want 23", len(p))
	}
	before := len(e.archiveRows())
	c2 := e.client()
	if err := e.pass(c2); err != nil {
		t.Fatal(err)
	}
	if after := len(e.archiveRows()); after != before {
		t.Fatalf("archive rows %d -> %d: duplicated", before, after)
	}
	e.checkAllArrived()
}

// A full archive store refuses with 507 and nothing is acknowledged; the
// box retries once there is room.
func TestArchiveDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	e := newEnv(t)
	// Move the store onto a 1 MiB tmpfs (on S3: its staging directory).
	store := filepath.Join(e.dir, "store")
	if os.Getenv("SPANVAULT_TEST_STORE") == "s3" {
		store = filepath.Join(e.dir, "staging")
	}
	e.stopArchive()
	os.RemoveAll(store)
	os.MkdirAll(store, 0o700)
	if out, err := runCmd("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", store); err != nil {
		t.Skipf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { runCmd("umount", "-l", store) })
	e.startArchive()
	e.record(synth.Config{Calls: 4, Duration: 30 * time.Second, Start: e.clock.Now().Add(-time.Hour)})
	c := e.client()
	err := e.pass(c)
	if err == nil || !strings.Contains(err.Error(), "archive storage full") {
		t.Fatalf("pass into a full store: %v", err)
	}
	es, _ := e.v.List()
	for _, en := range es {
		if en.Sync == vault.SyncAcked && en.Recorded {
			// Acknowledged ones must be whole at the archive.
			rc, _, err := e.arch.Store.Open(context.Background(), en.SHA256)
			if err != nil {
				t.Fatalf("%s acknowledged but not stored: %v", en.ID, err)
			}
			rc.Close()
		}
	}
	// Room again: everything arrives.
	runCmd("mount", "-o", "remount,size=64m", store)
	if err := e.pass(c); err != nil {
		t.Fatal(err)
	}
	e.checkAllArrived()
}
