package sealed_test

import (
	"bytes"
	"io"
	"os"
	"testing"

	"filippo.io/age"
	"github.com/google/gopacket/pcapgo"

	"github.com/spanvault/spanvault/vault/sealed"
)

// TestFrozenSPVREC1: a recording sealed by the code of its day in the
// first record format (testdata/spvrec1, see its README) opens with its
// identity and reads with today's reader: the magic of version 1, every
// frame byte for byte and at its time as the export of that day wrote it,
// and an end record that verifies.
func TestFrozenSPVREC1(t *testing.T) {
	idf, err := os.Open("testdata/spvrec1/identity.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer idf.Close()
	ids, err := age.ParseIdentities(idf)
	if err != nil {
		t.Fatal(err)
	}
	sealedFile, err := os.ReadFile("testdata/spvrec1/recording.age")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := age.Decrypt(bytes.NewReader(sealedFile), ids...)
	if err != nil {
		t.Fatalf("age: %v", err)
	}
	body, err := io.ReadAll(plain)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(body, []byte(sealed.MagicV1)) {
		t.Fatalf("not a version 1 recording: %q", body[:8])
	}
	pf, err := os.Open("testdata/spvrec1/packets.pcap")
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	pr, err := pcapgo.NewReader(pf)
	if err != nil {
		t.Fatal(err)
	}
	r, err := sealed.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		var f sealed.Frame
		kind, _, err := r.Next(&f)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d frames: %v", n, err)
		}
		if kind != sealed.RecFrame {
			continue // the call's metadata
		}
		data, ci, err := pr.ReadPacketData()
		if err != nil {
			t.Fatalf("frame %d: the export of that day has no packet here: %v", n, err)
		}
		if !bytes.Equal(f.Data, data) || !f.Time.Equal(ci.Timestamp) {
			t.Fatalf("frame %d differs from what the code of its day exported", n)
		}
		n++
	}
	if _, _, err := pr.ReadPacketData(); err != io.EOF {
		t.Fatalf("the recording ended after %d frames, the export of its day has more", n)
	}
	if n != 305 {
		t.Fatalf("%d frames, want 305", n)
	}
}
