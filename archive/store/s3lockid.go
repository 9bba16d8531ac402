package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
)

// Locking by version ID (issue 26). SetRetention on an object this
// front-end has just published (s3fresh.go) knows the two versions its
// create-only PUTs created and the lock they got. It used to list both
// keys' versions first, because some servers apply a lock call to the
// newest version whatever version it names: there a version someone
// else added on top of the archive's would get the lock (COMPLIANCE:
// never removable again) and the archive's would keep GOVERNANCE, so the
// foreign version must be found and removed before the call (ours).
// On a server that locks the version named, a version on top changes
// nothing for the call: the store asks the server once what it does
// (probeLockByVersion) and, where it locks the version named, calls by
// the IDs the PUTs returned without listing. Anything else about the
// object (erased or re-sealed through another front-end, a lock changed
// there) makes a call by ID fail or finds nothing to do: a failed call
// is followed by the full look (ours) and the calls it decides, as
// before.

// lockProbe is what the store knows of the server's lock calls.
type lockProbe struct {
	mu     sync.Mutex
	known  bool      // probed
	byID   bool      // a lock call locks the version it names
	failed time.Time // the last probe that could not finish (asked again a minute later)
}

// locksByVersion reports whether the server applies a lock call to the
// version it names (probed once; false until known).
func (s *S3) locksByVersion(ctx context.Context) bool {
	p := &s.lockProbe
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.known || time.Since(p.failed) < time.Minute {
		return p.byID
	}
	byID, err := s.probeLockByVersion(ctx)
	if err != nil {
		p.failed = time.Now()
		return false
	}
	p.known, p.byID = true, byID
	return byID
}

// probeLockByVersion writes two versions of a probe object, each
// GOVERNANCE-locked for a minute at its PUT (explicit, so that a bucket's
// default lock never applies), and extends the first one's date by its
// version ID: the second must keep its date, and once it is removed the
// first, now the newest, must have the later one (some servers,
// versitygw among them, report no lock for a version that is not the
// newest). Both versions are removed again (the governance bypass, as
// the archive's erasure uses).
func (s *S3) probeLockByVersion(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var rnd [8]byte
	rand.Read(rnd[:])
	key := "probe/lock-by-version-" + hex.EncodeToString(rnd[:])
	var ids []string
	defer func() {
		for _, v := range ids {
			_ = s.c.RemoveObject(context.Background(), s.bucket, key, minio.RemoveObjectOptions{VersionID: v, GovernanceBypass: true}) // a probe left behind is a few bytes of garbage, unlocked within minutes
		}
	}()
	first := time.Now().Add(time.Minute).UTC().Truncate(time.Second)
	later := first.Add(time.Minute)
	for _, body := range []string{"first", "second"} {
		cs := sha256.Sum256([]byte(body))
		ui, err := s.c.PutObject(ctx, s.bucket, key, strings.NewReader(body), int64(len(body)), minio.PutObjectOptions{
			Mode: minio.Governance, RetainUntilDate: first, DisableMultipart: true,
			UserMetadata: map[string]string{"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(cs[:])}})
		if err != nil {
			return false, fmt.Errorf("store: s3 lock probe: %w", err)
		}
		if ui.VersionID == "" {
			return false, nil // no version IDs: nothing to lock by them
		}
		ids = append(ids, ui.VersionID)
	}
	m := minio.Governance
	if err := s.c.PutObjectRetention(ctx, s.bucket, key, minio.PutObjectRetentionOptions{Mode: &m, RetainUntilDate: &later, GovernanceBypass: true, VersionID: ids[0]}); err != nil {
		return false, fmt.Errorf("store: s3 lock probe: %w", err)
	}
	untilOf := func(v string) (time.Time, error) {
		oi, err := s.c.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{VersionID: v})
		if err != nil {
			return time.Time{}, fmt.Errorf("store: s3 lock probe: %w", err)
		}
		_, until, _ := lockOf(oi)
		return until, nil
	}
	if until, err := untilOf(ids[1]); err != nil || !until.Equal(first) {
		return false, err // the newest version got the date named for the first
	}
	if err := s.c.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{VersionID: ids[1], GovernanceBypass: true}); err != nil {
		return false, fmt.Errorf("store: s3 lock probe: %w", err)
	}
	ids = ids[:1]
	until, err := untilOf(ids[0])
	return err == nil && until.Equal(later), err
}
