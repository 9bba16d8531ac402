package store

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"fmt"
	"io"

	"github.com/minio/minio-go/v7"
)

// Re-sealed headers the store believes. reseal/<sum> can be written by
// anyone with the bucket's write access (and COMPLIANCE-locked so that it
// stays), with any metadata; the store takes a version of it for the
// recording's header only when it is the archive's own: its bytes hash to
// the header SHA-256 the archive's index recorded before the re-seal
// (S3.Resealing, index.Resealing), and no erasure of the recording is
// noted (noted: the archive's signed note). The payload version read with
// it is the only one there, or the one whose bytes, fed to the SHA-256
// state after the box's original header the index recorded, give the
// address: never one named by the object's metadata. Anything else under
// reseal/<sum> is alerted and changes nothing: the recording reads as
// erased (its header is gone), and publish writes an upload's header.

// resealOf finds the archive's re-sealed header among rv and the
// archive's payload among pv; ok is false (alerted) when none is.
func (s *S3) resealOf(ctx context.Context, sum string, rv, pv []minio.ObjectInfo) (r, p minio.ObjectInfo, ok bool, err error) {
	if noted, err := s.noted(ctx, sum); err != nil || noted {
		return r, p, false, err
	}
	if c, found := s.resealPicks.Load(sum); found {
		ids := c.([2]string)
		r, rok := versionOf(rv, ids[0])
		p, pok := versionOf(pv, ids[1])
		if rok && pok {
			return r, p, true, nil
		}
	}
	why := "the archive's index knows no re-seal of it (S3.Resealing)"
	if s.Resealing != nil {
		hs, mid, known, err := s.Resealing(ctx, sum)
		if err != nil {
			return r, p, false, fmt.Errorf("store: s3 re-seal of %s: %w", sum, err)
		}
		if known {
			r, ok, err = s.resealHeader(ctx, sum, rv, hs)
			if err != nil {
				return r, p, false, err
			}
			why = "no version hashes to the header the archive wrote"
			if ok {
				p, ok, err = s.resealPayload(ctx, sum, pv, mid)
				if err != nil {
					return r, p, false, err
				}
				why = "no payload version continues the box's header to the address"
			}
		}
	}
	if !ok {
		s.alert(fmt.Sprintf("%s: %d versions not taken for the recording's header (someone with the bucket's write access wrote them?): %s; the recording reads as erased", resealedKey(sum), len(rv), why))
		return r, p, false, nil
	}
	s.resealPicks.Store(sum, [2]string{r.VersionID, p.VersionID})
	return r, p, true, nil
}

func versionOf(vs []minio.ObjectInfo, id string) (minio.ObjectInfo, bool) {
	for _, v := range vs {
		if v.VersionID == id {
			return v, true
		}
	}
	return minio.ObjectInfo{}, false
}

// resealHeader is the version of reseal/<sum> (newest first) whose bytes
// hash to want (hex).
func (s *S3) resealHeader(ctx context.Context, sum string, rv []minio.ObjectInfo, want string) (minio.ObjectInfo, bool, error) {
	for i := len(rv) - 1; i >= 0; i-- {
		if rv[i].Size > 1<<16 {
			continue
		}
		o, err := s.c.GetObject(ctx, s.bucket, resealedKey(sum), minio.GetObjectOptions{VersionID: rv[i].VersionID})
		if err != nil {
			return rv[i], false, fmt.Errorf("store: s3 get %s: %w", resealedKey(sum), err)
		}
		h := sha256.New()
		_, err = io.Copy(h, io.LimitReader(o, 1<<16))
		o.Close()
		if err == nil && hex.EncodeToString(h.Sum(nil)) == want {
			return rv[i], true, nil
		}
	}
	return minio.ObjectInfo{}, false, nil
}

// resealPayload is the payload version that, fed to the SHA-256 state
// mid (hex of its marshalled form) after the box's original header,
// gives the address; the only version there is taken as it is (as ours
// takes a key's one version).
func (s *S3) resealPayload(ctx context.Context, sum string, pv []minio.ObjectInfo, mid string) (minio.ObjectInfo, bool, error) {
	if len(pv) == 1 {
		return pv[0], true, nil
	}
	state, err := hex.DecodeString(mid)
	if err != nil {
		return minio.ObjectInfo{}, false, nil
	}
	for _, v := range pv {
		h := sha256.New()
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(state); err != nil {
			return minio.ObjectInfo{}, false, nil
		}
		o, err := s.c.GetObject(ctx, s.bucket, payloadKey(sum), minio.GetObjectOptions{VersionID: v.VersionID})
		if err != nil {
			return v, false, fmt.Errorf("store: s3 get %s: %w", payloadKey(sum), err)
		}
		_, err = io.Copy(h, o)
		o.Close()
		if err == nil && hex.EncodeToString(h.Sum(nil)) == sum {
			return v, true, nil
		}
	}
	return minio.ObjectInfo{}, false, nil
}
