package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// The store's evidence of an erasure. Anyone with the bucket's write
// access can write erasures/<sum> (and before the archive does: a
// recording's address is known to whoever saw it); the store takes a note
// for the archive's only when S3.VerifyNote accepts it (its signature
// under the archive's erasure key: archive/erasurenote.go). Any other
// note there is alerted and changes nothing: publish writes the header of
// an upload whatever such a note says.

// noted reports whether the archive's own erasure note of sum is in the
// bucket (a version VerifyNote accepts). Versions it does not accept are
// alerted.
func (s *S3) noted(ctx context.Context, sum string) (bool, error) {
	key := "erasures/" + sum
	vs, err := s.versions(ctx, key)
	if err != nil {
		return false, fmt.Errorf("store: s3 erasure note %s: %w", sum, err)
	}
	var others []string
	for _, v := range vs {
		b, err := s.noteVersion(ctx, key, v.VersionID)
		if err != nil {
			others = append(others, fmt.Sprintf("version %s: unreadable: %v", v.VersionID, err))
			continue
		}
		var n Erasure
		if err := json.Unmarshal(b, &n); err != nil {
			others = append(others, fmt.Sprintf("version %s: unreadable: %v", v.VersionID, err))
			continue
		}
		if n.SHA256 != sum {
			others = append(others, fmt.Sprintf("version %s: names %q", v.VersionID, n.SHA256))
			continue
		}
		if s.VerifyNote == nil {
			others = append(others, fmt.Sprintf("version %s: no verifier of the archive's notes", v.VersionID))
			continue
		}
		if err := s.VerifyNote(n); err != nil {
			others = append(others, fmt.Sprintf("version %s: %v", v.VersionID, err))
			continue
		}
		return true, nil
	}
	if len(others) > 0 {
		s.alert(fmt.Sprintf("%s: erasure notes the archive did not write (someone with the bucket's write access wrote them): %s; not taken for an erasure", key, strings.Join(others, "; ")))
	}
	return false, nil
}

// isSum reports whether name is an object's address: 64 lowercase hex
// digits (what the archive names its keys by).
func isSum(name string) bool {
	if len(name) != 64 {
		return false
	}
	for _, c := range []byte(name) {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
