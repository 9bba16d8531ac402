package store_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"filippo.io/age"

	"github.com/spanvault/spanvault/archive/store"
	"github.com/spanvault/spanvault/archive/store/s3test"
)

// TestS3StagingSyncedOnlyWhenKept (issue 26): on S3 an upload is staged
// on local disk, then PUT. A staged file is made durable (fsync) only
// when it is kept: a cut upload (the bytes that arrived are kept, the
// box resumes from them) and a completed upload whose publish failed
// (published again on the next request). An upload that completes and
// is published is acknowledged only after the bucket's PUTs returned:
// the bucket holds it, the staged copy goes unsynced (make cluster: an
// fsync of every recording's megabyte, 20 ms of the upload's wall time).
func TestS3StagingSyncedOnlyWhenKept(t *testing.T) {
	cfg := s3test.Start(t)
	target, _ := url.Parse("http://" + cfg.Endpoint)
	rp := httputil.NewSingleHostReverseProxy(target)
	var refuse atomic.Bool // the bucket refuses PUTs of payloads
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() && r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/payload/") {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>refused by the test</Message></Error>`)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	pcfg := cfg
	pcfg.Endpoint = strings.TrimPrefix(srv.URL, "http://")
	ctx := context.Background()
	st := openS3At(t, pcfg)
	syncs := func() int64 {
		for _, s := range store.StepTimes.Snapshot() {
			if s.Name == "staging fsync" {
				return s.Count
			}
		}
		return 0
	}
	id, _ := age.GenerateX25519Identity()
	readBack := func(data []byte) {
		t.Helper()
		st2 := openS3At(t, cfg)
		back := readAll(t, st2, sum(data))
		if !bytes.Equal(back, data) {
			t.Fatal("read back differs")
		}
	}

	// Completed and published in one request: no fsync.
	one := sealedFile(t, id, bytes.Repeat([]byte("published at once "), 20000))
	store.StepTimes.Reset()
	if in, _, err := st.AppendFor(ctx, "branch-1", sum(one), 0, int64(len(one)), bytes.NewReader(one)); err != nil || !in.Complete {
		t.Fatalf("upload: %+v %v", in, err)
	}
	if n := syncs(); n != 0 {
		t.Errorf("an upload completed and published: %d fsyncs of its staged file, want 0 (the bucket holds it before it is acknowledged)", n)
	}
	readBack(one)

	// Cut: the bytes that arrived are kept, fsynced; the rest resumes.
	cut := sealedFile(t, id, bytes.Repeat([]byte("cut and resumed "), 20000))
	half := int64(len(cut) / 2)
	store.StepTimes.Reset()
	in, n, err := st.AppendFor(ctx, "branch-1", sum(cut), 0, int64(len(cut)), io.MultiReader(bytes.NewReader(cut[:half]), errReader{}))
	if err == nil || n != half || in.Offset != half {
		t.Fatalf("a cut upload: %+v, %d bytes, %v; want %d bytes kept and an error", in, n, err, half)
	}
	if n := syncs(); n != 1 {
		t.Errorf("a cut upload: %d fsyncs, want 1 (the bytes that arrived are kept)", n)
	}
	if p, err := st.Partial(ctx, "branch-1", sum(cut)); err != nil || p.Offset != half {
		t.Fatalf("the cut upload's partial: %+v %v", p, err)
	}
	if in, _, err := st.AppendFor(ctx, "branch-1", sum(cut), half, int64(len(cut)), bytes.NewReader(cut[half:])); err != nil || !in.Complete {
		t.Fatalf("resumed: %+v %v", in, err)
	}
	if n := syncs(); n != 1 {
		t.Errorf("the resumed upload's last part: %d fsyncs in all, want 1", n)
	}
	readBack(cut)

	// The publish fails: the complete file is kept, fsynced, and
	// published by the next request.
	kept := sealedFile(t, id, bytes.Repeat([]byte("publish refused "), 20000))
	store.StepTimes.Reset()
	refuse.Store(true)
	if in, _, err := st.AppendFor(ctx, "branch-1", sum(kept), 0, int64(len(kept)), bytes.NewReader(kept)); err == nil || in.Complete {
		t.Fatalf("an upload whose publish the bucket refused: %+v %v", in, err)
	}
	if n := syncs(); n != 1 {
		t.Errorf("an upload whose publish failed: %d fsyncs, want 1 (the staged file is kept)", n)
	}
	if p, err := st.Partial(ctx, "branch-1", sum(kept)); err != nil || p.Offset != int64(len(kept)) {
		t.Fatalf("the unpublished upload's partial: %+v %v", p, err)
	}
	refuse.Store(false)
	if in, _, err := st.AppendFor(ctx, "branch-1", sum(kept), int64(len(kept)), int64(len(kept)), bytes.NewReader(nil)); err != nil || !in.Complete {
		t.Fatalf("published on the next request: %+v %v", in, err)
	}
	readBack(kept)
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }
