//go:build linux

package appliance_test

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"golang.org/x/sys/unix"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/audio"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/decode"
	"github.com/spanvault/spanvault/capture/ring/ringtest"
	"github.com/spanvault/spanvault/capture/sipptest"
	"github.com/spanvault/spanvault/vault"
	"github.com/spanvault/spanvault/vault/export"
	"github.com/spanvault/spanvault/vault/sealed"
)

// Addresses of the hostile test. The legitimate calls run between
// 127.0.0.1 and 127.0.0.1 (the reference capture keeps exactly those);
// every attack comes from another loopback address.
var (
	legit     = netip.MustParseAddr("127.0.0.1")
	scanner   = netip.MustParseAddr("127.0.0.9")  // INVITE flood and burst
	idleSrc   = netip.MustParseAddr("127.0.0.2")  // idle connections
	fragSrc   = netip.MustParseAddr("127.0.0.7")  // never-completed fragments
	tcpSrc    = netip.MustParseAddr("127.0.0.8")  // TCP SIP that never ends
	sdpSrc    = netip.MustParseAddr("127.0.0.10") // SDPs with thousands of m= lines
	hijackSrc = netip.MustParseAddr("127.0.0.11") // the two-packet hijack
	spoofSrc  = netip.MustParseAddr("127.0.0.12") // spoofed RTP and DTMF
)

const (
	hostileCalls  = 40
	hostileHold   = 34 * time.Second
	victimCaller  = 46000 // the victim call's media ports, fixed in its SDPs
	victimCallee  = 26000
	floodRate     = 5000
	floodFor      = 8 * time.Second
	burstINVITEs  = 20000
	idleConns     = 20000
	fragments     = 60000
	tcpStreams    = 1000
	sdpBombs      = 300
	sdpBombLines  = 2000
	spoofedRTP    = 3000
	spoofedDTMF   = 600
	hostileBudget = 64 << 20
)

