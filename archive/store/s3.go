package store

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 keeps objects in an S3 bucket with Object Lock, through minio-go, so
// that AWS S3, Ceph RGW, SeaweedFS, versitygw and the like work unchanged.
//
// Each sealed recording (an age file) is stored as two objects:
//
//	payload/<sum>  the file from the payload nonce on: every encrypted chunk
//	header/<sum>   the age header: the file key, wrapped to the recipients
//
// The payload gets its class's lock (COMPLIANCE where a law requires the
// retention, GOVERNANCE where the bank may shorten it); the archive has
// its date written at the PUT when the box sent the class with the upload
// (lockatput.go: GOVERNANCE, the record sets COMPLIANCE); the header always
// GOVERNANCE with the same date, so that only a client holding the
// governance-bypass permission (the archive's erasure) can remove it.
// Removing the header destroys the recording for good while its payload's
// lock holds (crypto-shredding): without the wrapped file key the payload
// is noise. header + payload, concatenated, is the age file the box sealed,
// byte for byte; its SHA-256 is the object's address.
//
// Uploads are staged on local disk (a Dir: resumable, fsynced), verified
// against their address, and written to the bucket create-only
// (If-None-Match: *) with a SHA-256 checksum the store checks; a key
// found there already is the archive's only if its size and SHA-256 are
// (else its own version goes on top: s3foreign.go). Lock state
// is read from StatObject's X-Amz-Object-Lock-* headers (versitygw names
// GetObjectRetention's reply differently) and every PUT carries explicit
// retention: bucket defaults are never relied on.
type S3 struct {
	c          *minio.Client
	bucket     string
	staging    *Dir
	chosen     sync.Map // sum -> [2]string: our header and payload version IDs, where others were added
	recent     sync.Map // sum -> fresh: objects just published (s3fresh.go)
	remembered atomic.Int64
	lockProbe  lockProbe // does the server lock the version a call names (s3lockid.go)
	// Provisional is the GOVERNANCE lock an object gets when it arrives,
	// before the box's record names its class (SetRetention then sets the
	// class's mode and date), unless the archive knew a lock at upload
	// (AppendWith: that lock at once, never shorter).
	Provisional time.Duration
	// HoldAhead: while an object is on legal hold its lock date is kept
	// at least this far ahead (SetRetention extends it; the archive
	// renews it daily). Some servers let an expired date override a legal
	// hold (versitygw 1.8.0 deletes a held version whose retain-until has
	// passed; the tests found it); a date that has not passed still holds
	// there. A COMPLIANCE date so extended cannot be shortened again: a
	// held recording is kept up to HoldAhead after its release.
	HoldAhead time.Duration
	// Alert, when set, is told what the store found in the bucket that
	// the archive did not write (s3foreign.go) and what it did about it;
	// the archive raises it as an alert. Set it before use.
	Alert func(detail string)
	// VerifyNote, when set, says whether an erasure note is the
	// archive's own (nil: its signature verifies; archive.Open sets it to
	// the check of archive/erasurenote.go). The store takes an erasure
	// note for evidence of an erasure only when it verifies; without
	// VerifyNote it takes none (s3evidence.go).
	VerifyNote func(Erasure) error
	// Resealing, when set, returns the SHA-256 (hex) of the header the
	// archive re-sealed sum with and the SHA-256 state after the box's
	// original header (known false: never re-sealed); archive.Open sets
	// it to the index's (index.Resealing). The store reads reseal/<sum>
	// only when a version of it is the one so recorded (s3resealed.go);
	// without Resealing, never.
	Resealing   func(ctx context.Context, sum string) (headerSHA256, midstate string, known bool, err error)
	resealPicks sync.Map // sum -> [2]string: the archive's reseal/ and payload version IDs (resealOf)
}

// S3Config names a bucket: from a URL
// s3://ACCESS_KEY:SECRET_KEY@HOST:PORT/BUCKET[?tls=false][&region=R].
type S3Config struct {
	Endpoint, AccessKey, SecretKey, Bucket, Region string
	TLS                                            bool
}

// ParseS3URL parses an s3:// store URL.
func ParseS3URL(raw string) (S3Config, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "s3" {
		return S3Config{}, fmt.Errorf("store: %q is not an s3://ACCESS_KEY:SECRET_KEY@HOST:PORT/BUCKET URL", redactURL(raw))
	}
	c := S3Config{Endpoint: u.Host, Bucket: strings.Trim(u.Path, "/"), TLS: true, Region: u.Query().Get("region")}
	if u.User != nil {
		c.AccessKey = u.User.Username()
		c.SecretKey, _ = u.User.Password()
	}
	if t := u.Query().Get("tls"); t != "" {
		if c.TLS, err = strconv.ParseBool(t); err != nil {
			return c, fmt.Errorf("store: s3 URL: tls=%q is not true or false", t)
		}
	}
	switch {
	case c.Endpoint == "":
		return c, errors.New("store: s3 URL: no host")
	case c.Bucket == "" || strings.Contains(c.Bucket, "/"):
		return c, errors.New("store: s3 URL: the path must be one bucket name")
	case c.AccessKey == "" || c.SecretKey == "":
		return c, errors.New("store: s3 URL: no access key and secret key")
	}
	return c, nil
}

// redactURL hides the secret key of an s3:// URL (for errors and logs).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	return u.Redacted()
}

// String describes the store without its secret.
func (c S3Config) String() string {
	scheme := "https"
	if !c.TLS {
		scheme = "http"
	}
	return fmt.Sprintf("%s://%s/%s", scheme, c.Endpoint, c.Bucket)
}

// URL is the s3:// form of the configuration (it holds the secret).
func (c S3Config) URL() string {
	u := url.URL{Scheme: "s3", User: url.UserPassword(c.AccessKey, c.SecretKey), Host: c.Endpoint, Path: "/" + c.Bucket}
	q := url.Values{}
	if !c.TLS {
		q.Set("tls", "false")
	}
	if c.Region != "" {
		q.Set("region", c.Region)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// Client returns a minio-go client for the configuration.
func (c S3Config) Client() (*minio.Client, error) {
	return minio.New(c.Endpoint, &minio.Options{
		Creds:           credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure:          c.TLS,
		Region:          c.Region,
		TrailingHeaders: true, // needed for the SHA-256 checksum on PUT
	})
}

// OpenS3 opens the bucket (creating it with Object Lock if it does not
// exist; an existing bucket must have Object Lock enabled) and stages
// uploads under staging.
func OpenS3(ctx context.Context, c S3Config, staging string) (*S3, error) {
	cl, err := c.Client()
	if err != nil {
		return nil, fmt.Errorf("store: s3 %s: %w", c, err)
	}
	ok, err := cl.BucketExists(ctx, c.Bucket)
	if err != nil {
		return nil, fmt.Errorf("store: s3 %s: %w", c, err)
	}
	if !ok {
		if err := cl.MakeBucket(ctx, c.Bucket, minio.MakeBucketOptions{Region: c.Region, ObjectLocking: true}); err != nil {
			return nil, fmt.Errorf("store: s3 %s: create bucket with Object Lock: %w", c, err)
		}
	}
	if status, _, _, _, err := cl.GetObjectLockConfig(ctx, c.Bucket); err != nil || status != "Enabled" {
		return nil, fmt.Errorf("store: s3 %s: the bucket has no Object Lock (%v): recordings cannot be made write-once there", c, err)
	}
	st, err := OpenDir(staging)
	if err != nil {
		return nil, err
	}
	s := &S3{c: cl, bucket: c.Bucket, staging: st, Provisional: 7 * 24 * time.Hour, HoldAhead: 30 * 24 * time.Hour}
	st.publish = s.publish
	return s, nil
}

func payloadKey(sum string) string { return "payload/" + sum }
func headerKey(sum string) string  { return "header/" + sum }

// lockOf reads an object's lock from StatObject's headers.
func lockOf(oi minio.ObjectInfo) (mode string, until time.Time, hold bool) {
	mode = oi.Metadata.Get("X-Amz-Object-Lock-Mode")
	if t := oi.Metadata.Get("X-Amz-Object-Lock-Retain-Until-Date"); t != "" {
		until, _ = time.Parse(time.RFC3339, t)
	}
	hold = strings.EqualFold(oi.Metadata.Get("X-Amz-Object-Lock-Legal-Hold"), "ON")
	return
}

// ours finds the archive's own versions of a recording's two objects. A
// versioned bucket keeps every PUT, and Object Lock cannot stop someone
// with write access from adding a version on top of a locked one; it only
// keeps the locked one from being destroyed. With one version of each
// (the normal case) those are ours; with more, the pair whose bytes hash
// to the address is (remembered). A missing header (erased) yields the
// oldest payload version and errHeaderGone.
func (s *S3) ours(ctx context.Context, sum string) (ho, po minio.ObjectInfo, err error) {
	return s.look(ctx, sum, nil)
}

// look is ours; when left is not nil, the payload's versions other than
// the archive's that could not be removed are appended to it (the
// archive's lock is then unknown: s3foreign.go).
func (s *S3) look(ctx context.Context, sum string, left *[]string) (ho, po minio.ObjectInfo, err error) {
	// The two listings at once (one round trip's latency, not two).
	var pv []minio.ObjectInfo
	var perr error
	listed := make(chan struct{})
	go func() { defer close(listed); pv, perr = s.versions(ctx, payloadKey(sum)) }()
	hv, err := s.versions(ctx, headerKey(sum))
	<-listed
	if err != nil {
		return ho, po, err
	}
	if err = perr; err != nil {
		return ho, po, err
	}
	if len(pv) == 0 {
		return ho, po, minio.ErrorResponse{Code: "NoSuchKey", StatusCode: http.StatusNotFound, Message: payloadKey(sum)}
	}
	stat := func(key string, v minio.ObjectInfo) (minio.ObjectInfo, error) {
		defer StepTimes.Since("S3 stat version", time.Now())
		return s.c.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{VersionID: v.VersionID})
	}
	if len(hv) == 0 {
		// Re-sealed (reseal.go): the header the archive wrote in its place.
		// Only the archive's own (s3resealed.go); anything else there
		// leaves the recording erased.
		if rv, err := s.versions(ctx, resealedKey(sum)); err != nil {
			return ho, po, err
		} else if len(rv) > 0 {
			r, p, ok, err := s.resealOf(ctx, sum, rv, pv)
			if err != nil {
				return ho, po, err
			}
			if ok {
				if ho, err = stat(resealedKey(sum), r); err != nil {
					return ho, po, err
				}
				if left != nil && len(pv) > 1 {
					// Someone else's version beside the archive's: its
					// lock is unknown.
					*left = append(*left, fmt.Sprintf("%d versions of a re-sealed recording's payload", len(pv)))
				}
				po, err = stat(payloadKey(sum), p)
				return ho, po, err
			}
		}
		po, err = stat(payloadKey(sum), pv[0])
		if err == nil {
			err = errHeaderGone
		}
		return ho, po, err
	}
	pick := [2]string{hv[0].VersionID, pv[0].VersionID}
	if len(hv) > 1 || len(pv) > 1 {
		if c, ok := s.chosen.Load(sum); ok {
			pick = c.([2]string)
		} else if pick, err = s.verifyPair(ctx, sum, hv, pv); err != nil {
			return ho, po, err
		}
		s.chosen.Store(sum, pick)
		// The other versions are not the archive's (it writes each key
		// once): remove them where their lock allows, so that the key is
		// back to its one version (some servers apply lock calls to the
		// newest version whatever version they name).
		for _, o := range []struct {
			key  string
			vs   []minio.ObjectInfo
			mine string
		}{{headerKey(sum), hv, pick[0]}, {payloadKey(sum), pv, pick[1]}} {
			for _, v := range o.vs {
				if v.VersionID != o.mine {
					// A stale version left is only garbage to readers
					// (they take ours by its version ID); for the payload's
					// lock it is not (left).
					if err := s.c.RemoveObject(ctx, s.bucket, o.key, minio.RemoveObjectOptions{VersionID: v.VersionID, GovernanceBypass: true}); err != nil && left != nil && o.key == payloadKey(sum) {
						*left = append(*left, fmt.Sprintf("version %s: %v", v.VersionID, err))
					}
				}
			}
		}
	}
	if ho, err = stat(headerKey(sum), minio.ObjectInfo{VersionID: pick[0]}); err != nil {
		return ho, po, err
	}
	po, err = stat(payloadKey(sum), minio.ObjectInfo{VersionID: pick[1]})
	return ho, po, err
}

var errHeaderGone = errors.New("store: header gone")

// versions lists key's versions, oldest first.
func (s *S3) versions(ctx context.Context, key string) ([]minio.ObjectInfo, error) {
	defer StepTimes.Since("S3 list versions", time.Now())
	var out []minio.ObjectInfo
	for oi := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: key, WithVersions: true}) {
		if oi.Err != nil {
			return nil, fmt.Errorf("store: s3 list %s: %w", key, oi.Err)
		}
		if oi.Key == key && !oi.IsDeleteMarker {
			out = append(out, oi)
		}
	}
	// Servers list a key's versions newest first (S3's order): reversed,
	// versions written within the same second (LastModified's grain
	// on some servers) stay oldest first.
	slices.Reverse(out)
	slices.SortStableFunc(out, func(a, b minio.ObjectInfo) int { return a.LastModified.Compare(b.LastModified) })
	return out, nil
}

// verifyPair reads every combination of header and payload versions and
// returns the one whose concatenation hashes to sum.
func (s *S3) verifyPair(ctx context.Context, sum string, hv, pv []minio.ObjectInfo) ([2]string, error) {
	for _, h := range hv {
		hr, err := s.c.GetObject(ctx, s.bucket, headerKey(sum), minio.GetObjectOptions{VersionID: h.VersionID})
		if err != nil {
			return [2]string{}, err
		}
		hdr, err := io.ReadAll(io.LimitReader(hr, 1<<16))
		hr.Close()
		if err != nil {
			continue
		}
		for _, p := range pv {
			pr, err := s.c.GetObject(ctx, s.bucket, payloadKey(sum), minio.GetObjectOptions{VersionID: p.VersionID})
			if err != nil {
				return [2]string{}, err
			}
			d := sha256.New()
			d.Write(hdr)
			_, err = io.Copy(d, pr)
			pr.Close()
			if err == nil && hex.EncodeToString(d.Sum(nil)) == sum {
				return [2]string{h.VersionID, p.VersionID}, nil
			}
		}
	}
	return [2]string{}, fmt.Errorf("%w: no version of %s hashes to its address", ErrMismatch, sum)
}

func notFound(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == "NoSuchKey" || code == "NotFound" || minio.ToErrorResponse(err).StatusCode == http.StatusNotFound
}

