package store_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	gosync "sync"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/archive/store/s3test"
)

// requestLog counts the requests that reach the S3 server through it.
type requestLog struct {
	mu  gosync.Mutex
	got []string
}

func (l *requestLog) reset() { l.mu.Lock(); l.got = nil; l.mu.Unlock() }
func (l *requestLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.got...)
}

// countedS3 is a versitygw bucket seen directly (cfg) and through a
// proxy that logs every request (pcfg, log).
func countedS3(t *testing.T) (cfg, pcfg store.S3Config, log *requestLog) {
	t.Helper()
	cfg = s3test.Start(t)
	target, _ := url.Parse("http://" + cfg.Endpoint)
	rp := httputil.NewSingleHostReverseProxy(target)
	log = &requestLog{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var q []string
		for k := range r.URL.Query() {
			if k != "versionId" && k != "prefix" && k != "encoding-type" && k != "max-keys" && k != "key-marker" && k != "version-id-marker" {
				q = append(q, k)
			}
		}
		sort.Strings(q)
		kind := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"+cfg.Bucket+"/"), "/", 2)[0]
		log.mu.Lock()
		log.got = append(log.got, r.Method+" "+kind+" ?"+strings.Join(q, "&"))
		log.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	pcfg = cfg
	pcfg.Endpoint = strings.TrimPrefix(srv.URL, "http://")
	return cfg, pcfg, log
}

// TestS3RequestsPerRecording (issue 26): what the archive asks the bucket
// for one recording, from the completed upload to its class's lock: the
// publish, the header read back (noteSealing), the Stat of admitRecording
// and SetRetention. It was 20 requests (make cluster's profile: the time
// went to listings and stats of objects the front-end had just written),
// then 7; it is 9 since the header read back and the Stat each HEAD the
// header's version (an erasure through another front-end must show at
// once, TestS3FreshAfterEraseElsewhere); 8 since a new object (no claim
// on it when its upload began) is written without first looking for a
// re-sealed or erased header (TestS3HeaderStaysGone); 6 since the lock
// calls name the versions just written without listing them, on a server
// that locks the version named (TestS3LegalLockByVersionID). This is an older
// box's recording; one that sends its class costs 3
// (TestS3RequestsLockedAtPut). The lock it sets is checked from a
// second store with nothing noted.
func TestS3RequestsPerRecording(t *testing.T) {
	cfg, pcfg, log := countedS3(t)
	ctx := context.Background()
	st := openS3At(t, pcfg)
	id, _ := age.GenerateX25519Identity()
	data := sealedFile(t, id, bytes.Repeat([]byte("a recording "), 20000))
	s := sum(data)
	log.reset()

	in, _, err := st.AppendWith(ctx, "branch-1", s, 0, int64(len(data)), bytes.NewReader(data), store.Upload{Unclaimed: true})
	if err != nil || !in.Complete {
		t.Fatalf("upload: %+v %v", in, err)
	}
	rc, _, err := st.Open(ctx, s) // what noteSealing read before HeaderKeeper
	if err != nil {
		t.Fatal(err)
	}
	hdr := make([]byte, 21)
	if _, err := io.ReadFull(rc, hdr); err != nil || string(hdr) != "age-encryption.org/v1" {
		t.Fatalf("header read back: %q %v", hdr, err)
	}
	rc.Close()
	if in, err := st.Stat(ctx, s); err != nil || !in.Complete || in.Size != int64(len(data)) {
		t.Fatalf("stat: %+v %v", in, err)
	}
	until := time.Now().Add(400 * 24 * time.Hour).UTC().Truncate(time.Second)
	if err := st.SetRetention(ctx, s, store.Retention{Mode: store.Compliance, Until: until}); err != nil {
		t.Fatal(err)
	}
	// The store's first lock call probes whether the server locks the
	// version a call names (once per store: not this recording's).
	var got []string
	for _, r := range log.list() {
		if !strings.Contains(r, " probe ") {
			got = append(got, r)
		}
	}
	t.Logf("%d requests: %s", len(got), strings.Join(got, "; "))
	if len(got) > 6 {
		t.Errorf("%d requests to the bucket for one recording, want at most 6 (2 PUTs, 2 HEADs of the header's version, 2 retention calls by version ID):\n%s", len(got), strings.Join(got, "\n"))
	}

	// A store with nothing noted sees the lock set, and the same bytes.
	st2 := openS3At(t, cfg)
	in2, err := st2.Stat(ctx, s)
	if err != nil || in2.LockMode != store.Compliance || !in2.RetainUntil.Equal(until) || in2.Size != int64(len(data)) {
		t.Fatalf("lock as read back: %+v %v (want COMPLIANCE until %s)", in2, err, until)
	}
	rc, _, err = st2.Open(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	back, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(back, data) {
		t.Fatal("read back differs")
	}
}
