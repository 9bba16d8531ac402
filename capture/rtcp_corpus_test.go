package capture_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// needTool returns the path of a tool, or skips the test without it
// (fails when SPANVAULT_REQUIRE_TOOLS is set).
func needTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("SPANVAULT_REQUIRE_TOOLS") != "" {
			t.Fatalf("%s not installed (SPANVAULT_REQUIRE_TOOLS is set)", name)
		}
		t.Skipf("%s not installed", name)
	}
	return p
}

// tsharkRTCP is what tshark reads of one capture's RTCP: per flow
// (source and destination address:port), the sender reports' packet
// counts by sender SSRC and the report blocks by reported SSRC, in
// capture order.
type tsharkRTCP struct {
	sr map[string][]uint64   // flow|ssrc -> packet counts
	rb map[string][][2]int64 // flow|ssrc -> (cumulative lost, extended highest seq)
}

func readTsharkRTCP(t *testing.T, tshark, pcap string) tsharkRTCP {
	t.Helper()
	out, err := exec.Command(tshark, "-r", pcap, "-Y", "rtcp", "-T", "json", "--no-duplicate-keys", "-J", "ip udp rtcp").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	var pkts []struct {
		Source struct {
			Layers map[string]json.RawMessage `json:"layers"`
		} `json:"_source"`
	}
	if err := json.Unmarshal(out, &pkts); err != nil {
		t.Fatalf("tshark json: %v", err)
	}
	res := tsharkRTCP{sr: map[string][]uint64{}, rb: map[string][][2]int64{}}
	num := func(v any) int64 {
		s, _ := v.(string)
		n, err := strconv.ParseInt(s, 0, 64)
		if err != nil {
			t.Fatalf("tshark field %v: %v", v, err)
		}
		return n
	}
	for _, p := range pkts {
		var ip, udp map[string]any
		json.Unmarshal(p.Source.Layers["ip"], &ip)
		json.Unmarshal(p.Source.Layers["udp"], &udp)
		if ip == nil || udp == nil {
			continue
		}
		flow := fmt.Sprintf("%s:%s>%s:%s", ip["ip.src"], udp["udp.srcport"], ip["ip.dst"], udp["udp.dstport"])
		var list []map[string]any
		if json.Unmarshal(p.Source.Layers["rtcp"], &list) != nil {
			var one map[string]any
			json.Unmarshal(p.Source.Layers["rtcp"], &one)
			list = []map[string]any{one}
		}
		for _, r := range list {
			if r["rtcp.pt"] == "200" {
				k := flow + "|" + fmt.Sprint(num(r["rtcp.senderssrc"]))
				res.sr[k] = append(res.sr[k], uint64(num(r["rtcp.sender.packetcount"])))
			}
			if r["rtcp.pt"] != "200" && r["rtcp.pt"] != "201" {
				continue
			}
			for i := 1; ; i++ {
				b, ok := r[fmt.Sprintf("Source %d", i)].(map[string]any)
				if !ok {
					break
				}
				contents, _ := b["SSRC contents"].(map[string]any)
				k := flow + "|" + fmt.Sprint(num(b["rtcp.ssrc.identifier"]))
				res.rb[k] = append(res.rb[k], [2]int64{num(contents["rtcp.ssrc.cum_nr"]), num(b["rtcp.ssrc.ext_high"])})
			}
		}
	}
	return res
}

func rtcpOf(ap netip.AddrPort) string {
	return fmt.Sprintf("%s:%d", ap.Addr(), ap.Port()+1)
}

// TestCorpusRTCPMatchesTshark: for every stream of the corpus captures
// that carry RTCP, the completeness record's sender figures (sender
// reports seen, the last one's packet count) and receiver figures
// (reception reports, the last one's cumulative lost and extended
// highest sequence number) are tshark's for the stream's RTCP flows.
func TestCorpusRTCPMatchesTshark(t *testing.T) {
	tshark := needTool(t, "tshark")
	dir := corpusDir(t)
	checked := 0
	for _, name := range []string{"heplify__example_pcap_rtp_rtcp_sip_ipv4_udp.pcap", "heplify__example_pcap_sip_ipv4_tcp.pcap"} {
		pcap := filepath.Join(dir, "pcaps", name)
		want := readTsharkRTCP(t, tshark, pcap)
		r := runFile(t, pcap)
		for _, c := range r.calls {
			for _, s := range c.Streams {
				got := s.Completeness()
				srKey := rtcpOf(s.Src) + ">" + rtcpOf(s.Dst) + "|" + fmt.Sprint(s.Stats.SSRC)
				rbKey := rtcpOf(s.Dst) + ">" + rtcpOf(s.Src) + "|" + fmt.Sprint(s.Stats.SSRC)
				srs, rbs := want.sr[srKey], want.rb[rbKey]
				if len(srs) == 0 && len(rbs) == 0 {
					continue
				}
				checked++
				var wantSR uint64
				if len(srs) > 0 {
					wantSR = srs[len(srs)-1]
				}
				if got.SenderReports != uint64(len(srs)) || uint64(got.SenderPackets) != wantSR {
					t.Errorf("%s stream 0x%08x: %d sender reports, last packet count %d; tshark: %d, %d", name, s.Stats.SSRC, got.SenderReports, got.SenderPackets, len(srs), wantSR)
				}
				var wantRB [2]int64
				if len(rbs) > 0 {
					wantRB = rbs[len(rbs)-1]
				}
				if got.ReceiverReports != uint64(len(rbs)) || got.ReceiverLost != wantRB[0] || int64(got.ReceiverHighestSeq) != wantRB[1] {
					t.Errorf("%s stream 0x%08x: %d reception reports, last cumulative lost %d, highest seq %d; tshark: %d, %d, %d", name, s.Stats.SSRC, got.ReceiverReports, got.ReceiverLost, got.ReceiverHighestSeq, len(rbs), wantRB[0], wantRB[1])
				}
				t.Logf("%s stream 0x%08x %s->%s: %+v", name, s.Stats.SSRC, s.Src, s.Dst, got)
			}
		}
	}
	if checked < 3 {
		t.Fatalf("only %d streams with RTCP checked, want the 2+2 of the corpus's RTCP captures (less one)", checked)
	}
}
