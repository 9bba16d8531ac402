// Command sipgen writes a synthetic SIP+RTP capture: the project's sample
// capture and benchmark load. Every packet is generated; nothing is copied.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/spanvault/spanvault/capture/synth"
)

func main() {
	out := flag.String("o", "sample.pcap", "output pcap file")
	calls := flag.Int("calls", 3, "answered calls")
	conc := flag.Int("concurrent", 0, "how many calls overlap (default: all)")
	dur := flag.Duration("duration", 10*time.Second, "talk time per call")
	codec := flag.String("codec", "PCMA", "PCMA, PCMU or G722")
	dtmf := flag.String("dtmf", "", "DTMF digits the caller sends in each call")
	rejected := flag.Int("rejected", 0, "calls rejected with 486")
	halfOpen := flag.Int("half-open", 0, "INVITEs never answered")
	noise := flag.Int("noise", 0, "random non-RTP UDP packets")
	vlan := flag.Int("vlan", 0, "802.1Q VLAN ID to tag frames with")
	seed := flag.Uint64("seed", 1, "random seed (same seed, same capture)")
	flag.Parse()
	g := synth.New(synth.Config{Calls: *calls, Concurrent: *conc, Duration: *dur, Codec: *codec, DTMF: *dtmf,
		Rejected: *rejected, HalfOpen: *halfOpen, Noise: *noise, VLAN: uint16(*vlan), Seed: *seed})
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sipgen:", err)
		os.Exit(1)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := pcapgo.NewWriterNanos(bw)
	if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		fmt.Fprintln(os.Stderr, "sipgen:", err)
		os.Exit(1)
	}
	for {
		fr, ok := g.Next()
		if !ok {
			break
		}
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: fr.Time, CaptureLength: len(fr.Data), Length: len(fr.Data)}, fr.Data); err != nil {
			fmt.Fprintln(os.Stderr, "sipgen:", err)
			os.Exit(1)
		}
	}
	err = bw.Flush()
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "sipgen:", err)
		os.Exit(1)
	}
	s := g.Summary
	fmt.Printf("%s: %d frames (%d SIP, %d RTP), %d dialogs, %d answered\n", *out, s.Frames, s.SIP, s.RTP, s.Calls, s.Answered)
}
