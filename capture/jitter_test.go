package capture_test

import (
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/spanvault/spanvault/capture/calls"
)

// TestJitterAgreesWithTshark compares each associated stream's maximum
// RFC 3550 jitter with tshark's rtp,streams on the same corpus capture.
// Streams that interleave RFC 4733 events with audio are left out: every
// packet of an event repeats the event's start timestamp, and tshark's
// treatment of those (it differs by about a quarter on the one such
// corpus stream) is not something a recorder should copy.
func TestJitterAgreesWithTshark(t *testing.T) {
	dir := corpusDir(t)
	ts, err := exec.LookPath("tshark")
	if err != nil {
		t.Fatal("tshark not installed: run scripts/install-deps.sh")
	}
	checked := 0
	for _, name := range []string{"rtppcap__SIP_DTMF2.pcap", "heplify__example_pcap_rtp_rtcp_sip_ipv4_udp.pcap", "rtppcap__nb6-telephone.pcap",
		"rtppcap__sip-rtp-g722.pcap", "heplify__example_pcap_sip_ipv4_tcp.pcap", "sngrep__aaa.pcap"} {
		path := filepath.Join(dir, "pcaps", name)
		out, err := exec.Command(ts, "-r", path, "-q", "-z", "rtp,streams").Output()
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]float64{} // ssrc -> max jitter ms
		for _, l := range strings.Split(string(out), "\n") {
			f := strings.Fields(l)
			if len(f) < 12 || !strings.HasPrefix(f[6], "0x") {
				continue
			}
			mj, err := strconv.ParseFloat(f[len(f)-1], 64)
			if err != nil { // a trailing "X" problem marker
				mj, _ = strconv.ParseFloat(f[len(f)-2], 64)
			}
			want[strings.ToLower(f[6])] = mj
		}
		r := runFile(t, path)
		for _, c := range r.calls {
			for _, s := range c.Streams {
				w, ok := want[fmt.Sprintf("0x%08x", s.Stats.SSRC)]
				if !ok || hasEvents(c, s) {
					continue
				}
				got := float64(s.Stats.MaxJitter()) / 1e6
				if math.Abs(got-w) > 0.01+w*0.01 {
					t.Errorf("%s ssrc 0x%08x: max jitter %.3f ms, tshark %.3f ms", name, s.Stats.SSRC, got, w)
				}
				checked++
			}
		}
	}
	if checked < 8 {
		t.Fatalf("only %d streams compared", checked)
	}
}

func hasEvents(c *calls.Call, s *calls.Stream) bool {
	names := c.PayloadNames()
	for _, pc := range s.PayloadTypes {
		if strings.EqualFold(names[pc.PT], "telephone-event") {
			return true
		}
	}
	return false
}