// Stat implements Store. A recording whose header was erased reports
// Erased (its payload may still exist, locked).
func (s *S3) Stat(ctx context.Context, sum string) (Info, error) {
	if f, ok := s.freshOf(sum, freshFor); ok && s.live(ctx, sum, f) {
		return f.info(), nil
	}
	ho, po, err := s.ours(ctx, sum)
	in := Info{Complete: true}
	switch {
	case err == nil:
		in.Size = ho.Size + po.Size
	case errors.Is(err, errHeaderGone):
		in.Erased = true
		in.Size = po.Size
	case notFound(err):
		return s.staging.Stat(ctx, sum)
	default:
		return Info{}, fmt.Errorf("store: s3 stat %s: %w", sum, err)
	}
	in.LockMode, in.RetainUntil, in.Hold = lockOf(po)
	in.Offset = in.Size
	return in, nil
}

// Append implements Store: bytes are staged locally; the complete,
// verified file is split and written to the bucket before Append reports
// it complete.
func (s *S3) Append(ctx context.Context, sum string, offset, length int64, r io.Reader) (Info, int64, error) {
	in, err := s.Stat(ctx, sum)
	if err != nil || in.Complete {
		return in, 0, err
	}
	return s.staging.Append(ctx, sum, offset, length, r)
}

// AppendFor implements Store: box's bytes are staged in its own partial;
// an object the bucket already holds is not written again (publish is
// create-only).
func (s *S3) AppendFor(ctx context.Context, box, sum string, offset, length int64, r io.Reader) (Info, int64, error) {
	return s.staging.AppendFor(ctx, box, sum, offset, length, r)
}

// Partial implements Store.
func (s *S3) Partial(ctx context.Context, box, sum string) (Info, error) {
	return s.staging.Partial(ctx, box, sum)
}

// Partials implements Store.
func (s *S3) Partials(ctx context.Context, box string) (map[string]int64, error) {
	return s.staging.Partials(ctx, box)
}

