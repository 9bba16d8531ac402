// Command loadtest measures live capture under rising load ("make load"):
// the daemon records sipp calls on loopback in a network namespace at
// increasing concurrency, and for each level it reports kernel drops,
// calls answered versus recorded, and the CPU and memory the daemon used;
// and, against an independent capture (dumpcap on the same interface), the
// RTP packets of every call: what the wire carried against what the
// recording counted, per stream. It prints the highest concurrency with
// zero drops, zero lost recordings and zero lost packets. It needs root
// (namespaces, packet sockets), sipp and dumpcap.
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/sipptest"
)

const ns = "svload"

func main() {
	levels := flag.String("levels", "100,250,500,1000,1500,2000", "concurrent calls per step")
	hold := flag.Duration("hold", 12*time.Second, "how long each call lasts")
	bin := flag.String("bin", "build/spanvault", "spanvault binary")
	noRef := flag.Bool("noref", false, "no reference capture (calls and drops only)")
	flood := flag.Int("flood", 0, "also send this many unanswered INVITEs per second (distinct Call-IDs) while each level's calls run")
	floodRates := flag.String("flood-rates", "", "instead of rising concurrency: the first level's calls beside each of these INVITE flood rates (per second)")
	floodChild := flag.Int("flood-child", 0, "internal: send INVITEs at this rate until killed (run inside the namespace)")
	flag.StringVar(&floodTo, "flood-to", "", "aim the flood at this number, made one of the box's extensions (capture.extensions), instead of numbers that are not the box's (extflood.go)")
	flag.Parse()
	if *floodChild > 0 {
		floodINVITEs(*floodChild)
		return
	}
	dir, _ := os.MkdirTemp("", "spanvault-load")
	defer os.RemoveAll(dir)
	// A run that died before its deferred cleanup (must exits) left its
	// namespace behind: the name is this tool's own.
	_ = exec.Command("ip", "netns", "del", ns).Run() // none, unless a killed run left it
	must(exec.Command("ip", "netns", "add", ns).Run(), "ip netns add")
	defer func() { must(exec.Command("ip", "netns", "del", ns).Run(), "ip netns del") }()
	must(exec.Command("ip", "-n", ns, "link", "set", "lo", "up").Run(), "lo up")

	keyOut, err := exec.Command(*bin, "keygen", "-o", filepath.Join(dir, "id.txt")).Output()
	must(err, "keygen")
	must(os.WriteFile(filepath.Join(dir, "recipients.txt"), keyOut, 0o600), "recipients")
	sum := sha256.Sum256([]byte("load"))
	cfg := fmt.Sprintf("[vault]\ndir = %q\nrecipients = %q\nmin_free = \"64MiB\"\n[capture]\ninterface = \"lo\"\nfanout = 2\nblocks = 512\n[status]\nlisten = \"127.0.0.1:18090\"\n[clock]\nrequire_sync = false\n[[api.token]]\nname = \"load\"\nrole = \"agent\"\nsha256 = %q\n[log]\nlevel = \"warn\"\n",
		filepath.Join(dir, "vault"), filepath.Join(dir, "recipients.txt"), hex.EncodeToString(sum[:]))
	cfg = extensionConfig(cfg)
	must(os.WriteFile(filepath.Join(dir, "c.toml"), []byte(cfg), 0o600), "config")
	d := exec.Command("ip", "netns", "exec", ns, *bin, "run", "-config", filepath.Join(dir, "c.toml"))
	d.Stderr = os.Stderr
	must(d.Start(), "daemon")
	defer d.Process.Kill()
	time.Sleep(2 * time.Second)
	index0 := indexBytes(filepath.Join(dir, "vault"))

	raw := filepath.Join(dir, "g711a.raw")
	must(rawALaw("/usr/share/sip-tester/g711a.pcap", raw), "sample audio")
	uac := scenario(dir, "uac.xml", raw, *hold)
	uasScen := scenario(dir, "uas.xml", raw, *hold)
	type step struct{ n, flood int }
	var steps []step
	for _, ls := range strings.Split(*levels, ",") {
		n, _ := strconv.Atoi(ls)
		steps = append(steps, step{n, *flood})
	}
	if *floodRates != "" {
		n := steps[0].n
		steps = nil
		for _, rs := range strings.Split(*floodRates, ",") {
			r, _ := strconv.Atoi(rs)
			steps = append(steps, step{n, r})
		}
	}
	type level struct {
		n, answered, recorded, drops int
		flood, floodSent             int
		floodSecs                    float64
		cpu                          float64
		rss                          string
		from, to                     time.Time
		pcap                         string
	}
	var done []level
	for si, stp := range steps {
		n, ls := stp.n, strconv.Itoa(stp.n)
		pcap := filepath.Join(dir, fmt.Sprintf("ref-%d.pcap", si))
		// The reference: dumpcap on the same interface, headers only, the
		// flows to every 32nd port (a sixteenth of the streams: chosen in
		// the kernel's filter, so that on two cores the reference does
		// not take the CPU the recorder needs). Its own drops are
		// printed; they could only hide a loss, never invent one.
		filter := "udp and not port 5060 and not port 5070 and not port 6070"
		if *floodRates != "" {
			// A few dozen calls: every stream is checked (5099: the flood).
			filter += " and not port 5099"
		} else {
			filter += " and udp[2:2] & 0x1f == 0"
		}
		refArgs := []string{"netns", "exec", ns, "dumpcap", "-q", "-i", "lo", "-s", "64", "-B", "512", "-w", pcap, "-f", filter}
		if *noRef {
			refArgs = []string{"netns", "exec", ns, "sleep", "3600"}
		}
		ref := exec.Command("ip", refArgs...)
		ref.Stderr = os.Stderr
		must(ref.Start(), "reference capture")
		time.Sleep(time.Second)
		from := time.Now()
		before := metrics()
		cpu0 := cpuTime(d.Process.Pid)
		t0 := time.Now()
		rate := fmt.Sprint(max(1, n*1000/int((*hold).Milliseconds())))
		uas := exec.Command("ip", "netns", "exec", ns, "sipp", "-sf", uasScen, "-i", "127.0.0.1", "-p", "5070",
			"-mi", "127.0.0.1", "-mp", "20000", "-m", ls, "-nostdin", "-timeout", "600s", "-max_socket", "60000")
		must(uas.Start(), "sipp uas")
		uasDone := make(chan struct{})
		go func() { uas.Wait(); close(uasDone) }()
		time.Sleep(300 * time.Millisecond)
		c := exec.Command("ip", "netns", "exec", ns, "sipp", "127.0.0.1:5070", "-sf", uac, "-i", "127.0.0.1", "-p", "6070",
			"-mi", "127.0.0.1", "-mp", "40000", "-m", ls, "-l", ls, "-r", rate, "-nostdin", "-timeout", "600s", "-max_socket", "60000")
		must(c.Start(), "sipp uac")
		var flooder *exec.Cmd
		var floodIn io.WriteCloser
		var floodOut bytes.Buffer
		floodStart := time.Now()
		if stp.flood > 0 {
			self, _ := os.Executable()
			flooder = exec.Command("ip", "netns", "exec", ns, self, "-flood-child", fmt.Sprint(stp.flood), "-flood-to", floodTo)
			flooder.Stderr = os.Stderr
			flooder.Stdout = &floodOut
			floodIn, _ = flooder.StdinPipe()
			must(flooder.Start(), "flooder")
		}
		uacDone := make(chan struct{})
		go func() { c.Wait(); close(uacDone) }()
		generatorFailed := false
		select {
		case <-uacDone:
		case <-uasDone:
			// The callee side gave up before the callers finished: the
			// generator, not the recorder, reached its limit.
			select {
			case <-uacDone:
			case <-time.After(*hold + 10*time.Second):
				generatorFailed = true
				c.Process.Kill()
				<-uacDone
			}
		}
		uas.Process.Kill()
		<-uasDone
		var floodSent int
		var floodSecs float64
		if flooder != nil {
			floodIn.Close() // the flooder says how many it sent, and stops
			flooder.Wait()
			floodSecs = time.Since(floodStart).Seconds()
			floodSent, _ = strconv.Atoi(strings.TrimSpace(floodOut.String()))
		}
		time.Sleep(8 * time.Second) // linger, last BYEs
		after := metrics()
		wall := time.Since(t0).Seconds()
		cpu := (cpuTime(d.Process.Pid) - cpu0) / wall
		answered := int(after["spanvault_calls_total"] - before["spanvault_calls_total"])
		recorded := int(after["spanvault_calls_recorded_total"] - before["spanvault_calls_recorded_total"])
		drops := int(after["spanvault_capture_kernel_drops_total"] - before["spanvault_capture_kernel_drops_total"])
		ref.Process.Signal(os.Interrupt)
		ref.Wait()
		done = append(done, level{flood: stp.flood, floodSent: floodSent, floodSecs: floodSecs, n: n, answered: answered, recorded: recorded, drops: drops, cpu: cpu, rss: peakRSS(d.Process.Pid), from: from, to: time.Now(), pcap: pcap})
		if generatorFailed {
			fmt.Printf("sipp could not drive %d concurrent calls on this machine (its callee side exited); the recorder's limit was not reached\n", n)
			break
		}
	}
	// The vault is the daemon's while it runs: stop it, then read every
	// call with its streams (addresses need the identity).
	d.Process.Signal(os.Interrupt)
	d.Wait()
	indexGrowth := indexBytes(filepath.Join(dir, "vault")) - index0
	out, err := exec.Command(*bin, "calls", "-vault", filepath.Join(dir, "vault"), "-json", "-identity", filepath.Join(dir, "id.txt")).Output()
	must(err, "calls -json")
	var calls []callJSON
	must(json.Unmarshal(out, &calls), "calls -json")
	best, prev := 0, 0
	if *floodRates != "" {
		fmt.Println("| INVITE flood asked (/s) | sent (/s, measured) | concurrent calls | INVITE dialogs seen | recorded | kernel drops | calls checked packet by packet | their RTP packets on the wire (dumpcap) | recorded | calls missing a packet | daemon CPU (cores) | daemon peak RSS |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|---|")
	} else {
		fmt.Println("| concurrent calls | answered | recorded | kernel drops | calls checked packet by packet | their RTP packets on the wire (dumpcap) | recorded | calls missing a packet | daemon CPU (cores) | daemon peak RSS |")
		fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	}
	bestFlood, floodOK := 0, true
	for _, lv := range done {
		wire := countRTP(lv.pcap)
		var onWire, got, short, checked int
		for _, c := range calls {
			if c.Start.Before(lv.from) || c.Start.After(lv.to) {
				continue
			}
			missing, sampled := false, false
			for _, st := range c.Streams {
				if dst, err := netip.ParseAddrPort(st.Dst); err != nil || (*floodRates == "" && dst.Port()%32 != 0) {
					continue // not in the reference's sample
				}
				sampled = true
				w := wire[st.Src+">"+st.Dst]
				onWire += w
				got += int(st.Packets)
				if int(st.Packets) < w {
					missing = true
					if short < 5 {
						seen := wireSeen[st.Src+">"+st.Dst]
						fmt.Fprintf(os.Stderr, "short: call %s %s (%s) start %s answer %v end %v: stream %s>%s wire %d (%s..%s) recorded %d\n",
							c.ID, c.State, c.EndReason, c.Start.Format("15:04:05.000"), c.Answer, c.End, st.Src, st.Dst, w, seen[0].Format("15:04:05.000"), seen[1].Format("15:04:05.000"), st.Packets)
					}
				}
			}
			if !c.Recorded && c.Answer != nil {
				fmt.Fprintf(os.Stderr, "unrecorded: call %s %s (%s) start %s answer %v end %v streams %d events %v\n", c.ID, c.State, c.EndReason, c.Start.Format("15:04:05.000"), c.Answer, c.End, len(c.Streams), c.Events)
			}
			if sampled {
				checked++
			}
			if missing {
				short++
			}
		}
		clean := lv.drops == 0 && lv.answered == lv.n && lv.recorded == lv.n && short == 0 && got >= onWire
		if *floodRates != "" {
			// The flood's dialogs are counted among the INVITE dialogs:
			// every legitimate call recorded is what counts.
			clean = lv.drops == 0 && lv.recorded == lv.n && short == 0 && got >= onWire && checked == lv.n
			sent := 0.0
			if lv.floodSecs > 0 {
				sent = float64(lv.floodSent) / lv.floodSecs
			}
			fmt.Printf("| %d | %.0f | %d | %d | %d | %d | %d | %d | %d | %d | %.2f | %s |\n", lv.flood, sent, lv.n, lv.answered, lv.recorded, lv.drops, checked, onWire, got, short, lv.cpu, lv.rss)
			if clean && floodOK {
				bestFlood = int(sent)
			}
			floodOK = floodOK && clean
			continue
		}
		fmt.Printf("| %d | %d | %d | %d | %d | %d | %d | %d | %.2f | %s |\n", lv.n, lv.answered, lv.recorded, lv.drops, checked, onWire, got, short, lv.cpu, lv.rss)
		if clean && best == prev {
			best = lv.n
		}
		prev = lv.n
	}
	if *floodRates != "" {
		fmt.Printf("highest sustained unanswered-INVITE rate (sent, measured) at which %d concurrent calls lost nothing (no kernel drop, every call recorded, every sampled packet recorded): %d/s\n", steps[0].n, bestFlood)
		sent := 0
		for _, lv := range done {
			sent += lv.floodSent
		}
		printIndexGrowth(indexGrowth, sent)
		return
	}
	fmt.Printf("highest concurrency with zero kernel drops, zero lost recordings and every packet the wire carried recorded: %d calls\n", best)
}

