package access_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	gosync "sync"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/access"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/index/pgtest"
	"github.com/spanvault/spanvault/archive/keyring"
	"github.com/spanvault/spanvault/sync/wire"
)

// The fleet simulation (make fleet; make bench at a reduced size): N
// boxes enroll zero-touch (fleet_enroll_sim_test.go: each makes its key,
// asks the enrollment endpoint, is approved by code, receives its own
// certificate), then check in every simulated minute for a simulated span
// (compressed time: the archive's clock is injected and moved a minute
// per round) against two front-ends sharing one PostgreSQL index, with 30
// days of history already kept. The boxes run in a child process
// (TestFleetSimBoxes), so that this process's CPU is the front-ends' own;
// PostgreSQL's is read from /proc. Then the fleet page is rendered with N
// boxes and 30 days.
//
// SPANVAULT_FLEET_BOXES (default 50) and SPANVAULT_FLEET_MINUTES (default
// 60) set the size; make fleet runs 500 boxes for 1,440 minutes.
//
// Update waves (fleet_update_sim_test.go): a signed update is published
// and rolled out in waves (canary, 10 %, the rest) while the boxes check
// in; they download, reboot and confirm it, a few roll back.

type fleetSimPlan struct {
	Start         time.Time      `json:"start"`
	CAFingerprint string         `json:"ca_fingerprint"` // what the boxes' image carries
	Boxes         []fleetSimSpec `json:"boxes"`
}

type fleetSimSpec struct {
	Name   string `json:"name"`   // the name the admin approves it as
	Dir    string `json:"dir"`    // enrollment directory (sync.key, then sync.crt, ca.crt)
	Addr   string `json:"addr"`   // the front-end it enrolls and checks in with
	Source string `json:"source"` // the address it connects from (simSource)
	Index  int    `json:"index"`
}

