package record

import (
	"encoding/json"
	"testing"
)

// TestFrozenCompletenessJSON: the completeness record's JSON names are
// stored for years; an entry written before it existed reads with none.
func TestFrozenCompletenessJSON(t *testing.T) {
	s := StreamCompleteness{ExpectedSeq: 1000, Captured: 930, SenderReports: 5, SenderPackets: 1000, ExpectedSR: 1000, ReceiverReports: 5, ReceiverLost: 50, ReceiverHighestSeq: 1099, LostNetwork: 50, LostCapture: 20, LostAfterMirror: 1}
	const want = `{"expected_seq":1000,"captured":930,"sender_reports":5,"sender_packets":1000,"expected_sr":1000,"receiver_reports":5,"receiver_lost":50,"receiver_highest_seq":1099,"lost_network":50,"lost_capture":20,"unattributed":0,"lost_after_mirror":1}`
	if b, _ := json.Marshal(s); string(b) != want {
		t.Fatalf("StreamCompleteness encodes as\n%s\nwant\n%s", b, want)
	}
	var c Completeness
	c.Add(&s)
	const wantSum = `{"expected":1000,"captured":930,"lost_network":50,"lost_capture":20,"unattributed":0,"lost_after_mirror":1,"reported":true}`
	if b, _ := json.Marshal(c); string(b) != wantSum {
		t.Fatalf("Completeness encodes as\n%s\nwant\n%s", b, wantSum)
	}
	if !c.IncompleteByUs() {
		t.Fatal("a call that lost 20 packets to the capture is not incomplete by us")
	}
	// An entry as written before completeness records.
	var e Entry
	old := `{"id":"x1","state":"complete","call_state":"ended","start":"2026-12-06T01:30:00Z","duration_s":1.5,"recorded":true,"size":7,"class":"default","sync":"acked",` +
		`"streams":[{"ssrc":"0x00000001","payload_type":0,"codec":"PCMU","dir":"caller-\u003ecallee","packets":2,"lost":0,"duplicates":0,"out_of_order":0,"jitter_ms":0,"max_jitter_ms":0,"mos":0}]}`
	if err := json.Unmarshal([]byte(old), &e); err != nil {
		t.Fatal(err)
	}
	if e.Completeness != nil || e.Streams[0].Completeness != nil || e.Completeness.IncompleteByUs() {
		t.Fatalf("an old entry reads with a completeness record: %+v", e)
	}
}
