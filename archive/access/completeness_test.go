package access_test

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"

	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/capture/calls"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/record"
)

// lossyCapture drops every RTP packet whose sequence number is 7 modulo
// 50 between the wire and the box, and after every hundredth packet of a
// stream lets the stream's receiver report (RTCP RR, to the sender's
// RTP port + 1) that it lost nothing up to there: those packets crossed
// the wire. missed counts, per SSRC, what the box dropped up to the last
// report, which is what the record must call the capture's.
func lossyCapture(t *testing.T) (opt boxOpt, missed func() int64) {
	dropped := map[uint32][]uint16{}
	lastRR := map[uint32]uint16{}
	rtp := func(frame []byte) (*layers.Ethernet, *layers.IPv4, *layers.UDP, bool) {
		p := gopacket.NewPacket(frame, layers.LayerTypeEthernet, gopacket.Default)
		eth, _ := p.Layer(layers.LayerTypeEthernet).(*layers.Ethernet)
		ip, _ := p.Layer(layers.LayerTypeIPv4).(*layers.IPv4)
		udp, _ := p.Layer(layers.LayerTypeUDP).(*layers.UDP)
		ok := eth != nil && ip != nil && udp != nil && udp.DstPort != 5060 && udp.SrcPort != 5060 && len(udp.Payload) >= 12 && udp.Payload[0]>>6 == 2 && udp.Payload[1]&0x7f == 8
		return eth, ip, udp, ok
	}
	opt.drop = func(frame []byte) bool {
		_, _, udp, ok := rtp(frame)
		if !ok {
			return false
		}
		seq, ssrc := binary.BigEndian.Uint16(udp.Payload[2:]), binary.BigEndian.Uint32(udp.Payload[8:])
		if seq%50 == 7 {
			dropped[ssrc] = append(dropped[ssrc], seq)
			return true
		}
		return false
	}
	opt.inject = func(_ *calls.Tracker, _ time.Time, frame []byte) [][]byte {
		eth, ip, udp, ok := rtp(frame)
		if !ok {
			return nil
		}
		seq, ssrc := binary.BigEndian.Uint16(udp.Payload[2:]), binary.BigEndian.Uint32(udp.Payload[8:])
		if seq%100 != 0 {
			return nil
		}
		lastRR[ssrc] = seq
		rr := make([]byte, 32)
		rr[0], rr[1] = 0x81, 201
		binary.BigEndian.PutUint16(rr[2:], 7)
		binary.BigEndian.PutUint32(rr[4:], ssrc^0xffff)
		binary.BigEndian.PutUint32(rr[8:], ssrc)
		binary.BigEndian.PutUint32(rr[16:], uint32(seq))
		eth2 := layers.Ethernet{SrcMAC: eth.DstMAC, DstMAC: eth.SrcMAC, EthernetType: layers.EthernetTypeIPv4}
		ip2 := layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolUDP, SrcIP: ip.DstIP, DstIP: ip.SrcIP}
		udp2 := layers.UDP{SrcPort: udp.DstPort + 1, DstPort: udp.SrcPort + 1}
		udp2.SetNetworkLayerForChecksum(&ip2)
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{ComputeChecksums: true, FixLengths: true}, &eth2, &ip2, &udp2, gopacket.Payload(rr)); err != nil {
			t.Fatal(err)
		}
		return [][]byte{buf.Bytes()}
	}
	missed = func() int64 {
		var n int64
		for ssrc, seqs := range dropped {
			for _, q := range seqs {
				if d := lastRR[ssrc] - q; d < 0x8000 {
					n++
				}
			}
		}
		return n
	}
	return opt, missed
}