// TestHostileTraffic: 40 legitimate sipp calls (and one victim call) run
// while the box is attacked, one attack after another and overlapping: a
// sustained unanswered-INVITE flood (5,000/s with distinct Call-IDs), a
// burst of 20,000 INVITEs to local extensions that expire together,
// 20,000 idle connections to the status port, 60,000 never-completed IPv4
// fragments, 1,000 TCP SIP streams that never end a message, 300 SDPs of
// 2,000 media lines, the two-packet hijack of the victim's media, and
// spoofed RTP and DTMF into its live ports. Against an independent
// capture (dumpcap) of the legitimate traffic: every legitimate call is
// recorded, with every RTP packet the wire carried, in the right call;
// the victim's audio is its own; the daemon's peak RSS stays within the
// memory budget plus its rings plus a fixed allowance; the status page and
// the LED report the attack, and nothing reports a recording error.
func TestHostileTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test skipped in -short mode")
	}
	ns := ringtest.NewNetns(t, "svhostile")
	b := newBox(t, ns, "")
	cfg, _ := os.ReadFile(b.cfg)
	cfg = []byte(strings.Replace(string(cfg), `extensions = ["2xxx"]`, fmt.Sprintf(`extensions = ["2xxx"]
dialog_timeout = "10s"
memory_budget = "%dMiB"`, hostileBudget>>20), 1))
	os.WriteFile(b.cfg, cfg, 0o600)
	b.start()
	work := t.TempDir()

	// The reference: every legitimate UDP packet, whole.
	ref := filepath.Join(work, "ref.pcapng")
	dumpcap := ns.Command("dumpcap", "-q", "-i", "lo", "-B", "256", "-w", ref, "-f", "udp and src host 127.0.0.1 and dst host 127.0.0.1")
	dumpcap.Stderr = os.Stderr
	if err := dumpcap.Start(); err != nil {
		t.Fatalf("dumpcap: %v", err)
	}
	t.Cleanup(func() { dumpcap.Process.Kill(); dumpcap.Wait() })
	time.Sleep(time.Second)

	raw := filepath.Join(work, "g711a.raw")
	sample := rawALaw(t, "/usr/share/sip-tester/g711a.pcap", raw)
	uasScen := loadScenario(t, work, "uas.xml", raw, hostileHold, "")
	uacScen := loadScenario(t, work, "uac.xml", raw, hostileHold, "")
	victimUAS := loadScenario(t, work, "uas.xml", raw, hostileHold, strconv.Itoa(victimCallee))
	victimUAC := loadScenario(t, work, "uac.xml", raw, hostileHold, strconv.Itoa(victimCaller))

	uas := sipp(t, ns, "-sf", uasScen, "-i", "127.0.0.1", "-p", "5070", "-mi", "127.0.0.1", "-mp", "20000", "-m", strconv.Itoa(hostileCalls))
	vuas := sipp(t, ns, "-sf", victimUAS, "-i", "127.0.0.1", "-p", "5072", "-mi", "127.0.0.1", "-mp", "28000", "-m", "1")
	time.Sleep(300 * time.Millisecond)
	uac := sipp(t, ns, "127.0.0.1:5070", "-sf", uacScen, "-s", "3001", "-i", "127.0.0.1", "-p", "6070", "-mi", "127.0.0.1", "-mp", "40000",
		"-m", strconv.Itoa(hostileCalls), "-l", strconv.Itoa(hostileCalls), "-r", "20")
	vuac := sipp(t, ns, "127.0.0.1:5072", "-sf", victimUAC, "-s", "3002", "-i", "127.0.0.1", "-p", "6072", "-mi", "127.0.0.1", "-mp", "48000", "-m", "1")
	b.waitFor("the victim call to be answered", 15*time.Second, func() bool { return b.callState("3002") == "answered" })
	time.Sleep(time.Second)

	var attackers sync.WaitGroup
	attack := func(name string, f func() error) {
		attackers.Add(1)
		go func() {
			defer attackers.Done()
			if err := f(); err != nil {
				t.Errorf("attack %s: %v", name, err)
			}
		}()
	}
	t.Cleanup(func() {
		if t.Failed() {
			os.MkdirAll("../build/artifacts", 0o755)
			if b, err := os.ReadFile(ref); err == nil {
				os.WriteFile("../build/artifacts/hostile-ref.pcapng", b, 0o644)
			}
		}
	})
	var held heldConns
	t.Cleanup(held.close)
	// A diary of the box's figures, second by second, for a diagnosis.
	stopDiary := make(chan struct{})
	diaryDone := make(chan struct{})
	go func() {
		defer close(diaryDone)
		var last string
		for {
			select {
			case <-stopDiary:
				return
			case <-time.After(time.Second):
			}
			resp, err := b.client.Get(b.url + "/api/status")
			if err != nil {
				continue
			}
			var st map[string]any
			json.NewDecoder(resp.Body).Decode(&st)
			resp.Body.Close()
			line := fmt.Sprintf("drops %v in progress %v backlog %v shed %v", num(st, "capture", "kernel_drops"), num(st, "calls", "in_progress"), num(st, "calls", "writer_backlog"), st["capture"].(map[string]any)["shed"])
			if line != last {
				t.Logf("t=%4.1fs %s", time.Since(start).Seconds(), line)
				last = line
			}
		}
	}()
	defer func() { close(stopDiary); <-diaryDone }()
	phase := func(at time.Duration) { time.Sleep(time.Until(start.Add(at))) }
	start = time.Now()
	attack("INVITE flood", func() error { return inviteFlood(t, ns, floodRate, floodFor) })
	attack("hijack", func() error { phase(time.Second); return hijack(t, ns) })
	attack("spoofed media", func() error { phase(2 * time.Second); return spoofMedia(t, ns) })
	phase(floodFor)
	attack("INVITE burst", func() error { return inviteBurst(t, ns, burstINVITEs) })
	phase(floodFor + 2*time.Second)
	attack("idle connections", func() error { return idle(t, ns, idleConns) })
	attack("fragments", func() error { phase(floodFor + 4*time.Second); return fragmentFlood(t, ns, fragments) })
	attack("TCP", func() error { phase(floodFor + 6*time.Second); return tcpFlood(t, ns, &held, tcpStreams) })
	attack("SDP", func() error { phase(floodFor + 8*time.Second); return sdpBomb(t, ns, sdpBombs, sdpBombLines) })
	attackers.Wait()
	if t.Failed() {
		t.FailNow()
	}

	// The attack is reported while recording goes on.
	st := b.status()
	atk, _ := st["attack"].(map[string]any)
	signs := fmt.Sprint(atk["signs"])
	for _, want := range []string{"hijack", "spoofed media", "status page refused", "INVITE flood", "memory budget"} {
		if !strings.Contains(signs, want) {
			t.Errorf("attack signs %s lack %q", signs, want)
		}
	}
	if st["led"] != "attack" || st["healthy"] != false || atk["seen"] != true {
		t.Errorf("status during the attack: LED %v, healthy %v, attack %v", st["led"], st["healthy"], atk)
	}
	if num(st, "calls", "record_errors") != 0 {
		t.Errorf("recording errors under attack: %v", st["calls"])
	}
	page := b.page()
	for _, want := range []string{"Recording, under attack", `id="attack-signs"`, "hijack attempt"} {
		if !strings.Contains(page, want) {
			t.Errorf("status page lacks %q", want)
		}
	}

	uac.wait(t)
	vuac.wait(t)
	uas.wait(t)
	vuas.wait(t)
	b.waitFor("every legitimate call to be recorded", 60*time.Second, func() bool {
		return num(b.status(), "calls", "recorded_since_start") >= hostileCalls+1
	})
	st = b.status()
	rss := peakRSS(t, b.cmd.Process.Pid)
	rings := int64(2 * 256 * 256 << 10) // fanout 2 x the default 256 blocks of 256 KiB
	const rest = 128 << 20
	t.Logf("daemon peak RSS %d MiB (budget %d MiB + rings %d MiB + %d MiB for the rest); kernel drops %v; shed %v; writer shed %v; claims refused %v; anomalies %v; status connections refused %v",
		rss>>20, hostileBudget>>20, rings>>20, rest>>20, num(st, "capture", "kernel_drops"), st["capture"].(map[string]any)["shed"],
		num(st, "calls", "call_records_shed"), num(st, "calls", "media_claims_refused"), num(atk, "anomalies"), num(st, "capture", "status_conns_refused"))
	if rss > hostileBudget+rings+rest {
		t.Errorf("daemon peak RSS %d MiB over the budget %d MiB + rings %d MiB + %d MiB", rss>>20, hostileBudget>>20, rings>>20, rest>>20)
	}
	b.stop()
	held.close()
	dumpcap.Process.Signal(syscall.SIGTERM)
	dumpcap.Wait()

	checkAgainstReference(t, b, ref, sample)
}

