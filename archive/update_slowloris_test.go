package archive_test

import (
	"bufio"
	"crypto/tls"
	"errors"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/internal/units"
)

// TestSecDownloadSlowloris: a box with an offer sends a GET with a
// declared body it never sends: the archive refuses it and closes the
// connection within the stall window. (Old code: the handler cleared
// the read deadline and the server waited for the body forever: the
// connection and its goroutine were held.)
func TestSecDownloadSlowloris(t *testing.T) {
	e := newUpdEnv(t, func(c *archive.Config) { c.UploadStall = units.Duration(time.Second) })
	e.box("canary")
	e.checkIn("canary", running(1))
	e.publish(7)
	if _, err := e.roll(archive.RollOptions{Serial: 7, Canary: "canary", Percent: 10, ConfirmWithin: 20 * time.Minute, By: "ops"}); err != nil {
		t.Fatal(err)
	}
	if rep := e.checkIn("canary", running(1)); rep.Update == nil {
		t.Fatal("no offer")
	}
	held := func(path string) bool {
		tc := e.boxes["canary"].Transport.(*http.Transport).TLSClientConfig.Clone()
		c, err := tls.Dial("tcp", e.addr, tc)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("GET " + path + " HTTP/1.1\r\nHost: x\r\nRange: bytes=0-0\r\nContent-Length: 1000\r\n\r\n"))
		br := bufio.NewReader(c)
		deadline := time.Now().Add(4 * time.Second)
		buf := make([]byte, 1<<16)
		got := 0
		for {
			c.SetReadDeadline(deadline)
			n, err := br.Read(buf)
			got += n
			if err != nil {
				t.Logf("%s: %d bytes back, then %v", path, got, err)
				return errors.Is(err, os.ErrDeadlineExceeded)
			}
		}
	}
	if held(archive.PathUpdate + "7/root") {
		t.Errorf("update download: the connection is still held 4s after a 1s stall window (no read deadline while the unsent body is discarded)")
	}
	if held(archive.PathUpdate + "8/root") {
		t.Errorf("refused download: connection held")
	}
}