// callJSON is what loadtest reads of "spanvault calls -json".
type callJSON struct {
	ID        string     `json:"id"`
	Start     time.Time  `json:"start"`
	Answer    *time.Time `json:"answer"`
	End       *time.Time `json:"end"`
	State     string     `json:"state"`
	EndReason string     `json:"end_reason"`
	Recorded  bool       `json:"recorded"`
	Events    []any      `json:"events"`
	Streams   []struct {
		Src     string `json:"src"`
		Dst     string `json:"dst"`
		Packets uint64 `json:"packets"`
	} `json:"streams"`
}

// wireSeen is when a flow's first and last RTP packets were on the wire,
// in the capture countRTP read last.
var wireSeen = map[string][2]time.Time{}

// countRTP counts the RTP packets (PCMA) of the reference capture per
// source>destination, from the headers alone (the capture keeps 64 bytes
// of each frame: Ethernet, IPv4, UDP and the start of RTP).
func countRTP(pcap string) map[string]int {
	m := map[string]int{}
	wireSeen = map[string][2]time.Time{} // this level's capture only
	f, err := capture.OpenFile(pcap)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest: reference capture:", err)
		return m
	}
	defer f.Close()
	for {
		b, ts, _, err := f.Next()
		if err != nil {
			return m
		}
		if len(b) < 14+20+8+2 || b[12] != 0x08 || b[13] != 0x00 {
			continue
		}
		ip := b[14:]
		ihl := int(ip[0]&0x0f) * 4
		if ip[0]>>4 != 4 || ip[9] != 17 || len(ip) < ihl+8+2 {
			continue
		}
		udp := ip[ihl:]
		rtp := udp[8:]
		if rtp[0]>>6 != 2 || rtp[1]&0x7f != 8 {
			continue
		}
		src := netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[12:16])), binary.BigEndian.Uint16(udp[0:2]))
		dst := netip.AddrPortFrom(netip.AddrFrom4([4]byte(ip[16:20])), binary.BigEndian.Uint16(udp[2:4]))
		k := src.String() + ">" + dst.String()
		m[k]++
		w := wireSeen[k]
		if w[0].IsZero() || ts.Before(w[0]) {
			w[0] = ts
		}
		if ts.After(w[1]) {
			w[1] = ts
		}
		wireSeen[k] = w
	}
}

