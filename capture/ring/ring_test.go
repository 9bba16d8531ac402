//go:build linux

package ring_test

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/spanvault/spanvault/capture/ring"
	"github.com/spanvault/spanvault/capture/ring/ringtest"
)

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("live capture needs root (CAP_NET_RAW, CAP_NET_ADMIN); run as root")
	}
}

// withVeth creates a veth pair in a fresh network namespace and runs fn on
// a thread inside it.
func withVeth(t *testing.T, fn func(a, b string)) {
	t.Helper()
	ns := ringtest.NewNetns(t, "svring")
	run := func(args ...string) {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out)
		}
	}
	run("ip", "-n", ns.Name, "link", "add", "mirror0", "type", "veth", "peer", "name", "switch0")
	for _, i := range []string{"mirror0", "switch0"} {
		run("ip", "-n", ns.Name, "link", "set", i, "up")
		exec.Command("ip", "netns", "exec", ns.Name, "sysctl", "-qw", "net.ipv6.conf."+i+".disable_ipv6=1").Run()
	}
	ns.Do(t, func() { fn("mirror0", "switch0") })
}

func frame(vlan uint16, payload string) []byte {
	b := []byte{0x02, 0, 0, 0, 0, 0xbb, 0x02, 0, 0, 0, 0, 0xaa}
	if vlan != 0 {
		b = append(b, 0x81, 0x00, byte(vlan>>8), byte(vlan))
	}
	b = append(b, 0x08, 0x00)
	ip := []byte{0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2}
	udp := []byte{0x13, 0xc4, 0x13, 0xc4, 0, 0, 0, 0}
	l := 20 + 8 + len(payload)
	ip[2], ip[3] = byte(l>>8), byte(l)
	udp[4], udp[5] = byte((l-20)>>8), byte(l-20)
	b = append(b, ip...)
	b = append(b, udp...)
	return append(b, payload...)
}

func inject(t *testing.T, ifname string, frames [][]byte) {
	t.Helper()
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	sa := &unix.SockaddrLinklayer{Ifindex: ifi.Index, Halen: 6}
	for _, f := range frames {
		if err := unix.Sendto(fd, f, 0, sa); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRingVLANAndFilter: frames injected on the far end of a veth pair
// arrive through the ring; 802.1Q tags stripped by the kernel are put
// back; ARP is filtered out in the kernel.
func TestRingVLANAndFilter(t *testing.T) {
	needRoot(t)
	withVeth(t, func(mirror, sw string) {
		r, err := ring.Open(ring.Config{Interface: mirror, Promiscuous: true, BlockSize: 1 << 16, Blocks: 4, RetireTimeout: 10 * time.Millisecond, PollTimeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		arp := append([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 2, 0, 0, 0, 0, 0xaa, 0x08, 0x06}, make([]byte, 28)...)
		want := [][]byte{frame(0, "plain"), frame(100, "tagged"), frame(0, "last")}
		inject(t, sw, [][]byte{want[0], arp, want[1], want[2]})
		var got [][]byte
		deadline := time.Now().Add(5 * time.Second)
		for len(got) < len(want) && time.Now().Before(deadline) {
			data, ts, _, err := r.Next()
			if errors.Is(err, ring.ErrTimeout) {
				continue
			}
			if err != nil {
				t.Fatal(err)
			}
			if ts.IsZero() || time.Since(ts) > time.Minute {
				t.Fatalf("bad kernel timestamp %v", ts)
			}
			got = append(got, bytes.Clone(data))
		}
		if len(got) != len(want) {
			t.Fatalf("got %d frames, want %d", len(got), len(want))
		}
		for i := range want {
			if !bytes.Equal(got[i], want[i]) {
				t.Fatalf("frame %d:\n got %x\nwant %x", i, got[i], want[i])
			}
		}
		st, err := r.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if st.Packets != 3 || st.Drops != 0 || st.VLANRestored != 1 {
			t.Fatalf("stats %+v: the filter must drop ARP in the kernel and the tag must be restored", st)
		}
	})
}

// TestRingDrops: a ring too small for a burst reports the kernel's drops.
func TestRingDrops(t *testing.T) {
	needRoot(t)
	withVeth(t, func(mirror, sw string) {
		r, err := ring.Open(ring.Config{Interface: mirror, BlockSize: 4096, Blocks: 2, RetireTimeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var burst [][]byte
		for i := 0; i < 500; i++ {
			burst = append(burst, frame(0, string(make([]byte, 600))))
		}
		inject(t, sw, burst) // nobody reads while the burst arrives
		time.Sleep(100 * time.Millisecond)
		st, err := r.Stats()
		if err != nil {
			t.Fatal(err)
		}
		if st.Drops == 0 || st.Packets != 500 {
			t.Fatalf("stats %+v: 500 frames into 8 KiB of ring must drop", st)
		}
	})
}

// TestRingInterfaceGone: when the mirror port disappears, Next reports it
// instead of spinning on a socket error.
func TestRingInterfaceGone(t *testing.T) {
	needRoot(t)
	withVeth(t, func(mirror, sw string) {
		r, err := ring.Open(ring.Config{Interface: mirror, BlockSize: 1 << 16, Blocks: 4, PollTimeout: 50 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if out, err := exec.Command("ip", "link", "del", sw).CombinedOutput(); err != nil {
			t.Fatalf("ip link del: %v %s", err, out)
		}
		for i := 0; i < 100; i++ {
			_, _, _, err := r.Next()
			if errors.Is(err, ring.ErrTimeout) {
				continue
			}
			if err == nil {
				continue // frames queued before the link went away
			}
			t.Logf("after the interface went away: %v", err)
			return
		}
		t.Fatal("Next kept returning timeouts after the interface was deleted")
	})
}