var start time.Time

// checkAgainstReference compares the vault with the reference capture:
// each legitimate Call-ID recorded once, each of its RTP flows with every
// packet the wire carried, no other call holding any of them; the
// victim's audio only its own.
func checkAgainstReference(t *testing.T, b *box, ref string, sample []int16) {
	t.Helper()
	owner := sdpOwners(t, ref) // media endpoint -> Call-ID
	wire := wireRTP(t, ref)    // src>dst -> packets
	calledIDs := map[string]bool{}
	for _, id := range owner {
		calledIDs[id] = true
	}
	if len(calledIDs) != hostileCalls+1 {
		t.Logf("SDP endpoints: %v", owner)
		t.Fatalf("the reference holds SDPs of %d calls, want %d", len(calledIDs), hostileCalls+1)
	}
	v := openVault(t, b)
	ids := []age.Identity{b.key}
	es, err := v.List()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]map[string]uint64{} // Call-ID -> flow -> packets
	entries := map[string]*vault.Entry{}
	personal := map[string]*vault.Personal{}
	var flows = map[string]string{} // flow -> the Call-ID holding it
	for _, e := range es {
		p, err := v.Personal(e.ID, ids)
		if err != nil {
			t.Fatalf("%s: %v", e.ID, err)
		}
		if calledIDs[p.CallID] {
			if entries[p.CallID] != nil {
				t.Errorf("Call-ID %s recorded twice", p.CallID)
			}
			entries[p.CallID], personal[p.CallID] = e, p
		}
		for i, s := range p.Streams {
			if i >= len(e.Streams) {
				break
			}
			k := s.Src + ">" + s.Dst
			if got[p.CallID] == nil {
				got[p.CallID] = map[string]uint64{}
			}
			got[p.CallID][k] += e.Streams[i].Packets
			if _, legitFlow := wire[k]; legitFlow {
				if other, ok := flows[k]; ok && other != p.CallID {
					t.Errorf("flow %s is held by two calls: %s and %s", k, other, p.CallID)
				}
				flows[k] = p.CallID
			}
		}
	}
	for id := range calledIDs {
		e := entries[id]
		if e == nil || !e.Recorded || e.State != vault.StateComplete {
			t.Errorf("legitimate call %s not recorded: %+v", id, e)
		}
	}
	var onWire, recorded, short uint64
	for flow, n := range wire {
		dst := flow[strings.Index(flow, ">")+1:]
		id, ok := owner[dst]
		if !ok {
			t.Errorf("RTP flow %s (%d packets) goes to no SDP's endpoint", flow, n)
			continue
		}
		onWire += uint64(n)
		g := got[id][flow]
		recorded += min(g, uint64(n))
		if g < uint64(n) {
			short++
			t.Errorf("call %s: flow %s: %d packets on the wire, %d recorded", id, flow, n, g)
		}
		if holder := flows[flow]; holder != id {
			t.Errorf("flow %s of call %s recorded in call %q", flow, id, holder)
		}
	}
	t.Logf("%d legitimate calls, %d RTP flows, %d packets on the wire, %d recorded in the right call, %d flows short", len(calledIDs), len(wire), onWire, recorded, short)

	// The victim: the hijack and the spoofed media are flagged on it, its
	// audio is what its two parties sent and nothing else.
	victim := owner[fmt.Sprintf("127.0.0.1:%d", victimCaller)]
	e, p := entries[victim], personal[victim]
	if e == nil {
		t.Fatal("victim call not found")
	}
	var anomaly, claim bool
	var digits int
	for _, ev := range p.Events {
		anomaly = anomaly || ev.Kind == calls.EventAnomaly
		claim = claim || ev.Kind == calls.EventMediaClaim
		if ev.Kind == "dtmf" {
			digits++
		}
	}
	if !anomaly || !claim || digits > 0 {
		t.Errorf("victim's events: anomaly %v, media claim %v, DTMF digits %d (none were sent by its parties):\n%+v", anomaly, claim, digits, p.Events)
	}
	// The audio as the export renders it (spanvault export -wav).
	frames, _, err := export.Frames(v, e.ID, ids)
	if err != nil {
		t.Fatal(err)
	}
	res, err := audio.RenderOnly(export.AudioPackets(frames, e.Formats), export.Explained(e))
	if err != nil {
		t.Fatal(err)
	}
	left, right := res.Left, res.Right
	if res.LeftOut == 0 {
		t.Errorf("no spoofed packet was left out of the victim's audio (%d streams on the call)", len(e.Streams))
	}
	logVictim(t, e, p, frames)
	// The reference is the wire: the victim's two legitimate flows as
	// dumpcap saw them, rendered alone. The recording's audio must be
	// exactly that (a sender under load skips a packet now and then:
	// sipp did, seq 1395 of 1730, and the recording was right to lack it).
	want := wireAudio(t, ref, func(src, dst netip.AddrPort) (victimFlow, left bool) {
		switch dst.Port() {
		case victimCallee:
			return owner[dst.String()] == victim, true
		case victimCaller:
			return owner[dst.String()] == victim, false
		}
		return false, false
	})
	for i, ch := range [][]int16{left, right} {
		ref := [][]int16{want.Left, want.Right}[i]
		if got, exp := trimSilence(ch), trimSilence(ref); !slices.Equal(got, exp) {
			diff := 0
			for j := range min(len(got), len(exp)) {
				if got[j] != exp[j] {
					diff++
				}
			}
			t.Errorf("victim channel %d: %d samples, the wire's %d; %d of them differ (spoofed audio mixed in?)", i, len(got), len(exp), diff)
		}
		// And the wire is the sample, played whole (unless the sender
		// skipped packets: then fewer whole plays).
		n, stray := sipptest.Occurrences(ch, sample)
		t.Logf("victim channel %d: the sample %d times whole, %d other samples not silent", i, n, stray)
		if n < 1 {
			t.Errorf("victim channel %d: the sample is not in it once", i)
		}
		if secs := float64(len(ch)) / 8000; secs > hostileHold.Seconds()+2 {
			t.Errorf("victim channel %d lasts %.1f s, the call %v", i, secs, hostileHold)
		}
	}
}