// scenario turns a test scenario into a load scenario (sipptest.Streaming).
func scenario(dir, name, raw string, hold time.Duration) string {
	b, err := os.ReadFile(filepath.Join("capture", "testdata", "sipp", name))
	must(err, "scenario")
	p := filepath.Join(dir, name)
	must(os.WriteFile(p, []byte(sipptest.Streaming(string(b), raw, hold)), 0o644), "scenario")
	return p
}

// rawALaw writes the A-law payloads of a sipp sample pcap as a raw file,
// the format rtp_stream plays.
func rawALaw(pcap, out string) error {
	alaw, err := sipptest.ALaw(pcap)
	if err != nil {
		return err
	}
	return os.WriteFile(out, alaw, 0o644)
}

func metrics() map[string]float64 {
	out, err := exec.Command("ip", "netns", "exec", ns, "curl", "-s", "http://127.0.0.1:18090/metrics").Output()
	m := map[string]float64{}
	if err != nil {
		return m
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && !strings.HasPrefix(f[0], "#") {
			v, _ := strconv.ParseFloat(f[1], 64)
			m[f[0]] = v
		}
	}
	return m
}

func cpuTime(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b)[strings.LastIndexByte(string(b), ')')+2:])
	u, _ := strconv.ParseFloat(f[11], 64)
	s, _ := strconv.ParseFloat(f[12], 64)
	return (u + s) / 100
}

