package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/spanvault/spanvault/capture/synth"
)

// keys makes an identity with spanvault keygen in dir: id.txt (mode
// 0600) and recipients.txt, its recipient.
func keys(t *testing.T, dir string) (id, recips string) {
	t.Helper()
	id = filepath.Join(dir, "id.txt")
	out, _, code := runCLI(t, "keygen", "-o", id)
	if code != 0 || !strings.HasPrefix(out, "age1") {
		t.Fatalf("keygen: %d %q", code, out)
	}
	if st, _ := os.Stat(id); st.Mode().Perm() != 0o600 {
		t.Fatalf("identity mode %v", st.Mode())
	}
	recips = filepath.Join(dir, "recipients.txt")
	os.WriteFile(recips, []byte(out), 0o600)
	return id, recips
}

// writeCapture writes the frames synth generates for cfg to a pcap file
// at path. after, when not nil, sees each frame and may return one more
// packet, written after it at the same time.
func writeCapture(t *testing.T, path string, cfg synth.Config, after func(data []byte) []byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := pcapgo.NewWriterNanos(f)
	w.WriteFileHeader(65536, layers.LinkTypeEthernet)
	g := synth.New(cfg)
	for {
		fr, ok := g.Next()
		if !ok {
			break
		}
		w.WritePacket(gopacket.CaptureInfo{Timestamp: fr.Time, CaptureLength: len(fr.Data), Length: len(fr.Data)}, fr.Data)
		if after == nil {
			continue
		}
		if more := after(fr.Data); more != nil {
			w.WritePacket(gopacket.CaptureInfo{Timestamp: fr.Time, CaptureLength: len(more), Length: len(more)}, more)
		}
	}
}

// recordPcap records the capture at pcap into the vault at v with
// spanvault record, sealed to recips.
func recordPcap(t *testing.T, v, recips, pcap string) {
	t.Helper()
	if out, errs, code := runCLI(t, "record", "-vault", v, "-recipient", recips, pcap); code != 0 {
		t.Fatalf("record: %s %s", out, errs)
	}
}