// wireAudio renders the RTP flows of the reference that pick selects, as
// the export would render a recording holding exactly them.
func wireAudio(t *testing.T, ref string, pick func(src, dst netip.AddrPort) (ok, left bool)) *audio.Result {
	t.Helper()
	var pkts []audio.Packet
	eachPCMA(t, ref, func(p *decode.Packet, ts time.Time) {
		sel, left := pick(p.Src, p.Dst)
		if !sel {
			return
		}
		pl := p.Payload
		flow := uint16(1)
		if !left {
			flow = 2
		}
		pkts = append(pkts, audio.Packet{Time: ts, Left: left, Flow: flow, SSRC: binary.BigEndian.Uint32(pl[8:12]), PT: 8,
			Seq: binary.BigEndian.Uint16(pl[2:4]), TS: binary.BigEndian.Uint32(pl[4:8]), Payload: append([]byte(nil), pl[12:]...), Codec: "PCMA"})
	})
	if len(pkts) == 0 {
		t.Fatal("the reference holds none of the victim's media")
	}
	res, err := audio.RenderOnly(pkts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// trimSilence drops a channel's leading and trailing silence: where a
// channel starts depends on the capture times of the streams' first
// packets, which the box and dumpcap stamp microseconds apart.
func trimSilence(ch []int16) []int16 {
	i, j := 0, len(ch)
	for i < j && ch[i] == 0 {
		i++
	}
	for j > i && ch[j-1] == 0 {
		j--
	}
	return ch[i:j]
}

// logVictim writes what a diagnosis of the victim's audio needs: the
// streams the box counted, which of them the audio is made of, and the
// stored RTP packets per SSRC, direction and flow.
func logVictim(t *testing.T, e *vault.Entry, p *vault.Personal, frames []sealed.Frame) {
	t.Helper()
	keep := export.Explained(e)
	for i, s := range e.Streams {
		var addrs vault.StreamAddrs
		if i < len(p.Streams) {
			addrs = p.Streams[i]
		}
		ssrc, _ := strconv.ParseUint(strings.TrimPrefix(s.SSRC, "0x"), 16, 32)
		t.Logf("stream %d: %s>%s ssrc %s dir %s first %s last %s packets %d kept %v", i, addrs.Src, addrs.Dst, s.SSRC, s.Dir,
			s.First.Format("15:04:05.000"), s.Last.Format("15:04:05.000"), s.Packets, keep[audio.SSRCDir{SSRC: uint32(ssrc), Left: s.Dir == calls.AtoB.String()}])
	}
	type key struct {
		ssrc uint32
		left bool
		flow uint32
	}
	type span struct {
		n           int
		first, last time.Time
		ts0, ts1    uint32
	}
	seen := map[key]*span{}
	for _, a := range export.AudioPackets(frames, e.Formats) {
		k := key{a.SSRC, a.Left, uint32(a.Flow)}
		sp := seen[k]
		if sp == nil {
			sp = &span{first: a.Time, ts0: a.TS}
			seen[k] = sp
		}
		sp.n++
		sp.last, sp.ts1 = a.Time, a.TS
	}
	for k, sp := range seen {
		if sp.n > 1 {
			t.Logf("stored: ssrc %08x left %v flow %d: %d packets %s..%s ts %d..%d", k.ssrc, k.left, k.flow, sp.n,
				sp.first.Format("15:04:05.000"), sp.last.Format("15:04:05.000"), sp.ts0, sp.ts1)
		}
	}
}

// loadScenario makes a sipp scenario that streams the raw A-law sample
// for the whole call (rtp_stream), with the media port fixed when port is
// not empty.
func loadScenario(t *testing.T, dir, name, raw string, hold time.Duration, port string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "capture", "testdata", "sipp", name))
	if err != nil {
		t.Fatal(err)
	}
	s := sipptest.Streaming(string(b), raw, hold)
	if port != "" {
		s = strings.ReplaceAll(s, "[auto_media_port]", port)
	}
	p := filepath.Join(dir, port+name)
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// rawALaw writes the A-law payloads of a sipp sample pcap as the raw file
// rtp_stream plays, and returns them decoded.
func rawALaw(t *testing.T, pcap, out string) []int16 {
	t.Helper()
	alaw, err := sipptest.ALaw(pcap)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, alaw, 0o644); err != nil {
		t.Fatal(err)
	}
	return audio.DecodeALaw(nil, alaw)
}

