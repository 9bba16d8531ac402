// Command mirrorfeed replays the Ethernet frames of a capture file into a
// virtual machine's network card, as a switch's mirror port would deliver
// them: one datagram per frame to qemu's "-netdev dgram" unix socket (or
// "-netdev socket" UDP port), paced so the emulated guest keeps up.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/spanvault/spanvault/capture"
	"github.com/spanvault/spanvault/capture/decode"
)

func main() {
	unixPath := flag.String("unix", "", "qemu -netdev dgram local.path to send frames to")
	udpAddr := flag.String("udp", "", "qemu -netdev socket localaddr (host:port) to send frames to")
	pps := flag.Int("pps", 1000, "frames per second")
	flag.Parse()
	if flag.NArg() != 1 || (*unixPath == "") == (*udpAddr == "") {
		fmt.Fprintln(os.Stderr, "usage: mirrorfeed (-unix PATH | -udp HOST:PORT) [-pps N] CAPTURE")
		os.Exit(2)
	}
	var conn net.Conn
	var err error
	if *unixPath != "" {
		conn, err = net.DialUnix("unixgram", nil, &net.UnixAddr{Name: *unixPath, Net: "unixgram"})
	} else {
		conn, err = net.Dial("udp", *udpAddr)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mirrorfeed:", err)
		os.Exit(1)
	}
	f, err := capture.OpenFile(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "mirrorfeed:", err)
		os.Exit(1)
	}
	t0 := time.Now()
	n, bytes := 0, 0
	for {
		data, _, lt, err := f.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "mirrorfeed:", err)
			os.Exit(1)
		}
		if lt != decode.LinkEthernet {
			fmt.Fprintln(os.Stderr, "mirrorfeed: only Ethernet captures can be fed to a network card")
			os.Exit(1)
		}
		if d := time.Until(t0.Add(time.Duration(n) * time.Second / time.Duration(*pps))); d > 0 {
			time.Sleep(d)
		}
		if _, err := conn.Write(data); err != nil {
			fmt.Fprintln(os.Stderr, "mirrorfeed: send:", err)
			os.Exit(1)
		}
		n++
		bytes += len(data)
	}
	fmt.Printf("SENT frames=%d bytes=%d in %s\n", n, bytes, time.Since(t0).Round(time.Millisecond))
}
