package capture_test

import (
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/spanvault/spanvault/capture"
)

// A pcapng block whose length runs past the end of the file is damage,
// not a clean end (pcapgo reports it as io.EOF).
func TestPcapngBadBlockLength(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.pcapng")
	f, _ := os.Create(path)
	w, err := pcapgo.NewNgWriter(f, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		data := make([]byte, 60)
		w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(int64(i), 0), CaptureLength: 60, Length: 60}, data)
	}
	w.Flush()
	f.Close()
	read := func() (int, error) {
		cf, err := capture.OpenFile(path)
		if err != nil {
			return 0, err
		}
		defer cf.Close()
		n := 0
		for {
			_, _, _, err := cf.Next()
			if err == io.EOF {
				return n, nil
			}
			if err != nil {
				return n, err
			}
			n++
		}
	}
	if n, err := read(); n != 3 || err != nil {
		t.Fatalf("intact file: %d frames, %v", n, err)
	}
	// Find the last block (an enhanced packet block) and break its length.
	b, _ := os.ReadFile(path)
	off := 0
	last := 0
	for off+8 <= len(b) {
		last = off
		off += int(binary.LittleEndian.Uint32(b[off+4:]))
	}
	binary.LittleEndian.PutUint32(b[last+4:], 1<<30)
	os.WriteFile(path, b, 0o600)
	n, err := read()
	if err == nil || !strings.Contains(err.Error(), "damaged after packet 2") {
		t.Fatalf("bad block length: %d frames, %v", n, err)
	}
}