// fleetSim is the archive side of the simulation.
type fleetSim struct {
	e    *env
	plan fleetSimPlan
	// beforeMinute, when set, runs before each simulated minute's
	// check-ins (the hook for enrollment and update waves).
	beforeMinute func(minute int)
	fes          []*archive.Archive // the front-ends
	rollouts     []*simRollout      // fleet_update_sim_test.go
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func BenchmarkFleet(b *testing.B) {
	boxes, minutes := envInt("SPANVAULT_FLEET_BOXES", 50), envInt("SPANVAULT_FLEET_MINUTES", 60)
	for b.Loop() {
		runFleetSim(b, boxes, minutes)
	}
}

func runFleetSim(b *testing.B, nboxes, minutes int) {
	dsn := pgtest.Start(b)
	// The simulation starts 55 minutes ago: the archive's CA is made now,
	// valid from an hour ago, and the boxes check the certificates they
	// receive at enrollment against the real clock (valid from five
	// minutes before their issue in simulated time).
	start := time.Now().UTC().Truncate(time.Minute).Add(-55 * time.Minute)
	clk := &clock{t: start}
	dir1 := filepath.Join(b.TempDir(), "fe1")
	if err := archive.Init(dir1, archive.InitOptions{Name: "fleet", Listen: "127.0.0.1:0", Index: dsn}); err != nil {
		b.Fatal(err)
	}
	dir2 := filepath.Join(b.TempDir(), "fe2")
	if out, err := exec.Command("cp", "-a", dir1, dir2).CombinedOutput(); err != nil {
		b.Fatalf("copy archive: %v %s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg gosync.WaitGroup
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})) // errors only
	var fes []*archive.Archive
	var addrs []string
	var lns []net.Listener
	for range 2 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		lns, addrs = append(lns, ln), append(addrs, ln.Addr().String())
	}
	for i, d := range []string{dir1, dir2} {
		a, err := archive.Open(d)
		if err != nil {
			b.Fatal(err)
		}
		a.Now, a.Logger = clk.Now, quiet
		a.Config.Advertise = addrs // what enrolled boxes are given
		wg.Add(1)
		go func() { defer wg.Done(); a.Serve(ctx, lns[i]) }()
		fes = append(fes, a)
	}
	a1 := fes[0]
	id, _ := age.GenerateX25519Identity()
	keys, err := keyring.Parse([]byte(id.String()))
	if err != nil {
		b.Fatal(err)
	}
	svc := access.New(a1, keys)
	// The web workspace on its own listener, without its background loop
	// (the simulation runs the fleet watch itself, timed apart).
	tc, err := a1.TLSConfig()
	if err != nil {
		b.Fatal(err)
	}
	wl, _ := net.Listen("tcp", "127.0.0.1:0")
	pageTimes := &serverTimes{path: "/fleet"}
	web := &http.Server{Handler: pageTimes.wrap(svc.Handler()), TLSConfig: tc, ErrorLog: log.New(io.Discard, "", 0)}
	wg.Add(1)
	go func() { defer wg.Done(); web.ServeTLS(wl, "", "") }()
	b.Cleanup(func() {
		web.Close()
		cancel()
		wg.Wait()
		for _, a := range fes {
			a.Close()
		}
	})
	ca, err := os.ReadFile(filepath.Join(dir1, "ca", "ca.crt"))
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	e := &env{t: b, clock: clk, dir: dir1, a: a1, svc: svc, addr: addrs[0], web: "https://" + wl.Addr().String(), identity: id, keys: keys, boxes: map[string]*box{}, logs: &lockedBuffer{}, pool: pool}
	sum := sha256.Sum256(a1.CA.Cert.Raw)
	sim := &fleetSim{e: e, fes: fes, plan: fleetSimPlan{Start: start, CAFingerprint: "sha256:" + hex.EncodeToString(sum[:])}}
	sim.planUpdates(minutes)
	sim.beforeMinute = sim.startRollouts
	boxesDir := b.TempDir()
	for i := 0; i < nboxes; i++ {
		name := fmt.Sprintf("branch-%03d", i)
		sim.plan.Boxes = append(sim.plan.Boxes, fleetSimSpec{Name: name, Dir: filepath.Join(boxesDir, name), Addr: addrs[i%2], Source: simSource(i), Index: i})
	}

	// The boxes, in a child process.
	planFile := filepath.Join(b.TempDir(), "plan.json")
	pj, _ := json.Marshal(sim.plan)
	if err := os.WriteFile(planFile, pj, 0o600); err != nil {
		b.Fatal(err)
	}
	child := exec.Command(os.Args[0], "-test.run=^TestFleetSimBoxes$", "-test.count=1", "-test.timeout=0")
	child.Env = append(os.Environ(), "SPANVAULT_FLEET_PLAN="+planFile)
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); child.Wait() })
	replies := bufio.NewScanner(stdout)
	pgPID := postmasterPID(dsn)

	est := sim.enroll(stdin, replies, pgPID)
	sim.seedHistory(clk.Now())
	b.Logf("%d boxes enrolled zero-touch in %d rounds (%v simulated; %d requests, %d refused by the rate limits), %v; 30 days of history kept",
		nboxes, est.Rounds, est.Sim, est.Asked, est.Limited, est.Wall.Round(time.Millisecond))

	var checkins int
	var downloaded int64
	var feCPU, pgCPU, wall, watchCPU, watchWall time.Duration
	watches := 0
	for m := 1; m <= minutes; m++ {
		clk.Add(time.Minute)
		if sim.beforeMinute != nil {
			sim.beforeMinute(m)
		}
		c0, p0, w0 := selfCPU(), procTreeCPU(pgPID), time.Now()
		fmt.Fprintf(stdin, "%d %d\n", m, clk.Now().Unix())
		var reply string
		for replies.Scan() {
			if reply = replies.Text(); strings.HasPrefix(reply, "fleet-done ") {
				break
			}
		}
		rolling := sim.rolloutsActive()
		if rolling {
			sim.advanceRollouts() // each front-end's minute: deadlines
		}
		wall += time.Since(w0)
		dfe, dpg := selfCPU()-c0, procTreeCPU(pgPID)-p0
		feCPU += dfe
		pgCPU += dpg
		var gotM, ok, failed, down int
		var got int64
		var first string
		fmt.Sscanf(reply, "fleet-done %d %d %d %d %d", &gotM, &ok, &failed, &down, &got)
		if i := strings.Index(reply, " err "); i > 0 {
			first = reply[i+5:]
		}
		if gotM != m || failed > 0 || ok+down != nboxes {
			b.Fatalf("minute %d: %q (%d of %d boxes checked in, %d rebooting, %d failed: %s)", m, reply, ok, nboxes, down, failed, first)
		}
		checkins += ok
		downloaded += got
		if rolling {
			sim.watchRollouts(m, dfe, dpg, ok)
		}
		// The archive's fleet watch, as its background loop runs it.
		if m%5 == 0 {
			c0, w0 := selfCPU(), time.Now()
			svc.WatchFleet(context.Background())
			watchCPU += selfCPU() - c0
			watchWall += time.Since(w0)
			watches++
		}
	}
	stdin.Close()
	child.Wait()

	// The fleet page with N boxes and 30 days (its first page: 50 boxes).
	u := e.addUser("fleetadmin", access.Admin)
	e.signIn(u) // sets the password the form then uses
	c := e.httpClient()
	clk.Add(31 * time.Second)
	resp, err := c.PostForm(e.web+"/signin", url.Values{"name": {u.name}, "password": {u.password}, "totp": {e.code(u)}})
	if err != nil || resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign in: %v %v", err, resp)
	}
	resp.Body.Close()
	var renders []time.Duration
	var size int
	var pageFE, pagePG time.Duration
	for i := 0; i < 7; i++ {
		t0, c0, p0 := time.Now(), selfCPU(), procTreeCPU(pgPID)
		resp, err := c.Get(e.web + "/fleet")
		if err != nil {
			b.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		renders = append(renders, time.Since(t0))
		if i > 0 { // the first fills the front-end's cache of finished buckets
			pageFE += selfCPU() - c0
			pagePG += procTreeCPU(pgPID) - p0
		}
		if resp.StatusCode != 200 || strings.Count(string(body), `<tr id="box-`) != min(nboxes, 50) { // its first page
			b.Fatalf("fleet page: %d, %d rows", resp.StatusCode, strings.Count(string(body), `<tr id="box-`))
		}
		size = len(body)
	}
	cold := renders[0]
	renders = renders[1:]
	sort.Slice(renders, func(i, j int) bool { return renders[i] < renders[j] })
	paint := fleetFirstPaint(b, e, u)
	var rows int
	a1.Index.DB().QueryRowContext(context.Background(), `SELECT COUNT(*) FROM fleet_health`).Scan(&rows)

	sim.reportRollouts(b)
	b.ReportMetric(float64(downloaded)/1e6, "update-MB")
	b.ReportMetric(float64(nboxes), "boxes")
	b.ReportMetric(float64(checkins), "checkins")
	b.ReportMetric(float64(feCPU.Microseconds())/float64(checkins), "fe-cpu-µs/checkin")
	b.ReportMetric(float64(pgCPU.Microseconds())/float64(checkins), "pg-cpu-µs/checkin")
	b.ReportMetric(float64(checkins)/wall.Seconds(), "checkins/s")
	b.ReportMetric(float64(renders[len(renders)/2].Microseconds())/1000, "page-p50-ms")
	b.ReportMetric(float64(renders[len(renders)-1].Microseconds())/1000, "page-max-ms")
	b.ReportMetric(float64(size)/1000, "page-kB")
	b.ReportMetric(float64(cold.Microseconds())/1000, "page-cold-ms")
	b.ReportMetric(float64(pageFE.Microseconds())/1000/float64(len(renders)), "page-fe-cpu-ms")
	b.ReportMetric(float64(pagePG.Microseconds())/1000/float64(len(renders)), "page-pg-cpu-ms")
	if paint > 0 {
		b.ReportMetric(paint, "page-fcp-ms")
	}
	b.ReportMetric(float64(rows), "history-rows")
	if watches > 0 {
		b.ReportMetric(float64(watchWall.Microseconds())/1000/float64(watches), "watch-ms")
		b.ReportMetric(float64(watchCPU.Microseconds())/1000/float64(watches), "watch-cpu-ms")
	}
	b.ReportMetric(float64(est.Wall.Microseconds())/1000/float64(nboxes), "enroll-ms/box")
	b.ReportMetric(float64(est.FECPU.Microseconds())/1000/float64(nboxes), "enroll-fe-cpu-ms/box")
	b.ReportMetric(float64(est.PGCPU.Microseconds())/1000/float64(nboxes), "enroll-pg-cpu-ms/box")
	b.ReportMetric(est.Sim.Minutes(), "enroll-sim-min")
	if st := pageTimes.sorted(); len(st) > 0 {
		b.ReportMetric(float64(st[len(st)/2].Microseconds())/1000, "page-server-p50-ms")
	}
}

