package client_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	gosync "sync"
	"sync/atomic"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/index"
	"github.com/spanvault/spanvault/archive/index/pgtest"
	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/archive/store/seaweedtest"
	"github.com/spanvault/spanvault/capture/synth"
	"github.com/spanvault/spanvault/internal/testkit"
	"github.com/spanvault/spanvault/sync/client"
	"github.com/spanvault/spanvault/sync/wire"
	"github.com/spanvault/spanvault/vault"
)

// clusterBox is one simulated appliance of the cluster test.
type clusterBox struct {
	name string
	vdir string
	v    *vault.Vault
	cfg  client.Config
	c    *client.Client
}

// ingestAll syncs every box at once, each retrying until nothing is left
// (a refused or failed pass is retried: a dead volume server makes some
// uploads fail until the master has moved writes elsewhere). It returns
// the wall time.
func ingestAll(t *testing.T, boxes []*clusterBox, during func()) time.Duration {
	d, _ := ingestCounted(t, boxes, during)
	return d
}

// ingestCounted is ingestAll that also counts the passes that had to be
// run again (each after a second's pause).
func ingestCounted(t *testing.T, boxes []*clusterBox, during func()) (time.Duration, int64) {
	var again atomic.Int64
	start := time.Now()
	var wg gosync.WaitGroup
	errs := make(chan error, len(boxes))
	for _, b := range boxes {
		wg.Add(1)
		go pprof.Do(context.Background(), pprof.Labels("part", "boxes"), func(context.Context) {
			defer wg.Done()
			for try := 0; ; try++ {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
				err := b.c.Pass(ctx, client.Options{Upload: true})
				cancel()
				left, _ := b.v.PendingSync(0)
				if err == nil && len(left) == 0 {
					errs <- nil
					return
				}
				again.Add(1)
				if try == 60 {
					errs <- fmt.Errorf("%s: %d left after %d passes: %v", b.name, len(left), try+1, err)
					return
				}
				time.Sleep(time.Second)
			}
		})
	}
	if during != nil {
		go during()
	}
	wg.Wait()
	d := time.Since(start)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return d, again.Load()
}

// serveFrontEnd serves an archive directory until the test ends.
func serveFrontEnd(t *testing.T, dir string) (*archive.Archive, string) {
	a, err := archive.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	a.Config.LegalRetention = []string{"mifid"}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	// Its goroutines (and the connections they open) carry the label
	// part=front-end in the CPU profile of the cluster's ingest.
	go pprof.Do(ctx, pprof.Labels("part", "front-end"), func(ctx context.Context) { done <- a.Serve(ctx, ln) })
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	return a, ln.Addr().String()
}