// sdpOwners reads the reference with tshark: every SDP's media endpoint
// and the Call-ID it belongs to.
func sdpOwners(t *testing.T, ref string) map[string]string {
	t.Helper()
	out, err := exec.Command("tshark", "-r", ref, "-d", "udp.port==5072,sip", "-Y", "sdp", "-T", "fields", "-E", "separator=|",
		"-e", "sip.Call-ID", "-e", "sdp.connection_info.address", "-e", "sdp.media.port").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	m := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(l, "|")
		if len(f) != 3 {
			continue
		}
		for _, port := range strings.Split(f[2], ",") {
			m[f[1]+":"+port] = f[0]
		}
	}
	return m
}

// wireRTP counts the reference's RTP packets (version 2, PCMA) per flow.
func wireRTP(t *testing.T, ref string) map[string]int {
	t.Helper()
	m := map[string]int{}
	eachPCMA(t, ref, func(p *decode.Packet, _ time.Time) { m[p.Src.String()+">"+p.Dst.String()]++ })
	return m
}

// eachPCMA calls f with each RTP packet (version 2, PCMA) of the
// reference capture, in capture order.
func eachPCMA(t *testing.T, ref string, f func(p *decode.Packet, ts time.Time)) {
	t.Helper()
	r, err := capture.OpenFile(ref)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	dec := decode.New(decode.Options{})
	var p decode.Packet
	for {
		data, ts, lt, err := r.Next()
		if err != nil {
			return
		}
		ok, err := dec.Decode(data, lt, ts, &p)
		if err != nil || !ok || p.Transport != decode.UDP || len(p.Payload) < 12 || p.Payload[0]>>6 != 2 || p.Payload[1]&0x7f != 8 {
			continue
		}
		f(&p, ts)
	}
}

