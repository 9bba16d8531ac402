package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/minio/minio-go/v7"
)

// Versions the archive did not write. Object Lock cannot keep someone
// with the bucket's write access from writing a key: before the archive
// (header/<sum> names the address of a payload not yet there, or left
// by a publish cut halfway), or on top of the archive's locked version.
// The store never takes such a version for the archive's:
//
//   - publish writes create-only; when the PUT finds the key already
//     there (PreconditionFailed) it checks the versions there, size and
//     SHA-256 (settle). A version byte for byte the archive's is the
//     object (a publish cut halfway, another front-end's upload of the
//     same bytes); otherwise the archive's own version is written on
//     top, its version ID is the one reads, locks and erasure use
//     (chosen), and the store raises an alert (S3.Alert). The upload is
//     reported complete only then.
//   - ours removes the other versions of a key where their lock allows.
//     A version it cannot remove (locked, or held) leaves the archive's
//     lock unknown (some servers, versitygw among them, report no lock
//     for a version that is not the newest): Erase and Delete refuse
//     (ErrLockUnknown) and the store raises an alert. Shred (the index
//     decided nothing holds the recording) removes the archive's own
//     header versions all the same, and erasure never fails on someone
//     else's locked version of the header (removeAllBut: alerted).

// ErrLockUnknown: a version someone else wrote sits beside the archive's
// and cannot be removed, so the lock of the archive's version cannot be
// read for certain; nothing is erased or deleted on it.
var ErrLockUnknown = errors.New("store: the archive's version is not alone (someone else's version beside it cannot be removed): its lock cannot be read for certain, nothing is erased or deleted")

// alert hands what the store found to S3.Alert, if set.
func (s *S3) alert(detail string) {
	if s.Alert != nil {
		s.Alert(detail)
	}
}

// settle is publish's answer to a create-only PUT of key refused because
// key exists (PreconditionFailed). want is the SHA-256 of the n bytes r
// holds from start on; plain is the PUT's options without If-None-Match.
// It returns the version ID of the archive's bytes there: an existing
// version byte for byte equal (created false), or the version it wrote
// over versions that are not (created true, alerted).
func (s *S3) settle(ctx context.Context, key string, r io.ReadSeeker, start, n int64, want []byte, plain minio.PutObjectOptions) (vid string, created bool, err error) {
	vs, err := s.versions(ctx, key)
	if err != nil {
		return "", false, err
	}
	var foreign []string
	for _, v := range vs {
		same, err := s.sameBytes(ctx, key, v, n, want)
		if err != nil {
			return "", false, err
		}
		if same {
			if len(foreign) > 0 {
				s.alert(fmt.Sprintf("%s: versions the archive did not write beside its own (someone with the bucket's write access wrote them): %s; the archive's own (version %s) is the one read", key, strings.Join(foreign, ", "), v.VersionID))
			}
			return v.VersionID, false, nil
		}
		foreign = append(foreign, fmt.Sprintf("version %s of %d bytes", v.VersionID, v.Size))
	}
	if _, err := r.Seek(start, io.SeekStart); err != nil {
		return "", false, fmt.Errorf("store: %w", err)
	}
	ui, err := s.c.PutObject(ctx, s.bucket, key, r, n, plain)
	if err != nil {
		return "", false, fmt.Errorf("store: s3 put %s over someone else's version: %w", key, err)
	}
	if len(foreign) > 0 {
		s.alert(fmt.Sprintf("%s held bytes the archive did not write (someone with the bucket's write access wrote them first): %s; the archive's own are written on top as version %s, the one read", key, strings.Join(foreign, ", "), ui.VersionID))
	}
	return ui.VersionID, true, nil
}