// publish writes a verified staged file to the bucket: header and payload,
// create-only, SHA-256-checked, provisionally locked, or, when the box
// sent the recording's class with the upload, with the lock its record
// will ask for (want: lockAtPut).
func (s *S3) publish(sum, path string, length int64, pub publishing) (Info, error) {
	ctx := context.Background()
	f, err := os.Open(path)
	if err != nil {
		return Info{}, fmt.Errorf("store: %w", err)
	}
	defer f.Close()
	hdr, err := ageHeader(f)
	if err != nil {
		return Info{}, fmt.Errorf("store: %s is not an age file: %w", sum, err)
	}
	mode, until := s.lockAtPut(pub.want)
	object := sum
	var mu sync.Mutex
	vid := map[string]string{}   // key -> the version this PUT created (under mu)
	found := map[string]string{} // key -> the archive's version that was there already (under mu)
	replaced := false            // a key held only someone else's versions: the archive's written on top (under mu)
	put := func(key string, r io.ReadSeeker, n int64, mode string, sum []byte) error {
		// The part's SHA-256, sent as x-amz-checksum-sha256: the store
		// refuses the PUT if what it received differs. The payload's
		// was taken as it arrived (payloadHasher) unless resumed.
		t0 := time.Now()
		if sum == nil {
			h := sha256.New()
			if _, err := io.Copy(h, io.LimitReader(r, n)); err != nil {
				return fmt.Errorf("store: %w", err)
			}
			if _, err := r.Seek(-n, io.SeekCurrent); err != nil {
				return fmt.Errorf("store: %w", err)
			}
			sum = h.Sum(nil)
			StepTimes.Since("re-read + hash for the PUT checksum", t0)
		}
		opts := minio.PutObjectOptions{
			ContentType:      "application/octet-stream",
			Mode:             minio.RetentionMode(mode),
			RetainUntilDate:  until,
			DisableMultipart: true,
			// The signed x-amz-checksum-sha256 header binds the body; no
			// second SHA-256 of it for a streaming signature (what
			// minio-go does over plain HTTP; over TLS it never does).
			DisableContentSha256: true,
			UserMetadata: map[string]string{
				"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(sum),
				"spanvault-object":      object,
			},
		}
		plain := opts                // without If-None-Match: settle's PUT over someone else's version
		opts.SetMatchETagExcept("*") // create-only
		start, err := r.Seek(0, io.SeekCurrent)
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		t0 = time.Now()
		ui, err := s.c.PutObject(ctx, s.bucket, key, r, n, opts)
		StepTimes.Since("S3 PUT "+strings.TrimSuffix(key[:strings.IndexByte(key, '/')+1], "/"), t0)
		if err != nil && isDirectoryConflict(err) {
			// Someone else's keys under key/ (s3foreign.go: clearUnder).
			if cerr := s.clearUnder(ctx, key, err); cerr == nil {
				if _, serr := r.Seek(start, io.SeekStart); serr == nil {
					ui, err = s.c.PutObject(ctx, s.bucket, key, r, n, opts)
				}
			}
		}
		if err != nil {
			code := minio.ToErrorResponse(err).Code
			if code == "PreconditionFailed" {
				// Already there: a publish that was interrupted after
				// this object, another upload of the same bytes, or
				// someone else's bytes (settle: s3foreign.go).
				v, created, err := s.settle(ctx, key, r, start, n, sum, plain)
				if err != nil {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				if created {
					vid[key], replaced = v, true
				} else {
					found[key] = v
				}
				return nil
			}
			return fmt.Errorf("store: s3 put %s: %w", key, err)
		}
		mu.Lock()
		vid[key] = ui.VersionID
		mu.Unlock()
		return nil
	}
	// Header and payload at once (one round trip's latency, not two).
	// A payload in the bucket without its header looks erased to Stat,
	// but nothing asks before this publish has returned: the upload's
	// claim (index.ClaimObject) comes after it, and HEAD, PATCH and
	// records look at the bucket only for a claimed object; a publish
	// that failed halfway is done again from the staged file.
	//
	// The header never comes back once erased or re-sealed (headerGone).
	// An object nobody had claimed when its upload began (pub.unclaimed)
	// was never named by a record, so never erased or re-sealed: its
	// header is written at once, and looked at again only if its payload
	// turns out to have been there already (a race with another upload
	// of the same bytes). Otherwise the header waits for the look.
	headerDone := make(chan error, 1)
	go func() {
		if !pub.unclaimed {
			if gone, err := s.headerGone(ctx, sum); err != nil || gone {
				headerDone <- err // gone: not put back
				return
			}
		}
		hs := sha256.Sum256(hdr)
		headerDone <- put(headerKey(sum), bytes.NewReader(hdr), int64(len(hdr)), Governance, hs[:])
	}()
	_, perr := f.Seek(int64(len(hdr)), io.SeekStart)
	if perr == nil {
		perr = put(payloadKey(sum), f, length-int64(len(hdr)), mode, pub.payloadSum(int64(len(hdr))))
	}
	herr := <-headerDone
	if hv := vid[headerKey(sum)]; pub.unclaimed && hv != "" && (vid[payloadKey(sum)] == "" || replaced) {
		// The payload was there before this publish and its header was
		// not: a publish cut between its PUTs (the header belongs
		// there), or a recording erased or re-sealed meanwhile (it must
		// not come back: the version just written goes again).
		if gone, err := s.headerGone(ctx, sum); err != nil || gone {
			if rerr := s.c.RemoveObject(ctx, s.bucket, headerKey(sum), minio.RemoveObjectOptions{VersionID: hv, GovernanceBypass: true}); rerr != nil {
				return Info{}, fmt.Errorf("store: s3 %s: a header written back after its erasure or re-sealing could not be removed: %w", sum, rerr)
			}
			delete(vid, headerKey(sum))
			if err != nil {
				return Info{}, err
			}
		}
	}
	if herr != nil {
		return Info{}, herr
	}
	if perr != nil {
		return Info{}, perr
	}
	if replaced {
		// Reads, locks and erasure take the archive's versions by ID.
		pick := [2]string{vid[headerKey(sum)] + found[headerKey(sum)], vid[payloadKey(sum)] + found[payloadKey(sum)]}
		if pick[0] != "" && pick[1] != "" {
			s.chosen.Store(sum, pick)
		}
	}
	s.remember(sum, fresh{hdr: hdr, hv: vid[headerKey(sum)], pv: vid[payloadKey(sum)], payload: length - int64(len(hdr)), until: until, mode: mode})
	return Info{Complete: true, Offset: length, Size: length, LockMode: mode, RetainUntil: until}, nil
}

// ageHeader returns the age header of r: the lines up to and including
// the "---" MAC line (at most 64 KiB).
func ageHeader(r io.Reader) ([]byte, error) {
	br := bufio.NewReader(io.LimitReader(r, 64<<10))
	var hdr []byte
	first := true
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return nil, errors.New("no end of the age header")
		}
		if first && string(line) != "age-encryption.org/v1\n" {
			return nil, errors.New("no age header")
		}
		first = false
		hdr = append(hdr, line...)
		if bytes.HasPrefix(line, []byte("--- ")) {
			return hdr, nil
		}
	}
}