// heldConns keeps attack connections open until the test closes them.
type heldConns struct {
	mu sync.Mutex
	cs []net.Conn
	ls []net.Listener
}

func (h *heldConns) add(c net.Conn) {
	h.mu.Lock()
	h.cs = append(h.cs, c)
	h.mu.Unlock()
}

func (h *heldConns) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.cs {
		c.Close()
	}
	for _, l := range h.ls {
		l.Close()
	}
	h.cs, h.ls = nil, nil
}

// udpFrom opens a UDP socket inside the namespace bound to src.
func udpFrom(t *testing.T, ns *ringtest.Netns, src netip.AddrPort) (*net.UDPConn, error) {
	var c *net.UDPConn
	var err error
	ns.Do(t, func() { c, err = net.ListenUDP("udp", net.UDPAddrFromAddrPort(src)) })
	return c, err
}

func invite(i int, to, from string, port uint16, body string) []byte {
	ct := ""
	if body != "" {
		ct = "Content-Type: application/sdp\r\n"
	}
	return []byte(fmt.Sprintf("INVITE sip:%s@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP %s:%d;branch=z9hG4bKatk%d\r\nFrom: <sip:scanner@%s>;tag=a%d\r\nTo: <sip:%s@127.0.0.1>\r\nCall-ID: atk-%d-%s@%s\r\nCSeq: 1 INVITE\r\n%sContent-Length: %d\r\n\r\n%s",
		to, from, port, i, from, i, to, i, to, from, ct, len(body), body))
}

// inviteFlood sends unanswered INVITEs with distinct Call-IDs to numbers
// that are not the box's (a scanner), at rate per second for d.
func inviteFlood(t *testing.T, ns *ringtest.Netns, rate int, d time.Duration) error {
	c, err := udpFrom(t, ns, netip.AddrPortFrom(scanner, 5060))
	if err != nil {
		return err
	}
	defer c.Close()
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5099}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	per := rate / 100
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); {
		<-tick.C
		for k := 0; k < per; k++ {
			i++
			if _, err := c.WriteToUDP(invite(i, strconv.Itoa(100+i%800), scanner.String(), 5060, ""), dst); err != nil {
				return err
			}
		}
	}
	return nil
}

// inviteBurst sends n INVITEs to the box's own extensions as fast as the
// socket takes them: they all expire together one dialog timeout later.
func inviteBurst(t *testing.T, ns *ringtest.Netns, n int) error {
	c, err := udpFrom(t, ns, netip.AddrPortFrom(scanner, 5061))
	if err != nil {
		return err
	}
	defer c.Close()
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5098}
	for i := 0; i < n; i++ {
		if _, err := c.WriteToUDP(invite(1_000_000+i, strconv.Itoa(2000+i%1000), scanner.String(), 5061, ""), dst); err != nil {
			return err
		}
		if i%500 == 499 {
			time.Sleep(5 * time.Millisecond) // the socket buffer, not the box, is the limit
		}
	}
	return nil
}

// idle opens n connections to the status port from helper processes (a
// process may hold 20,000 descriptors here, and cannot raise that) and
// keeps them open until the test ends.
func idle(t *testing.T, ns *ringtest.Netns, n int) error {
	// Each helper inherits this process's descriptor limit (which Go
	// raised to the hard limit at start).
	var l syscall.Rlimit
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
	per := int(min(10000, max(1000, l.Cur-500)))
	for i := 0; i < n; i += per {
		cmd := ns.Command(os.Args[0], "-test.run=^TestIdleConnectionsHelper$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("SPANVAULT_IDLE_HELPER=%d", min(per, n-i)))
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		cmd.Stderr = os.Stderr
		stdin, _ := cmd.StdinPipe()
		if err := cmd.Start(); err != nil {
			return err
		}
		t.Cleanup(func() { stdin.Close(); cmd.Process.Kill(); cmd.Wait() })
		line, err := bufio.NewReader(out).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "open ") {
			return fmt.Errorf("idle connection helper: %q %v", line, err)
		}
		if got, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "open "))); got != min(per, n-i) {
			return fmt.Errorf("idle connection helper opened %d", got)
		}
	}
	return nil
}