// simHealth is what box i reports at minute m of the simulation: calls
// accumulate from 08:00 to 18:00 and are uploaded in the 01:00-05:00
// window; every 50th box has lost its time source; every 97th drops
// packets.
func simHealth(i int, at time.Time) wire.Health {
	h := wire.Health{Version: "1.4.2", LED: "recording", ClockSynced: i%50 != 7, AfterPass: true,
		DiskTotal: 64 << 30, DiskUsed: 8<<30 + int64(i)<<20 + at.Unix()%86400*4096}
	hr := at.Hour()
	switch {
	case hr >= 1 && hr < 5:
	case hr >= 5:
		busy := min(max(hr-8, 0), 10)
		h.Backlog = busy * (2 + i%5)
	default:
		h.Backlog = 10 * (2 + i%5)
	}
	h.BacklogBytes = int64(h.Backlog) * 350_000
	if i%97 == 3 {
		h.KernelDrops = uint64(at.Unix() / 600 % 100000)
	}
	h.CertNotAfter = at.Add(20 * 24 * time.Hour)
	return h
}

// seedHistory writes 30 days of hourly health for every box, as the
// archive would have kept them, in batches.
func (s *fleetSim) seedHistory(now time.Time) {
	db := s.e.a.Index.DB()
	ctx := context.Background()
	first := index.HourOf(now.Add(-index.HealthKeep))
	const cols = 14
	var args []any
	var n int
	flush := func() {
		if n == 0 {
			return
		}
		row := "(" + strings.TrimSuffix(strings.Repeat("?, ", cols), ", ") + ")"
		q := `INSERT INTO fleet_health (appliance, hour, at, backlog, backlog_min, backlog_max, backlog_bytes, disk_used, disk_total, kernel_drops, clock_synced, clock_offset, version, checkins) VALUES ` +
			strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
		if _, err := db.ExecContext(ctx, q, args...); err != nil {
			s.e.t.Fatalf("seeding history: %v", err)
		}
		args, n = args[:0], 0
	}
	for _, bx := range s.plan.Boxes {
		for h := first; h < index.HourOf(now); h++ {
			at := time.Unix(h*3600+1800, 0).UTC()
			hl := simHealth(bx.Index, at)
			synced := 1
			if !hl.ClockSynced {
				synced = 0
			}
			args = append(args, bx.Name, h, at.Format(time.RFC3339Nano), hl.Backlog, max(hl.Backlog-3, 0), hl.Backlog+3, hl.BacklogBytes, hl.DiskUsed, hl.DiskTotal, int64(hl.KernelDrops), synced, 0.0, hl.Version, 60)
			if n++; n == 400 {
				flush()
			}
		}
	}
	flush()
}

