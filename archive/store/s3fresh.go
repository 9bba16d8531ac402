package store

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"time"

	"github.com/minio/minio-go/v7"
)

// freshFor is how long the S3 backend answers Stat of an object it has
// just published from what it wrote, Open only for freshOpen (the
// upload's own request reads the header back). Either asks the bucket
// first, with one HEAD, whether the header's version it wrote still
// exists (fresh.live): an erasure through another front-end deletes it,
// and then the full look answers (erased), never the header from here.
const (
	freshFor  = time.Minute
	freshOpen = 5 * time.Second
)

// fresh is an object this front-end has just written, create-only: its
// two versions (the first of their keys, hence the archive's own), the
// header's bytes and the lock they got (provisional, or at PUT the one
// the box's class asks for: lockatput.go). Right after an upload
// the archive reads the object's header (noteSealing) and stats it
// (admitRecording); answering those from here saves ten requests per
// recording (two version listings and two stats each time, and a GET,
// less the HEAD of the header's version each asks), and SetRetention's
// two stats.
// Every change of the object through this backend (SetRetention, Erase,
// Delete, Reseal) forgets it. SetRetention names the versions by their
// IDs where the server locks the version named (s3lockid.go), and
// otherwise lists them first, so that its lock calls still see a version
// someone else added.
type fresh struct {
	hdr     []byte
	hv, pv  string
	payload int64
	until   time.Time
	mode    string // the payload's (the header is GOVERNANCE)
	at      time.Time
}

// remember notes an object publish has just written.
func (s *S3) remember(sum string, f fresh) {
	if f.hv == "" || f.pv == "" {
		return // the server keeps no version IDs: ask it
	}
	f.at = time.Now()
	s.recent.Store(sum, f)
	if s.remembered.Add(1)%256 == 0 {
		// Objects never asked about again are dropped here.
		s.recent.Range(func(k, v any) bool {
			if time.Since(v.(fresh).at) > freshFor {
				s.recent.CompareAndDelete(k, v)
			}
			return true
		})
	}
}

// forget drops what remember noted (the object changes).
func (s *S3) forget(sum string) { s.recent.Delete(sum) }

// freshOf returns the noted object, if noted within within.
func (s *S3) freshOf(sum string, within time.Duration) (fresh, bool) {
	v, ok := s.recent.Load(sum)
	if !ok {
		return fresh{}, false
	}
	f := v.(fresh)
	if age := time.Since(f.at); age > within {
		if age > freshFor {
			s.recent.CompareAndDelete(sum, v)
		}
		return fresh{}, false
	}
	return f, true
}

// live reports with one HEAD of the header's version this front-end wrote
// whether it still exists; when not (erased or resealed through another
// front-end), or the HEAD fails, the noted object is forgotten and the
// caller takes the full look, which says what became of it.
func (s *S3) live(ctx context.Context, sum string, f fresh) bool {
	if _, err := s.c.StatObject(ctx, s.bucket, headerKey(sum), minio.StatObjectOptions{VersionID: f.hv}); err != nil {
		s.forget(sum)
		return false
	}
	return true
}

// freshInfo is Stat's answer for a fresh object.
func (f fresh) info() Info {
	n := int64(len(f.hdr)) + f.payload
	return Info{Complete: true, Offset: n, Size: n, LockMode: f.mode, RetainUntil: f.until}
}

// open is Open's answer for a fresh object: the header from memory, the
// payload's version by its ID (fetched on the first read past the header).
func (s *S3) openFresh(ctx context.Context, sum string, f fresh) (io.ReadCloser, int64, error) {
	p, err := s.c.GetObject(ctx, s.bucket, payloadKey(sum), minio.GetObjectOptions{VersionID: f.pv})
	if err != nil {
		return nil, 0, err
	}
	return &s3Object{r: io.MultiReader(bytes.NewReader(f.hdr), p), hdr: f.hdr, p: p}, int64(len(f.hdr)) + f.payload, nil
}

// oursForLock is ours for SetRetention. For an object this front-end
// has just written, on a server that locks the version a call names
// (s3lockid.go), the two versions its PUTs created and the lock it gave
// them, nothing asked (byID: a failed call is followed by the full
// look). Elsewhere the versions are listed (a version someone else added
// must be seen and removed before a lock call), and when they are
// exactly the two this front-end has just written, their lock is the one
// it gave them and is not asked for again.
// The noted object is forgotten: the lock is about to change.
func (s *S3) oursForLock(ctx context.Context, sum string) (ho, po minio.ObjectInfo, byID bool, err error) {
	f, ok := s.freshOf(sum, freshFor)
	s.forget(sum)
	if !ok {
		ho, po, err = s.ours(ctx, sum)
		return ho, po, false, err
	}
	if s.locksByVersion(ctx) {
		ho, po = f.infos(sum)
		return ho, po, true, nil
	}
	var pv []minio.ObjectInfo
	var perr error
	listed := make(chan struct{})
	go func() { defer close(listed); pv, perr = s.versions(ctx, payloadKey(sum)) }()
	hv, err := s.versions(ctx, headerKey(sum))
	<-listed
	if err == nil {
		err = perr
	}
	if err != nil {
		return ho, po, false, err
	}
	if len(hv) != 1 || len(pv) != 1 || hv[0].VersionID != f.hv || pv[0].VersionID != f.pv {
		ho, po, err = s.ours(ctx, sum) // someone else's version too: the full look
		return ho, po, false, err
	}
	ho, po = f.infos(sum)
	return ho, po, false, nil
}

// infos are the header's and payload's versions as ours would find
// them: the IDs the PUTs returned, the lock they were written with.
func (f fresh) infos(sum string) (ho, po minio.ObjectInfo) {
	lock := func(mode string) http.Header {
		meta := http.Header{}
		meta.Set("X-Amz-Object-Lock-Mode", mode)
		meta.Set("X-Amz-Object-Lock-Retain-Until-Date", f.until.UTC().Format(time.RFC3339))
		return meta
	}
	ho = minio.ObjectInfo{Key: headerKey(sum), VersionID: f.hv, Size: int64(len(f.hdr)), Metadata: lock(Governance)}
	po = minio.ObjectInfo{Key: payloadKey(sum), VersionID: f.pv, Size: f.payload, Metadata: lock(f.mode)}
	return ho, po
}