// TestIdleConnectionsHelper is idle's helper process: it opens
// $SPANVAULT_IDLE_HELPER connections to the status port, says how many,
// and holds them until its standard input closes.
func TestIdleConnectionsHelper(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SPANVAULT_IDLE_HELPER"))
	if n == 0 {
		t.Skip("helper process of TestHostileTraffic")
	}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: idleSrc.AsSlice()}, Timeout: 2 * time.Second}
	var cs []net.Conn
	for i := 0; i < n; i++ {
		c, err := d.Dial("tcp", "127.0.0.1:18080")
		if err != nil {
			fmt.Fprintf(os.Stderr, "idle connection %d: %v\n", i, err)
			break
		}
		cs = append(cs, c)
	}
	fmt.Printf("open %d\n", len(cs))
	io.Copy(io.Discard, os.Stdin)
	for _, c := range cs {
		c.Close()
	}
}

// fragmentFlood sends first fragments of UDP datagrams to the SIP port
// whose other fragments never come.
func fragmentFlood(t *testing.T, ns *ringtest.Netns, n int) error {
	var fd int
	var err error
	ns.Do(t, func() { fd, err = unix.Socket(unix.AF_INET, unix.SOCK_RAW, unix.IPPROTO_RAW) })
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	to := &unix.SockaddrInet4{Addr: legit.As4()}
	pkt := make([]byte, 20+8+192)
	for i := 0; i < n; i++ {
		ip := pkt[:20]
		ip[0], ip[1] = 0x45, 0
		binary.BigEndian.PutUint16(ip[2:], uint16(len(pkt)))
		binary.BigEndian.PutUint16(ip[4:], uint16(i))
		binary.BigEndian.PutUint16(ip[6:], 0x2000) // more fragments, offset 0
		ip[8], ip[9] = 64, 17
		s, d := fragSrc.As4(), legit.As4()
		copy(ip[12:], s[:])
		copy(ip[16:], d[:])
		binary.BigEndian.PutUint16(ip[10:], 0)
		binary.BigEndian.PutUint16(ip[10:], ipChecksum(ip))
		udp := pkt[20:28]
		binary.BigEndian.PutUint16(udp[0:], 5060)
		binary.BigEndian.PutUint16(udp[2:], 5060)
		binary.BigEndian.PutUint16(udp[4:], 1400) // the datagram the fragments would make
		copy(pkt[28:], fmt.Sprintf("INVITE sip:%d@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.7:5060;branch=z9hG4bKfrag%d\r\n", i, i))
		if err := unix.Sendto(fd, pkt, 0, to); err != nil {
			return fmt.Errorf("fragment %d: %w", i, err)
		}
		if i%1000 == 999 {
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

func ipChecksum(h []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(h); i += 2 {
		s += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// tcpFlood opens n TCP connections to a SIP port and sends each an
// INVITE whose headers never end (40 KB of one header line).
func tcpFlood(t *testing.T, ns *ringtest.Netns, h *heldConns, n int) error {
	var l net.Listener
	var err error
	ns.Do(t, func() { l, err = net.Listen("tcp", "127.0.0.1:5062") })
	if err != nil {
		return err
	}
	h.mu.Lock()
	h.ls = append(h.ls, l)
	h.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			h.add(c)
			go func() {
				buf := make([]byte, 64<<10)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	pad := strings.Repeat("a", 40<<10)
	ns.Do(t, func() {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: tcpSrc.AsSlice()}, Timeout: 2 * time.Second}
		for i := 0; i < n; i++ {
			c, e := d.Dial("tcp", "127.0.0.1:5062")
			if e != nil {
				err = fmt.Errorf("connection %d: %w", i, e)
				return
			}
			h.add(c)
			if _, e := fmt.Fprintf(c, "INVITE sip:%d@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.8;branch=z9hG4bKtcp%d\r\nX-Pad: %s", i, i, pad); e != nil {
				err = e
				return
			}
		}
	})
	return err
}

// sdpBomb sends INVITEs whose SDPs hold thousands of media lines.
func sdpBomb(t *testing.T, ns *ringtest.Netns, n, lines int) error {
	c, err := udpFrom(t, ns, netip.AddrPortFrom(sdpSrc, 5060))
	if err != nil {
		return err
	}
	defer c.Close()
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5097}
	var sdp strings.Builder
	sdp.WriteString("v=0\r\no=x 1 1 IN IP4 127.0.0.10\r\ns=-\r\nc=IN IP4 127.0.0.10\r\nt=0 0\r\n")
	for i := 0; i < lines; i++ {
		fmt.Fprintf(&sdp, "m=audio %d RTP/AVP 0\r\n", 10000+2*i)
	}
	for i := 0; i < n; i++ {
		if _, err := c.WriteToUDP(invite(2_000_000+i, "2500", sdpSrc.String(), 5060, sdp.String()), dst); err != nil {
			return err
		}
		time.Sleep(2 * time.Millisecond)
	}
	return nil
}

// hijack sends the two packets of the hijack: an INVITE whose SDP names
// the victim caller's media endpoint and a 200 OK whose SDP names the
// callee's, in a dialog of the attacker's.
func hijack(t *testing.T, ns *ringtest.Netns) error {
	a, err := udpFrom(t, ns, netip.AddrPortFrom(hijackSrc, 5060))
	if err != nil {
		return err
	}
	defer a.Close()
	sdp := func(port int) string {
		return fmt.Sprintf("v=0\r\no=x 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio %d RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\n", port)
	}
	inv := fmt.Sprintf("INVITE sip:+4930999@127.0.0.11 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.11:5060;branch=z9hG4bKhijack\r\nFrom: <sip:+4930111@127.0.0.11>;tag=hj1\r\nTo: <sip:+4930999@127.0.0.11>\r\nCall-ID: hijack@127.0.0.11\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
		len(sdp(victimCaller)), sdp(victimCaller))
	ok := fmt.Sprintf("SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.11:5060;branch=z9hG4bKhijack\r\nFrom: <sip:+4930111@127.0.0.11>;tag=hj1\r\nTo: <sip:+4930999@127.0.0.11>;tag=hj2\r\nCall-ID: hijack@127.0.0.11\r\nCSeq: 1 INVITE\r\nContent-Type: application/sdp\r\nContent-Length: %d\r\n\r\n%s",
		len(sdp(victimCallee)), sdp(victimCallee))
	peer := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 11), Port: 5064}
	if _, err := a.WriteToUDP([]byte(inv), peer); err != nil {
		return err
	}
	time.Sleep(50 * time.Millisecond)
	b, err := udpFrom(t, ns, netip.AddrPortFrom(hijackSrc, 5064))
	if err != nil {
		return err
	}
	defer b.Close()
	_, err = b.WriteToUDP([]byte(ok), &net.UDPAddr{IP: net.IPv4(127, 0, 0, 11), Port: 5060})
	return err
}

// spoofMedia sends RTP with random SSRCs and RFC 4733 digits into the
// victim's two media ports from foreign ports.
func spoofMedia(t *testing.T, ns *ringtest.Netns) error {
	var socks []*net.UDPConn
	defer func() {
		for _, c := range socks {
			c.Close()
		}
	}()
	for i := 0; i < 16; i++ {
		c, err := udpFrom(t, ns, netip.AddrPortFrom(spoofSrc, uint16(30001+2*i)))
		if err != nil {
			return err
		}
		socks = append(socks, c)
	}
	dsts := []*net.UDPAddr{{IP: net.IPv4(127, 0, 0, 1), Port: victimCaller}, {IP: net.IPv4(127, 0, 0, 1), Port: victimCallee}}
	pkt := make([]byte, 12+160)
	for i := 0; i < spoofedRTP+spoofedDTMF; i++ {
		pkt[0] = 0x80
		pkt[1] = 8
		n := 12 + 160
		if i >= spoofedRTP {
			pkt[1] = 101 | 0x80
			n = 16
			pkt[12], pkt[13] = byte(i%10), 0x80|10 // digit, end
			binary.BigEndian.PutUint16(pkt[14:], 800)
		} else {
			rand.Read(pkt[12:n])
		}
		binary.BigEndian.PutUint16(pkt[2:], uint16(i))
		binary.BigEndian.PutUint32(pkt[4:], uint32(i)*160)
		binary.BigEndian.PutUint32(pkt[8:], mrand.Uint32())
		if _, err := socks[i%len(socks)].WriteToUDP(pkt[:n], dsts[i%2]); err != nil {
			return err
		}
		if i%100 == 99 {
			time.Sleep(10 * time.Millisecond)
		}
	}
	return nil
}

func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}