func peakRSS(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(l, "VmHWM:"))
		}
	}
	return "?"
}

func must(err error, what string) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", what+":", err)
		os.Exit(1)
	}
}

// floodINVITEs sends unanswered INVITEs with distinct Call-IDs to a port
// nobody answers, at rate per second, until its standard input closes;
// then it prints how many it sent. A SIP scanner beside the calls being
// recorded.
func floodINVITEs(rate int) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	must(err, "flood socket")
	dst := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5099}
	stop := make(chan struct{})
	go func() { _, _ = io.Copy(io.Discard, os.Stdin); close(stop) }() // stdin closed or failed: either way, stop
	tick := time.NewTicker(10 * time.Millisecond)
	per := max(1, rate/100)
	port := conn.LocalAddr().(*net.UDPAddr).Port
	var msg []byte
	sent := 0
	for i := 0; ; {
		select {
		case <-stop:
			fmt.Println(sent)
			return
		case <-tick.C:
		}
		for k := 0; k < per; k++ {
			i++
			to := floodTo
			if to == "" {
				to = strconv.Itoa(100 + i%900)
			}
			msg = fmt.Appendf(msg[:0], "INVITE sip:%s@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bKscan%d\r\nFrom: <sip:scanner@203.0.113.9>;tag=s%d\r\nTo: <sip:%s@127.0.0.1>\r\nCall-ID: scan-%d@203.0.113.9\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
				to, port, i, i, to, i)
			if _, err := conn.WriteToUDP(msg, dst); err == nil {
				sent++
			}
		}
	}
}