// TestSeaweedCluster (make cluster; SPANVAULT_CLUSTER=1): a real
// SeaweedFS cluster (master, three volume servers with replication 001,
// filer, S3 gateway) under two archive front-ends sharing a PostgreSQL
// index; 20 appliances sync at once, one volume server is killed
// mid-ingest; every acknowledged recording reads back with its hash and
// Object Lock holds through the gateway. The same 20 vaults are first
// ingested into a directory-backed archive: the figures are ratios to it.
func TestSeaweedCluster(t *testing.T) {
	if os.Getenv("SPANVAULT_CLUSTER") == "" {
		t.Skip("make cluster runs this (SPANVAULT_CLUSTER=1)")
	}
	const nboxes = 20
	id, _ := age.GenerateX25519Identity()
	start := time.Now().UTC().Add(-2 * time.Hour)
	// 20 vaults, recorded once, copied for each run.
	var src []string
	var total int64
	var recs int
	var sizes []int64 // every file the boxes upload, for the floor
	for i := 0; i < nboxes; i++ {
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("vault-%02d", i))
		v, err := vault.Open(vault.Options{Dir: dir, Recipients: []age.Recipient{id.Recipient()}, Policy: testPolicy()})
		if err != nil {
			t.Fatal(err)
		}
		ee := &env{t: t, v: v, clock: testkit.NewClock(time.Now().UTC())}
		ee.record(synth.Config{Calls: 12, Concurrent: 12, Duration: time.Minute, Seed: uint64(i + 1), Start: start})
		es, _ := v.PendingSync(0)
		for _, en := range es {
			total += en.Size
			if en.Size > 0 {
				sizes = append(sizes, en.Size)
			}
			if en.Recorded {
				recs++
			}
		}
		v.Close()
		src = append(src, dir)
	}
	boxesFor := func(a *archive.Archive, addrs func(i int) []string) []*clusterBox {
		var bs []*clusterBox
		for i := 0; i < nboxes; i++ {
			name := fmt.Sprintf("branch-%02d", i)
			r, err := a.Enroll(context.Background(), name, filepath.Join(t.TempDir(), name), nil)
			if err != nil {
				t.Fatal(err)
			}
			vdir := filepath.Join(t.TempDir(), name)
			if out, err := exec.Command("cp", "-a", src[i], vdir).CombinedOutput(); err != nil {
				t.Fatalf("copy vault: %v %s", err, out)
			}
			os.Remove(filepath.Join(vdir, "lock"))
			v, err := vault.Open(vault.Options{Dir: vdir, Recipients: []age.Recipient{id.Recipient()}, Policy: testPolicy()})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { v.Close() })
			cfg := client.Config{Name: name, Archives: addrs(i), Cert: filepath.Join(r.Dir, "sync.crt"), Key: filepath.Join(r.Dir, "sync.key"),
				CA: filepath.Join(r.Dir, "ca.crt"), AnchorKey: filepath.Join(r.Dir, "anchor.vkey")}
			c, err := client.New(cfg, v)
			if err != nil {
				t.Fatal(err)
			}
			bs = append(bs, &clusterBox{name: name, vdir: vdir, v: v, cfg: cfg, c: c})
		}
		return bs
	}

	// Reference: the directory backend and SQLite, one front-end.
	rdir := filepath.Join(t.TempDir(), "ref")
	if err := archive.Init(rdir, archive.InitOptions{Name: "ref", Listen: "127.0.0.1:0"}); err != nil {
		t.Fatal(err)
	}
	ra, raddr := serveFrontEnd(t, rdir)
	rboxes := boxesFor(ra, func(int) []string { return []string{raddr} })
	store.StepTimes.Reset()
	rprof := startProcProfile()
	dRef := ingestAll(t, rboxes, nil)
	refCPU := rprof.end()
	refSteps := store.StepTimes.Snapshot()

	// The cluster, and two front-ends on PostgreSQL.
	cl := seaweedtest.Start(t)
	dsn := pgtest.Start(t)
	dir1 := filepath.Join(t.TempDir(), "fe1")
	if err := archive.Init(dir1, archive.InitOptions{Name: "bank", Listen: "127.0.0.1:0", Store: cl.S3.URL(), Index: dsn}); err != nil {
		t.Fatal(err)
	}
	dir2 := filepath.Join(t.TempDir(), "fe2")
	if out, err := exec.Command("cp", "-a", dir1, dir2).CombinedOutput(); err != nil {
		t.Fatalf("copy archive: %v %s", err, out)
	}
	fe1, a1 := serveFrontEnd(t, dir1)
	_, a2 := serveFrontEnd(t, dir2)
	boxes := boxesFor(fe1, func(i int) []string {
		if i%2 == 0 {
			return []string{a1, a2}
		}
		return []string{a2, a1}
	})
	// The floor: the same sizes, the same lock settings, a plain
	// parallel S3 client on the healthy cluster, no archive.
	mc, err := cl.S3.Client() // the archive's own client settings
	if err != nil {
		t.Fatal(err)
	}
	// The gateway checks the archive's x-amz-checksum-sha256 on an
	// unsigned payload (the archive's PUTs rely on it).
	wrong := base64.StdEncoding.EncodeToString(make([]byte, 32))
	if _, err := mc.PutObject(context.Background(), cl.S3.Bucket, "probe", strings.NewReader("payload"), 7, minio.PutObjectOptions{
		DisableMultipart: true, DisableContentSha256: true, UserMetadata: map[string]string{"x-amz-checksum-sha256": wrong}}); err == nil {
		t.Fatal("the gateway stored an object whose SHA-256 checksum does not match")
	}
	// Warm-up (not timed): the cluster grows its first volumes.
	if _, err := floorPut(context.Background(), mc, cl.S3.Bucket, "warmup", sizes[:2*nboxes], nboxes, false); err != nil {
		t.Fatalf("floor warm-up: %v", err)
	}
	pgDir := dsn[strings.Index(dsn, "host=")+len("host="):]
	pgDir = pgDir[:strings.IndexByte(pgDir, '&')]
	fprof := startProcProfile(pgDir)
	dFloor, err := floorPut(context.Background(), mc, cl.S3.Bucket, "floor", sizes, nboxes, false)
	floorCPU := fprof.end()
	if err != nil {
		t.Fatalf("floor: %v", err)
	}
	dFloor2, err := floorPut(context.Background(), mc, cl.S3.Bucket, "floor2", sizes, nboxes, true)
	if err != nil {
		t.Fatalf("floor, two objects each: %v", err)
	}

	var killedAt atomic.Int64
	kill := func() {
		for {
			var up int64
			for _, b := range boxes {
				up += b.c.State().UploadedBytes
			}
			if up > total/3 {
				cl.KillVolume(1)
				killedAt.Store(up)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	store.StepTimes.Reset()
	// The test process's CPU by part (boxes, front-ends, the rest: GC),
	// for go tool pprof -tags build/cluster-cpu.pprof.
	os.MkdirAll("../../build", 0o755)
	cpuf, err := os.Create("../../build/cluster-cpu.pprof")
	if err == nil && pprof.StartCPUProfile(cpuf) != nil {
		cpuf.Close()
		cpuf = nil
	}
	prof := startProcProfile(pgDir)
	dCluster, again := ingestCounted(t, boxes, kill)
	clusterCPU := prof.end()
	if cpuf != nil {
		pprof.StopCPUProfile()
		cpuf.Close()
	}
	steps := store.StepTimes.Snapshot()
	if killedAt.Load() == 0 {
		t.Fatal("the volume server was not killed mid-ingest")
	}

	// Every acknowledged recording reads back with its hash, once.
	ctx := context.Background()
	read := 0
	for _, b := range boxes {
		es, err := b.v.List()
		if err != nil {
			t.Fatal(err)
		}
		rows, err := fe1.Index.Records(ctx, index.Query{Appliance: b.name, Kind: wire.KindRecording})
		if err != nil {
			t.Fatal(err)
		}
		held := map[string]int{}
		for _, r := range rows {
			held[r.ID]++
		}
		for _, en := range es {
			if !en.Recorded || en.State == vault.StateCDR {
				continue
			}
			if en.Sync != vault.SyncAcked {
				t.Fatalf("%s/%s not acknowledged", b.name, en.ID)
			}
			if held[en.ID] != 1 {
				t.Fatalf("%s/%s: %d index rows", b.name, en.ID, held[en.ID])
			}
			rc, _, err := fe1.Store.Open(ctx, en.SHA256)
			if err != nil {
				t.Fatalf("%s/%s: %v", b.name, en.ID, err)
			}
			h := sha256.New()
			_, err = io.Copy(h, rc)
			rc.Close()
			if err != nil || hex.EncodeToString(h.Sum(nil)) != en.SHA256 {
				t.Fatalf("%s/%s reads back wrong: %v", b.name, en.ID, err)
			}
			read++
		}
	}
	if read != recs {
		t.Fatalf("%d recordings read back, %d recorded", read, recs)
	}
	// Object Lock through the gateway, with the archive's own keys: the
	// first version of a COMPLIANCE-locked payload cannot be deleted, not
	// even with the governance bypass.
	es, _ := boxes[0].v.List()
	locked := 0
	for _, en := range es[:3] {
		key := "payload/" + en.SHA256
		var first string
		for ov := range mc.ListObjects(ctx, cl.S3.Bucket, minio.ListObjectsOptions{Prefix: key, WithVersions: true}) {
			if ov.Err == nil && ov.Key == key {
				first = ov.VersionID
			}
		}
		err := mc.RemoveObject(ctx, cl.S3.Bucket, key, minio.RemoveObjectOptions{VersionID: first, GovernanceBypass: true})
		if err == nil {
			t.Fatalf("%s: a locked payload version was deleted through the gateway", key)
		}
		if _, err := mc.StatObject(ctx, cl.S3.Bucket, key, minio.StatObjectOptions{VersionID: first}); err != nil {
			t.Fatalf("%s: gone after a refused delete: %v", key, err)
		}
		locked++
	}
	mb := float64(total) / 1e6
	fig := fmt.Sprintf("SeaweedFS cluster (master, 3 volume servers, replication 001, filer, S3 gateway), 2 front-ends on PostgreSQL, %d boxes, %d recordings, %.1f MB; volume server killed after %.1f MB\n"+
		"  directory backend + SQLite, 1 front-end: %.1f recordings/s, %.1f MB/s\n"+
		"  floor (plain minio-go, %d at once, the same %d objects' sizes, GOVERNANCE lock, checksum, create-only): %.1f objects/s, %.1f MB/s\n"+
		"  floor, two objects each (1 KiB, then the rest: the archive's header/payload layout): %.1f MB/s\n"+
		"  SeaweedFS cluster + PostgreSQL, 2 front-ends: %.1f recordings/s, %.1f MB/s: ratio %.2f to the directory, %.2f to the floor, %.2f to the two-object floor\n"+
		"  every acknowledged recording read back with its hash: %d of %d; Object Lock refused %d deletes through the gateway\n",
		nboxes, recs, mb, float64(killedAt.Load())/1e6,
		float64(recs)/dRef.Seconds(), mb/dRef.Seconds(),
		nboxes, len(sizes), float64(len(sizes))/dFloor.Seconds(), mb/dFloor.Seconds(), mb/dFloor2.Seconds(),
		float64(recs)/dCluster.Seconds(), mb/dCluster.Seconds(), dRef.Seconds()/dCluster.Seconds(), dFloor.Seconds()/dCluster.Seconds(), dFloor2.Seconds()/dCluster.Seconds(), read, recs, locked)
	// One line in go test -bench's format, for make bench (cmd/benchreport).
	fig += fmt.Sprintf("BenchmarkCluster\t1\t%.2f recordings/s\t%.2f MB/s\t%.2f floor-MB/s\t%.2f floor2-MB/s\t%.2f dir-recordings/s\t%.2f dir-MB/s\n",
		float64(recs)/dCluster.Seconds(), mb/dCluster.Seconds(), mb/dFloor.Seconds(), mb/dFloor2.Seconds(), float64(recs)/dRef.Seconds(), mb/dRef.Seconds())
	load, _ := os.ReadFile("/proc/loadavg")
	fig += fmt.Sprintf("  passes run again after a failure (the kill; each after 1 s): %d\n", again)
	fig += fmt.Sprintf("  load average at the end: %s", load) +
		"  CPU per process, archive ingest on the cluster:\n" + prof.table(clusterCPU) +
		"  CPU per process, floor:\n" + fprof.table(floorCPU) +
		"  CPU per process, directory backend (the same 20 clients, 1 front-end, SQLite):\n" + rprof.table(refCPU) +
		"  front-end wall time per step, cluster (summed over concurrent uploads):\n" + stepTable(steps, recs) +
		"  front-end wall time per step, directory backend:\n" + stepTable(refSteps, recs)
	fmt.Print(fig)
	os.MkdirAll("../../build", 0o755)
	os.WriteFile("../../build/cluster-figures.txt", []byte(fig), 0o644)
}
