package client_test

import (
	"context"
	"net"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/spanvault/spanvault/archive"
	"github.com/spanvault/spanvault/archive/store"
)

// bucket is the archive's S3 bucket (SPANVAULT_TEST_STORE=s3) and a
// client with the archive's own keys: what an insider with those keys
// could do.
func (e *env) bucket(t *testing.T) (store.S3Config, *minio.Client) {
	t.Helper()
	sc, err := store.ParseS3URL(e.arch.Config.Store)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sc.Client()
	if err != nil {
		t.Fatal(err)
	}
	return sc, raw
}

// secondFrontEnd opens a second archive front-end on the env's
// directory (same index and store, the env's clock) and serves it on a
// port of its own until the test ends.
func (e *env) secondFrontEnd(t *testing.T) (*archive.Archive, net.Listener) {
	t.Helper()
	b, err := archive.Open(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	b.Now = e.clock.Now
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done; b.Close() })
	return b, ln
}
