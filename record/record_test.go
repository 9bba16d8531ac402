package record

import (
	"encoding/json"
	"testing"
	"time"
)

func TestNormalizeNumber(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"+49 (30) 1234-567", "49301234567"},
		{"030.123 456", "030123456"},
		{" 4711 ", "4711"},
		{"Alice", "alice"},
		{"alice.smith", "alice.smith"},
		{"100a", "100a"},
		{"+", "+"},
		{"", ""},
	} {
		if got := NormalizeNumber(tc.in); got != tc.want {
			t.Errorf("NormalizeNumber(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestTombstoneKindOf(t *testing.T) {
	for _, tc := range []struct {
		t    Tombstone
		want string
	}{
		{Tombstone{Kind: TombstoneErased, Reason: "retention"}, TombstoneErased},
		{Tombstone{Kind: TombstoneRemoved, Reason: "erasure"}, TombstoneRemoved},
		{Tombstone{Reason: "erasure"}, TombstoneErased},
		{Tombstone{Reason: "erasure: subject request"}, TombstoneErased},
		{Tombstone{Reason: "erasures"}, TombstoneRemoved},
		{Tombstone{Reason: "retention"}, TombstoneRemoved},
		{Tombstone{}, TombstoneRemoved},
	} {
		if got := tc.t.KindOf(); got != tc.want {
			t.Errorf("%+v.KindOf() = %q, want %q", tc.t, got, tc.want)
		}
	}
}

// TestFrozenFrameBytes: the kind and direction are bytes in every sealed
// frame; their values never change.
func TestFrozenFrameBytes(t *testing.T) {
	for _, tc := range []struct {
		got, want uint8
		name      string
	}{
		{uint8(KindSIP), 1, "KindSIP"}, {uint8(KindRTP), 2, "KindRTP"}, {uint8(KindRTCP), 3, "KindRTCP"},
		{uint8(AtoB), 0, "AtoB"}, {uint8(BtoA), 1, "BtoA"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %d, want %d", tc.name, tc.got, tc.want)
		}
	}
	if AtoB.String() != "caller->callee" || BtoA.String() != "callee->caller" {
		t.Errorf("directions read %q, %q", AtoB, BtoA)
	}
}

// TestFrozenJSON: the JSON names the box's index and the archive's store
// hold; an entry, personal record and tombstone encode to these bytes.
func TestFrozenJSON(t *testing.T) {
	at := time.Date(2026, 12, 6, 1, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		v    any
		want string
	}{
		{Entry{ID: "x1", State: StateComplete, CallState: "ended", Start: at, Duration: 1.5, Recorded: true, Size: 7, Formats: map[uint8]string{0: "PCMU"}, Class: "default", Holds: []string{"h"}, Sync: SyncAcked,
			Streams: []StreamStats{{SSRC: "0x00000001", Codec: "PCMU", Dir: AtoB.String(), Packets: 2, Last: at}}, Events: []ClearEvent{{Time: at, Kind: "hold"}}},
			`{"id":"x1","state":"complete","call_state":"ended","start":"2026-12-06T01:30:00Z","duration_s":1.5,"recorded":true,"size":7,"formats":{"0":"PCMU"},"class":"default","holds":["h"],"sync":"acked",` +
				`"streams":[{"ssrc":"0x00000001","payload_type":0,"codec":"PCMU","dir":"caller-\u003ecallee","packets":2,"lost":0,"duplicates":0,"out_of_order":0,"jitter_ms":0,"max_jitter_ms":0,"mos":0,"last":"2026-12-06T01:30:00Z"}],"events":[{"time":"2026-12-06T01:30:00Z","kind":"hold"}]}`},
		{Personal{CallID: "c", From: "sip:1@a", To: "sip:2@b", Numbers: []string{"1", "2"}, Streams: []StreamAddrs{{Src: "1.2.3.4:5", Dst: "5.6.7.8:9"}}, Events: []Event{{Time: at, Kind: "dtmf", Digit: "5", Duration: time.Second}}},
			`{"call_id":"c","from":"sip:1@a","to":"sip:2@b","numbers":["1","2"],"streams":[{"src":"1.2.3.4:5","dst":"5.6.7.8:9"}],"events":[{"time":"2026-12-06T01:30:00Z","kind":"dtmf","digit":"5","duration_ns":1000000000}]}`},
		{Tombstone{ID: "x1", Start: at, Class: "default", DeletedAt: at, Reason: "erasure", By: "dpo", Kind: TombstoneErased},
			`{"id":"x1","start":"2026-12-06T01:30:00Z","class":"default","deleted_at":"2026-12-06T01:30:00Z","reason":"erasure","by":"dpo","synced":false,"kind":"erased"}`},
	} {
		b, err := json.Marshal(tc.v)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != tc.want {
			t.Errorf("%T encodes as\n%s\nwant\n%s", tc.v, b, tc.want)
		}
	}
}
