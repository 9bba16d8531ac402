package store_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/signer"

	"github.com/spanvault/spanvault/archive/store"
)

// TestS3LegalLockByVersionID (issue 26): a legal class's record turns the
// payload's lock to COMPLIANCE on an object this front-end has just
// published (the lock at PUT is GOVERNANCE: the box's claim never makes
// it irreversible). On a server that locks the version a call names
// (probed once), the call names the version the create-only PUT
// returned, without first listing the header's and payload's versions:
// from the completed upload to the COMPLIANCE lock 4 requests (2 PUTs,
// the HEAD of the header's version behind Stat, 1 retention call), where
// they were 6 (+2 listings). A second store with nothing noted reads the
// payload's first version COMPLIANCE to the date, the bytes whole.
func TestS3LegalLockByVersionID(t *testing.T) {
	cfg, pcfg, log := countedS3(t)
	ctx := context.Background()
	st := openS3At(t, pcfg)
	id, _ := age.GenerateX25519Identity()
	until := time.Now().Add(400 * 24 * time.Hour).UTC().Truncate(time.Second)
	legal := func(data []byte) []string {
		t.Helper()
		s := sum(data)
		log.reset()
		in, _, err := appendGoverned(ctx, st, s, data, until)
		if err != nil || !in.Complete || in.LockMode != store.Governance {
			t.Fatalf("upload: %+v %v", in, err)
		}
		if in, err = st.Stat(ctx, s); err != nil || !in.Complete || in.LockMode != store.Governance || !in.RetainUntil.Equal(until) {
			t.Fatalf("stat: %+v %v", in, err)
		}
		if err := st.SetRetention(ctx, s, store.Retention{Mode: store.Compliance, Until: until}); err != nil {
			t.Fatal(err)
		}
		return log.list()
	}
	// The first lock call of a store probes the server (not counted).
	legal(sealedFile(t, id, bytes.Repeat([]byte("the first legal recording "), 20000)))
	data := sealedFile(t, id, bytes.Repeat([]byte("a legal recording "), 20000))
	got := legal(data)
	t.Logf("%d requests: %s", len(got), strings.Join(got, "; "))
	listings := 0
	for _, r := range got {
		if strings.Contains(r, "versions") {
			listings++
		}
	}
	if listings > 0 || len(got) > 4 {
		t.Errorf("%d requests to the bucket for a legal recording locked GOVERNANCE at upload, %d of them version listings; want at most 4 (2 PUTs, 1 HEAD, 1 retention call), no listing:\n%s", len(got), listings, strings.Join(got, "\n"))
	}
	st2 := openS3At(t, cfg)
	if in, err := st2.Stat(ctx, sum(data)); err != nil || in.LockMode != store.Compliance || !in.RetainUntil.Equal(until) || in.Size != int64(len(data)) {
		t.Fatalf("lock as read back: %+v %v (want COMPLIANCE until %s)", in, err, until)
	}
}

// TestS3LegalLockOnNewestLockingServer: why the versions were listed
// before a lock call. A server that applies a lock call to the newest
// version whatever version it names (here versitygw behind a proxy that
// drops the call's versionId and signs it again), with a version an
// insider added on top of the archive's just-published payload: a
// COMPLIANCE call by version ID alone would lock the insider's version
// (and make it impossible to remove) and leave the archive's GOVERNANCE.
// The store's probe finds out what the server does, and there it lists
// first as before: the foreign version is removed, and the archive's
// own version is the one locked COMPLIANCE.
func TestS3LegalLockOnNewestLockingServer(t *testing.T) {
	cfg, _, _ := countedS3(t)
	ctx := context.Background()
	target, _ := url.Parse("http://" + cfg.Endpoint)
	rp := httputil.NewSingleHostReverseProxy(target)
	region := cfg.Region
	if region == "" {
		region = "us-east-1"
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if r.Method == http.MethodPut && q.Has("retention") && q.Has("versionId") {
			q.Del("versionId")
			r.URL.RawQuery = q.Encode()
			r.RequestURI = ""
			r.Header.Del("Authorization")
			r = signer.SignV4(*r, cfg.AccessKey, cfg.SecretKey, "", region)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	pcfg := cfg
	pcfg.Endpoint = strings.TrimPrefix(srv.URL, "http://")
	st := openS3At(t, pcfg)
	raw, err := cfg.Client()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := age.GenerateX25519Identity()
	until := time.Now().Add(400 * 24 * time.Hour).UTC().Truncate(time.Second)
	data := sealedFile(t, id, bytes.Repeat([]byte("a legal recording "), 5000))
	s := sum(data)
	if in, _, err := appendGoverned(ctx, st, s, data, until); err != nil || !in.Complete {
		t.Fatalf("upload: %+v %v", in, err)
	}
	ours := versions(t, raw, cfg.Bucket, "payload/"+s)
	if len(ours) != 1 {
		t.Fatalf("%d payload versions after the upload", len(ours))
	}
	putForeign(t, raw, cfg.Bucket, "payload/"+s, []byte("forged"), minio.PutObjectOptions{})
	if err := st.SetRetention(ctx, s, store.Retention{Mode: store.Compliance, Until: until}); err != nil {
		t.Fatal(err)
	}
	oi, err := raw.StatObject(ctx, cfg.Bucket, "payload/"+s, minio.StatObjectOptions{VersionID: ours[0].VersionID})
	if err != nil {
		t.Fatal(err)
	}
	if mode := oi.Metadata.Get("X-Amz-Object-Lock-Mode"); mode != store.Compliance {
		t.Errorf("on a server that locks the newest version, the archive's own payload version is %q after a legal record's lock call; want COMPLIANCE", mode)
	}
	if v := versions(t, raw, cfg.Bucket, "payload/"+s); len(v) != 1 || v[0].VersionID != ours[0].VersionID {
		t.Errorf("after the lock: %d payload versions, want the archive's one", len(v))
	}
}
