package access_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"slices"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/spanvault/spanvault/sync/client"
)

// The fleet simulation's enrollment: every box enrolls zero-touch, as a
// box built for the archive does at first boot. Each round is a poll
// interval of a pending box (30 simulated seconds): every box not yet
// enrolled asks its front-end's enrollment endpoint once (client.EnrollOnce:
// its own key, TLS pinned to the CA's fingerprint, no client
// certificate), from a network of its own (each branch is a /24: the
// archive limits requests per network); the admin approves each code that
// showed up as the branch's name, the way spanvault-archive approve does
// (Archive.ApproveFourEyes); at its next request the box receives its
// certificates. The archive's limits apply as they are: requests beyond
// its rate are refused (429) and asked again the next round.

// enrollRound is how often a pending box asks again (client poll_every).
const enrollRound = 30 * time.Second

// simSource is box i's address: a /24 of its own on loopback.
func simSource(i int) string { return fmt.Sprintf("127.%d.%d.1", 1+i/250, i%250) }

// fleetEnrollStats is what the enrollment cost.
type fleetEnrollStats struct {
	Rounds  int
	Sim     time.Duration // simulated time from the first request to the last box enrolled
	Limited int           // requests the archive's rate limits refused
	Asked   int           // requests in all
	FECPU   time.Duration
	PGCPU   time.Duration
	Wall    time.Duration
}

// enroll runs enrollment rounds until every box holds its certificates.
func (s *fleetSim) enroll(stdin io.Writer, replies *bufio.Scanner, pgPID int) fleetEnrollStats {
	t := s.e.t
	ctx := context.Background()
	n := len(s.plan.Boxes)
	approved := make([]bool, n)
	var st fleetEnrollStats
	maxRounds := 20 + n/10
	for r := 1; ; r++ {
		if r > maxRounds {
			t.Fatalf("enrollment: not all %d boxes enrolled after %d rounds", n, maxRounds)
		}
		s.e.clock.Add(enrollRound)
		c0, p0, w0 := selfCPU(), procTreeCPU(pgPID), time.Now()
		fmt.Fprintf(stdin, "enroll %d\n", r)
		var reply string
		for replies.Scan() {
			line := replies.Text()
			if code, ok := strings.CutPrefix(line, "fleet-code "); ok {
				var i int
				var c string
				if _, err := fmt.Sscanf(code, "%d %s", &i, &c); err != nil || i < 0 || i >= n {
					t.Fatalf("enrollment: %q", line)
				}
				if approved[i] {
					continue
				}
				if ok, err := s.e.a.ApproveFourEyes(ctx, c, s.plan.Boxes[i].Name, "fleet-admin", ""); err != nil || !ok {
					t.Fatalf("approve %s as %s: %v %v", c, s.plan.Boxes[i].Name, ok, err)
				}
				approved[i] = true
				continue
			}
			if strings.HasPrefix(line, "fleet-enrolled ") {
				reply = line
				break
			}
		}
		st.FECPU += selfCPU() - c0
		st.PGCPU += procTreeCPU(pgPID) - p0
		st.Wall += time.Since(w0)
		var gotR, enrolled, asked, limited, failed int
		fmt.Sscanf(reply, "fleet-enrolled %d %d %d %d %d", &gotR, &enrolled, &asked, &limited, &failed)
		if gotR != r || failed > 0 {
			t.Fatalf("enrollment round %d: %q", r, reply)
		}
		st.Asked += asked
		st.Limited += limited
		if enrolled == n {
			st.Rounds, st.Sim = r, time.Duration(r)*enrollRound
			return st
		}
	}
}

// simBoxes is the boxes' side: their enrollment state and, once
// enrolled, their sync clients.
type simBoxes struct {
	plan     fleetSimPlan
	enrolled []bool
}

// enrollRound has every box not yet enrolled ask once, and prints the
// codes of those pending ("fleet-code I CODE") and then one line:
// "fleet-enrolled ROUND ENROLLED ASKED LIMITED FAILED err FIRST".
func (sb *simBoxes) enrollRound(r int) {
	var mu gosync.Mutex
	asked, limited, failed, first := 0, 0, 0, ""
	work := make(chan int)
	var wg gosync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				bx := sb.plan.Boxes[i]
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				st, err := client.EnrollOnce(ctx, client.EnrollConfig{Archives: []string{bx.Addr}, CAFingerprint: sb.plan.CAFingerprint,
					Dir: bx.Dir, LocalAddr: &net.TCPAddr{IP: net.ParseIP(bx.Source)}})
				cancel()
				var re *client.RemoteError
				mu.Lock()
				asked++
				switch {
				case err != nil && errors.As(err, &re) && (re.Status == http.StatusTooManyRequests || re.Status == http.StatusServiceUnavailable):
					limited++
				case err != nil:
					failed++
					if first == "" {
						first = err.Error()
					}
				case st.State == "approved":
					if st.Name != bx.Name {
						failed++
						first = fmt.Sprintf("box %d enrolled as %q, approved as %q", i, st.Name, bx.Name)
					}
					sb.enrolled[i] = true
				default:
					fmt.Printf("fleet-code %d %s\n", i, st.Code)
				}
				mu.Unlock()
			}
		}()
	}
	for i := range sb.plan.Boxes {
		if !sb.enrolled[i] {
			work <- i
		}
	}
	close(work)
	wg.Wait()
	n := 0
	for _, e := range sb.enrolled {
		if e {
			n++
		}
	}
	fmt.Printf("fleet-enrolled %d %d %d %d %d err %s\n", r, n, asked, limited, failed, strings.ReplaceAll(first, "\n", " "))
}

// serverTimes keeps how long the handler took for each request to path
// (the server's side of a page's render, without the network).
type serverTimes struct {
	path string
	mu   gosync.Mutex
	d    []time.Duration
}

func (st *serverTimes) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != st.path {
			h.ServeHTTP(w, r)
			return
		}
		t0 := time.Now()
		h.ServeHTTP(w, r)
		st.mu.Lock()
		st.d = append(st.d, time.Since(t0))
		st.mu.Unlock()
	})
}

func (st *serverTimes) sorted() []time.Duration {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := slices.Clone(st.d)
	slices.Sort(out)
	return out
}

// fleetFirstPaint opens the fleet page in chromium (when installed) a
// few times and answers the median first contentful paint, in ms from
// the navigation's start (0 without chromium).
func fleetFirstPaint(b *testing.B, e *env, u *user) float64 {
	if _, err := exec.LookPath("chromium"); err != nil {
		return 0
	}
	ctx := browser(b)
	signInBrowser(b, ctx, e, u)
	var fcp []float64
	for range 5 {
		do(b, ctx, "open the fleet", chromedp.Navigate(e.web+"/fleet"), chromedp.WaitVisible(chromedp.ID("fleet")))
		fcp = append(fcp, js[pageSample](b, ctx, measurePage).FCP)
	}
	slices.Sort(fcp)
	return fcp[len(fcp)/2]
}