// Open implements Store: header and payload, concatenated: the sealed file.
func (s *S3) Open(ctx context.Context, sum string) (io.ReadCloser, int64, error) {
	if f, ok := s.freshOf(sum, freshOpen); ok && s.live(ctx, sum, f) {
		return s.openFresh(ctx, sum, f)
	}
	ho, po, err := s.ours(ctx, sum)
	switch {
	case errors.Is(err, errHeaderGone):
		return nil, 0, ErrErased
	case err != nil && notFound(err):
		return nil, 0, ErrNotFound
	case err != nil:
		return nil, 0, fmt.Errorf("store: s3 open %s: %w", sum, err)
	}
	h, err := s.c.GetObject(ctx, s.bucket, ho.Key, minio.GetObjectOptions{VersionID: ho.VersionID})
	if err != nil {
		return nil, 0, fmt.Errorf("store: s3 get %s header: %w", sum, err)
	}
	hdr, err := io.ReadAll(h)
	h.Close()
	if err != nil {
		return nil, 0, fmt.Errorf("store: s3 get %s header: %w", sum, err)
	}
	p, err := s.c.GetObject(ctx, s.bucket, payloadKey(sum), minio.GetObjectOptions{VersionID: po.VersionID})
	if err != nil {
		return nil, 0, fmt.Errorf("store: s3 get %s payload: %w", sum, err)
	}
	return &s3Object{r: io.MultiReader(bytes.NewReader(hdr), p), hdr: hdr, p: p}, int64(len(hdr)) + po.Size, nil
}

// s3Object is a recording read back from its two objects: read it in one
// pass (Read), or at offsets (ReadAt: the header from memory, the payload
// by ranged GETs), which lets playback decrypt only the chunks it needs.
type s3Object struct {
	r   io.Reader
	hdr []byte
	p   *minio.Object
}

func (o *s3Object) Read(b []byte) (int, error) { return o.r.Read(b) }
func (o *s3Object) Close() error               { return o.p.Close() }

func (o *s3Object) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	if off < int64(len(o.hdr)) {
		n = copy(b, o.hdr[off:])
		if n == len(b) {
			return n, nil
		}
	}
	m, err := o.p.ReadAt(b[n:], off+int64(n)-int64(len(o.hdr)))
	return n + m, err
}

// SetRetention implements Store: the payload gets the class's mode and
// date, the header GOVERNANCE with the same date; legal hold on both.
// A date is only ever extended under COMPLIANCE (the store refuses to
// shorten it); GOVERNANCE dates follow the archive (bypass).
func (s *S3) SetRetention(ctx context.Context, sum string, r Retention) error {
	ho, po, byID, err := s.oursForLock(ctx, sum)
	if byID {
		if err = s.setRetention(ctx, sum, ho, po, nil, r); err == nil {
			return nil
		}
		// A call by version ID failed: the version is gone (erased or
		// re-sealed through another front-end) or its lock changed
		// there. The full look says what is there now.
		ho, po, err = s.ours(ctx, sum)
	}
	return s.setRetention(ctx, sum, ho, po, err, r)
}

// setRetention is SetRetention on the versions ours (or oursForLock)
// found, err its error.
func (s *S3) setRetention(ctx context.Context, sum string, ho, po minio.ObjectInfo, err error, r Retention) error {
	headerGone := errors.Is(err, errHeaderGone)
	if err != nil && !headerGone {
		if notFound(err) {
			return ErrNotFound
		}
		return fmt.Errorf("store: s3 stat %s: %w", sum, err)
	}
	curMode, curUntil, _ := lockOf(po)
	mode := r.Mode
	if mode == "" {
		mode = Governance
	}
	until := r.Until.UTC()
	if r.Hold {
		if ahead := time.Now().Add(s.HoldAhead).UTC(); until.Before(ahead) {
			until = ahead
		}
	}
	if curMode == Compliance {
		mode = Compliance // COMPLIANCE never goes back to GOVERNANCE
		if until.Before(curUntil) {
			until = curUntil
		}
	}
	for _, o := range []struct {
		key  string
		mode string
	}{{payloadKey(sum), mode}, {headerKey(sum), Governance}} {
		oi := po
		if o.key == headerKey(sum) {
			if headerGone {
				continue // erased: nothing to lock
			}
			oi = ho
			o.key = ho.Key // header/ or, re-sealed, reseal/
		}
		if cm, cu, _ := lockOf(oi); cm == o.mode && until.Unix() == cu.Unix() {
			// Unchanged: a server may refuse any retention call on a
			// COMPLIANCE object, even a no-op.
		} else if !until.After(time.Now().Add(time.Second)) {
			// The class's date has passed already (an old recording
			// arriving late): no duty to lock it; the provisional lock
			// runs out on its own.
		} else {
			m := minio.RetentionMode(o.mode)
			t0 := time.Now()
			err := s.c.PutObjectRetention(ctx, s.bucket, o.key, minio.PutObjectRetentionOptions{
				Mode: &m, RetainUntilDate: &until, GovernanceBypass: true, VersionID: oi.VersionID,
			})
			StepTimes.Since("S3 retention call", t0)
			if err != nil {
				return fmt.Errorf("store: s3 retention %s: %w", o.key, err)
			}
		}
		if _, _, cur := lockOf(oi); cur == r.Hold {
			continue // unchanged: no call
		}
		status := minio.LegalHoldDisabled
		if r.Hold {
			status = minio.LegalHoldEnabled
		}
		t0 := time.Now()
		err := s.c.PutObjectLegalHold(ctx, s.bucket, o.key, minio.PutObjectLegalHoldOptions{Status: &status, VersionID: oi.VersionID})
		StepTimes.Since("S3 legal hold call", t0)
		if err != nil {
			return fmt.Errorf("store: s3 legal hold %s: %w", o.key, err)
		}
	}
	return nil
}