// TestFleetSimBoxes is the boxes' side of BenchmarkFleet (a child
// process; skipped otherwise): for each minute read on stdin, every box
// checks in over its own mutual-TLS connection, and one line reports it.
func TestFleetSimBoxes(t *testing.T) {
	planFile := os.Getenv("SPANVAULT_FLEET_PLAN")
	if planFile == "" {
		t.Skip("the boxes of BenchmarkFleet (make fleet)")
	}
	var plan fleetSimPlan
	pj, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(pj, &plan); err != nil {
		t.Fatal(err)
	}
	sb := &simBoxes{plan: plan, enrolled: make([]bool, len(plan.Boxes))}
	var clients []*http.Client
	fws := make([]simFirmware, len(plan.Boxes))
	pubs := make([]ed25519.PublicKey, len(plan.Boxes))
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if r, ok := strings.CutPrefix(in.Text(), "enroll "); ok {
			n, err := strconv.Atoi(r)
			if err != nil {
				t.Fatal(err)
			}
			sb.enrollRound(n)
			continue
		}
		if clients == nil {
			clients = make([]*http.Client, len(plan.Boxes))
			for i, bx := range plan.Boxes {
				if pubs[i], err = simUpdateKey(bx.Dir); err != nil {
					t.Fatalf("%s: the update key pinned at enrollment: %v", bx.Name, err)
				}
				fws[i].serial = simBaseSerial
				cert, err := tls.LoadX509KeyPair(filepath.Join(bx.Dir, "sync.crt"), filepath.Join(bx.Dir, "sync.key"))
				if err != nil {
					t.Fatal(err)
				}
				ca, _ := os.ReadFile(filepath.Join(bx.Dir, "ca.crt"))
				pool := x509.NewCertPool()
				pool.AppendCertsFromPEM(ca)
				// As the box's sync client: TLS 1.3, the hybrid key exchange,
				// HTTP/1.1, connections kept between check-ins, from the
				// branch's own network.
				clients[i] = &http.Client{Timeout: time.Minute, Transport: &http.Transport{
					TLSClientConfig: &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, Certificates: []tls.Certificate{cert}, CurvePreferences: wire.KeyExchanges()},
					TLSNextProto:    map[string]func(string, *tls.Conn) http.RoundTripper{}, MaxIdleConnsPerHost: 1,
					DialContext: (&net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(bx.Source)}}).DialContext,
				}}
			}
		}
		var m int
		var unix int64
		if _, err := fmt.Sscanf(in.Text(), "%d %d", &m, &unix); err != nil {
			t.Fatal(err)
		}
		at := time.Unix(unix, 0).UTC()
		var mu gosync.Mutex
		ok, failed, down, first := 0, 0, 0, ""
		var got int64
		work := make(chan int)
		var wg gosync.WaitGroup
		for w := 0; w < 16; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					isDown, n, err := simUpdateCheckIn(clients[i], plan.Boxes[i], at, &fws[i], pubs[i])
					mu.Lock()
					got += n
					if isDown {
						down++
					} else if err != nil {
						failed++
						if first == "" {
							first = err.Error()
						}
					} else {
						ok++
					}
					mu.Unlock()
				}
			}()
		}
		for i := range plan.Boxes {
			work <- i
		}
		close(work)
		wg.Wait()
		fmt.Printf("fleet-done %d %d %d %d %d err %s\n", m, ok, failed, down, got, strings.ReplaceAll(first, "\n", " "))
	}
}

func simCheckIn(c *http.Client, bx fleetSimSpec, at time.Time) error {
	_, err := simCheckInWith(c, bx, at, simHealth(bx.Index, at))
	return err
}

// selfCPU is this process's user and system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// postmasterPID reads the PostgreSQL server's PID from its data directory
// (the DSN's host is pgtest's directory).
func postmasterPID(dsn string) int {
	u, err := url.Parse(dsn)
	if err != nil {
		return 0
	}
	b, err := os.ReadFile(filepath.Join(u.Query().Get("host"), "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	return pid
}

// procTreeCPU sums the CPU time of pid, its live children and those it
// reaped (the postmaster and its backends) from /proc.
func procTreeCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	const tick = 100 // USER_HZ
	var total int64
	ents, _ := os.ReadDir("/proc")
	for _, d := range ents {
		p, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", d.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) < 15 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		if p != pid && ppid != pid {
			continue
		}
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		total += ut + st
		if p == pid {
			// Backends that ended: reaped by the postmaster.
			cut, _ := strconv.ParseInt(f[13], 10, 64)
			cst, _ := strconv.ParseInt(f[14], 10, 64)
			total += cut + cst
		}
	}
	return time.Duration(total) * time.Second / tick
}