// sameBytes reports whether version v of key holds exactly the n bytes
// whose SHA-256 is want: its size, then the SHA-256 the server keeps
// (it checked the checksum at the PUT), or, where it keeps none, the
// bytes read and hashed.
func (s *S3) sameBytes(ctx context.Context, key string, v minio.ObjectInfo, n int64, want []byte) (bool, error) {
	if v.Size != n {
		return false, nil
	}
	oi, err := s.c.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{VersionID: v.VersionID, Checksum: true})
	if err != nil {
		return false, fmt.Errorf("store: s3 stat %s (version %s): %w", key, v.VersionID, err)
	}
	if oi.Size != n {
		return false, nil
	}
	if cs, err := base64.StdEncoding.DecodeString(oi.ChecksumSHA256); err == nil && len(cs) == sha256.Size {
		return bytes.Equal(cs, want), nil
	}
	o, err := s.c.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{VersionID: v.VersionID})
	if err != nil {
		return false, fmt.Errorf("store: s3 get %s (version %s): %w", key, v.VersionID, err)
	}
	defer o.Close()
	h := sha256.New()
	m, err := io.Copy(h, io.LimitReader(o, n+1))
	if err != nil {
		return false, fmt.Errorf("store: s3 get %s (version %s): %w", key, v.VersionID, err)
	}
	return m == n && bytes.Equal(h.Sum(nil), want), nil
}

// lockUnknown is lock's answer when ours left versions of the payload it
// could not remove (left): ErrLockUnknown, alerted.
func (s *S3) lockUnknown(sum string, left []string) error {
	err := fmt.Errorf("%w: %s: %s", ErrLockUnknown, payloadKey(sum), strings.Join(left, "; "))
	s.alert(err.Error())
	return err
}

// removeAllBut removes every version of key with the governance bypass,
// as erasure does. A version that cannot be removed fails it only when
// it is the archive's own (mine, when its key is key); the others are
// someone else's (locked so that they stay): alerted, and left.
func (s *S3) removeAllBut(ctx context.Context, key string, mine minio.ObjectInfo) error {
	vs, err := s.versions(ctx, key)
	if err != nil {
		return err
	}
	if len(vs) == 0 {
		return ErrNotFound
	}
	var left []string
	for _, v := range vs {
		err := s.c.RemoveObject(ctx, s.bucket, key, minio.RemoveObjectOptions{VersionID: v.VersionID, GovernanceBypass: true})
		switch {
		case err == nil:
		case mine.Key == key && v.VersionID == mine.VersionID:
			return fmt.Errorf("store: s3 remove %s (version %s): %w", key, v.VersionID, err)
		default:
			left = append(left, fmt.Sprintf("version %s: %v", v.VersionID, err))
		}
	}
	if len(left) > 0 {
		s.alert(fmt.Sprintf("%s: versions the archive did not write (someone with the bucket's write access wrote them) could not be removed: %s; the archive's own are removed", key, strings.Join(left, "; ")))
	}
	return nil
}

// isDirectoryConflict reports a PUT refused because the key is a
// directory on a server with folder semantics (versitygw's posix
// backend, SeaweedFS's filer): someone wrote key/... before it.
func isDirectoryConflict(err error) bool {
	e := minio.ToErrorResponse(err)
	return e.Code == "ExistingObjectIsDirectory" || strings.Contains(strings.ToLower(e.Message), "is a directory")
}

// clearUnder removes (governance bypass) every version of every key
// under key/ (nothing the archive writes: someone else's, which makes key
// a directory where the server has folders) and alerts what it found;
// the caller then writes key again. A version it cannot remove (locked)
// keeps the upload from being published: alerted, and the box retries.
func (s *S3) clearUnder(ctx context.Context, key string, cause error) error {
	var removed, left []string
	for oi := range s.c.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: key + "/", WithVersions: true, Recursive: true}) {
		if oi.Err != nil {
			left = append(left, fmt.Sprintf("listing: %v", oi.Err))
			break
		}
		if err := s.c.RemoveObject(ctx, s.bucket, oi.Key, minio.RemoveObjectOptions{VersionID: oi.VersionID, GovernanceBypass: true}); err != nil {
			left = append(left, fmt.Sprintf("%s (version %s): %v", oi.Key, oi.VersionID, err))
			continue
		}
		removed = append(removed, oi.Key)
	}
	if len(left) > 0 {
		s.alert(fmt.Sprintf("%s is a directory on the server (%v): keys under it the archive did not write (someone with the bucket's write access wrote them) could not be removed: %s; the upload is refused until they are gone", key, cause, strings.Join(left, "; ")))
		return fmt.Errorf("store: s3 put %s: %w", key, cause)
	}
	s.alert(fmt.Sprintf("%s was a directory on the server (%v): keys under it the archive did not write (someone with the bucket's write access wrote them) removed: %s", key, cause, strings.Join(removed, ", ")))
	return nil
}