// lock reads the payload's lock (the one that decides); ErrLockUnknown
// while someone else's version beside the archive's cannot be removed.
func (s *S3) lock(ctx context.Context, sum string) (Retention, error) {
	r, _, err := s.lockAndHeader(ctx, sum)
	return r, err
}

// lockAndHeader is lock, and the archive's header version it found (on
// ErrLockUnknown too; none when erased).
func (s *S3) lockAndHeader(ctx context.Context, sum string) (Retention, minio.ObjectInfo, error) {
	var left []string
	ho, po, err := s.look(ctx, sum, &left)
	if err != nil && !errors.Is(err, errHeaderGone) {
		if notFound(err) {
			return Retention{}, ho, ErrNotFound
		}
		return Retention{}, ho, fmt.Errorf("store: s3 stat %s: %w", sum, err)
	}
	if errors.Is(err, errHeaderGone) {
		ho = minio.ObjectInfo{}
	}
	if len(left) > 0 {
		return Retention{}, ho, s.lockUnknown(sum, left)
	}
	mode, until, hold := lockOf(po)
	return Retention{Mode: mode, Until: until, Hold: hold}, ho, nil
}

// removeAll removes every version of key (a versioned bucket keeps the
// data of a plain delete). bypass removes GOVERNANCE-locked versions.
func (s *S3) removeAll(ctx context.Context, key string, bypass bool) error {
	found := false
	for oi := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: key, WithVersions: true}) {
		if oi.Err != nil {
			return fmt.Errorf("store: s3 list %s: %w", key, oi.Err)
		}
		if oi.Key != key {
			continue
		}
		found = true
		if err := s.c.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{VersionID: oi.VersionID, GovernanceBypass: bypass}); err != nil {
			return fmt.Errorf("store: s3 remove %s (version %s): %w", key, oi.VersionID, err)
		}
	}
	if !found {
		return ErrNotFound
	}
	return nil
}

// Delete implements Store: after retention, every version of both objects.
func (s *S3) Delete(ctx context.Context, sum string, now time.Time) error {
	s.forget(sum)
	r, err := s.lock(ctx, sum)
	if err != nil {
		return err
	}
	if r.Hold {
		return ErrHeld
	}
	if now.Before(r.Until) {
		return fmt.Errorf("%w: until %s", ErrRetained, r.Until.UTC().Format(time.RFC3339))
	}
	if err := s.removeAll(ctx, headerKey(sum), false); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	if err := s.removeAll(ctx, resealedKey(sum), false); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return s.removeAll(ctx, payloadKey(sum), false)
}

// Erase implements Store by crypto-shredding: every version of the header
// (the wrapped file key) is removed with the governance bypass, so the
// recording can never be decrypted again, from any copy of the payload.
// The payload stays, locked, until its date, when Delete removes it like
// any other.
func (s *S3) Erase(ctx context.Context, sum string, now time.Time) error {
	return s.erase(ctx, sum, now, true)
}