// TestSearchIncompleteByUs: a box misses packets that crossed the wire
// (the receivers' RTCP reports say they arrived); another records its
// calls whole. The recording's completeness record, sealed and synced
// with the call, says how many packets the box missed; the search's
// "recorded incomplete by us" filter (API and page) finds that recording
// and no other; its page says so.
func TestSearchIncompleteByUs(t *testing.T) {
	e := newEnv(t, nil)
	start := e.clock.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	opt, missed := lossyCapture(t)
	b1 := e.addBox("branch-1", synth.Config{Calls: 1, Duration: 20 * time.Second, Start: start}, opt)
	e.addBox("branch-2", synth.Config{Calls: 2, Concurrent: 1, Duration: 20 * time.Second, Start: start})
	want := missed()
	if want == 0 {
		t.Fatal("the capture dropped nothing that was reported")
	}
	c := e.signIn(e.addUser("comp", access.Compliance, "branch-1", "branch-2"))
	search := func(q string) []access.Hit {
		t.Helper()
		var out struct {
			Recordings []access.Hit `json:"recordings"`
		}
		if st, body := c.do("GET", "/api/v1/recordings?"+q, nil, &out); st != 200 {
			t.Fatalf("%s: %d %s", q, st, body)
		}
		return out.Recordings
	}
	if n := len(search("")); n != 3 {
		t.Fatalf("%d recordings, want 3", n)
	}
	hits := search("incomplete=1")
	if len(hits) != 1 || hits[0].Appliance != "branch-1" {
		t.Fatalf("recorded incomplete by us: %d recordings (%+v), want branch-1's one", len(hits), hits)
	}
	rs, err := e.a.Index.Records(t.Context(), indexOne("branch-1", hits[0].ID))
	if err != nil || len(rs) != 1 {
		t.Fatalf("index: %v, %d records", err, len(rs))
	}
	var entry record.Entry
	if err := json.Unmarshal([]byte(rs[0].Entry), &entry); err != nil {
		t.Fatal(err)
	}
	if entry.Completeness == nil || entry.Completeness.LostCapture != want || entry.Completeness.Unattributed == 0 {
		t.Fatalf("completeness %+v, want %d packets lost by the capture (and the ones after the last report unattributed)", entry.Completeness, want)
	}
	if n := len(search("incomplete=1&branch=branch-2")); n != 0 {
		t.Fatalf("branch-2: %d recordings recorded incomplete by us", n)
	}

	// The page: the form's field, the filtered list, the recording's page.
	wc := e.httpClient()
	webSignIn(t, e, wc, e.addUser("comp2", access.Compliance, "branch-1", "branch-2"))
	var resp *http.Response
	resp, err = wc.Get(e.web + "/search?incomplete=on")
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(resp)
	if !strings.Contains(page, `name="incomplete"`) || strings.Count(page, `class="rec"`) != 1 || !strings.Contains(page, "/r/branch-1/"+hits[0].ID) {
		t.Fatalf("search page with the filter: %d results\n%s", strings.Count(page, `class="rec"`), page)
	}
	resp, err = wc.Get(e.web + "/r/branch-1/" + hits[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	page = readAll(resp)
	if !strings.Contains(page, fmt.Sprintf("Recorded incomplete by us: %d packets", want)) || !strings.Contains(page, `id="completeness-streams"`) {
		t.Fatalf("recording page lacks the completeness record:\n%s", page)
	}

	// The box counts the day's calls recorded incomplete by it and says
	// so at check-in; the fleet page shows it per box.
	b1.health.CallsIncompleteByUs = 1
	e.sync(b1)
	wa := e.httpClient()
	webSignIn(t, e, wa, e.addUser("ops", access.Admin))
	if resp, err = wa.Get(e.web + "/fleet"); err != nil {
		t.Fatal(err)
	}
	page = readAll(resp)
	if row := between(page, `id="box-branch-1"`, `</tr>`); !strings.Contains(row, `class="incomplete">1<`) {
		t.Fatalf("fleet row of branch-1 lacks the day's calls recorded incomplete by us: %s", row)
	}
}

// TestCompletenessBackfill: records indexed for search before the
// completeness fact existed (index migration 15 leaves them at -1, not
// known) get it from their stored entry when the service starts.
func TestCompletenessBackfill(t *testing.T) {
	e := newEnv(t, nil)
	opt, missed := lossyCapture(t)
	e.addBox("branch-1", synth.Config{Calls: 1, Duration: 20 * time.Second, Start: e.clock.Now().Add(-time.Hour)}, opt)
	if _, err := e.svc.IndexPending(t.Context()); err != nil {
		t.Fatal(err)
	}
	db := e.a.Index.DB()
	if _, err := db.ExecContext(t.Context(), `UPDATE search_facts SET lost_capture = -1`); err != nil {
		t.Fatal(err)
	}
	svc := access.New(e.a, e.keys)
	if _, err := svc.IndexPending(t.Context()); err != nil {
		t.Fatal(err)
	}
	var lost int64
	if err := db.QueryRowContext(t.Context(), `SELECT lost_capture FROM search_facts WHERE appliance = ?`, "branch-1").Scan(&lost); err != nil {
		t.Fatal(err)
	}
	if lost != missed() {
		t.Fatalf("backfilled lost_capture %d, want %d", lost, missed())
	}
}
