//go:build linux

package capture_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/audio"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/ring"
	"github.com/spanvault/spanvault/capture/ring/ringtest"
	"github.com/spanvault/spanvault/capture/sipptest"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/export"
)

const sippShare = "/usr/share/sip-tester"

// sentSamples decodes the A-law payloads of a sipp sample pcap: what sipp
// sends when it plays it.
func sentSamples(t testing.TB, path string) []int16 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []int16
	for {
		data, _, err := r.ReadPacketData()
		if err != nil {
			break
		}
		p := gopacket.NewPacket(data, r.LinkType(), gopacket.Default)
		udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		if udp == nil || len(udp.Payload) <= 12 {
			continue
		}
		out = audio.DecodeALaw(out, udp.Payload[12:])
	}
	return out
}

// TestLiveSipp: sipp places 50 concurrent calls on loopback in a network
// namespace (UDP, some with RFC 2833 DTMF, some over TCP, one re-INVITE
// that moves media to a new port, one rejected with 486); spanvault
// records them live through its own TPACKET_V3 ring; every answered call
// is recorded, the rejected one is not, and the audio of each direction
// is exactly the G.711 sipp sent.
func TestLiveSipp(t *testing.T) {
	if testing.Short() {
		t.Skip("live sipp test skipped in -short mode")
	}
	sipp, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatal("sipp not installed: run scripts/install-deps.sh (Debian package sip-tester)")
	}
	ns := ringtest.NewNetns(t, "svlive")
	dir := t.TempDir()
	scen := func(name string, repl ...string) string {
		b, err := os.ReadFile(filepath.Join("testdata", "sipp", name))
		if err != nil {
			t.Fatal(err)
		}
		s := strings.NewReplacer(repl...).Replace(string(b))
		p := filepath.Join(dir, strings.ReplaceAll(strings.Join(append([]string{name}, repl...), "_"), "/", "-"))
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	g711 := filepath.Join(sippShare, "g711a.pcap")
	dtmf := filepath.Join(sippShare, "dtmf_2833_1.pcap")
	noDTMF := `<nop>
    <action>
      <exec play_pcap_audio="[$dtmf]"/>
    </action>
  </nop>`

	key, _ := age.GenerateX25519Identity()
	v, err := vault.Open(vault.Options{Dir: filepath.Join(dir, "vault"), Recipients: []age.Recipient{key.Recipient()}})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	var mu sync.Mutex
	var done []*calls.Call
	// As the daemon does: the capture goroutine hands finished calls to
	// the vault's writer and never waits for an fsync (a synchronous
	// Finish once let the ring overflow on a busy machine).
	writer := vault.NewAsync(v, 0)
	tr := calls.NewTracker(calls.Config{Linger: 500 * time.Millisecond}, writer, v)
	tr.Done = func(c *calls.Call) { mu.Lock(); done = append(done, c); mu.Unlock() }
	live := &capture.Live{P: capture.NewPipeline(decode.New(decode.DefaultOptions), tr), DecodeOptions: decode.DefaultOptions}
	var rg *ring.Ring
	ns.Do(t, func() {
		rg, err = ring.Open(ring.Config{Interface: "lo", BlockSize: 1 << 20, Blocks: 32, RetireTimeout: 20 * time.Millisecond, PollTimeout: 100 * time.Millisecond})
	})
	if err != nil {
		t.Fatal(err)
	}
	live.Rings = []*ring.Ring{rg}
	ctx, cancel := context.WithCancel(context.Background())
	liveDone := make(chan error, 1)
	go func() { liveDone <- live.Run(ctx) }()

	type run struct {
		args []string
		uas  bool
	}
	uasPlain := scen("uas.xml")
	uacPlain := scen("uac.xml", "[$audio]", g711, noDTMF, "")
	uacDTMF := scen("uac.xml", "[$audio]", g711, "[$dtmf]", dtmf)
	runs := []run{
		{[]string{"-sf", uasPlain, "-i", "127.0.0.1", "-p", "5070", "-mi", "127.0.0.1", "-mp", "20000", "-m", "40"}, true},
		{[]string{"-sf", uasPlain, "-t", "t1", "-i", "127.0.0.1", "-p", "5071", "-mi", "127.0.0.1", "-mp", "24000", "-m", "8"}, true},
		{[]string{"-sf", scen("uas-reinvite.xml"), "-i", "127.0.0.1", "-p", "5072", "-mi", "127.0.0.1", "-mp", "26000", "-m", "1"}, true},
		{[]string{"-sf", scen("uas-busy.xml"), "-i", "127.0.0.1", "-p", "5073", "-m", "1"}, true},
		{[]string{"127.0.0.1:5070", "-sf", uacPlain, "-i", "127.0.0.1", "-p", "6070", "-mi", "127.0.0.1", "-mp", "30000", "-m", "30", "-r", "60", "-l", "50"}, false},
		{[]string{"127.0.0.1:5070", "-sf", uacDTMF, "-i", "127.0.0.1", "-p", "6071", "-mi", "127.0.0.1", "-mp", "34000", "-m", "10", "-r", "60", "-l", "50"}, false},
		{[]string{"127.0.0.1:5071", "-sf", uacPlain, "-t", "t1", "-i", "127.0.0.1", "-p", "6072", "-mi", "127.0.0.1", "-mp", "38000", "-m", "8", "-r", "60", "-l", "50"}, false},
		{[]string{"127.0.0.1:5072", "-sf", scen("uac-reinvite.xml", "[$audio]", g711), "-i", "127.0.0.1", "-p", "6073", "-mi", "127.0.0.1", "-mp", "42000", "-m", "1"}, false},
		{[]string{"127.0.0.1:5073", "-sf", uacPlain, "-i", "127.0.0.1", "-p", "6074", "-mi", "127.0.0.1", "-mp", "44000", "-m", "1"}, false},
	}
	var cmds []*exec.Cmd
	var uacs []*exec.Cmd
	for _, r := range runs {
		args := append([]string{}, r.args...)
		args = append(args, "-nostdin", "-timeout", "60s", "-trace_err", "-error_file", filepath.Join(dir, fmt.Sprintf("sipp-%d.err", len(cmds))))
		cmd := ns.Command(sipp, args...)
		cmd.Dir = dir
		out, _ := os.Create(filepath.Join(dir, fmt.Sprintf("sipp-%d.out", len(cmds))))
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		if !r.uas {
			uacs = append(uacs, cmd)
		} else {
			time.Sleep(100 * time.Millisecond) // let the UAS bind first
		}
	}
	defer func() {
		for _, c := range cmds {
			c.Process.Kill()
			c.Wait()
		}
	}()
	for i, c := range uacs {
		if err := c.Wait(); err != nil {
			logs, _ := filepath.Glob(filepath.Join(dir, "sipp-*"))
			for _, l := range logs {
				b, _ := os.ReadFile(l)
				t.Logf("%s:\n%s", l, b)
			}
			t.Fatalf("sipp caller %d failed: %v", i, err)
		}
	}
	// Let the last BYEs and trailing packets through, then stop.
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		mu.Lock()
		n := len(done)
		mu.Unlock()
		if n >= 50 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-liveDone; err != nil {
		t.Fatal(err)
	}
	live.Mu.Lock()
	st := live.RingStats()
	live.P.Close("ended by shutdown")
	live.Mu.Unlock()
	writer.Close() // every recording sealed before the vault is read
	if st.Drops != 0 || st.Packets == 0 {
		t.Fatalf("kernel counters %+v: want packets and no drops", st)
	}

	if len(done) != 50 {
		t.Fatalf("%d INVITE dialogs seen, want 50", len(done))
	}
	want := sentSamples(t, g711)
	var answered, rejected, tcp, withDTMF, moved int
	for _, c := range done {
		switch {
		case c.State == calls.Rejected:
			rejected++
			if c.Recorded || c.FinalCode != 486 {
				t.Fatalf("rejected call %s: recorded=%v code=%d", c.CallID, c.Recorded, c.FinalCode)
			}
			continue
		case !c.State.Answered():
			t.Fatalf("call %s ended %s (%s)", c.CallID, c.State, c.EndReason)
		}
		answered++
		if !c.Recorded {
			t.Fatalf("answered call %s not recorded: %+v", c.CallID, c.Events)
		}
		if c.Transport["tcp"] {
			tcp++
		}
		for _, e := range c.Events {
			if e.Kind == "dtmf" && e.Digit == "1" {
				withDTMF++
				break
			}
		}
		dsts := map[uint16]bool{}
		for _, s := range c.Streams {
			if s.Dir == calls.AtoB {
				dsts[s.Dst.Port()] = true
			}
		}
		leftWant := 1
		if dsts[7100] {
			moved++
			leftWant = 2 // the caller played the sample before and after the move
		}
		rid, err := v.Resolve(c.CallID, []age.Identity{key})
		if err != nil {
			t.Fatal(err)
		}
		e, _ := v.Get(rid)
		frames, trunc, err := export.Frames(v, rid, []age.Identity{key})
		if err != nil || trunc {
			t.Fatalf("%s: export %v truncated=%v", c.CallID, err, trunc)
		}
		res, err := audio.Render(export.AudioPackets(frames, e.Formats))
		if err != nil {
			t.Fatalf("%s: render: %v", c.CallID, err)
		}
		if n, stray := sipptest.Occurrences(res.Left, want); n != leftWant || stray != 0 {
			for _, s := range c.Streams {
				t.Logf("stream %v ssrc %08x %s->%s pt %d pkts %d lost %d first %v", s.Dir, s.Stats.SSRC, s.Src, s.Dst, s.PT, s.Stats.Packets, s.Stats.Lost(), s.Stats.First.Format("15:04:05.000"))
			}
			t.Fatalf("%s caller channel: the sample appears %d times (want %d), %d stray samples", c.CallID, n, leftWant, stray)
		}
		if n, stray := sipptest.Occurrences(res.Right, want); n != 1 || stray != 0 {
			t.Fatalf("%s callee channel: the sample appears %d times, %d stray samples", c.CallID, n, stray)
		}
	}
	if answered != 49 || rejected != 1 || tcp != 8 || withDTMF != 10 || moved != 1 {
		t.Fatalf("answered %d rejected %d tcp %d dtmf %d moved %d", answered, rejected, tcp, withDTMF, moved)
	}
	t.Logf("50 calls: 49 recorded (8 over TCP, 10 with DTMF, 1 moved by re-INVITE), 1 rejected; ring %+v", st)
}
