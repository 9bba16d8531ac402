package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/minio/minio-go/v7"
)

// Resealer is a store that can replace an object's age header (the file
// key, wrapped to the recipients) and leave its payload as it is: the
// archive's re-seal job re-wraps classical (X25519) file keys to a hybrid
// post-quantum recipient. After Reseal the object's bytes no longer hash
// to its address; the archive keeps what proves the payload is still the
// box's (index.Resealed). The old header is gone from the store: what
// is kept can no longer be opened with the classical key alone.
type Resealer interface {
	// Reseal replaces the first oldLen bytes of the object sum (its
	// header, as Open read it) by hdr.
	Reseal(ctx context.Context, sum string, oldLen int64, hdr []byte) error
}

func (d *Dir) resealedPath(sum string) string { return d.objPath(sum) + ".resealed" }

// Reseal implements Resealer: a new file (the new header, then the
// payload copied from the old file) fsynced and renamed over the object.
// A marker beside it keeps a later upload of the box's original bytes
// from putting the old header back.
func (d *Dir) Reseal(_ context.Context, sum string, oldLen int64, hdr []byte) error {
	unlock := d.locks.lock("o/" + sum)
	defer unlock()
	src, err := os.Open(d.objPath(sum))
	if errors.Is(err, os.ErrNotExist) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer src.Close()
	if err := writeDurable(d.resealedPath(sum), []byte("resealed\n")); err != nil {
		return err
	}
	tmp := d.objPath(sum) + ".reseal"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	_, err = f.Write(hdr)
	if err == nil {
		_, err = src.Seek(oldLen, io.SeekStart)
	}
	if err == nil {
		_, err = io.Copy(f, src)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, d.objPath(sum))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: reseal %s: %w", sum, err)
	}
	return syncDir(filepath.Dir(d.objPath(sum)))
}

// isResealed reports whether the object's header was re-wrapped.
func (d *Dir) isResealed(sum string) bool {
	_, err := os.Stat(d.resealedPath(sum))
	return err == nil
}

var _ Resealer = (*Dir)(nil)

func resealedKey(sum string) string { return "reseal/" + sum }

// Reseal implements Resealer on S3: the new header is written as
// reseal/<sum> (GOVERNANCE-locked to the payload's date, with its legal
// hold; the archive's index has recorded its hash before: S3.Resealing),
// then every version of header/<sum> is removed with the
// governance bypass, as erasure removes it. The payload object, however
// it is locked, is not touched. Until header/<sum> is gone the recording
// reads with the box's header; after, with the new one.
func (s *S3) Reseal(ctx context.Context, sum string, oldLen int64, hdr []byte) error {
	s.forget(sum)
	_, po, err := s.ours(ctx, sum)
	if err != nil {
		if notFound(err) {
			return ErrNotFound
		}
		return fmt.Errorf("store: s3 stat %s: %w", sum, err)
	}
	// A re-seal interrupted before: its header is replaced by this one.
	// A version someone else wrote and locked stays (alerted): the
	// archive's is written on top, and only it is read (s3resealed.go).
	if err := s.removeAllBut(ctx, resealedKey(sum), minio.ObjectInfo{}); err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	_, until, hold := lockOf(po)
	if floor := time.Now().Add(s.Provisional).UTC(); until.Before(floor) {
		until = floor
	}
	cs := sha256.Sum256(hdr)
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream", Mode: minio.Governance, RetainUntilDate: until, DisableMultipart: true,
		UserMetadata: map[string]string{"x-amz-checksum-sha256": base64.StdEncoding.EncodeToString(cs[:]), "spanvault-object": sum, "spanvault-payload-version": po.VersionID}}
	ui, err := s.c.PutObject(ctx, s.bucket, resealedKey(sum), bytes.NewReader(hdr), int64(len(hdr)), opts)
	if err != nil {
		return fmt.Errorf("store: s3 put %s: %w", resealedKey(sum), err)
	}
	if hold {
		status := minio.LegalHoldEnabled
		if err := s.c.PutObjectLegalHold(ctx, s.bucket, resealedKey(sum), minio.PutObjectLegalHoldOptions{Status: &status, VersionID: ui.VersionID}); err != nil {
			return fmt.Errorf("store: s3 legal hold %s: %w", resealedKey(sum), err)
		}
	}
	if err := s.removeAll(ctx, headerKey(sum), true); err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("store: s3 reseal %s: the new header is written, the old one not removed: %w", sum, err)
	}
	s.chosen.Delete(sum)
	return nil
}

var _ Resealer = (*S3)(nil)