// erase is Erase; legal: refused under a COMPLIANCE lock before its date
// (Shred: the archive's index decided).
func (s *S3) erase(ctx context.Context, sum string, now time.Time, legal bool) error {
	s.forget(sum)
	r, ho, err := s.lockAndHeader(ctx, sum)
	if legal && errors.Is(err, ErrLockUnknown) {
		// It may be a legal retention duty's lock.
		return fmt.Errorf("%w: %w", ErrLegal, err)
	}
	if errors.Is(err, ErrLockUnknown) {
		// Shred: the archive's index decided that nothing holds the
		// recording; someone else's version beside its payload (alerted)
		// does not keep its file key. The header's own legal hold (it
		// gets the payload's) still refuses.
		if _, _, hold := lockOf(ho); hold {
			return fmt.Errorf("%w: %w", ErrHeld, err)
		}
		r, err = Retention{}, nil
	}
	if err != nil {
		return err
	}
	if r.Hold {
		return ErrHeld
	}
	if legal && r.Mode == Compliance && now.Before(r.Until) {
		return fmt.Errorf("%w: until %s", ErrLegal, r.Until.UTC().Format(time.RFC3339))
	}
	// Every version of the header goes; one someone else wrote that
	// cannot be removed (locked) is alerted: only the archive's own
	// (ho) must go for the erasure to be done.
	for _, key := range []string{headerKey(sum), resealedKey(sum)} {
		if err := s.removeAllBut(ctx, key, ho); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	s.chosen.Delete(sum)
	return nil
}

// ErasureNoteLock is how long an erasure note is locked (COMPLIANCE): as
// long as any backup it must outlive.
var ErasureNoteLock = 11 * 365 * 24 * time.Hour

// NoteErasure implements Store: erasures/<sum>, create-only, locked in
// COMPLIANCE mode so that nobody, the archive included, can remove it.
// When a note is there already, it stands for this one only with the
// same bytes: a note someone else wrote first (anyone with write access
// to the bucket can) is not the archive's, and the archive's is then
// written as a version beside it (Erasures lists every version).
func (s *S3) NoteErasure(ctx context.Context, e Erasure) error {
	b, _ := json.Marshal(e)
	cs := sha256.Sum256(b)
	key := "erasures/" + e.SHA256
	opts := minio.PutObjectOptions{ContentType: "application/json", Mode: minio.Compliance, DisableMultipart: true,
		RetainUntilDate: e.At.Add(ErasureNoteLock).UTC(),
		UserMetadata:    map[string]string{"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(cs[:])}}
	opts.SetMatchETagExcept("*")
	_, err := s.c.PutObject(ctx, s.bucket, key, bytes.NewReader(b), int64(len(b)), opts)
	if err != nil && minio.ToErrorResponse(err).Code == "PreconditionFailed" {
		vs, verr := s.versions(ctx, key)
		if verr != nil {
			return fmt.Errorf("store: s3 erasure note %s: %w", e.SHA256, verr)
		}
		for _, v := range vs {
			if old, rerr := s.noteVersion(ctx, key, v.VersionID); rerr == nil && bytes.Equal(old, b) {
				return nil // noted already
			}
		}
		opts = minio.PutObjectOptions{ContentType: opts.ContentType, Mode: opts.Mode, DisableMultipart: true,
			RetainUntilDate: opts.RetainUntilDate, UserMetadata: opts.UserMetadata}
		_, err = s.c.PutObject(ctx, s.bucket, key, bytes.NewReader(b), int64(len(b)), opts)
	}
	if err != nil {
		return fmt.Errorf("store: s3 erasure note %s: %w", e.SHA256, err)
	}
	return nil
}

// noteVersion reads one version of an erasure note (64 KiB at most).
func (s *S3) noteVersion(ctx context.Context, key, version string) ([]byte, error) {
	r, err := s.c.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{VersionID: version})
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, 1<<16))
}

// Erasures implements Store: every version of every note, oldest first
// for each (someone else's note may sit beside the archive's). Only
// erasures/<sum> keys are notes (the listing is recursive: a key deeper
// down is someone else's, and skipped); a note that cannot be read is
// listed Bad, so that no one object keeps the archive from starting.
func (s *S3) Erasures(ctx context.Context) ([]Erasure, error) {
	var vs []minio.ObjectInfo
	var others []string
	for oi := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: "erasures/", WithVersions: true, Recursive: true}) {
		if oi.Err != nil {
			return nil, fmt.Errorf("store: s3 list erasures: %w", oi.Err)
		}
		switch {
		case oi.IsDeleteMarker:
		case isSum(strings.TrimPrefix(oi.Key, "erasures/")):
			vs = append(vs, oi)
		default:
			others = append(others, oi.Key)
		}
	}
	if len(others) > 0 {
		s.alert(fmt.Sprintf("objects under erasures/ that are no erasure note (someone with the bucket's write access wrote them), skipped: %s", strings.Join(others[:min(len(others), 10)], ", ")))
	}
	slices.Reverse(vs)
	slices.SortStableFunc(vs, func(a, b minio.ObjectInfo) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), a.LastModified.Compare(b.LastModified))
	})
	var out []Erasure
	for _, v := range vs {
		b, err := s.noteVersion(ctx, v.Key, v.VersionID)
		if err != nil {
			out = append(out, Erasure{SHA256: strings.TrimPrefix(v.Key, "erasures/"), Bad: fmt.Sprintf("version %s: %v", v.VersionID, err)})
			continue
		}
		var n Erasure
		if err := json.Unmarshal(b, &n); err != nil {
			n = Erasure{SHA256: strings.TrimPrefix(v.Key, "erasures/"), Bad: err.Error()}
		}
		out = append(out, n)
	}
	return out, nil
}

// Sweep implements Store: idle staged partials go.
func (s *S3) Sweep(ctx context.Context, ttl time.Duration, now time.Time) (int, error) {
	return s.staging.Sweep(ctx, ttl, now)
}

var _ Store = (*S3)(nil)
